"""The maildrop in TRANSACTION: STAT, LIST, UIDL, RETR, TOP, DELE, RSET,
QUIT, and what ends up on disk (RFC 1939, DESIGN.md "Maildrop")."""
import hashlib
import os
import re
import time

import pytest

from pop3util import crlf, expected_uidl, unique_part


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="maildrop", plaintext="loopback")


def sess(srv, u, tls=False):
    return srv.session(u, tls=tls)


# ------------------------------------------------------------- sizes

def test_stat_list_crlf_sizes(srv):
    u = srv.new_user()
    m1 = b"Subject: bare lf\n\nline1\nline2\n"
    m2 = b"Subject: crlf\r\n\r\nbody\r\n"
    m3 = b"Subject: mixed\r\n\nx\ny\r\n"
    for m in (m1, m2, m3):
        srv.deliver(u, m)
    sizes = [len(m1) + m1.count(b"\n"), len(m2), len(crlf(m3))]
    with sess(srv, u) as c:
        assert c.stat() == (3, sum(sizes))
        for i, sz in enumerate(sizes):
            assert c.ok("LIST %d" % (i + 1)).split()[1:3] == [str(i + 1), str(sz)]
        assert c.multi_cmd("LIST") == [b"%d %d" % (i + 1, sz) for i, sz in enumerate(sizes)]
        c.ok("QUIT")


def test_list_trusts_w_size(srv):
    u = srv.new_user()
    data = b"Subject: w\n\nbody\n"
    srv.deliver(u, data, name="1700000000.M1P1.test,S=%d,W=12345:2,S" % len(data),
                sub="cur")
    srv.deliver(u, data, name="1700000000.M2P1.test,S=%d,W=%d" % (
        len(data), len(crlf(data))))
    with sess(srv, u) as c:
        assert c.ok("LIST 1").split()[1:3] == ["1", "12345"]
        assert c.stat() == (2, 12345 + len(crlf(data)))
        c.ok("QUIT")


def test_wire_name_without_w_size(srv):
    """A wire-form file (CRLF lines) named with ,S= and ,D= but no ,W=, as
    another delivery agent may write it: the login computes its size and
    adds ,W= to the name (in new/ or cur/), and RETR and TOP answer it
    byte for byte, dot-stuffed, in that session and the next."""
    u = srv.new_user()
    body = b"Subject: dots\r\n\r\n.one\r\nplain\r\n..two\r\n.\r\nend\r\n"
    lines = body.split(b"\r\n")[:-1]
    dots = sum(1 for l in lines if l.startswith(b"."))
    want = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"
    for i, (sub, info) in enumerate((("new", ""), ("cur", ":2,S"))):
        srv.deliver(u, body, sub=sub, name="1700000000.M%dP1.wire,S=%d,D=%d%s"
                    % (i, len(body), dots, info))
    for _ in range(2):
        with sess(srv, u) as c:
            assert c.stat() == (2, 2 * len(body))
            for i in (1, 2):
                assert c.ok("RETR %d" % i).split()[1] == str(len(body))
                assert c.multi_raw() == want
            c.ok("TOP 2 1")
            assert c.multi_raw() == b"Subject: dots\r\n\r\n..one\r\n.\r\n"
            c.ok("QUIT")
        names = srv.names(u)
        assert len(names) == 2 and all(
            ",S=%d,D=%d,W=%d" % (len(body), dots, len(body)) in n
            for n in names), names


def test_empty_message(srv):
    u = srv.new_user()
    srv.deliver(u, b"")
    with sess(srv, u) as c:
        assert c.stat() == (1, 0)
        c.ok("RETR 1")
        assert c.multi_raw() == b".\r\n"
        c.ok("QUIT")


# ------------------------------------------------------------- order, UIDL

def test_message_order_is_delivery_order(srv):
    u = srv.new_user()
    spec = [  # (sub, name) in the expected message order
        ("new", "1699999999.M900000P1.test"),
        ("cur", "1700000000.M9P1.test:2,S"),
        ("new", "1700000000.M10P1.test"),
        ("new", "1700000000.M100P1.test"),
        ("cur", "1700000000.M100P1.zzz:2,S"),
        ("new", "1700000001.M1P1.test"),
    ]
    # write them in another order than the expected one
    for k in (3, 0, 5, 1, 4, 2):
        sub, name = spec[k]
        srv.deliver(u, b"Subject: %d\n\nmsg %d\n" % (k, k), name=name, sub=sub)
    with sess(srv, u) as c:
        for k in range(len(spec)):
            c.ok("RETR %d" % (k + 1))
            assert c.multi() == [b"Subject: %d" % k, b"", b"msg %d" % k], \
                "message %d is not %s" % (k + 1, spec[k][1])
        assert c.multi_cmd("UIDL") == [("%d %s" % (k + 1, expected_uidl(n))).encode()
                                       for k, (_, n) in enumerate(spec)]
        c.ok("QUIT")


