"""
Taking over a Maildir from the real Courier POP3 server (Debian 12's
courier-pop 1.0.16, unpacked by scripts/courier-pop.sh, not installed):
its courierpop3d serves the Maildir over a loopback socket (inetd style,
as Courier's login runs it after authentication), with deletions and
later deliveries, so its UIDs have gaps; then pop3d, on the same files,
answers UIDL and LIST as Courier did; a message delivered after the
switch gets pop3d's own UIDL; pop3d never writes Courier's list.  Hand
made lists (versions 0 to 3, uid 0, uidv 0, a name with a space) give
what Courier answers for them.  Without Courier: a list pop3d cannot
read refuses the login ([SYS/TEMP], logged), a version no Courier reads
is logged and pop3d's own UIDLs are served, and two files with the same
unique part never share a UIDL.
"""
import os
import poplib
import shutil
import socket
import subprocess
import threading

import pytest

from pop3util import IS_ROOT, WORKER_USER, expected_uidl

COURIER = os.environ.get("POP3D_COURIER", "/var/cache/pop3d-test/courier")
COURIERPOP3D = os.path.join(COURIER, "usr/lib/courier/courier/courierpop3d")
LIST = "courierpop3dsizelist"

needs_courier = pytest.mark.skipif(
    not (IS_ROOT and os.access(COURIERPOP3D, os.X_OK)),
    reason="needs root and Debian's courier-pop unpacked by "
    "scripts/courier-pop.sh (at $POP3D_COURIER)")

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root (mail user)")


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="courier", pool=16)


def body(i):
    """A message of some size, LF line ends (both servers count CRLF)."""
    lines = ["From: a%d@example.org" % i, "Subject: message %d" % i, ""]
    lines += ["line %d of %d %s" % (k, i, "y" * (i * 11 % 40))
              for k in range(i * 2 + 1)]
    return ("\n".join(lines) + "\n").encode()


def put(md, sub, name, data):
    p = os.path.join(md, sub, name)
    with open(p, "wb") as f:
        f.write(data)
    shutil.chown(p, WORKER_USER, "nogroup")


def deliver(md, i, sub="new"):
    """A message as Courier's maildrop names one (,S= the size)."""
    data = body(i)
    name = "%d.M%dP%d.courier,S=%d" % (1700000000 + i, 1000 + i, 4000 + i,
                                        len(data))
    put(md, sub, name, data)
    return name


class Courier:
    """courierpop3d serving one Maildir on a loopback port: each
    connection gets a courierpop3d (as the mail user, its stdin and
    stdout the socket), already logged in, as Courier's pop3login leaves
    it.  Serves at most `conns` connections."""

    def __init__(self, maildir, conns=8):
        self.maildir = maildir
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.errors = []
        self.conns = conns
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        env = {"LD_LIBRARY_PATH": "%s/usr/lib:%s/usr/lib/x86_64-linux-gnu" % (
            COURIER, COURIER), "PATH": "/usr/bin:/bin",
            "AUTHENTICATED": "courier-test", "TCPREMOTEIP": "127.0.0.1"}
        for _ in range(self.conns):
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                # Courier refuses a home with the sticky bit: not /tmp.
                p = subprocess.run(
                    [COURIERPOP3D, self.maildir], stdin=c, stdout=c,
                    stderr=subprocess.PIPE, env=env, timeout=30,
                    cwd=os.path.dirname(self.maildir), user=WORKER_USER,
                    group="nogroup")
            err = p.stderr.decode(errors="replace")
            if p.returncode != 0 or "ERR" in err:
                self.errors.append(err)

    def close(self):
        self.sock.close()
        self.thread.join(10)
        assert not self.errors, self.errors


def courier_session(port, dele=()):
    """({n: uidl}, {n: size}) from Courier (logged in at the greeting),
    deleting dele (message numbers) before QUIT."""
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    assert p.getwelcome() == b"+OK logged in."
    return _listing(p, dele)


def pop3d_session(srv, user, dele=()):
    p = poplib.POP3_SSL(srv.tls[0][0], srv.tls[0][1], context=srv.env.ctx,
                        timeout=10)
    p.user(user.name)
    p.pass_(user.password)
    return _listing(p, dele)


def _listing(p, dele):
    try:
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


def by_uidl(listing):
    uidls, sizes = listing
    return {u: sizes[n] for n, u in uidls.items()}


