"""Accounts in PostgreSQL (backend = pgsql: pop3d.conf(5) [pgsql], pop3d(8)
"Accounts in PostgreSQL", pop3ctl(8)) against a private cluster that the
tests make with initdb and run on their own loopback port (pgutil.py):
logins with USER/PASS and AUTH PLAIN after STLS; a missing user and a
wrong password are [AUTH] and counted; pop3ctl user add, passwd, lock,
unlock, list and del on the table, each seen at the next login; the
database stopped mid-test gives [SYS/TEMP], never a ban or a penalty, no
process dies, and logins work again once it is back; a connection the
server drops is made again; home and expire_days columns; config errors
name file, line and key."""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
import warnings

import pytest

from ctlutil import EX_CONFIG, EX_NOUSER, EX_OK, EX_TEMPFAIL, add_user, ctl
from pgutil import (PW, PW2, db, db_user, needs_pg,  # noqa: F401
                    pg, pg_server, try_login)
from pop3util import WORKER_USER, WRAPPER, Server, children, plain_b64, wait_until
from test_auth_timing import pass_time

pytestmark = needs_pg


def test_logins_and_failures(make_server, db, env):
    s = pg_server(make_server, db, "pg-login")
    # A missing user costs a timed yescrypt hash, as pop3ctl writes them.
    s.wait_log(r"auth: pgsql accounts pool=2 timeout=3s "
               r"failure_cost=\$y\$j9T")
    db_user(s, db, env, "pga", PW)
    with s.connect() as c:
        c.login("pga", PW)
        assert c.stat() == (0, 0)
        c.ok("QUIT")
    with s.connect() as c:
        c.starttls()
        r = c.cmd("AUTH PLAIN " + plain_b64("", "pga", PW))
        assert r.startswith("+OK"), r
        c.ok("QUIT")
    m = s.mark()
    r = try_login(s, "pga", "not-the-password")
    assert r.startswith("-ERR [AUTH]"), r
    r = try_login(s, "pg-nobody", PW)
    assert r.startswith("-ERR [AUTH]"), r
    # Both are failures, counted from this address as with the file.
    s.wait_log(r"auth failed user=pga rip=127\.0\.0\.1 mech=USER fails=1",
               start=m)
    s.wait_log(r"auth failed user=pg-nobody rip=127\.0\.0\.1 mech=USER "
               r"fails=2", start=m)


def test_unix_socket(make_server, db, env):
    """conninfo with a socket directory: a Unix stream socket from the
    sandboxed auth process (trust for local connections here)."""
    s = pg_server(make_server, db, "pg-unix", extra={"pgsql": {
        "conninfo": "host=%s port=%d dbname=mail user=pop3d" % (
            db.sock, db.port)}})
    db_user(s, db, env, "pgu", PW)
    assert try_login(s, "pgu", PW).startswith("+OK")
    rows = db.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = "
                  "'pop3d' AND application_name = 'pop3d' AND "
                  "client_port = -1")
    assert rows == [["2"]], rows


