"""pop3ctl deliver (the LDA): Maildir names with ,S= ,W= and ,D=, CRLF or
LF input stored with the configured line ends ([deliver] line_ends) and
retrieved byte-identical over POP3 (plain and TLS; wire-form messages
take pop3d's sendfile and raw-copy paths), sysexits codes (67 no such
user, 65 bad input, 75 temporary failure), nothing left behind on a
full disk or a signal, files owned by the mail user."""
import os
import pwd
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from ctlutil import (EX_DATAERR, EX_NOUSER, EX_OK, EX_TEMPFAIL, add_user, ctl,
                     deliver, listdir, pop3ctl_path)
from pop3util import IS_ROOT, WORKER_USER, crlf, wait_until

PW = "Velvet-Otter-Lamp-73"

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root (mail user)")

MSG_LF = (b"From: a@example.test\nTo: rcpt@example.test\nSubject: lf\n"
          b"Message-ID: <lf@example.test>\n\nline one\n.dotted line\n\nend\n")
MSG_CRLF = crlf(MSG_LF).replace(b"Subject: lf", b"Subject: crlf")


@pytest.fixture(scope="module")
def srv(module_servers):
    s = module_servers(name="ctl-deliver", pool=2, plaintext="loopback")
    add_user(s, "rcpt", PW)

    def can_login():
        c = s.connect(tls=True)
        try:
            return c.try_login("rcpt", PW).startswith("+OK")
        finally:
            c.close()
    # The next login sees the new user (test_passwd_reload.py).
    assert wait_until(can_login, 5, step=0.2)
    return s


def retr_all(srv, user, password, tls=True):
    c = srv.connect(tls=tls)
    try:
        c.login(user, password)
        n, _ = c.stat()
        listing = c.multi_cmd("LIST")
        out = []
        for i in range(1, n + 1):
            c.ok("RETR %d" % i)
            raw = c.multi_raw()
            # Undo the dot-stuffing and the terminator: the message in CRLF.
            body = raw[:-3]
            lines = body.split(b"\r\n")
            out.append(b"\r\n".join(l[1:] if l.startswith(b".") else l
                                    for l in lines))
        for i in range(1, n + 1):
            c.ok("DELE %d" % i)
        c.ok("QUIT")
        return listing, out
    finally:
        c.close()


# No line starts with '.': wire form when stored with CRLF.  Big enough
# (> 32 KiB) for pop3d's sendfile path on a plain connection.
MSG_BIG = (b"From: a@example.test\nSubject: big\n\n" +
           b"".join(b"line %06d of a big message, no dot at the start\n" % i
                    for i in range(2000)))


def lf_conf(srv, tmp_path):
    """The server's config with [deliver] line_ends = lf."""
    conf = tmp_path / "lf.conf"
    conf.write_text(open(srv.conf_path).read() +
                    "\n[deliver]\nline_ends = lf\n")
    return str(conf)


# Over 1 MiB (pop3d reads wire-form files 512 KiB at a time), with lines
# that start with '.', "." and ".." alone too.
MSG_BIG_DOTS = (b"From: a@example.test\nSubject: big dots\n\n" +
                b"".join(b"%sline %06d\n" % (b"." * (i % 3) if i % 7 == 0
                                              else b"", i)
                         for i in range(90000)) + b".\n..\n.\nend\n")
# Small, no line starting with '.': read straight into the output.
MSG_SMALL = b"From: a@example.test\nSubject: small\n\nhello\n"


@pytest.mark.parametrize("msg", [MSG_LF, MSG_CRLF, MSG_BIG, MSG_BIG_DOTS,
                                 MSG_SMALL],
                         ids=["lf", "crlf", "big", "bigdots", "small"])