def read_list(md):
    with open(os.path.join(md, LIST), "rb") as f:
        return f.read()


@needs_courier
def test_switch_from_courier(srv):
    u = srv.new_user()
    md = srv.maildir(u)
    for i in range(1, 9):
        deliver(md, i)
    cs = Courier(md)
    try:
        # Courier numbers 1..8; 3 and 6 go, three more come (9..11).
        first = courier_session(cs.port, dele=(3, 6))
        assert len(first[0]) == 8
        for i in range(9, 12):
            deliver(md, i)
        cr = courier_session(cs.port)
        assert courier_session(cs.port) == cr
    finally:
        cs.close()
    assert len(cr[0]) == 9 and all(v.startswith("UID") for v in cr[0].values())
    saved = read_list(md)
    assert saved.startswith(b"/3 12 "), saved

    got = pop3d_session(srv, u)
    assert got == cr, "pop3d %r\nCourier %r\nlist:\n%s\n%s" % (
        got, cr, saved.decode(), srv.log_tail())
    # Again, now that pop3d cached the sizes in the names (,W=).
    assert pop3d_session(srv, u) == cr
    assert all(",W=" in n for n in os.listdir(os.path.join(md, "cur")))

    # After the switch: a new message gets pop3d's own UIDL, last.
    name = deliver(md, 30)
    uidls, sizes = pop3d_session(srv, u)
    want = dict(cr[0])
    want[10] = expected_uidl(name)
    assert uidls == want
    assert sizes[10] == len(body(30).replace(b"\n", b"\r\n"))
    # DELE through pop3d keeps the others' old UIDLs.
    pop3d_session(srv, u, dele=(2,))
    after = by_uidl(pop3d_session(srv, u))
    before = by_uidl((want, sizes))
    del before[want[2]]
    assert after == before
    assert read_list(md) == saved


def hand_maildir(srv, files, text):
    """A pool user's Maildir with files ((sub, name) -> data) and a
    courierpop3dsizelist of text (None: none)."""
    u = srv.new_user()
    md = srv.maildir(u)
    for (sub, name), data in files.items():
        put(md, sub, name, data)
    if text is not None:
        p = os.path.join(md, LIST)
        with open(p, "wb") as f:
            f.write(text)
        shutil.chown(p, WORKER_USER, "nogroup")
    return u, md


HAND = [
    # A list as Courier before 2018 wrote it for a Maildir it first saw
    # without a list (uid 0: the UIDL is the name), uidv 0, a space.
    ("v2", b"/2 9 77\n"
     b"1700000001.A.h,S=%(s1)d:2, %(w1)d 0:77\n"
     b"1700000002.B.h:2, %(w2)d 6:0\n"
     b"1700000003.C'+x.h:2, %(w3)d 7:77\n"
     b"1700000004.my name.h:2, %(w4)d 8:77\n",
     ["1700000001.A.h,S=%d" % len(body(1)), "UID6", "UID7-77", "UID8-77"]),
    ("v3", b"/3 9 1234\n"
     b"1700000001.A.h,S=%(s1)d:2, %(w1)d 5:1234:0\n"
     b"1700000002.B.h:2, %(w2)d 6:1234:1\n"
     b"1700000003.C'+x.h:2, %(w3)d 7:1234:0\n"
     b"1700000004.my name.h:2, %(w4)d 8:1234:0\n",
     ["UID5-1234", "UID6-1234", "UID7-1234", "UID8-1234"]),
]
OLD = [
    # Read only by Courier before 2018 (Debian 12's renumbers them).
    ("v1", b"/1 9 77\n"
     b"1700000001.A.h,S=%(s1)d:2, %(w1)d 5\n"
     b"1700000002.B.h:2, %(w2)d 6:77\n"
     b"1700000003.C'+x.h:2, %(w3)d 7\n"
     b"1700000004.my name.h:2, %(w4)d 8:77\n",
     ["UID5", "UID6-77", "UID7", "UID8-77"]),
    ("v0", b"1700000001.A.h,S=%(s1)d:2, %(w1)d\n"
     b"1700000002.B.h:2, %(w2)d\n"
     b"1700000003.C'+x.h:2, %(w3)d\n"
     b"1700000004.my name.h:2, %(w4)d\n",
     ["1700000001.A.h,S=%d" % len(body(1)), "1700000002.B.h",
      "1700000003.C+27+2Bx.h", "1700000004.my+20name.h"]),
]