def test_pop3ctl_user_commands_on_the_table(make_server, db, env):
    s = pg_server(make_server, db, "pg-ctl")
    r = add_user(s, "pgb", PW)
    assert "pgb" in r.out
    assert db.hash_of("pgb").startswith("$y$")
    assert try_login(s, "pgb", PW).startswith("+OK")

    r = ctl(s.conf_path, "user", "passwd", "pgb", "--password-stdin",
            input=PW2 + "\n")
    assert r.returncode == EX_OK, r.err
    assert try_login(s, "pgb", PW).startswith("-ERR [AUTH]")
    assert try_login(s, "pgb", PW2).startswith("+OK")

    r = ctl(s.conf_path, "user", "lock", "pgb")
    assert r.returncode == EX_OK and "locked" in r.out, (r.out, r.err)
    assert db.hash_of("pgb").startswith("!$y$")
    assert try_login(s, "pgb", PW2).startswith("-ERR [AUTH]")
    r = ctl(s.conf_path, "user", "lock", "pgb")
    assert r.returncode == EX_OK and "already" in r.out, (r.out, r.err)
    # A new password keeps the lock.
    r = ctl(s.conf_path, "user", "passwd", "pgb", "--password-stdin",
            input=PW + "\n")
    assert r.returncode == EX_OK and "still locked" in r.out, (r.out, r.err)
    assert db.hash_of("pgb").startswith("!$y$")
    r = ctl(s.conf_path, "user", "list")
    assert r.returncode == EX_OK, r.err
    assert any(l.split() == ["pgb", "YESCRYPT", "locked"]
               for l in r.out.splitlines()), r.out
    r = ctl(s.conf_path, "user", "unlock", "pgb")
    assert r.returncode == EX_OK, r.err
    assert try_login(s, "pgb", PW).startswith("+OK")

    # The policy is the same as with the file.
    r = ctl(s.conf_path, "user", "passwd", "pgb", "--password-stdin",
            input="short\n")
    assert r.returncode != EX_OK and "rejected" in r.err, r.err

    r = ctl(s.conf_path, "user", "del", "pgb")
    assert r.returncode == EX_OK, r.err
    assert db.hash_of("pgb") is None
    assert try_login(s, "pgb", PW).startswith("-ERR [AUTH]")
    r = ctl(s.conf_path, "user", "del", "pgb")
    assert r.returncode == EX_NOUSER, (r.out, r.err)


def test_database_down_is_tempfail_never_a_penalty(make_server, db, env):
    """Stopped mid-test: [SYS/TEMP] at once for right and wrong passwords
    and unknown users, nothing counted (ban_threshold 3 is passed many
    times over), the outage logged once, no process lost; started again:
    the same address logs in at once."""
    s = pg_server(make_server, db, "pg-down", ban_threshold=3,
                  fail_delay_ms=2000, fail_delay_max_ms=4000)
    db_user(s, db, env, "pgc", PW)
    assert try_login(s, "pgc", PW).startswith("+OK")
    kids = children(s.proc.pid)
    m = s.mark()
    db.stop()
    for i in range(9):
        name, pw = [("pgc", PW), ("pgc", "wrong-pw"), ("pg-ghost", PW)][i % 3]
        r = try_login(s, name, pw)
        assert r.startswith("-ERR [SYS/TEMP]"), (i, r)
    # A connection the pool already held broke; a new one was refused.
    s.wait_log(r"auth: pgsql: database unavailable: ", start=m)
    log = s.log[m:]
    assert sum("pgsql: database unavailable" in l for l in log) == 1, log
    assert not any("auth failed" in l for l in log), log

    db.start()
    answers = []

    def ok():
        answers.append(try_login(s, "pgc", PW))
        return answers[-1].startswith("+OK")
    # [SYS/TEMP] only while the pool waits out its one second after the
    # last failure; never [AUTH] or LOGIN-DELAY (nothing was counted).
    assert wait_until(ok, 10, step=0.2), answers
    assert all(a.startswith(("+OK", "-ERR [SYS/TEMP]")) for a in answers), \
        answers
    s.wait_log(r"auth: pgsql: database available again", start=m)
    assert children(s.proc.pid) == kids


def test_dropped_connection_is_made_again(make_server, db, env):
    s = pg_server(make_server, db, "pg-drop", extra={"pgsql": {"pool": "1"}})
    db_user(s, db, env, "pgd", PW)
    assert try_login(s, "pgd", PW).startswith("+OK")
    m = s.mark()
    rows = db.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE usename = 'pop3d' AND application_name = 'pop3d'")
    assert rows and all(r == ["t"] for r in rows), rows
    # The broken connection is tried once more on a new one: no outage.
    assert try_login(s, "pgd", PW).startswith("+OK")
    assert not any("unavailable" in l for l in s.log[m:]), s.log[m:]