def test_uidl_names(srv):
    u = srv.new_user()
    u70 = "1700000000.M2P1." + "a" * 54
    u71 = "1700000000.M3P1." + "b" * 55
    assert len(u70) == 70 and len(u71) == 71
    spec = [
        ("cur", "1700000000.M1P1.test,S=10:2,S", "1700000000.M1P1.test"),
        ("new", u70, u70),
        ("new", u71 + ",S=10", hashlib.sha256(u71.encode()).hexdigest()),
        ("new", "1700000000.M4P1.with space",
         hashlib.sha256(b"1700000000.M4P1.with space").hexdigest()),
        ("new", b"1700000000.M5P1.caf\xe9",
         hashlib.sha256(b"1700000000.M5P1.caf\xe9").hexdigest()),
        ("new", "1700000000.M6P1.x,W=13", "1700000000.M6P1.x"),
    ]
    for sub, name, _ in spec:
        srv.deliver(u, b"A: bc\n\nxy\n", name=name, sub=sub)   # 10 bytes
    want = [("%d %s" % (i + 1, uidl)).encode() for i, (_, _, uidl) in enumerate(spec)]
    with sess(srv, u) as c:
        got = c.multi_cmd("UIDL")
        assert got == want
        for i, (_, _, uidl) in enumerate(spec):
            assert c.ok("UIDL %d" % (i + 1)).split()[1:3] == [str(i + 1), uidl]
        c.ok("QUIT")
    with sess(srv, u) as c:   # stable across sessions
        assert c.multi_cmd("UIDL") == want
        c.ok("QUIT")
    for line in want:
        uidl = line.split()[1]
        assert 1 <= len(uidl) <= 70 and all(0x21 <= ch <= 0x7E for ch in uidl)


# ------------------------------------------------------------- RETR

def test_retr_dot_stuffing_and_crlf_on_the_wire(srv):
    u = srv.new_user()
    msg = b"Subject: dots\n\n.hidden\n..two\n.\nend\n. space\n"
    srv.deliver(u, msg)
    with sess(srv, u) as c:
        c.ok("RETR 1")
        assert c.multi_raw() == (b"Subject: dots\r\n\r\n..hidden\r\n...two\r\n..\r\n"
                                 b"end\r\n.. space\r\n.\r\n")
        c.ok("QUIT")


def test_retr_dot_stuffing_poplib(srv):
    import poplib
    u = srv.new_user()
    msg = b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nok\r\n"
    srv.deliver(u, msg)
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    try:
        p.user(u.name)
        p.pass_(u.password)
        assert p.retr(1)[1] == [b"Subject: dots", b"", b".", b"..", b".x", b"ok"]
        p.quit()
    finally:
        p.close()


def test_retr_crlf_not_doubled(srv):
    u = srv.new_user()
    msg = b"Subject: crlf\r\n\r\nalready\r\ncrlf\r\n"
    srv.deliver(u, msg)
    with sess(srv, u) as c:
        c.ok("RETR 1")
        assert c.multi_raw() == msg + b".\r\n"
        c.ok("QUIT")


def test_retr_without_final_newline(srv):
    u = srv.new_user()
    srv.deliver(u, b"Subject: x\n\nno newline at the end")
    srv.deliver(u, b"Subject: y\n\n.dot and no newline")
    with sess(srv, u) as c:
        c.ok("RETR 1")
        assert c.multi_raw() == b"Subject: x\r\n\r\nno newline at the end\r\n.\r\n"
        c.ok("RETR 2")
        assert c.multi_raw() == b"Subject: y\r\n\r\n..dot and no newline\r\n.\r\n"
        c.ok("NOOP")
        c.ok("QUIT")