def hand_files():
    names = ["1700000001.A.h,S=%d:2," % len(body(1)), "1700000002.B.h:2,S",
             "1700000003.C'+x.h:2,", "1700000004.my name.h:2,"]
    files = {("cur", n): body(i + 1) for i, n in enumerate(names)}
    sizes = {}
    for i in range(4):
        sizes[b"s%d" % (i + 1)] = len(body(i + 1))
        sizes[b"w%d" % (i + 1)] = len(body(i + 1).replace(b"\n", b"\r\n"))
    return files, sizes


@pytest.mark.parametrize("kind,text,want", HAND + OLD,
                         ids=[h[0] for h in HAND + OLD])
def test_hand_made_lists(srv, kind, text, want):
    """pop3d answers the UIDLs the list gives (as Courier's readers do),
    in its own order (delivery time), and leaves the list alone."""
    files, sizes = hand_files()
    u, md = hand_maildir(srv, files, text % sizes)
    uidls, _ = pop3d_session(srv, u)
    assert uidls == {i + 1: w for i, w in enumerate(want)}
    assert read_list(md) == text % sizes


@needs_courier
@pytest.mark.parametrize("kind,text,want", HAND, ids=[h[0] for h in HAND])
def test_hand_made_lists_as_courier_answers(srv, kind, text, want):
    """The same lists served by Debian's Courier, on a copy of the
    Maildir (pop3d's ,W= renames would hide the names from Courier)."""
    files, sizes = hand_files()
    u, md = hand_maildir(srv, files, text % sizes)
    copy = md + ".courier"
    shutil.copytree(md, copy, symlinks=True)
    for root, dirs, names in os.walk(copy):
        for n in dirs + names:
            shutil.chown(os.path.join(root, n), WORKER_USER, "nogroup")
    shutil.chown(copy, WORKER_USER, "nogroup")
    cs = Courier(copy, conns=1)
    try:
        cr = courier_session(cs.port)
    finally:
        cs.close()
    assert by_uidl(cr) == by_uidl(pop3d_session(srv, u))
    assert sorted(cr[0].values()) == sorted(want)


def test_unreadable_list_refuses_login(srv):
    """No UIDL at all rather than new ones: [SYS/TEMP], logged."""
    files, _ = hand_files()
    u, md = hand_maildir(srv, files, None)
    os.mkdir(os.path.join(md, LIST))
    mark = srv.mark()
    with srv.connect(tls=True) as c:
        c.ok("USER " + u.name)
        r = c.cmd("PASS " + u.password)
        assert r.startswith("-ERR [SYS/TEMP]"), r
    srv.wait_log(r"maildrop %s: %s: not a regular file" % (u.name, LIST),
                 start=mark)
    os.rmdir(os.path.join(md, LIST))
    # A symlink to a good list is not followed either.
    good = os.path.join(md, "elsewhere")
    with open(good, "wb") as f:
        f.write(b"/3 9 5\n1700000002.B.h:2, 1 6:5:0\n")
    os.symlink("elsewhere", os.path.join(md, LIST))
    with srv.connect(tls=True) as c:
        c.ok("USER " + u.name)
        assert c.cmd("PASS " + u.password).startswith("-ERR [SYS/TEMP]")


def test_unknown_version_serves_own_uidls(srv):
    """A version no Courier reads: Courier numbered every message anew,
    so pop3d serves its own UIDLs (logged)."""
    files, _ = hand_files()
    u, md = hand_maildir(srv, files, b"/4 9 5\n1700000002.B.h:2, 1 6:5:0\n")
    mark = srv.mark()
    uidls, _ = pop3d_session(srv, u)
    assert uidls[2] == "1700000002.B.h"
    srv.wait_log(r"maildrop %s: %s: not a version 0 to 3 list" % (
        u.name, LIST), start=mark)


def test_one_entry_one_message(srv):
    """Two files with the unique part of one listed name (a restore
    brought back both): the list's UIDL goes to the file of that name,
    the other gets pop3d's own, so the UIDLs stay distinct."""
    a = "1700000001.A.h"
    files = {("cur", a + ",S=5:2,"): body(1), ("cur", a + ",S=6:2,"): body(2),
             ("new", "1700000002.B.h"): body(3)}
    u, md = hand_maildir(srv, files, b"/3 9 5\n%s,S=6:2, 1 4:5:0\n"
                         b"1700000002.B.h:2, 1 6:5:0\n" % a.encode())
    for _ in range(2):   # the same before and after pop3d's ,W= renames
        uidls, _ = pop3d_session(srv, u)
        assert uidls == {1: a, 2: "UID4-5", 3: "UID6-5"}, uidls