def test_database_that_hangs_is_tempfail(make_server, db, env):
    """The backend serving pop3d stopped (SIGSTOP): the statement gets no
    answer within timeout, the login is [SYS/TEMP], not a failure; once
    it runs again, logins work on a new connection."""
    s = pg_server(make_server, db, "pg-hang",
                  extra={"pgsql": {"pool": "1", "timeout": "1"}})
    db_user(s, db, env, "pgh", PW)
    assert try_login(s, "pgh", PW).startswith("+OK")
    rows = db.sql("SELECT pid FROM pg_stat_activity WHERE usename = 'pop3d' "
                  "AND application_name = 'pop3d'")
    assert len(rows) == 1, rows
    pid = int(rows[0][0])
    m = s.mark()
    os.kill(pid, signal.SIGSTOP)
    try:
        r = try_login(s, "pgh", PW)
        assert r.startswith("-ERR [SYS/TEMP]"), r
        s.wait_log(r"pgsql: database unavailable: no answer within 1000 ms",
                   start=m)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert wait_until(lambda: try_login(s, "pgh", PW).startswith("+OK"),
                      10, step=0.2)
    assert not any("auth failed" in l for l in s.log[m:]), s.log[m:]


def expire(c):
    return [l for l in c.capa() if l.startswith("EXPIRE")]


def test_home_and_expire_days_columns(make_server, db, env):
    s = pg_server(make_server, db, "pg-home",
                  extra={"server": {"mail_path": "~/Maildir"}})
    # The Maildir under the home from the row, not under mail_root.
    home = s.base + "/home/pge"
    maildir = home + "/Maildir"
    for sub in ("", "/cur", "/new", "/tmp"):
        subprocess.run(["install", "-d", "-m", "700", "-o", WORKER_USER,
                        "-g", "nogroup", maildir + sub], check=True,
                       timeout=30)
    msg = b"Subject: home\r\n\r\nfrom the home\r\n"
    with open(maildir + "/new/1700000000.M1P1.h", "wb") as f:
        f.write(msg)
    shutil.chown(maildir + "/new/1700000000.M1P1.h", WORKER_USER, "nogroup")
    for d in (s.base + "/home", home):
        shutil.chown(d, WORKER_USER, "nogroup")
    db.add_user("pge", env.hasher.hash(PW), home, "2")
    with s.connect() as c:
        # An expire_days column: any user may have any value.
        assert expire(c) == ["EXPIRE 0 USER"], c.capa()
        c.login("pge", PW)
        assert c.stat() == (1, len(msg))
        assert expire(c) == ["EXPIRE 2"], c.capa()
        c.ok("QUIT")