@pytest.mark.parametrize("ends", ["crlf", "lf"])
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_deliver_and_retrieve_identical(srv, msg, ends, tls, tmp_path):
    conf = srv.conf_path if ends == "crlf" else lf_conf(srv, tmp_path)
    r = deliver(conf, "rcpt", msg)
    assert r.returncode == EX_OK, r.err
    names = listdir(srv, "rcpt", "new")
    assert len(names) == 1, names
    assert listdir(srv, "rcpt", "tmp") == []
    name = names[0]
    path = os.path.join(srv.mail_root, "rcpt", "new", name)
    disk = open(path, "rb").read()
    wire = crlf(msg)
    dots = sum(1 for l in wire.split(b"\r\n") if l.startswith(b"."))
    if ends == "crlf":
        # Stored as POP3 sends it (before dot-stuffing); ,D= counts the
        # lines that start with '.': 0 means pop3d sends the file as is.
        assert disk == wire
        m = re.search(r",S=(\d+),W=(\d+),D=(\d+)$", name)
        assert m, name
        assert int(m.group(3)) == dots
    else:
        # The Unix convention: LF only, and so no ,D=.
        assert b"\r\n" not in disk
        assert disk == msg.replace(b"\r\n", b"\n")
        m = re.search(r",S=(\d+),W=(\d+)$", name)
        assert m, name
    assert int(m.group(1)) == len(disk) == os.path.getsize(path)
    assert int(m.group(2)) == len(wire)
    st = os.stat(path)
    assert st.st_uid == pwd.getpwnam(WORKER_USER).pw_uid
    assert st.st_mode & 0o077 == 0
    listing, got = retr_all(srv, "rcpt", PW, tls=tls)
    assert listing == [b"1 %d" % len(wire)]
    assert got == [wire]


def test_wire_file_changed_falls_back(srv):
    """A wire-form name whose file no longer has the size in its name
    (someone rewrote it) is sent through the encoder: dot-stuffed, and
    the answer still ends where the file does."""
    r = deliver(srv.conf_path, "rcpt", MSG_BIG)
    assert r.returncode == EX_OK, r.err
    name = listdir(srv, "rcpt", "new")[0]
    assert name.endswith(",D=0"), name
    path = os.path.join(srv.mail_root, "rcpt", "new", name)
    with open(path, "ab") as f:
        f.write(b".added\r\n")
    c = srv.connect(tls=False)
    try:
        c.login("rcpt", PW)
        c.ok("RETR 1")
        raw = c.multi_raw()
        assert raw.endswith(b"\r\n..added\r\n.\r\n")
        c.ok("DELE 1")
        c.ok("QUIT")
    finally:
        c.close()


def stuffed(wire):
    """The RETR answer body for a CRLF message: dots stuffed, the end."""
    return b"\r\n".join(b"." + l if l.startswith(b".") else l
                        for l in wire.split(b"\r\n")) + b".\r\n"


@pytest.mark.parametrize("where", ["first_step", "later_step"])
def test_wire_dots_undercounted(srv, where):
    """A wire file with more lines starting with '.' than its name's ,D=
    (rewritten in place, same size) cannot overrun the room pop3d sized
    by that count: the answer is still whole and right, whether the extra
    line is met in the first 512 KiB read step or a later one, and the
    session goes on."""
    first = where == "first_step"
    msg = MSG_BIG_DOTS[:60000] + b"\nend\n" if first else MSG_BIG_DOTS
    r = deliver(srv.conf_path, "rcpt", msg)
    assert r.returncode == EX_OK, r.err
    name = listdir(srv, "rcpt", "new")[0]
    assert re.search(r",D=[1-9][0-9]*$", name), name
    path = os.path.join(srv.mail_root, "rcpt", "new", name)
    with open(path, "rb") as f:
        data = f.read()
    # Lines that start with 'l' start with '.' now; same size.
    for at in (0.5, 0.55) if first else (0.1, 0.7, 0.9):
        i = data.index(b"\r\nl", int(len(data) * at)) + 2
        data = data[:i] + b"." + data[i + 1:]
    with open(path, "r+b") as f:
        f.write(data)
    c = srv.connect(tls=False)
    try:
        c.login("rcpt", PW)
        c.ok("RETR 1")
        assert c.multi_raw() == stuffed(data)
        c.ok("NOOP")
        assert wait_until(lambda: "more lines start with '.'" in
                          srv.log_tail(20), 5, step=0.05)
        c.ok("DELE 1")
        c.ok("QUIT")
    finally:
        c.close()


def test_no_such_user(srv):
    for user in ("ghost", "../rcpt", ".rcpt", "a/b", "x" * 65):
        r = deliver(srv.conf_path, user, MSG_LF)
        assert r.returncode == EX_NOUSER, (user, r.returncode, r.err)
    # A file or a symlink where a Maildir should be is not a user either.
    os.symlink(os.path.join(srv.mail_root, "rcpt"),
               os.path.join(srv.mail_root, "alias"))
    try:
        r = deliver(srv.conf_path, "alias", MSG_LF)
        assert r.returncode == EX_NOUSER, r.err
    finally:
        os.unlink(os.path.join(srv.mail_root, "alias"))
    assert listdir(srv, "rcpt", "new") == []