def test_own_uidl_never_repeats_an_old_one(srv):
    """A version 0 list gives the name up to ':' as the UIDL; a file it
    does not list whose own UIDL (its part up to ',') is that same text
    gets "-2" added."""
    a = "1700000001.A.h"
    files = {("cur", a + ":2,"): body(1), ("cur", a + ",S=7:2,"): body(2)}
    u, md = hand_maildir(srv, files, b"%s:2, 9\n" % a.encode())
    for _ in range(2):
        uidls, _ = pop3d_session(srv, u)
        assert sorted(uidls.values()) == [a, a + "-2"], uidls


def test_stale_list_after_a_dovecot_migration_is_not_read(srv):
    """A Maildir that went Courier -> Dovecot -> pop3d and was migrated
    (pop3ctl migrate --commit left dovecot-uidlist.migrated): the
    Courier list is older than Dovecot and is not read; the messages keep
    the UIDLs their names carry."""
    files, sizes = hand_files()
    text = HAND[1][1] % sizes
    u, md = hand_maildir(srv, files, text)
    p = os.path.join(md, "dovecot-uidlist.migrated")
    with open(p, "wb") as f:
        f.write(b"3 V1 N2\n")
    shutil.chown(p, WORKER_USER, "nogroup")
    uidls, _ = pop3d_session(srv, u)
    assert uidls[2] == "1700000002.B.h"
    assert "UID6-1234" not in uidls.values()


def test_two_entries_with_one_uidl_stay_distinct(srv):
    """Two lines of the list with the same uid and uidv (a list edited
    by hand, or two Maildirs merged): the later message in pop3d's order
    gets "-2", as two unlisted ones would."""
    a, b = "1700000001.A.h", "1700000002.B.h"
    files = {("cur", a + ":2,S"): body(1), ("cur", b + ":2,S"): body(2)}
    u, md = hand_maildir(srv, files, b"/3 9 77\n%s:2,S 1 3:77:0\n"
                         b"%s:2,S 1 3:77:0\n" % (a.encode(), b.encode()))
    for _ in range(2):
        uidls, _ = pop3d_session(srv, u)
        assert uidls == {1: "UID3-77", 2: "UID3-77-2"}, uidls


def subjects(srv, user):
    """{subject number: UIDL} from pop3d (TOP tells which file is which
    where LIST cannot)."""
    p = poplib.POP3_SSL(srv.tls[0][0], srv.tls[0][1], context=srv.env.ctx,
                        timeout=10)
    try:
        p.user(user.name)
        p.pass_(user.password)
        out = {}
        for l in p.uidl()[1]:
            n, u = l.decode().split(" ", 1)
            subj = [h for h in p.top(int(n), 0)[1]
                    if h.startswith(b"Subject: message ")]
            out[int(subj[0].split()[-1])] = u
    finally:
        p.quit()
    return out


def test_own_name_entry_wins_and_suffixes_are_taken(srv):
    """A name-based entry (uid 0) "C" with three files: "C:2,S" (its
    own name; pop3d cannot cache its size in the name, as a file of
    that name is there), "C,W=n:2,S" (the name less pop3d's ,W= is "C"
    too, and it comes first in pop3d's order) and an unlisted
    "C-2:2,S".  The file of the list's exact name keeps the UIDL; the
    other "C" gets "C-2", and so the file whose own UIDL is "C-2" gets
    "C-2-2": no two answer the same."""
    c = "1700000003.C.h"
    w2 = len(body(2).replace(b"\n", b"\r\n"))
    files = {("cur", "%s,W=%d:2,S" % (c, w2)): body(1),
             ("cur", c + ":2,S"): body(2),
             ("cur", c + "-2:2,S"): body(3)}
    u, md = hand_maildir(srv, files, b"/2 9 77\n%s:2,S 1 0:77\n" %
                         c.encode())
    for _ in range(2):
        got = subjects(srv, u)
        assert got == {2: c, 1: c + "-2", 3: c + "-2-2"}, got
