"""
pgutil.py - a private PostgreSQL cluster for the tests of accounts in
PostgreSQL (backend = pgsql): initdb in a temporary directory, the
server run by the `postgres` system user on its own loopback port (and
a Unix socket in that directory), the table pop3d.conf(5) documents,
a password role for pop3d with a libpq passfile, psql for the tests'
own statements, and a stop by PID (pg_ctl stop -m fast, then SIGKILL).
Standard library only; every wait is bounded.
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

import pytest

from ctlutil import free_port
from pop3util import AUTH_USER, IS_ROOT, wait_until

PG_USER = "postgres"          # the system user Debian's package made
PG_ROLE = "pop3d"             # the role pop3d and pop3ctl connect as
PG_PASSWORD = "role-secret-4711"
START_TIMEOUT = 30
SQL_TIMEOUT = 30

TABLE = """
CREATE TABLE pop3d_users (
    username    text PRIMARY KEY,
    password    text NOT NULL,
    home        text,
    expire_days text
);
"""


def pg_bindir():
    """The newest /usr/lib/postgresql/N/bin with initdb, or None."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                  key=lambda p: int(p.split("/")[4]) if
                  p.split("/")[4].isdigit() else 0)
    return os.path.dirname(dirs[-1]) if dirs else None


def pg_available():
    if not IS_ROOT or pg_bindir() is None:
        return False
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return False
    return True


def sql_quote(s):
    return "'" + s.replace("'", "''") + "'"


