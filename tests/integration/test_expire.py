"""RFC 2449 EXPIRE (pop3d.conf expire_days, pop3d(8) EXPIRE): a message a
session retrieved (RETR, then QUIT) gets a retrieval mark in its file
name, ",R=<unix time>", and is removed at the first login at least
expire_days later, before the listing.  Faked times: the tests write the
mark themselves (a name with an old ,R=), or rename the file pop3d
marked to make its mark older; no clock hook.  Clients: Python's poplib."""
import os
import poplib
import re
import shutil
import subprocess
import time

import pytest

from pop3util import LIVE, Server, unique_part

DAY = 86400
MARK_RE = re.compile(r",R=(\d+)")


def conf(days):
    return {"server": {"expire_days": str(days)}}


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="expire30", plaintext="loopback",
                          extra=conf(30))


def login(srv, u):
    p = poplib.POP3(srv.host, srv.port, timeout=10)
    p.user(u.name)
    p.pass_(u.password)
    return p


def uidls(p):
    return [l.split()[1] for l in p.uidl()[1]]


def by_unique(srv, u):
    """{unique part: file name} of the user's messages."""
    return {unique_part(n): n for n in srv.names(u)}


def mark_of(name):
    m = MARK_RE.search(name.split(":")[0])
    return int(m.group(1)) if m else None


def deliver(srv, u, n, marks=None):
    """n messages (1..n, in delivery order) named with their sizes, as
    pop3d's delivery names them (so that no login renames them to cache
    a size); marks: {index: ,R= time}."""
    names = []
    for i in range(1, n + 1):
        data = b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
        name = "1700000000.M%dP1.exp,S=%d,W=%d" % (i, len(data), len(data))
        if marks and i in marks:
            name += ",R=%d" % marks[i]
        names.append(srv.deliver(u, data, name=name))
    return names


def age_mark(srv, u, unique, seconds):
    """Makes the retrieval mark pop3d wrote on a message older."""
    d = srv.maildir(u)
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(d, sub)):
            if unique_part(n) == unique:
                t = mark_of(n)
                assert t is not None, n
                old = n.replace(",R=%d" % t, ",R=%d" % (t - seconds))
                os.rename(os.path.join(d, sub, n), os.path.join(d, sub, old))
                return old
    raise AssertionError("no message %s" % unique)


def restart(srv):
    srv.terminate()
    srv.reader.join(5)
    with srv.log_cond:
        srv.log.clear()
    if srv in LIVE:
        LIVE.remove(srv)
    srv.start()


# ------------------------------------------------------------- CAPA

@pytest.mark.parametrize("days, want", [(30, "EXPIRE 30"), (0, "EXPIRE 0"),
                                        ("never", "EXPIRE NEVER")])
def test_capa_before_and_after_login(make_server, days, want):
    s = make_server(name="capa-%s" % days, plaintext="loopback",
                    extra=conf(days))
    u = s.new_user()
    p = poplib.POP3(s.host, s.port, timeout=10)
    try:
        before = [c for c in p.capa() if c.startswith("EXPIRE")]
        assert before == [want.split()[0]], before
        assert " ".join(["EXPIRE"] + p.capa()["EXPIRE"]) == want
        p.user(u.name)
        p.pass_(u.password)
        assert " ".join(["EXPIRE"] + p.capa()["EXPIRE"]) == want
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()