def test_config_errors_name_file_line_and_key(env):
    cases = [
        ("conninfo", "conninfo = host=127.0.0.1 port", "conninfo"),
        ("conninfo", "conninfo = host=x password=hunter2 oops", "conninfo"),
        ("user_query", "user_query = SELECT password FROM t WHERE u = $2",
         "user_query"),
        ("user_insert", "user_insert = INSERT INTO t VALUES ($1, $4)",
         "user_insert"),
        ("pool", "pool = 0", "pool"),
    ]
    for _, text, key in cases:
        s = Server(env, name="pg-conf", pool=1,
                   extra={"auth": {"backend": "pgsql"}})
        try:
            s.settings.setdefault("pgsql", []).append(
                tuple(x.strip() for x in text.split("=", 1)))
            s.write_files()
            line = s.config_text().splitlines().index(text) + 1
            r = subprocess.run([env.pop3d, "-c", s.conf_path, "-t"],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            err = r.stderr.decode("utf-8", "replace")
            assert r.returncode != 0, err
            assert "%s:%d: %s: " % (s.conf_path, line, key) in err, err
            assert "hunter2" not in err, err
        finally:
            shutil.rmtree(s.base, ignore_errors=True)
    # pop3ctl reads the same keys the same way; with no database it
    # cannot reach, user list says try again.
    s = Server(env, name="pg-noserver", pool=1,
               extra={"auth": {"backend": "pgsql"},
                      "pgsql": {"conninfo": "host=127.0.0.1 port=1 "
                                "connect_timeout=2", "timeout": "2"}})
    try:
        s.write_files()
        r = ctl(s.conf_path, "user", "list")
        assert r.returncode == EX_TEMPFAIL, (r.out, r.err)
        assert "database" in r.err, r.err
        # No passwd_file is needed with pgsql; migrate says it wants one.
        with open(s.conf_path, "w") as f:
            f.write("".join(l + "\n" for l in s.config_text().splitlines()
                            if not l.startswith("passwd_file")))
        r = subprocess.run([env.pop3d, "-c", s.conf_path, "-t"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert r.returncode == 0, r.stderr
        r = ctl(s.conf_path, "migrate", "--check")
        assert r.returncode == EX_CONFIG, (r.out, r.err)
        assert "passwd_file is not set" in r.err, r.err
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_host_names_resolve_in_the_sandbox(make_server, db, env):
    """conninfo with host names: "localhost" (from /etc/hosts) logs in;
    a name the resolver asks DNS for (a UDP socket, an ioctl) that does
    not resolve is an outage, [SYS/TEMP] - the sandbox does not kill
    the auth process (it was restarted every second before)."""
    s = pg_server(make_server, db, "pg-localhost", extra={"pgsql": {
        "conninfo": db.conninfo(host="localhost")}})
    db_user(s, db, env, "pgl", PW)
    assert try_login(s, "pgl", PW).startswith("+OK")

    s = make_server(name="pg-dns", plaintext="loopback", extra={
        "auth": {"backend": "pgsql"},
        "pgsql": {"conninfo": "host=pgdb.example.invalid port=5432 "
                  "dbname=mail user=pop3d", "timeout": "2"}})
    s.wait_log(r"auth: pgsql: database unavailable: .*pgdb\.example\.invalid",
               timeout=30)
    kids = children(s.proc.pid)
    for i in range(3):
        r = try_login(s, "pgl", PW)
        assert r.startswith("-ERR [SYS/TEMP]"), (i, r)
        time.sleep(0.6)
    assert children(s.proc.pid) == kids
    assert not any("died" in l for l in s.log), s.log_tail()


def test_ban_holds_for_logins_waiting_for_the_database(make_server, db,
                                                       env):
    """30 wrong passwords at once from one address, ban_threshold 3:
    the ban is checked again when a pool thread takes a login, so no
    more than the threshold plus one per pool thread are verified (all
    30 were before); the rest are refused as banned."""
    s = pg_server(make_server, db, "pg-ban", ban_threshold=3,
                  fail_delay_ms=0, fail_delay_max_ms=0,
                  extra={"server": {"max_connections_per_ip": "60"}})
    db_user(s, db, env, "pgv", PW)
    m = s.mark()
    conns = [s.connect() for _ in range(30)]
    try:
        for c in conns:
            c.cmd("USER pgv")
        for c in conns:
            c.send(b"PASS wrong-password-x\r\n")
        answers = [c.line(timeout=30) for c in conns]
    finally:
        for c in conns:
            c.close()
    failed = sum("invalid user name or password" in a for a in answers)
    banned = sum("too many failed logins" in a for a in answers)
    assert 1 <= failed <= 3 + 2, answers
    assert failed + banned == 30, answers
    s.wait_log(r"auth refused user=pgv rip=127\.0\.0\.1 reason=banned",
               start=m)
    assert sum("auth failed" in l for l in s.log[m:]) <= 5, s.log[m:]


def test_statement_error_drops_the_connection(make_server, db, env):
    """The table's column type changed under the prepared user_query
    ("cached plan must not change result type"): the connection is made
    again and the query prepared again, so logins go on (before, every
    login was [SYS/TEMP] until a restart)."""
    s = pg_server(make_server, db, "pg-alter", extra={"pgsql": {"pool": "1"}})
    db_user(s, db, env, "pgx", PW)
    assert try_login(s, "pgx", PW).startswith("+OK")
    try:
        db.sql("ALTER TABLE pop3d_users ALTER COLUMN home TYPE varchar(300)")
        answers = [try_login(s, "pgx", PW) for _ in range(3)]
        assert all(a.startswith("+OK") for a in answers), answers
    finally:
        db.sql("ALTER TABLE pop3d_users ALTER COLUMN home TYPE text")


def test_one_users_failing_row_does_not_take_the_others_down(
        make_server, db, env):
    """user_query fails for one user's row (here a division by zero): that
    login is [SYS/TEMP], and the next user's login at once is answered
    (before, the database counted as down for a second: anyone knowing
    that name could keep every login on the node [SYS/TEMP])."""
    s = pg_server(make_server, db, "pg-onerow", extra={"pgsql": {
        "pool": "1",
        "user_query": "SELECT password, home, expire_days FROM pop3d_users "
                      "WHERE username = $1 AND CASE WHEN username = "
                      "'pgboom' THEN 1 / (length(username) - 6) ELSE 1 "
                      "END = 1"}})
    db_user(s, db, env, "pgboom", PW)
    db_user(s, db, env, "pgfine7", PW)
    m = s.mark()
    for _ in range(3):
        assert try_login(s, "pgboom", PW).startswith("-ERR [SYS/TEMP]")
        assert try_login(s, "pgfine7", PW).startswith("+OK")
    assert s.wait_log(r"database unavailable", start=m, timeout=0.5,
                      must=False) is None, s.log_tail()
    assert s.wait_log(r"user_query failed: .*division by zero", start=m)


def test_logins_wait_no_longer_than_the_timeout(make_server, db, env):
    """A slow database (0.8 s a query, pool 1, timeout 1) and 12 logins
    at once: a login that waited longer than the timeout for a pool
    thread is [SYS/TEMP] at once, so every answer comes within about
    twice the timeout (the last came after 11 s before)."""
    s = pg_server(make_server, db, "pg-slow", extra={"pgsql": {
        "pool": "1", "timeout": "1",
        "user_query": "SELECT password, home, expire_days FROM pop3d_users, "
                      "pg_sleep(0.8) WHERE username = $1"}})
    db_user(s, db, env, "pgs", PW)
    conns = [s.connect() for _ in range(12)]
    try:
        for c in conns:
            c.cmd("USER pgs")
        t0 = time.monotonic()
        for c in conns:
            c.send(("PASS %s\r\n" % PW).encode())
        out = []
        for c in conns:
            a = c.line(timeout=60)
            out.append((round(time.monotonic() - t0, 1), a))
    finally:
        for c in conns:
            c.close()
    assert max(t for t, _ in out) < 4.0, out
    # Right passwords: logged in, the maildrop in use by one of them, or
    # too late; the late ones are logged once.
    assert any(a.startswith("+OK") for _, a in out), out
    assert all(a.startswith(("+OK", "-ERR [IN-USE]", "-ERR [SYS/TEMP]"))
               for _, a in out), out
    s.wait_log(r"pgsql: logins waited longer than timeout")
    assert sum("waited longer" in l for l in s.log) == 1, s.log_tail()


TIMING_ROUNDS = 9
TIMING_ATTEMPTS = 3


@pytest.mark.skipif(bool(WRAPPER), reason="valgrind distorts the timing")
def test_unknown_user_costs_the_costliest_hash_seen(make_server, db, env):
    """The table holds bcrypt (cost 12: several times a yescrypt
    verification); once a login found such a row, an unknown user costs
    what a wrong bcrypt password costs (before: the yescrypt reference
    only, a fraction of it - the timing told which names exist).  As in
    test_auth_timing.py: interleaved probes, medians compared, never an
    absolute time."""
    s = pg_server(make_server, db, "pg-time", fail_delay_ms=0,
                  fail_delay_max_ms=0, ban_threshold=0,
                  extra={"auth": {"user_fail_limit": "0"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        h = crypt.crypt(PW, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                         rounds=1 << 12))
    db.add_user("pgbc", h)
    s.make_maildir("pgbc")
    m = s.mark()
    assert try_login(s, "pgbc", PW).startswith("+OK")
    s.wait_log(r"auth: pgsql: a new hash class, failure_cost=\$2b\$12",
               start=m)
    reports = []
    for _ in range(TIMING_ATTEMPTS):
        kinds = {"pgbc": [], "pg-nosuch": []}
        for _ in range(TIMING_ROUNDS):
            for user in kinds:
                kinds[user].append(pass_time(s, user))
        med = {u: statistics.median(t) for u, t in kinds.items()}
        reports.append(", ".join("%s %.0f ms" % (u, t * 1000)
                                 for u, t in med.items()))
        print("medians of %d: %s" % (TIMING_ROUNDS, reports[-1]))
        if med["pg-nosuch"] >= 0.8 * med["pgbc"]:
            return
    pytest.fail("unknown user cheaper than a wrong bcrypt password: %s"
                % "; ".join(reports))


def test_server_notices_and_duplicate_rows_are_logged_tamely(make_server,
                                                             db, env):
    """A WARNING the server raises while the user_query runs goes to the
    debug log as one pop3d line (it went raw to stderr); a user with two
    rows is [SYS/TEMP] at every login but logged once, not per login."""
    db.sql("CREATE OR REPLACE FUNCTION pop3d_n() RETURNS boolean LANGUAGE "
           "plpgsql AS $$BEGIN RAISE WARNING 'hello-from%-db', E'\\n'; "
           "RETURN true; END$$")
    cols = "SELECT password, home, expire_days FROM pop3d_users "
    s = pg_server(make_server, db, "pg-notice", debug=True, extra={"pgsql": {
        "pool": "1",
        "user_query": cols + "WHERE username = $1 AND pop3d_n() UNION ALL "
                      + cols + "WHERE username = $1 AND username = 'pgdup'"}})
    db_user(s, db, env, "pgn", PW)
    db_user(s, db, env, "pgdup", PW)
    m = s.mark()
    assert try_login(s, "pgn", PW).startswith("+OK")
    s.wait_log(r"^pop3d\[\d+\]: auth: pgsql: server notice: WARNING:  "
               r"hello-from\\x0a-db$", start=m)
    for _ in range(3):
        r = try_login(s, "pgdup", PW)
        assert r.startswith("-ERR [SYS/TEMP]"), r
    s.wait_log(r"pgsql: user_query gives 2 rows for user pgdup", start=m)
    log = s.log[m:]
    assert sum("gives 2 rows" in l for l in log) == 1, log
    assert all(l.startswith("pop3d[") for l in log if "hello" in l), log


def test_a_silent_host_is_passed_over(db, env):
    """host=A,B where A accepts the connection and never answers: the
    connect gives up on A after the timeout and uses B (one deadline for
    all hosts spent it all on A: the database stayed down)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    real = db.conninfo()
    s = Server(env, name="pg-failover", pool=1, extra={
        "auth": {"backend": "pgsql"},
        "pgsql": {"conninfo": real.replace("host=127.0.0.1 port=%d" % db.port,
                                           "host=127.0.0.1,127.0.0.1 "
                                           "port=%d,%d" % (port, db.port)),
                  "timeout": "2"}})
    try:
        assert "host=127.0.0.1,127.0.0.1" in s.config_text(), real
        s.write_files()
        r = ctl(s.conf_path, "user", "list")
        assert r.returncode == EX_OK, (r.out, r.err)
        assert "USER" in r.out
    finally:
        silent.close()
        shutil.rmtree(s.base, ignore_errors=True)