@pytest.mark.parametrize("sub", ["new", "tmp"])
def test_symlinked_subdir_is_not_followed(srv, sub):
    """A delivery for one user never lands in another's Maildir through a
    symlinked new/ or tmp/: it fails (not 0), and nothing appears there."""
    other = srv.new_user()
    d = os.path.join(srv.mail_root, "rcpt", sub)
    target = os.path.join(srv.mail_root, other.name, sub)
    before = sorted(os.listdir(target))
    os.rename(d, d + ".real")
    os.symlink(target, d)
    try:
        r = deliver(srv.conf_path, "rcpt", MSG_LF)
        assert r.returncode != EX_OK, r.err
        assert "symbolic link" in r.err or "Too many levels" in r.err, r.err
    finally:
        os.unlink(d)
        os.rename(d + ".real", d)
    assert sorted(os.listdir(target)) == before
    assert listdir(srv, "rcpt", "new") == []


@pytest.mark.parametrize("data,why", [
    (b"", "empty"),
    (b"Subject: x\n\nnul \0 byte\n", "NUL"),
    (b"no header here\n", "header"),
    (b"\nSubject: x\n", "header"),
    (b"From sender Mon Jan  1 00:00:00 2024\nSubject: x\n\n", "header"),
])
def test_bad_input(srv, data, why):
    r = deliver(srv.conf_path, "rcpt", data)
    assert r.returncode == EX_DATAERR, (r.returncode, r.err)
    assert why in r.err
    assert listdir(srv, "rcpt", "new") == []
    assert listdir(srv, "rcpt", "tmp") == []