def big_message(size):
    """About size bytes; LF lines first, CRLF lines later, many leading dots,
    lines of varied length (some long) so stuffing meets chunk edges."""
    parts = [b"Subject: big\nX-Test: yes\n\n"]
    n, i = len(parts[0]), 0
    while n < size:
        sep = b"\n" if n < size // 2 else b"\r\n"
        if i % 997 == 0:
            line = b"." + b"L" * (i % 9000)
        elif i % 5 == 0:
            line = b"." * (1 + i % 3) + b"dot line %d" % i
        else:
            line = b"line %d " % i + b"x" * (i % 120)
        line += sep
        parts.append(line)
        n += len(line)
        i += 1
    parts.append(b".\n")
    return b"".join(parts)


@pytest.fixture(scope="module")
def big(srv):
    u = srv.new_user()
    msg = big_message(20 << 20)
    name = srv.deliver(u, msg)
    return u, msg, name


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_retr_20mb(srv, big, tls):
    u, msg, _ = big
    want = crlf(msg)
    with sess(srv, u, tls=tls) as c:
        assert c.ok("LIST 1").split()[2] == str(len(want))
        c.ok("RETR 1")
        raw = c.multi_raw()
        assert raw.endswith(b"\r\n.\r\n")
        body = raw[:-3]
        lines = body.split(b"\r\n")
        unstuffed = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)
        assert len(unstuffed) == len(want)
        assert unstuffed == want
        # every line that starts with a dot was stuffed
        assert all(not l.startswith(b".") or l.startswith(b"..") for l in lines)
        c.ok("NOOP")
        c.ok("QUIT")


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_quit_answer_after_lock_release(srv, tls):
    """A client that logs in again the moment it has read QUIT's +OK (and
    has not even closed its socket) must not get [IN-USE]: the lock goes
    before the answer, with and without deletions. Over TLS the session
    outlives the answer by the close_notify exchange."""
    u = srv.new_user()
    for i in range(12):
        srv.deliver(u, b"Subject: %d\n\nbody\n" % i)
    for i in range(12):
        c = sess(srv, u, tls=tls)
        if i % 2:
            c.ok("DELE 1")
        c.ok("QUIT")
        c2 = sess(srv, u)       # no retry: [IN-USE] fails the test
        assert c2.stat()[0] == 12 - (i + 1) // 2
        c2.ok("QUIT")
        c2.close()
        c.close()


def test_cut_mid_retr(srv, big):
    u, msg, name = big
    before = srv.names(u)
    for abort in (True, False):
        c = sess(srv, u)
        c.ok("RETR 1")
        c.sock.recv(100000)
        if abort:
            c.abort()
        else:
            c.close()
        # the server must notice, release the maildrop and keep the message
        with srv.session_retry(u) as c2:
            assert c2.stat()[0] == 1
            c2.ok("QUIT")
    assert [unique_part(n) for n in srv.names(u)] == [unique_part(n) for n in before]


# ------------------------------------------------------------- TOP

def test_top(srv):
    u = srv.new_user()
    srv.deliver(u, b"H1: a\nH2: b\n\nl1\nl2\n.l3\n")
    with sess(srv, u) as c:
        assert c.multi_cmd("TOP 1 0") == [b"H1: a", b"H2: b", b""]
        assert c.multi_cmd("TOP 1 2") == [b"H1: a", b"H2: b", b"", b"l1", b"l2"]
        assert c.multi_cmd("TOP 1 3") == [b"H1: a", b"H2: b", b"", b"l1", b"l2", b".l3"]
        assert c.multi_cmd("TOP 1 100") == [b"H1: a", b"H2: b", b"", b"l1", b"l2", b".l3"]
        c.ok("TOP 1 3")
        assert c.multi_raw() == b"H1: a\r\nH2: b\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n"
        c.err("TOP 2 0")
        c.ok("QUIT")


# ------------------------------------------------------------- DELE, RSET, QUIT

