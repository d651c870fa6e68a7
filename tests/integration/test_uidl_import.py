"""
Taking over a Maildir from the real Dovecot (Debian's dovecot-pop3d 2.3):
Dovecot serves it over POP3 (STLS, implicit TLS) with deletions and later
deliveries, so UIDs have gaps; then pop3d, started on the same Maildir,
answers UIDL and LIST exactly as Dovecot did (same numbers, UIDLs and
sizes), with Dovecot's default format, with pop3_save_uidl (the saved P
UIDLs) and with Cyrus' %v.%u; a message delivered after the switch gets
pop3d's own UIDL; Dovecot's list is never written.  Without Dovecot: a
list pop3d cannot read refuses the login ([SYS/TEMP], logged with its
line), dovecot_uidlist = no ignores the list, and two files with the
same unique part never share a UIDL.
"""
import hashlib
import os
import poplib
import shutil
import signal
import tempfile

import pytest

from fetchutil import DOVECOT, Dovecot
from pop3util import IS_ROOT, WORKER_USER, expected_uidl, wait_until

needs_dovecot = pytest.mark.skipif(
    not (IS_ROOT and os.access(DOVECOT, os.X_OK)),
    reason="needs root and Debian's dovecot-pop3d")

USER = "dove"
PASSWORD = "Dove-pass-1"


def body(i):
    """A message of some size, LF line ends (both servers count CRLF)."""
    lines = ["From: a%d@example.org" % i, "Subject: message %d" % i, ""]
    lines += ["line %d of %d %s" % (k, i, "x" * (i * 7 % 50))
              for k in range(i * 3 + 1)]
    return ("\n".join(lines) + "\n").encode()


class DovecotServer(Dovecot):
    """fetchutil's Dovecot with another pop3_uidl_format and, if asked,
    pop3_save_uidl; halt() stops it and keeps the Maildir."""

    def __init__(self, cert, key, fmt, save_uidl):
        super().__init__(cert, key, user=USER, password=PASSWORD)
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("pop3_uidl_format = %08Xu%08Xv",
                            "pop3_uidl_format = " + fmt)
        if save_uidl:
            text += "protocol pop3 {\n  pop3_save_uidl = yes\n}\n"
        with open(self.conf, "w") as f:
            f.write(text)

    def halt(self):
        os.kill(self.pid, signal.SIGTERM)
        gone = wait_until(lambda: not os.path.exists("/proc/%d" % self.pid), 10)
        assert gone, "dovecot did not stop"
        self.pid = None


def pop_session(ctx, port, tls, dele=()):
    """Logs in with poplib (implicit TLS, or STLS), deletes dele (message
    numbers), and returns ({n: uidl}, {n: size}) as listed before."""
    if tls:
        p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10)
    else:
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.stls(context=ctx)
    try:
        p.user(USER)
        p.pass_(PASSWORD)
        uidls = {}
        for l in p.uidl()[1]:
            n, u = l.decode().split(" ", 1)
            uidls[int(n)] = u
        sizes = {}
        for l in p.list()[1]:
            n, s = l.decode().split(" ", 1)
            sizes[int(n)] = int(s)
        for n in dele:
            p.dele(n)
    finally:
        p.quit()
    return uidls, sizes


def pop3d_on(make_server, maildir_root, fmt=None, extra=None):
    """A pop3d whose mail_root holds the user's Maildir (mail_root/USER)."""
    settings = dict(extra or {})
    if fmt is not None:
        settings["pop3_uidl_format"] = fmt

    def setup(s):
        s.mail_root = maildir_root
        s.add_user(USER, PASSWORD, maildir=False)

    return make_server(setup=setup, pool=1, extra={"server": settings})


def deliver_file(maildir, name, data):
    p = os.path.join(maildir, "new", name)
    with open(p, "wb") as f:
        f.write(data)
    if IS_ROOT:
        shutil.chown(p, WORKER_USER, "nogroup")


def read_list(maildir):
    with open(os.path.join(maildir, "dovecot-uidlist"), "rb") as f:
        return f.read()


FORMATS = [("%08Xu%08Xv", False), ("%08Xu%08Xv", True), ("%v.%u", False)]