def test_broken_config_is_temporary(srv, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\nbogus = 1\n")
    r = deliver(str(conf), "rcpt", MSG_LF)
    assert r.returncode == EX_TEMPFAIL, r.err
    r = deliver(str(tmp_path / "missing.conf"), "rcpt", MSG_LF)
    assert r.returncode == EX_TEMPFAIL, r.err


def test_signal_leaves_nothing(srv):
    p = subprocess.Popen([pop3ctl_path(), "-c", srv.conf_path, "deliver", "rcpt"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"Subject: half\n\n" + b"x" * 100000)
        p.stdin.flush()
        assert wait_until(lambda: listdir(srv, "rcpt", "tmp") != [], 10), \
            "no tmp file appeared"
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
        p.stdin.close()
        p.stderr.close()
    assert rc == EX_TEMPFAIL
    assert listdir(srv, "rcpt", "tmp") == []
    assert listdir(srv, "rcpt", "new") == []


def test_runs_as_mail_user(srv):
    # Started as root, deliver becomes the mail user: a Maildir only root
    # may write to refuses the message (temporary), instead of root
    # writing into it.
    d = os.path.join(srv.mail_root, "rcpt", "tmp")
    shutil.chown(d, "root", "root")
    try:
        r = deliver(srv.conf_path, "rcpt", MSG_LF)
        assert r.returncode == EX_TEMPFAIL, r.err
        assert "Permission denied" in r.err
    finally:
        shutil.chown(d, WORKER_USER, "nogroup")
    assert listdir(srv, "rcpt", "new") == []


DISK_FULL_SCRIPT = r"""
set -u
mount -t tmpfs -o size=256k,mode=0755 tmpfs "$ROOT" || exit 99
mkdir -p "$ROOT/full/new" "$ROOT/full/cur" "$ROOT/full/tmp"
chown -R nobody:nogroup "$ROOT"
chmod -R 700 "$ROOT/full"
"$CTL" -c "$CONF" deliver full < "$SMALL"; echo "small=$?"
"$CTL" -c "$CONF" deliver full < "$BIG"; echo "big=$?"
echo "new=$(ls "$ROOT/full/new" | wc -l) tmp=$(ls "$ROOT/full/tmp" | wc -l)"
umount "$ROOT"
"""


def test_disk_full(srv):
    """A full disk is a temporary failure, and leaves no partial file:
    a 256 KiB tmpfs, mounted in a private mount namespace (unshare -m)
    so that nothing outside the test sees it."""
    # The mail user must reach the config and the mount point.
    tmp_path = __import__("pathlib").Path(tempfile.mkdtemp(prefix="pop3ctl-full-"))
    os.chmod(tmp_path, 0o755)
    try:
        _disk_full(srv, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _disk_full(srv, tmp_path):
    root = tmp_path / "mnt"
    root.mkdir()
    conf = tmp_path / "pop3d.conf"
    conf.write_text(open(srv.conf_path).read().replace(
        "mail_root = " + srv.mail_root, "mail_root = " + str(root)))
    small = tmp_path / "small"
    small.write_bytes(MSG_LF)
    big = tmp_path / "big"
    big.write_bytes(b"Subject: big\n\n" + b"0123456789abcdef\n" * 40000)  # 680 KB
    env = dict(os.environ, ROOT=str(root), CTL=pop3ctl_path(), CONF=str(conf),
               SMALL=str(small), BIG=str(big))
    for prop in ("private", "unchanged"):
        # In a chroot (the fresh-machine check) "/" is no mount point and
        # cannot be made private; the chroot's mounts are private already.
        r = subprocess.run(["unshare", "-m", "--propagation", prop, "sh", "-c",
                            DISK_FULL_SCRIPT], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        out, err = r.stdout.decode(), r.stderr.decode()
        if "cannot change root filesystem propagation" not in err:
            break
    if r.returncode == 99 or "unshare failed" in err:
        # No mount namespaces here: a file size limit makes write(2) fail
        # the same way in the same place (EFBIG instead of ENOSPC), which
        # is what deliver must turn into 75 and a removed tmp file.
        _disk_full_by_rlimit(srv, big)
        return
    assert "small=0" in out, (out, err)
    assert "big=75" in out, (out, err)
    assert "No space left on device" in err
    assert "new=1 tmp=0" in out, (out, err)


def _disk_full_by_rlimit(srv, big):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    with open(big, "rb") as f:
        r = subprocess.run([pop3ctl_path(), "-c", srv.conf_path, "deliver", "rcpt"],
                           stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=limit, timeout=60)
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert listdir(srv, "rcpt", "new") == []
    assert listdir(srv, "rcpt", "tmp") == []


def test_sendfile_pipelined_big(srv):
    """Wire-form messages bigger than the socket takes at once, three
    RETRs pipelined in one write, the client reading only after a pause:
    part of each file goes by sendfile at once and the rest later from
    the output buffer, in order, each answer byte-identical."""
    big = (b"From: a@example.test\nSubject: huge\n\n" +
           b"".join(b"line %07d of a huge message, no dot first\n" % i
                    for i in range(200000)))
    small = b"From: a@example.test\nSubject: tiny\n\nhi\n"
    for m in (big, small, big):
        r = deliver(srv.conf_path, "rcpt", m)
        assert r.returncode == EX_OK, r.err
    names = listdir(srv, "rcpt", "new")
    assert len(names) == 3 and all(n.endswith(",D=0") for n in names), names
    c = srv.connect(tls=False)
    try:
        c.login("rcpt", PW)
        c.send(b"RETR 1\r\nRETR 2\r\nRETR 3\r\n")
        time.sleep(0.5)
        got = []
        for _ in range(3):
            status = c.line()
            assert status.startswith("+OK"), status
            got.append(c.multi_raw()[:-3])
        c.ok("DELE 1")
        c.ok("DELE 2")
        c.ok("DELE 3")
        c.ok("QUIT")
    finally:
        c.close()
    # Delivery order: big, small, big.
    assert got == [crlf(big), crlf(small), crlf(big)]


def test_sendfile_after_a_pipelined_answer(srv):
    """NOOP, then after a gap of 0 to 600 microseconds a big wire-form
    RETR, 120 times without reading in between: every answer complete
    and in order.  Aimed at the RETR arriving between the NOOP's loop
    turn and the next, when its input and a write event already seen
    run in the same turn: the RETR fills the socket at once, and the
    rest must wait for the socket to drain instead of ending the
    connection (libevent takes an EAGAIN of its sendfile for an end of
    file).  That window is narrow; the test does not hit it every run."""
    big = (b"From: a@example.test\nSubject: huge\n\n" +
           b"".join(b"line %07d of a huge message, no dot first\n" % i
                    for i in range(50000)))
    r = deliver(srv.conf_path, "rcpt", big)
    assert r.returncode == EX_OK, r.err
    want = crlf(big)
    c = srv.connect(tls=False)
    try:
        c.login("rcpt", PW)
        # The RETR must land between the NOOP's turn and the next one:
        # gaps from 0 to 600 microseconds, so some of them do.
        for i in range(120):
            c.send(b"NOOP\r\n")
            t = time.perf_counter() + i * 5e-6
            while time.perf_counter() < t:
                pass
            c.send(b"RETR 1\r\n")
            time.sleep(0.005)
            assert c.line().startswith("+OK"), i
            assert c.line().startswith("+OK"), i
            assert c.multi_raw()[:-3] == want, i
        c.ok("DELE 1")
        c.ok("QUIT")
    finally:
        c.close()