class Cluster:
    """One PostgreSQL server of the test's own: start(), sql(), stop()."""

    def __init__(self):
        self.bin = pg_bindir()
        pw = pwd.getpwnam(PG_USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.base = tempfile.mkdtemp(prefix="pop3d-pg-")
        os.chmod(self.base, 0o755)
        self.data = os.path.join(self.base, "data")
        os.mkdir(self.data)
        os.chown(self.data, self.uid, self.gid)
        os.chmod(self.data, 0o700)
        self.sock = os.path.join(self.base, "sock")
        os.mkdir(self.sock)
        os.chown(self.sock, self.uid, self.gid)
        os.chmod(self.sock, 0o755)
        self.logfile = os.path.join(self.base, "postgres.log")
        self.port = free_port()
        self.proc = None
        # The passfile pop3d's auth process (AUTH_USER) reads: libpq
        # ignores one that group or others may read; root reads it too.
        self.passfile = os.path.join(self.base, "pgpass")
        with open(self.passfile, "w") as f:
            for host in ("127.0.0.1", "localhost"):
                f.write("%s:%d:mail:%s:%s\n" % (host, self.port, PG_ROLE,
                                                PG_PASSWORD))
        shutil.chown(self.passfile, AUTH_USER)
        os.chmod(self.passfile, 0o600)
        self._as_pg([os.path.join(self.bin, "initdb"), "-D", self.data,
                     "-U", PG_USER, "--auth-local=trust",
                     "--auth-host=scram-sha-256", "-E", "UTF8",
                     "--no-sync"], timeout=120)

    def conninfo(self, host="127.0.0.1"):
        return ("host=%s port=%d dbname=mail user=%s passfile=%s "
                "sslmode=disable" % (host, self.port, PG_ROLE, self.passfile))

    def _demote(self):
        os.setgid(self.gid)
        os.setuid(self.uid)

    def _as_pg(self, argv, timeout, input=None):
        r = subprocess.run(argv, preexec_fn=self._demote, cwd=self.base,
                           input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = r.stdout.decode("utf-8", "replace")
        assert r.returncode == 0, "%s: rc=%d\n%s" % (argv[0], r.returncode,
                                                     out)
        return out

    def start(self):
        """Starts the server (foreground child, its PID kept) and waits
        until it accepts connections."""
        log = open(self.logfile, "a")
        self.proc = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", self.data,
             "-p", str(self.port), "-k", self.sock,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "max_connections=40"],
            preexec_fn=self._demote, cwd=self.base, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        ready = [os.path.join(self.bin, "pg_isready"), "-q", "-h", self.sock,
                 "-p", str(self.port)]
        ok = wait_until(lambda: self.proc.poll() is None and subprocess.run(
            ready, preexec_fn=self._demote, timeout=10).returncode == 0,
            START_TIMEOUT, step=0.1)
        assert ok, "postgres did not start:\n" + self.log_tail()

    def setup_schema(self):
        """Database mail, the default table, and the pop3d role."""
        self._as_pg(["psql", "-h", self.sock, "-p", str(self.port), "-U",
                     PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                     "-qc", "CREATE DATABASE mail"], SQL_TIMEOUT)
        self.sql(TABLE + "CREATE ROLE %s LOGIN PASSWORD %s;"
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON pop3d_users TO %s;"
                 % (PG_ROLE, sql_quote(PG_PASSWORD), PG_ROLE))

    def sql(self, text):
        """Runs text in database mail as the superuser; the rows as
        lists of strings (psql -At, '|' between columns)."""
        out = self._as_pg(["psql", "-h", self.sock, "-p", str(self.port),
                           "-U", PG_USER, "-d", "mail", "-v",
                           "ON_ERROR_STOP=1", "-qAt", "-f", "-"],
                          SQL_TIMEOUT, input=text.encode())
        return [l.split("|") for l in out.splitlines() if l]

    def add_user(self, name, hashfield, home=None, expire_days=None):
        self.sql("INSERT INTO pop3d_users VALUES (%s, %s, %s, %s)" % (
            sql_quote(name), sql_quote(hashfield),
            "NULL" if home is None else sql_quote(home),
            "NULL" if expire_days is None else sql_quote(str(expire_days))))

    def hash_of(self, name):
        rows = self.sql("SELECT password FROM pop3d_users WHERE username = "
                        + sql_quote(name))
        return rows[0][0] if rows else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """pg_ctl stop -m fast; then SIGKILL to the PID if it is still
        there.  Waits for the process to be gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            subprocess.run([os.path.join(self.bin, "pg_ctl"), "stop", "-D",
                            self.data, "-m", "fast", "-w", "-t", "20"],
                           preexec_fn=self._demote, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=40)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def destroy(self):
        try:
            self.stop()
        finally:
            if os.environ.get("POP3D_KEEP") != "1":
                shutil.rmtree(self.base, ignore_errors=True)


needs_pg = pytest.mark.skipif(
    not pg_available(), reason="needs root and Debian's postgresql "
    "(scripts/deps.sh installs it)")


@pytest.fixture(scope="module")
def pg():
    """A cluster with the default table, for the tests of one module."""
    c = Cluster()
    try:
        c.start()
        c.setup_schema()
        yield c
    finally:
        c.destroy()


@pytest.fixture
def db(pg):
    """The cluster, running and reachable at the start of each test."""
    if not pg.running():
        pg.start()
    return pg


PW = "Harbor-Quill-Maple-41"
PW2 = "Cinder-Otter-Flute-86"


def pg_server(make_server, pg, name, extra=None, **kw):
    """A pop3d with backend = pgsql on pg (plaintext from loopback), up
    once its pool has connected."""
    ex = {"auth": {"backend": "pgsql"},
          "pgsql": {"conninfo": pg.conninfo(), "timeout": "3"}}
    for sect, kv in (extra or {}).items():
        ex.setdefault(sect, {}).update(kv)
    s = make_server(name=name, plaintext="loopback", extra=ex, **kw)
    s.wait_log(r"auth: pgsql: database available$", timeout=10)
    return s


def db_user(s, pg, env, name, password, home=None, expire_days=None):
    """A row for name (password hashed as pop3ctl does) and its Maildir
    under s's mail root, unless it has a home."""
    pg.add_user(name, env.hasher.hash(password), home, expire_days)
    if home is None:
        s.make_maildir(name)


def try_login(s, name, password):
    """The final answer of USER/PASS on a plain loopback connection."""
    with s.connect() as c:
        return c.try_login(name, password)