def test_bad_expire_days_names_file_line_and_key(env):
    for v in ("-1", "36501", "soon", ""):
        s = Server(env, name="badexp", pool=1, extra=conf(v))
        try:
            s.write_files()
            line = s.config_text().splitlines().index(
                "expire_days = %s" % v) + 1
            r = subprocess.run([env.pop3d, "-c", s.conf_path, "-t"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            err = r.stderr.decode("utf-8", "replace")
            assert r.returncode != 0, err
            assert "%s:%d: expire_days: " % (s.conf_path, line) in err, err
            assert "expected an integer in 0..36500 or never" in err, err
        finally:
            shutil.rmtree(s.base, ignore_errors=True)


# ------------------------------------------------------------- marks

def test_retr_then_quit_marks_retr_only(srv):
    """RETR then QUIT marks that message; TOP, LIST and UIDL do not; the
    UIDLs are the same before and after, and so are the unique parts."""
    u = srv.new_user()
    deliver(srv, u, 3)
    before = by_unique(srv, u)
    p = login(srv, u)
    ids = uidls(p)
    t0 = int(time.time())
    p.retr(1)
    p.top(2, 0)
    p.list()
    assert p.quit().startswith(b"+OK")
    t1 = int(time.time())
    after = by_unique(srv, u)
    assert sorted(after) == sorted(before)
    marks = {k: mark_of(v) for k, v in after.items()}
    assert t0 <= marks[ids[0].decode()] <= t1, after
    assert marks[ids[1].decode()] is None, after
    assert marks[ids[2].decode()] is None, after
    # The mark goes last before the info; the rest of the name stays.
    n = after[ids[0].decode()]
    assert n == before[ids[0].decode()] + ",R=%d" % mark_of(n), n
    p = login(srv, u)
    try:
        assert uidls(p) == ids
        assert p.retr(1)[1] == [b"Subject: m1", b"", b"body 1"]
        assert p.stat()[0] == 3
    finally:
        p.quit()


def test_mark_goes_before_the_info(srv):
    """A message in cur/ with flags keeps its directory and its info."""
    u = srv.new_user()
    data = b"Subject: seen\r\n\r\nx\r\n"
    base = "1700000000.M1P1.cur,S=%d,W=%d" % (len(data), len(data))
    srv.deliver(u, data, name=base + ":2,S", sub="cur")
    p = login(srv, u)
    p.retr(1)
    assert p.quit().startswith(b"+OK")
    names = os.listdir(os.path.join(srv.maildir(u), "cur"))
    assert len(names) == 1 and os.listdir(os.path.join(srv.maildir(u), "new")) == []
    assert re.fullmatch(re.escape(base) + r",R=\d+:2,S", names[0]), names


def test_dropped_connection_marks_nothing(srv):
    u = srv.new_user()
    deliver(srv, u, 2)
    names = srv.names(u)
    p = login(srv, u)
    p.retr(1)
    p.retr(2)
    p.close()           # no QUIT: no UPDATE state
    time.sleep(0.3)
    assert srv.names(u) == names
    q = None
    for _ in range(50):     # the server may not have seen the close yet
        try:
            q = login(srv, u)
            break
        except poplib.error_proto as e:
            assert b"IN-USE" in e.args[0], e
            time.sleep(0.1)
    assert q is not None
    assert q.stat()[0] == 2
    assert q.quit().startswith(b"+OK")
    assert srv.names(u) == names


def test_first_retrieval_time_is_kept(srv):
    u = srv.new_user()
    old = int(time.time()) - 3 * DAY
    names = deliver(srv, u, 1, marks={1: old})
    p = login(srv, u)
    p.retr(1)
    assert p.quit().startswith(b"+OK")
    assert srv.names(u) == names
    assert mark_of(names[0]) == old


def test_retr_then_dele_is_deleted_not_marked(srv):
    u = srv.new_user()
    deliver(srv, u, 2)
    p = login(srv, u)
    ids = uidls(p)
    p.retr(1)
    p.retr(2)
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    after = by_unique(srv, u)
    assert list(after) == [ids[0].decode()]
    assert mark_of(after[ids[0].decode()]) is not None


def test_marks_after_a_swap_commit(make_server):
    """A QUIT that deletes nearly all of new/ swaps the directory (pop3d(8),
    UPDATE): the kept messages it retrieved are marked all the same."""
    srv = make_server(name="expire-swap", plaintext="loopback",
                      extra={"server": {"expire_days": "30", "verbose": "yes"}})
    u = srv.new_user()
    deliver(srv, u, 300)
    p = login(srv, u)
    ids = [x.decode() for x in uidls(p)]
    for i in range(1, 301):
        p.retr(i)
    for i in range(11, 301):
        p.dele(i)
    assert p.quit().startswith(b"+OK")
    after = by_unique(srv, u)
    assert sorted(after) == sorted(ids[:10])
    assert all(mark_of(n) is not None for n in after.values()), after
    srv.wait_log(r"new/ swapped, 10 kept moved back")
    srv.wait_log(r"retrieval marks: 10 written, 0 failed")


# ------------------------------------------------------------- expiry

def test_old_marks_expire_at_login(srv):
    """Marked at least 30 days ago: gone at the login, before the listing;
    marked 29 days ago, or never retrieved (an old delivery): stays."""
    u = srv.new_user()
    now = int(time.time())
    deliver(srv, u, 5, marks={1: now - 31 * DAY, 2: now - 29 * DAY,
                              4: now - 30 * DAY - 60, 5: now + 5 * DAY})
    keep = {unique_part(n) for n in srv.names(u)} - {
        "1700000000.M1P1.exp", "1700000000.M4P1.exp"}
    m = srv.mark()
    p = login(srv, u)
    try:
        assert p.stat()[0] == 3
        assert len(p.list()[1]) == 3
        assert sorted(x.decode() for x in uidls(p)) == sorted(keep)
    finally:
        p.quit()
    srv.wait_log(r"login user=%s .*expired=2\b" % u.name, start=m)
    assert set(by_unique(srv, u)) == keep


def test_pop3d_mark_aged_expires_and_survives_restart(make_server):
    """The whole cycle with pop3d's own mark: RETR + QUIT marks; a
    restart keeps the mark (it is in the file name); the mark made 30
    days older, the next login removes the message, and only it."""
    s = make_server(name="expire-restart", plaintext="loopback",
                    extra=conf(30))
    u = s.new_user()
    deliver(s, u, 2)
    p = login(s, u)
    ids = [x.decode() for x in uidls(p)]
    p.retr(1)
    assert p.quit().startswith(b"+OK")
    marked = by_unique(s, u)[ids[0]]
    assert mark_of(marked) is not None
    restart(s)
    assert by_unique(s, u)[ids[0]] == marked
    p = login(s, u)
    assert uidls(p) == [x.encode() for x in ids]   # not old enough yet
    assert p.quit().startswith(b"+OK")
    age_mark(s, u, ids[0], 30 * DAY)
    m = s.mark()
    p = login(s, u)
    try:
        assert [x.decode() for x in uidls(p)] == [ids[1]]
    finally:
        p.quit()
    s.wait_log(r"login user=%s .*expired=1\b" % u.name, start=m)
    assert list(by_unique(s, u)) == [ids[1]]


def test_never_marks_nothing_and_expires_nothing(make_server):
    s = make_server(name="expire-never", plaintext="loopback")
    u = s.new_user()
    names = deliver(s, u, 2, marks={2: int(time.time()) - 9999 * DAY})
    m = s.mark()
    p = login(s, u)
    assert p.stat()[0] == 2
    p.retr(1)
    assert p.quit().startswith(b"+OK")
    s.wait_log(r"login user=%s .*expired=0\b" % u.name, start=m)
    assert s.names(u) == sorted(names)


# ------------------------------------------------------------- EXPIRE 0

def test_expire_0_deletes_retrieved_at_quit(make_server):
    """EXPIRE 0: a message RETR sent is deleted at that session's QUIT (an
    implicit DELE, RSET notwithstanding); TOP only, or a dropped
    connection, keeps it; a message marked before goes at the login."""
    s = make_server(name="expire0", plaintext="loopback", extra=conf(0))
    u = s.new_user()
    deliver(s, u, 4, marks={4: int(time.time()) - 60})
    m = s.mark()
    p = login(s, u)
    s.wait_log(r"login user=%s .*expired=1\b" % u.name, start=m)
    ids = [x.decode() for x in uidls(p)]
    assert len(ids) == 3
    p.retr(1)
    p.top(2, 0)
    p.rset()
    assert re.match(rb"\+OK bye \(1 message deleted\)", p.quit()), s.log_tail()
    assert sorted(by_unique(s, u)) == sorted(ids[1:])
    p = login(s, u)
    p.retr(1)
    p.close()           # dropped: nothing deleted
    time.sleep(0.3)
    assert sorted(by_unique(s, u)) == sorted(ids[1:])
    # No mark is written under EXPIRE 0: the message goes instead.
    assert all(mark_of(n) is None for n in s.names(u))


def test_per_user_expire_days_from_the_passwd_file(make_server, env):
    """expire_days in a user's passwd-file line (Dovecot's extra field,
    with or without userdb_) overrides the server's: CAPA before login
    says the server's value with USER (RFC 2449: it may differ per user),
    after login the user's; expiry at login follows the user's value."""
    def setup(s):
        for name, extra in (("short", "userdb_expire_days=2"),
                            ("keeper", "expire_days=never")):
            s.passwd_lines.append("%s:%s::::::%s" % (
                name, env.hasher.hash("Per-User-Expire-7"), extra))
            s.make_maildir(name)
    s = make_server(setup, name="expire-user", plaintext="loopback",
                    extra=conf(30))
    short = type("U", (), {"name": "short", "password": "Per-User-Expire-7"})
    keeper = type("U", (), {"name": "keeper",
                            "password": "Per-User-Expire-7"})
    now = int(time.time())
    for u in (short, keeper):
        deliver(s, u, 2, marks={1: now - 3 * DAY})
    p = poplib.POP3(s.host, s.port, timeout=10)
    try:
        assert p.capa()["EXPIRE"] == ["30", "USER"]
        p.user("short")
        p.pass_("Per-User-Expire-7")
        assert p.capa()["EXPIRE"] == ["2"]
        assert p.stat()[0] == 1          # the 3-day-old mark expired
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    p = login(s, keeper)
    try:
        assert p.capa()["EXPIRE"] == ["NEVER"]
        assert p.stat()[0] == 2
    finally:
        p.quit()
    # A server whose passwd-file sets no expire_days says no USER.
    t = make_server(name="expire-nouser", plaintext="loopback",
                    extra=conf(30))
    p = poplib.POP3(t.host, t.port, timeout=10)
    try:
        assert p.capa()["EXPIRE"] == ["30"]
    finally:
        p.quit()