def test_dele_rset_quit(srv):
    u = srv.new_user()
    names = [srv.deliver(u, b"Subject: %d\n\nbody %d\n" % (i, i)) for i in range(4)]
    size = len(crlf(b"Subject: 0\n\nbody 0\n"))
    with sess(srv, u) as c:
        assert c.stat() == (4, 4 * size)
        c.ok("DELE 2")
        c.ok("DELE 4")
        c.err("RETR 2")
        c.err("TOP 2 0")
        c.err("LIST 2")
        c.err("DELE 2")
        assert c.stat() == (2, 2 * size), "STAT must not count deleted messages"
        assert c.multi_cmd("LIST") == [b"1 %d" % size, b"3 %d" % size]
        uidls = c.multi_cmd("UIDL")
        assert [l.split()[0] for l in uidls] == [b"1", b"3"]
        c.err("UIDL 4")
        c.ok("RSET")
        assert c.stat() == (4, 4 * size)
        assert c.multi_cmd("RETR 2") == [b"Subject: 1", b"", b"body 1"]
        c.ok("DELE 1")
        c.ok("DELE 3")
        c.ok("QUIT")
        assert c.wait_eof(5)
    assert srv.uniques(u) == sorted(unique_part(names[i]) for i in (1, 3))


def test_quit_without_dele_keeps_all(srv):
    u = srv.new_user()
    names = [srv.deliver(u, b"Subject: k\n\nkeep\n") for _ in range(3)]
    with sess(srv, u) as c:
        c.multi_cmd("RETR 1")
        c.ok("QUIT")
    assert srv.uniques(u) == sorted(unique_part(n) for n in names)


@pytest.mark.parametrize("how", ["close", "rst"])
def test_dele_then_drop_deletes_nothing(srv, how):
    u = srv.new_user()
    names = [srv.deliver(u, b"Subject: d\n\ndrop\n") for _ in range(3)]
    c = sess(srv, u)
    c.ok("DELE 1")
    c.ok("DELE 3")
    if how == "rst":
        c.abort()
    else:
        c.close()
    with srv.session_retry(u) as c2:
        assert c2.stat()[0] == 3
        c2.ok("QUIT")
    assert srv.uniques(u) == sorted(unique_part(n) for n in names)


def test_new_mail_during_session(srv):
    u = srv.new_user()
    srv.deliver(u, b"Subject: 1\n\none\n")
    srv.deliver(u, b"Subject: 2\n\ntwo\n")
    with sess(srv, u) as c:
        st = c.stat()
        assert st[0] == 2
        srv.deliver(u, b"Subject: 3\n\nthree\n")
        assert c.stat() == st
        assert len(c.multi_cmd("LIST")) == 2
        c.err("RETR 3")
        c.err("LIST 3")
        c.ok("DELE 1")
        c.ok("QUIT")
    with sess(srv, u) as c:
        assert c.stat()[0] == 2
        assert c.multi_cmd("RETR 2") == [b"Subject: 3", b"", b"three"]
        c.ok("QUIT")


def test_quit_in_authorization(srv):
    with srv.connect() as c:
        c.ok("QUIT")
        assert c.wait_eof(5)


def test_logout_log_line(srv):
    u = srv.new_user()
    srv.deliver(u, b"Subject: a\n\nA\n")
    srv.deliver(u, b"Subject: b\n\nB\n")
    mark = srv.mark()
    with sess(srv, u) as c:
        c.multi_cmd("RETR 2")
        c.ok("DELE 1")
        c.ok("QUIT")
        c.wait_eof(5)
    l = srv.wait_log(r"\bretr=.*\bdel=|\bdel=.*\bretr=", start=mark)
    assert "user=%s" % u.name in l, l
    assert re.search(r"\bretr=1\b", l), l
    assert re.search(r"\bdel=1\b", l), l


# ------------------------------------------------------------- odd Maildirs

def test_non_messages_ignored(srv):
    u = srv.new_user()
    srv.deliver(u, b"Subject: real\n\nreal\n")
    d = srv.maildir(u)
    for path in ("new/.hidden", "cur/.dotfile:2,S", "tmp/1700000000.M9P1.partial"):
        with open(os.path.join(d, path), "wb") as f:
            f.write(b"Subject: not a message\n\nx\n")
        srv._chown(os.path.join(d, path))
    with sess(srv, u) as c:
        assert c.stat() == (1, len(crlf(b"Subject: real\n\nreal\n")))
        c.ok("QUIT")


def test_uidl_stable_when_moved_to_cur(srv):
    u = srv.new_user()
    n1 = srv.deliver(u, b"Subject: 1\n\none\n")
    n2 = srv.deliver(u, b"Subject: 2\n\ntwo\n", tags=",S=16")
    with sess(srv, u) as c:
        before = c.multi_cmd("UIDL")
        c.ok("QUIT")
    d = srv.maildir(u)
    for n in (n1, n2):   # another MUA marks them seen
        src = os.path.join(d, "new", n)
        if os.path.exists(src):
            os.rename(src, os.path.join(d, "cur", n + ":2,S"))
    with sess(srv, u) as c:
        assert c.multi_cmd("UIDL") == before
        c.ok("QUIT")