@needs_dovecot
@pytest.mark.parametrize("fmt,save", FORMATS,
                         ids=["default", "pop3_save_uidl", "cyrus"])
def test_switch_from_dovecot(env, make_server, fmt, save):
    d = DovecotServer(env.cert, env.key, fmt, save)
    try:
        for i in range(1, 9):
            d.deliver(i, body(i))
        d.start()
        # Dovecot gives UIDs 1..8; messages 3 and 6 go, three more come
        # (UIDs 9..11): a list with gaps.
        pop_session(env.ctx, d.tls_port, True, dele=(3, 6))
        for i in range(9, 12):
            d.deliver(i, body(i))
        dv_uidls, dv_sizes = pop_session(env.ctx, d.port, False)
        # The same answer twice (and with save, the P fields written).
        assert pop_session(env.ctx, d.tls_port, True) == (dv_uidls, dv_sizes)
        d.halt()
        assert len(dv_uidls) == 9 and sorted(dv_uidls) == list(range(1, 10))
        saved = read_list(d.mail)
        assert (b" P" in saved) == save, saved

        s = pop3d_on(make_server, os.path.dirname(d.mail), fmt)
        got = pop_session(env.ctx, s.tls_port, True)
        assert got == (dv_uidls, dv_sizes), (
            "pop3d %r\nDovecot %r\nlist:\n%s\n%s" % (
                got, (dv_uidls, dv_sizes), saved.decode(), s.log_tail()))
        assert pop_session(env.ctx, s.port, False) == got

        # After the switch: a new message gets pop3d's own UIDL, last.
        name = "1800000000.M5P5.after"
        deliver_file(d.mail, name, body(20))
        uidls, sizes = pop_session(env.ctx, s.tls_port, True)
        want = dict(dv_uidls)
        want[10] = expected_uidl(name)
        assert uidls == want
        assert sizes[10] == len(body(20).replace(b"\n", b"\r\n"))
        # Nothing was written into Dovecot's list.
        assert read_list(d.mail) == saved
    finally:
        d.stop()


@needs_dovecot
def test_deletions_after_the_switch(env, make_server):
    """DELE through pop3d keeps the others' old UIDLs and numbers them
    anew in Dovecot's order."""
    d = DovecotServer(env.cert, env.key, "%08Xu%08Xv", False)
    try:
        for i in range(1, 6):
            d.deliver(i, body(i))
        d.start()
        dv_uidls, dv_sizes = pop_session(env.ctx, d.tls_port, True)
        d.halt()
        s = pop3d_on(make_server, os.path.dirname(d.mail))
        assert pop_session(env.ctx, s.port, False, dele=(2, 4)) == (
            dv_uidls, dv_sizes)
        uidls, sizes = pop_session(env.ctx, s.tls_port, True)
        assert uidls == {1: dv_uidls[1], 2: dv_uidls[3], 3: dv_uidls[5]}
        assert sizes == {1: dv_sizes[1], 2: dv_sizes[3], 3: dv_sizes[5]}
    finally:
        d.stop()


# ------------------------------------------------- lists written by hand