def test_message_vanishes_during_session(srv):
    u = srv.new_user()
    srv.deliver(u, b"Subject: 1\n\none\n")
    srv.deliver(u, b"Subject: 2\n\ntwo\n")
    with sess(srv, u) as c:
        assert c.stat()[0] == 2
        for n in srv.names(u):
            if unique_part(n).startswith("1700000000.M1P1"):
                os.unlink(os.path.join(srv.maildir(u),
                                       "new" if ":" not in n else "cur", n))
        r = c.cmd("RETR 1")
        assert r.startswith("-ERR"), r
        assert c.multi_cmd("RETR 2") == [b"Subject: 2", b"", b"two"]
        c.ok("NOOP")
        c.ok("QUIT")


def test_missing_maildir(make_server):
    def setup(s):
        s.add_user("nomaildir", hashfield=s.env.hasher.hash("No-maildir-pw"),
                   maildir=False)
    s = make_server(name="no-maildir", setup=setup)
    with s.connect(tls=True) as c:
        r = c.try_login("nomaildir", "No-maildir-pw")
        if r.startswith("+OK"):
            assert c.stat() == (0, 0)
        else:
            assert r.startswith("-ERR [SYS/"), r


def test_large_maildrop(srv):
    u = srv.new_user()
    n = 10000
    d = srv.maildir(u)
    names = []
    for i in range(n):
        name = "1700000000.M%dP1.big-maildrop" % (i + 1)
        p = os.path.join(d, "cur" if i % 2 else "new", name + (":2,S" if i % 2 else ""))
        with open(p, "wb") as f:
            f.write(b"Subject: %d\n\n%d\n" % (i, i))
        srv._chown(p)
        names.append(name)
    with sess(srv, u) as c:
        count, total = c.stat()
        assert count == n
        lst = c.multi_cmd("LIST")
        assert len(lst) == n
        assert sum(int(l.split()[1]) for l in lst) == total
        uidl = c.multi_cmd("UIDL")
        assert uidl == [("%d %s" % (i + 1, names[i])).encode() for i in range(n)]
        assert c.multi_cmd("RETR %d" % n) == [b"Subject: %d" % (n - 1), b"", b"%d" % (n - 1)]
        c.ok("QUIT")


@pytest.mark.skipif(os.environ.get("POP3D_SLOW") != "1",
                    reason="slow (idle_timeout >= 10 s); set POP3D_SLOW=1")
def test_idle_timeout(make_server):
    s = make_server(name="idle", idle_timeout=10)
    u = s.new_user()
    s.deliver(u, b"Subject: idle\n\nidle\n")
    c1 = s.connect()
    c2 = s.session(u)
    c2.ok("DELE 1")
    t0 = time.monotonic()
    assert c1.wait_eof(25) and c2.wait_eof(25)
    assert 9 <= time.monotonic() - t0 <= 25
    assert len(s.names(u)) == 1


@pytest.mark.skipif(os.environ.get("POP3D_SLOW") != "1",
                    reason="slow (idle_timeout >= 10 s); set POP3D_SLOW=1")
def test_slow_reader_of_a_big_answer_is_not_idle(make_server):
    """A client reading a 16 MB answer slowly (about 0.8 MB/s, longer than
    idle_timeout) is busy, not idle: the idle timeout counts from the
    last input only while no answer is waiting to go out.  The message
    is stored in wire form, so it is sent with sendfile(2) and all of it
    is queued at once."""
    import socket
    s = make_server(name="slowread", plaintext="loopback", idle_timeout=10)
    u = s.new_user()
    body = s.deliver_big_wire(u, 16, "slow")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", s.port))
    try:
        got = b""
        for cmd in (None, b"USER %s\r\n" % u.name.encode(),
                    b"PASS %s\r\n" % u.password.encode()):
            if cmd:
                sock.sendall(cmd)
            while not got.endswith(b"\r\n"):
                got += sock.recv(1)
            assert got.startswith(b"+OK"), got
            got = b""
        sock.sendall(b"RETR 1\r\n")
        t0 = time.monotonic()
        while not got.endswith(b"\r\n.\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "cut after %d bytes, %.1f s" % (
                len(got), time.monotonic() - t0)
            got += chunk
            time.sleep(0.08)
        assert time.monotonic() - t0 > 12, "not slow enough to test"
        assert got == b"+OK %d octets\r\n" % len(body) + body + b".\r\n"
        sock.sendall(b"QUIT\r\n")
        assert sock.recv(100).startswith(b"+OK")
    finally:
        sock.close()