def setup_hand(tmp_root, files, uidlist):
    """mail_root/USER with files (name -> data) in cur/ and a list."""
    md = os.path.join(tmp_root, USER)
    for sub in ("", "new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
        os.chmod(os.path.join(md, sub), 0o700)
        if IS_ROOT:
            shutil.chown(os.path.join(md, sub), WORKER_USER, "nogroup")
    for name, data in files.items():
        p = os.path.join(md, "cur", name)
        with open(p, "wb") as f:
            f.write(data)
        if IS_ROOT:
            shutil.chown(p, WORKER_USER, "nogroup")
    if uidlist is not None:
        p = os.path.join(md, "dovecot-uidlist")
        with open(p, "wb") as f:
            f.write(uidlist)
        if IS_ROOT:
            shutil.chown(p, WORKER_USER, "nogroup")
    return md


@pytest.fixture
def root():
    """A mail_root the workers can walk (pytest's tmp_path is 0700)."""
    base = tempfile.mkdtemp(prefix="pop3d-uidl-")
    os.chmod(base, 0o755)
    r = os.path.join(base, "mail")
    os.mkdir(r)
    os.chmod(r, 0o755)
    yield r
    shutil.rmtree(base, ignore_errors=True)


def test_malformed_list_refuses_login(env, make_server, root):
    """A list pop3d cannot read gives no UIDL at all rather than wrong
    ones: [SYS/TEMP], and the log names the file and the line."""
    setup_hand(root, {"1700000001.M1P1.h:2,": body(1)},
               b"3 V5 N9\n1 :1700000001.M1P1.h\n1 :again\n")
    s = pop3d_on(make_server, root)
    mark = s.mark()
    with s.connect(tls=True) as c:
        c.ok("USER " + USER)
        r = c.cmd("PASS " + PASSWORD)
        assert r.startswith("-ERR [SYS/TEMP]"), r
    s.wait_log(r"user=%s: dovecot-uidlist line 3: UIDs not ascending" % USER,
               start=mark)


def test_unsupported_version_refuses_login(env, make_server, root):
    setup_hand(root, {"1700000001.M1P1.h": body(1)}, b"2 5 9\n1 0 a\n")
    s = pop3d_on(make_server, root)
    mark = s.mark()
    with s.connect(tls=True) as c:
        c.ok("USER " + USER)
        assert c.cmd("PASS " + PASSWORD).startswith("-ERR [SYS/TEMP]")
    s.wait_log(r"dovecot-uidlist line 1: unsupported version", start=mark)


def test_dovecot_uidlist_no_ignores_the_list(env, make_server, root):
    names = ["1700000001.M1P1.h:2,", "1700000002.M1P1.h:2,S"]
    setup_hand(root, {n: body(i) for i, n in enumerate(names)},
               b"3 V5 N9\n4 :1700000002.M1P1.h\n7 :1700000001.M1P1.h\n")
    s = pop3d_on(make_server, root, extra={"dovecot_uidlist": "no"})
    with s.connect(tls=True) as c:
        c.login(USER, PASSWORD)
        got = c.multi_cmd("UIDL")
    assert got == [("%d %s" % (i + 1, expected_uidl(n))).encode()
                   for i, n in enumerate(names)]
    s2 = pop3d_on(make_server, root)
    with s2.connect(tls=True) as c:
        c.login(USER, PASSWORD)
        # The list's order (UID) and Dovecot's UIDLs.
        assert c.multi_cmd("UIDL") == [b"1 0000000400000005",
                                       b"2 0000000700000005"]


def test_pop3_order_and_unlisted(env, make_server, root):
    """O fields first (Dovecot's pop3_order), then the listed ones by
    UID, then those the list lacks, in pop3d's order."""
    names = ["1700000001.M1P1.h", "1700000002.M1P1.h", "1700000003.M1P1.h",
             "1700000004.M1P1.h", "1700000000.M9P9.new"]
    setup_hand(root, {n: body(i) for i, n in enumerate(names)},
               b"3 V5 N9\n"
               b"1 :1700000001.M1P1.h\n"
               b"2 O2 :1700000002.M1P1.h\n"
               b"3 O1 Pold-three :1700000003.M1P1.h\n"
               b"4 :1700000004.M1P1.h\n")
    s = pop3d_on(make_server, root)
    with s.connect(tls=True) as c:
        c.login(USER, PASSWORD)
        assert c.multi_cmd("UIDL") == [
            b"1 old-three", b"2 0000000200000005", b"3 0000000100000005",
            b"4 0000000400000005", b"5 1700000000.M9P9.new"]


def test_same_unique_part_gets_distinct_uidls(env, make_server, root):
    """A and A,W=N (a restore brought both back; pop3d cannot cache the
    size in A's name): with Courier's %f, Dovecot's UIDL of A and
    pop3d's own of A,W=N are both "A"; the second is made distinct."""
    a = "1700000001.M1P1.h"
    data = body(3)
    w = "%s,W=%d" % (a, len(data.replace(b"\n", b"\r\n")))
    setup_hand(root, {a: data, w: data, "1700000002.M2P2.h": body(4)},
               b"3 V5 N9\n1 :%s\n2 :1700000002.M2P2.h\n" % a.encode())
    s = pop3d_on(make_server, root, fmt="%f")
    for _ in range(2):   # the same answer at each login
        with s.connect(tls=True) as c:
            c.login(USER, PASSWORD)
            got = c.multi_cmd("UIDL")
        assert got == [("1 " + a).encode(), b"2 1700000002.M2P2.h",
                       ("3 %s-2" % a).encode()], got
    assert sorted(os.listdir(os.path.join(root, USER, "cur"))) == sorted(
        [a, w, "1700000002.M2P2.h,W=%d" % len(
            body(4).replace(b"\n", b"\r\n"))])


def test_tpop3d_and_guid_formats(env, make_server, root):
    """%Mf (tpop3d: the MD5 of the file name) and %g (the G field, else
    the name) computed in the sandboxed worker."""
    names = ["1700000001.M1P1.h,S=10:2,S", "1700000002.M2P2.h:2,"]
    setup_hand(root, {n: body(i) for i, n in enumerate(names)},
               b"3 V5 N9\n"
               b"1 :1700000001.M1P1.h,S=10\n"
               b"2 G0123abcd :1700000002.M2P2.h\n")
    s = pop3d_on(make_server, root, fmt="%Mf")
    with s.connect(tls=True) as c:
        c.login(USER, PASSWORD)
        assert c.multi_cmd("UIDL") == [
            ("%d %s" % (i + 1, hashlib.md5(n.split(":")[0].encode())
                        .hexdigest())).encode()
            for i, n in enumerate(names)]
    s.stop()
    s2 = pop3d_on(make_server, root, fmt="%g")
    with s2.connect() as c:
        c.starttls()
        c.login(USER, PASSWORD)
        assert c.multi_cmd("UIDL") == [b"1 1700000001.M1P1.h,S=10",
                                       b"2 0123abcd"]


def test_expiry_keeps_the_old_uidls_in_place(env, make_server, root):
    """EXPIRE removing a listed message at login (its ,R= mark is old)
    leaves every other message with its own Dovecot UIDL: the side list
    of old UIDLs moves down with the messages."""
    import time
    old = int(time.time()) - 40 * 86400
    names = ["1700000001.M1P1.h", "1700000002.M1P1.h,R=%d" % old,
             "1700000003.M1P1.h", "1700000000.M9P9.new"]
    setup_hand(root, {n: body(i) for i, n in enumerate(names)},
               b"3 V5 N9\n"
               b"1 :1700000001.M1P1.h\n"
               b"2 :1700000002.M1P1.h\n"
               b"3 :1700000003.M1P1.h\n")
    s = pop3d_on(make_server, root, extra={"expire_days": "30"})
    with s.connect(tls=True) as c:
        c.login(USER, PASSWORD)
        assert c.multi_cmd("UIDL") == [
            b"1 0000000100000005", b"2 0000000300000005",
            b"3 1700000000.M9P9.new"]
    assert "1700000002.M1P1.h,R=%d" % old not in os.listdir(
        os.path.join(root, USER, "cur"))


def test_retrieval_mark_keeps_the_dovecot_uidl(env, make_server, root):
    """Two list entries with one unique part (U,S=n and U,S=n,W=m, as a
    restore or a copy leaves them): the second file, once pop3d marked it
    retrieved (,R=), still answers its own entry's UIDL, not the first
    entry's nor pop3d's own."""
    import time
    d1, d2 = body(1), body(2)
    u1 = "1700000001.M1P1.h,S=%d" % len(d1)
    u2 = "1700000001.M1P1.h,S=%d,W=%d" % (len(d2),
                                          len(d2.replace(b"\n", b"\r\n")))
    marked = "%s,R=%d" % (u2, int(time.time()) - 60)
    setup_hand(root, {u1 + ":2,S": d1, marked + ":2,S": d2},
               b"3 V100 N9\n1 :%s\n2 :%s\n" % (u1.encode(), u2.encode()))
    s = pop3d_on(make_server, root, extra={"expire_days": "30"})
    with s.connect(tls=True) as c:
        c.login(USER, PASSWORD)
        assert c.multi_cmd("UIDL") == [b"1 0000000100000064",
                                       b"2 0000000200000064"]