# ------------------------------------------------------------- broken maildrops

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a maildrop "
                    "the worker user cannot read")
def test_unreadable_maildrop_is_sys_perm(srv):
    """A maildrop the mail user may not open gets [SYS/PERM], not TEMP."""
    u = srv.new_user()
    d = srv.maildir(u)
    os.chown(d, 0, 0)
    try:
        with srv.connect() as c:
            r = c.try_login(u.name, u.password)
            assert r.startswith("-ERR [SYS/PERM]"), r
            # The session is still usable, and nothing was created.
            assert c.cmd("QUIT").startswith("+OK")
    finally:
        srv._chown(d)
    with sess(srv, u) as c:
        assert c.stat() == (0, 0)
        c.ok("QUIT")


def test_symlinked_maildrop_is_refused(srv):
    """A symlink in place of the Maildir is not followed: [SYS/PERM]."""
    u = srv.new_user()
    d = srv.maildir(u)
    real = d + ".real"
    os.rename(d, real)
    os.symlink(real, d)
    try:
        with srv.connect() as c:
            r = c.try_login(u.name, u.password)
            assert r.startswith("-ERR [SYS/PERM]"), r
    finally:
        os.unlink(d)
        os.rename(real, d)


@pytest.mark.parametrize("sub", ["new", "cur", "tmp"])
def test_symlinked_subdir_leads_nowhere(srv, sub):
    """carol/SUB -> alice/SUB (planted by anything that writes Maildirs as
    the mail user) does not give carol alice's mail, nor let carol's
    commit write into alice's Maildir: [SYS/PERM], also while alice is
    logged in, and alice's mail is untouched."""
    alice, carol = srv.new_user(), srv.new_user()
    srv.deliver(alice, b"Subject: alice's secret\n\nfor alice only\n", sub="new")
    srv.deliver(alice, b"Subject: alice's old\n\nread before\n", sub="cur")
    def alices():
        # Her own logins may add ,W= (the cached size) to a name.
        return sorted(unique_part(n) for n in srv.names(alice))
    before = alices()
    cd = os.path.join(srv.maildir(carol), sub)
    os.rename(cd, cd + ".real")
    os.symlink(os.path.join(srv.maildir(alice), sub), cd)
    try:
        for alice_in in (False, True):
            a = sess(srv, alice) if alice_in else None
            try:
                with srv.connect() as c:
                    r = c.try_login(carol.name, carol.password)
                    assert r.startswith("-ERR [SYS/PERM]"), (alice_in, r)
                    assert c.cmd("QUIT").startswith("+OK")
            finally:
                if a is not None:
                    a.ok("QUIT")
                    a.close()
    finally:
        os.unlink(cd)
        os.rename(cd + ".real", cd)
    assert alices() == before
    with sess(srv, alice) as c:
        assert c.stat()[0] == 2
        c.ok("QUIT")


def test_size_cache_never_replaces_a_file(srv):
    """Caching a size in a name (A -> A,W=N) must not replace a file that
    already has that name (a restore that brought back both, say): both
    messages stay, each retrievable."""
    u = srv.new_user()
    a = b"Subject: first\n\nthe one without a size in its name\n"
    wsize = len(crlf(a))
    srv.deliver(u, a, name="1700000000.M1P1.twin")
    other = b"Subject: second\n\na different message with the name A gets\n"
    srv.deliver(u, other, name="1700000000.M1P1.twin,W=%d" % wsize)
    with sess(srv, u) as c:
        assert c.stat()[0] == 2
        bodies = []
        for i in (1, 2):
            c.ok("RETR %d" % i)
            bodies.append(c.multi_raw())
        c.ok("QUIT")
    assert any(b"the one without" in b for b in bodies), bodies
    assert any(b"a different message" in b for b in bodies), bodies
    assert len(srv.names(u)) == 2, srv.names(u)
