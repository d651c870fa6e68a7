"""QUIT of a session that deleted (almost) all of new/ or cur/: the
directory is swapped for an empty one, what was kept is renamed back,
QUIT is answered once that is durable, and the old files are removed
afterwards from tmp/.pop3d-trash.<dir>.*, whose manifest .pop3d-deleted
lists them; a login first repairs what a commit that died left in tmp/
(pop3d(8), UPDATE)."""
import fcntl
import os
import stat
import subprocess
import tempfile

import pytest

from pop3util import IS_ROOT, crlf, expected_uidl, unique_part, wait_until

SWAP_MIN = 256      # maildrop.c MD_SWAP_MIN
MANIFEST = ".pop3d-deleted"     # maildrop.c MD_MANIFEST


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="commit-swap", plaintext="loopback")


def sess(srv, u):
    return srv.session(u, tls=False)


def msg(i):
    return b"Subject: %d\n\nbody %d\n" % (i, i)


def fill(srv, u, n, sub="new"):
    return [srv.deliver(u, msg(i), sub=sub) for i in range(n)]


def dele(c, nums):
    """Pipelined DELEs, every answer +OK."""
    nums = list(nums)
    c.send("".join("DELE %d\r\n" % k for k in nums))
    for k in nums:
        r = c.line()
        assert r.startswith("+OK"), "DELE %d -> %r" % (k, r)


def quit_ok(c):
    r = c.cmd("QUIT")
    assert r.startswith("+OK"), r
    assert c.wait_eof(10)
    return r


def pop3d_tmp(srv, u):
    return sorted(n for n in os.listdir(os.path.join(srv.maildir(u), "tmp"))
                  if n.startswith(".pop3d-"))


def wait_tmp_clean(srv, u, timeout=10.0):
    left = wait_until(lambda: not pop3d_tmp(srv, u), timeout)
    assert left, "left in tmp/: %r" % pop3d_tmp(srv, u)


def listing(c):
    """{uidl: size} of the maildrop, via UIDL and LIST."""
    uidl = [l.split() for l in c.multi_cmd("UIDL")]
    lst = dict(l.split() for l in c.multi_cmd("LIST"))
    return {u.decode(): int(lst[n]) for n, u in uidl}


def mkfile(srv, path, data):
    with open(path, "wb") as f:
        f.write(data)
    srv._chown(path)


def mkdir(srv, path):
    os.mkdir(path, 0o700)
    srv._chown(path)


def manifest(names, count=None):
    """A manifest as maildrop.c writes it: a name a line, "END <count>"."""
    return "".join(n + "\n" for n in names).encode() + \
        b"END %d\n" % (len(names) if count is None else count)


def make_trash(srv, u, name, files, text=None):
    """tmp/<name> as a commit that died leaves it: files {name: data} and,
    unless text is None, text as its manifest."""
    trash = os.path.join(srv.maildir(u), "tmp", name)
    mkdir(srv, trash)
    for n, data in files.items():
        mkfile(srv, os.path.join(trash, n), data)
    if text is not None:
        mkfile(srv, os.path.join(trash, MANIFEST), text)
    return trash


def no_manifest_left(srv, u):
    d = srv.maildir(u)
    for sub in ("new", "cur", "tmp"):
        assert MANIFEST not in os.listdir(os.path.join(d, sub)), sub


# ------------------------------------------------------------- the swap

def test_delete_all(srv):
    u = srv.new_user()
    n = 300
    fill(srv, u, n)
    d = srv.maildir(u)
    before = os.stat(os.path.join(d, "new"))
    with sess(srv, u) as c:
        assert c.stat()[0] == n
        dele(c, range(1, n + 1))
        r = quit_ok(c)
        assert "300" in r, r
    after = os.stat(os.path.join(d, "new"))
    assert after.st_ino != before.st_ino, "new/ was not swapped"
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    with srv.session_retry(u) as c:
        assert c.stat() == (0, 0)
        c.ok("QUIT")
    wait_tmp_clean(srv, u)
    assert srv.names(u) == []


def test_delete_all_large(srv):
    """More files than one purge job run handles (maildrop.c
    MD_PURGE_SLICE): the purge requeues itself until the trash is gone."""
    u = srv.new_user()
    n = 5000
    d = srv.maildir(u)
    for i in range(n):
        p = os.path.join(d, "new", "1700000000.M%dP1.large,S=9,W=9" % (i + 1))
        mkfile(srv, p, b"x: y\r\n\r\n\r\n")
    with sess(srv, u) as c:
        assert c.stat() == (n, 9 * n)
        dele(c, range(1, n + 1))
        quit_ok(c)
    with srv.session_retry(u) as c:
        assert c.stat() == (0, 0)
        c.ok("QUIT")
    wait_tmp_clean(srv, u, timeout=30)
    assert srv.names(u) == []


def test_delete_most_keeps_the_rest(srv):
    u = srv.new_user()
    n = 300
    fill(srv, u, n)
    keep = [1, 2, 57, 100, 150, 151, 200, 299, 300, 180]   # 10 <= 290 / 8
    with sess(srv, u) as c:
        everything = listing(c)
        uidls = [l.split()[1].decode() for l in c.multi_cmd("UIDL")]
        want = {uidls[k - 1]: everything[uidls[k - 1]] for k in keep}
        dele(c, (k for k in range(1, n + 1) if k not in keep))
        quit_ok(c)
    with srv.session_retry(u) as c:
        assert c.stat()[0] == len(keep)
        assert listing(c) == want
        # delivery order still holds among the kept ones
        got = [l.split()[1].decode() for l in c.multi_cmd("UIDL")]
        assert got == [uidls[k - 1] for k in sorted(keep)]
        assert c.multi_cmd("RETR 3") == [b"Subject: 56", b"", b"body 56"]
        c.ok("QUIT")
    wait_tmp_clean(srv, u)
    assert len(srv.names(u)) == len(keep)


def test_mail_delivered_during_the_session_survives(srv):
    u = srv.new_user()
    n = 300
    fill(srv, u, n)
    with sess(srv, u) as c:
        assert c.stat()[0] == n
        late = srv.deliver(u, b"Subject: late\n\narrived after login\n",
                           sec=1800000000)
        dele(c, range(1, n + 1))
        quit_ok(c)
    with srv.session_retry(u) as c:
        assert c.stat() == (1, len(crlf(b"Subject: late\n\narrived after login\n")))
        assert c.multi_cmd("UIDL") == [("1 %s" % expected_uidl(late)).encode()]
        assert c.multi_cmd("RETR 1") == [b"Subject: late", b"", b"arrived after login"]
        c.ok("QUIT")
    wait_tmp_clean(srv, u)


def test_delete_all_in_cur(srv):
    u = srv.new_user()
    n = 300
    fill(srv, u, n, sub="cur")
    fill(srv, u, 4, sub="new")      # too few for a swap: unlinked
    assert all(name.endswith(":2,S") for name in os.listdir(
        os.path.join(srv.maildir(u), "cur")))
    ino = os.stat(os.path.join(srv.maildir(u), "cur")).st_ino
    with sess(srv, u) as c:
        assert c.stat()[0] == n + 4
        dele(c, range(1, n + 5))
        r = quit_ok(c)
        assert "304" in r, r
    assert os.stat(os.path.join(srv.maildir(u), "cur")).st_ino != ino
    with srv.session_retry(u) as c:
        assert c.stat() == (0, 0)
        c.ok("QUIT")
    wait_tmp_clean(srv, u)
    assert srv.names(u) == []


def test_non_messages_survive_the_swap(srv):
    """Files the scan skipped (dot files, directories) are not the
    session's to delete: they go back into new/, even one named like the
    manifest (it goes back before the manifest is made)."""
    u = srv.new_user()
    fill(srv, u, 300)
    d = srv.maildir(u)
    mkfile(srv, os.path.join(d, "new", ".hidden"), b"not a message\n")
    mkfile(srv, os.path.join(d, "new", MANIFEST), b"not ours\n")
    mkdir(srv, os.path.join(d, "new", "subdir"))
    mkfile(srv, os.path.join(d, "new", "subdir", "f"), b"x\n")
    with sess(srv, u) as c:
        dele(c, range(1, 301))
        quit_ok(c)
    wait_tmp_clean(srv, u)
    assert sorted(os.listdir(os.path.join(d, "new"))) == \
        [".hidden", MANIFEST, "subdir"]
    assert os.listdir(os.path.join(d, "new", "subdir")) == ["f"]
    with open(os.path.join(d, "new", MANIFEST), "rb") as f:
        assert f.read() == b"not ours\n"


def test_without_a_swap_the_unlink_loop_does_it(srv):
    """mkdir in tmp/ fails: QUIT still deletes, file by file."""
    u = srv.new_user()
    fill(srv, u, 300)
    d = srv.maildir(u)
    tmp = os.path.join(d, "tmp")
    ino = os.stat(os.path.join(d, "new")).st_ino
    os.chmod(tmp, 0o500)
    try:
        with sess(srv, u) as c:
            dele(c, range(1, 301))
            quit_ok(c)
    finally:
        os.chmod(tmp, 0o700)
    assert os.stat(os.path.join(d, "new")).st_ino == ino
    assert srv.names(u) == []
    assert pop3d_tmp(srv, u) == []


def test_below_swap_min(srv):
    u = srv.new_user()
    names = fill(srv, u, 5)
    ino = os.stat(os.path.join(srv.maildir(u), "new")).st_ino
    with sess(srv, u) as c:
        uidls = [l.split()[1].decode() for l in c.multi_cmd("UIDL")]
        dele(c, (1, 3, 5))
        quit_ok(c)
    assert pop3d_tmp(srv, u) == []
    assert os.stat(os.path.join(srv.maildir(u), "new")).st_ino == ino
    with srv.session_retry(u) as c:
        assert [l.split()[1].decode() for l in c.multi_cmd("UIDL")] == \
            [uidls[1], uidls[3]]
        c.ok("QUIT")
    assert len(srv.names(u)) == 2 and len(names) == 5


def test_too_many_kept_for_a_swap(srv):
    """More kept than deleted/8: the unlink loop; the result is the same."""
    u = srv.new_user()
    fill(srv, u, SWAP_MIN + 60)
    ino = os.stat(os.path.join(srv.maildir(u), "new")).st_ino
    with sess(srv, u) as c:
        uidls = [l.split()[1].decode() for l in c.multi_cmd("UIDL")]
        dele(c, range(1, SWAP_MIN + 1))
        quit_ok(c)
    assert os.stat(os.path.join(srv.maildir(u), "new")).st_ino == ino
    with srv.session_retry(u) as c:
        assert [l.split()[1].decode() for l in c.multi_cmd("UIDL")] == \
            uidls[SWAP_MIN:]
        c.ok("QUIT")


def test_dropped_session_deletes_nothing(srv):
    u = srv.new_user()
    fill(srv, u, 300)
    c = sess(srv, u)
    dele(c, range(1, 301))
    c.abort()
    with srv.session_retry(u) as c2:
        assert c2.stat()[0] == 300
        c2.ok("QUIT")
    assert pop3d_tmp(srv, u) == []


def test_name_with_a_newline_is_not_swapped(srv):
    """The manifest holds a name a line: a deleted name with a newline
    in it makes that directory go file by file."""
    u = srv.new_user()
    fill(srv, u, 299)
    srv.deliver(u, msg(299), name="1700000000.M999P1.odd\nname,W=20")
    ino = os.stat(os.path.join(srv.maildir(u), "new")).st_ino
    with sess(srv, u) as c:
        assert c.stat()[0] == 300
        dele(c, range(1, 301))
        quit_ok(c)
    assert os.stat(os.path.join(srv.maildir(u), "new")).st_ino == ino
    assert srv.names(u) == []
    assert pop3d_tmp(srv, u) == []


# ------------------------------------------------------------- failures

def chattr(flag, path):
    return subprocess.run(["chattr", flag, path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=10).returncode


@pytest.mark.skipif(not IS_ROOT, reason="needs root for chattr +i")
def test_purge_that_gives_up_keeps_the_manifest(srv):
    """A deleted file the purge cannot unlink (immutable) keeps the trash,
    and with it the manifest the commit wrote: every deleted name, then
    the end line.  The next login that can uses it: the file goes, and
    nothing deleted comes back."""
    u = srv.new_user()
    n = 300
    fill(srv, u, n)
    d = srv.maildir(u)
    new = os.path.join(d, "new")
    with sess(srv, u) as c:
        assert c.stat()[0] == n
        names = os.listdir(new)         # as the scan left them (,W=)
        stuck = sorted(names)[7]
        if chattr("+i", os.path.join(new, stuck)) != 0:
            pytest.skip("chattr +i does not work here")
        try:
            mark = srv.mark()
            dele(c, range(1, n + 1))
            quit_ok(c)
            srv.wait_log(r"purge: cannot remove tmp/\.pop3d-trash\.new\.",
                         mark, timeout=20)
            trash = [t for t in pop3d_tmp(srv, u)
                     if t.startswith(".pop3d-trash.new.")]
            assert len(trash) == 1, pop3d_tmp(srv, u)
            trash = os.path.join(srv.maildir(u), "tmp", trash[0])
            assert sorted(os.listdir(trash)) == sorted([MANIFEST, stuck])
            with open(os.path.join(trash, MANIFEST), "rb") as f:
                lines = f.read().split(b"\n")
            assert lines[-2:] == [b"END %d" % n, b""]
            assert sorted(l.decode() for l in lines[:-2]) == sorted(names)
        finally:
            for p in [new] + [os.path.join(d, "tmp", t)
                              for t in pop3d_tmp(srv, u)]:
                if os.path.exists(os.path.join(p, stuck)):
                    chattr("-i", os.path.join(p, stuck))
    with srv.session_retry(u) as c:
        assert c.stat() == (0, 0)
        c.ok("QUIT")
    assert pop3d_tmp(srv, u) == []
    assert srv.names(u) == []


@pytest.mark.skipif(not IS_ROOT, reason="needs root for chattr +i")
def test_failed_swap_is_undone_at_once(srv):
    """A kept message that cannot be renamed back (immutable): the swap
    stops before its commit point and is undone before QUIT's -ERR by a
    second exchange, so the old directory with every message is new/
    again, without a login's recovery, and nothing was deleted."""
    u = srv.new_user()
    n, keep = 300, 10
    fill(srv, u, n + keep)
    d = srv.maildir(u)
    new = os.path.join(d, "new")
    stuck = None
    try:
        with sess(srv, u) as c:
            assert c.stat()[0] == n + keep
            before = sorted(os.listdir(new))     # as the scan left them
            ino = os.stat(new).st_ino
            ids = dict(l.split() for l in c.multi_cmd("UIDL"))
            kept = [x for x in before
                    if expected_uidl(x) == ids[b"%d" % (n + 1)].decode()]
            assert len(kept) == 1
            stuck = os.path.join(new, kept[0])
            if chattr("+i", stuck) != 0:
                stuck = None
                pytest.skip("chattr +i does not work here")
            mark = srv.mark()
            dele(c, range(1, n + 1))
            r = c.cmd("QUIT")
            assert r.startswith("-ERR [SYS/TEMP]"), r
            assert c.wait_eof(10)
        srv.wait_log(r"commit of new/ failed \(Operation not permitted\); "
                     r"undone, \d+ files? back", mark)
        assert os.stat(new).st_ino == ino, "the old new/ is not back"
        assert sorted(os.listdir(new)) == before
        assert pop3d_tmp(srv, u) == []
    finally:
        # Wherever a failed undo left it, or the tree cannot be removed.
        for root, _, files in os.walk(d) if stuck is not None else ():
            if os.path.basename(stuck) in files:
                chattr("-i", os.path.join(root, os.path.basename(stuck)))
    with srv.session_retry(u) as c:
        assert c.stat()[0] == n + keep
        dele(c, range(1, n + keep + 1))
        quit_ok(c)
    wait_tmp_clean(srv, u)
    assert srv.names(u) == []


# ------------------------------------------------------------- recovery

def test_recovery_of_a_swap_directory(srv):
    """A commit died between the exchange and its commit point: QUIT was
    never answered, so the next login puts every file back."""
    u = srv.new_user()
    d = srv.maildir(u)
    srv.deliver(u, msg(0))
    swap_new = os.path.join(d, "tmp", ".pop3d-swap.new.1700000000.1.P1Q1R0")
    swap_cur = os.path.join(d, "tmp", ".pop3d-swap.cur.1700000000.2.P1Q2R0")
    mkdir(srv, swap_new)
    mkdir(srv, swap_cur)
    left = ["1700000001.M%dP9.crashed" % i for i in range(3)]
    for i, name in enumerate(left):
        mkfile(srv, os.path.join(swap_new, name), msg(10 + i))
    mkfile(srv, os.path.join(swap_cur, "1700000002.M1P9.crashed:2,S"), msg(20))
    with srv.session_retry(u) as c:
        assert c.stat()[0] == 5
        got = [l.split()[1].decode() for l in c.multi_cmd("UIDL")]
        assert got[1:] == left + ["1700000002.M1P9.crashed"]
        assert c.multi_cmd("RETR 5") == [b"Subject: 20", b"", b"body 20"]
        c.ok("QUIT")
    assert pop3d_tmp(srv, u) == []
    assert [unique_part(n) for n in os.listdir(os.path.join(d, "cur"))] == \
        ["1700000002.M1P9.crashed"]


@pytest.mark.parametrize("sub", ["new", "cur"])
def test_recovery_of_a_trash_directory(srv, sub):
    """A commit died after its commit point (QUIT may have been
    answered): the next login removes what the trash's manifest lists,
    and lists none of it; mail that reached the old directory as it was
    swapped out (not listed) goes back and is served."""
    u = srv.new_user()
    d = srv.maildir(u)
    flags = ":2,S" if sub == "cur" else ""
    srv.deliver(u, msg(0))
    deleted = ["1700000001.M%dP9.deleted%s" % (i, flags) for i in range(3)]
    late = "1800000000.M1P9.late" + flags
    files = {n: msg(i) for i, n in enumerate(deleted)}
    files[late] = b"Subject: late\n\nlate arrival\n"
    mark = srv.mark()
    trash = make_trash(srv, u, ".pop3d-trash.%s.1700000000.3.P1Q3R0" % sub,
                       files, manifest(deleted))
    with srv.session_retry(u) as c:
        assert c.stat()[0] == 2
        got = [l.split()[1].decode() for l in c.multi_cmd("UIDL")]
        assert got[1] == unique_part(late)
        assert c.multi_cmd("RETR 2") == [b"Subject: late", b"", b"late arrival"]
        c.ok("QUIT")
    srv.wait_log(r"recovery: 3 deleted files removed, 1 moved back", mark)
    assert not os.path.exists(trash)
    assert pop3d_tmp(srv, u) == []
    assert srv.uniques(u) == sorted(unique_part(n) for n in (
        os.listdir(os.path.join(d, "new")) +
        os.listdir(os.path.join(d, "cur"))))
    assert unique_part(late) in [unique_part(n) for n in
                                 os.listdir(os.path.join(d, sub))]
    assert not {unique_part(n) for n in deleted} & set(srv.uniques(u))
    no_manifest_left(srv, u)


@pytest.mark.parametrize("text", [
    "truncated", "no end line", "count too high", "count too low",
    "not a name", "empty", "missing"])
def test_recovery_of_a_trash_with_a_damaged_manifest(srv, text):
    """The manifest is complete before the commit point, so a trash
    without a complete one is damaged: everything in it goes back,
    nothing is deleted."""
    u = srv.new_user()
    deleted = ["1700000001.M%dP9.deleted" % i for i in range(3)]
    late = "1800000000.M1P9.late"
    files = {n: msg(i) for i, n in enumerate(deleted + [late])}
    full = manifest(deleted)
    body = {
        "truncated": full[:len(deleted[0]) + 5],
        "no end line": manifest(deleted).rsplit(b"END", 1)[0],
        "count too high": manifest(deleted, count=4),
        "count too low": manifest(deleted, count=2),
        "not a name": manifest(deleted + [".hidden"]),
        "empty": b"",
        "missing": None,
    }[text]
    mark = srv.mark()
    trash = make_trash(srv, u, ".pop3d-trash.new.1700000000.5.P1Q5R0",
                       files, body)
    with srv.session_retry(u) as c:
        assert c.stat()[0] == 4
        c.ok("QUIT")
    srv.wait_log(r"no complete manifest in tmp/\.pop3d-trash\.new\.", mark)
    assert not os.path.exists(trash)
    assert srv.uniques(u) == sorted(unique_part(n) for n in deleted + [late])
    no_manifest_left(srv, u)


@pytest.mark.parametrize("kind", ["fifo", "sparse"])
def test_recovery_of_a_hostile_manifest(srv, kind):
    """The maildrop's owner can put anything in tmp/.  A FIFO as the
    manifest must not stop the job thread that recovers (the login is
    answered; the FIFO has no writer), and a 200 MB sparse file costs no
    allocation of its size: it is read a chunk at a time and rejected at
    its first line.  Either way, everything goes back."""
    u = srv.new_user()
    deleted = ["1700000001.M%dP9.deleted" % i for i in range(2)]
    files = {n: msg(i) for i, n in enumerate(deleted)}
    mark = srv.mark()
    trash = make_trash(srv, u, ".pop3d-trash.new.1700000000.7.P1Q7R0",
                       files)
    path = os.path.join(trash, MANIFEST)
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        with open(path, "wb") as f:
            f.truncate(200 << 20)
    srv._chown(path)
    c = srv.session_retry(u, timeout=10)
    try:
        assert c.stat()[0] == 2
        c.ok("QUIT")
    finally:
        c.close()
    srv.wait_log(r"no complete manifest in tmp/\.pop3d-trash\.new\.", mark)
    assert not os.path.exists(trash)
    assert srv.uniques(u) == sorted(unique_part(n) for n in deleted)
    no_manifest_left(srv, u)


def test_recovery_of_an_old_style_trash(srv):
    """A trash named without its directory (a pop3d before the manifest)
    cannot tell deleted files from late mail: it is emptied whole, as
    that pop3d did."""
    u = srv.new_user()
    srv.deliver(u, msg(0))
    files = {"1700000001.M%dP9.deleted" % i: msg(i) for i in range(3)}
    files[MANIFEST] = b"END 0\n"
    trash = make_trash(srv, u, ".pop3d-trash.1700000000.3.P1Q3R0", files)
    with srv.session_retry(u) as c:
        assert c.stat()[0] == 1
        c.ok("QUIT")
    assert not os.path.exists(trash)
    assert pop3d_tmp(srv, u) == []
    assert len(srv.names(u)) == 1


def test_trash_being_purged_is_left_alone(srv):
    """flock on a trash directory means someone is purging it: a login
    leaves it; once the lock is gone, the next login removes it."""
    u = srv.new_user()
    deleted = "1700000001.M1P9.deleted"
    trash = make_trash(srv, u, ".pop3d-trash.new.1700000000.4.P1Q4R0",
                       {deleted: msg(1)}, manifest([deleted]))
    fd = os.open(trash, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with srv.session_retry(u) as c:
            assert c.stat() == (0, 0)
            c.ok("QUIT")
        assert sorted(os.listdir(trash)) == [MANIFEST, deleted]
    finally:
        os.close(fd)
    with srv.session_retry(u) as c:
        assert c.stat() == (0, 0)
        c.ok("QUIT")
    assert not os.path.exists(trash)
    assert srv.names(u) == []


def test_other_tmp_entries_untouched(srv):
    u = srv.new_user()
    d = srv.maildir(u)
    srv.deliver(u, msg(0))
    others = [".pop3d-swap.xyz.1", ".pop3d-other", "1700000000.M1P1.partial"]
    for name in others:
        mkfile(srv, os.path.join(d, "tmp", name), b"x\n")
    mkdir(srv, os.path.join(d, "tmp", ".pop3d-swap.bad.2"))
    with srv.session_retry(u) as c:
        assert c.stat()[0] == 1
        c.ok("QUIT")
    assert sorted(os.listdir(os.path.join(d, "tmp"))) == sorted(
        others + [".pop3d-swap.bad.2"])


# ------------------------------------------------------------- full disk

@pytest.mark.skipif(not IS_ROOT, reason="mounts a tmpfs as the mail root "
                    "(needs root)")
def test_full_disk_quit_unlinks_instead(make_server):
    """A full file system (mail_root on a small tmpfs, the rest of it
    taken by a filler file): the swap cannot write its manifest, which
    is no reason to keep the mail that deleting would free room for.
    The swap is undone and the deleted files are unlinked one by one:
    DELE 300 + QUIT gives +OK, the 300 files are gone, the 20 kept ones
    are intact."""
    mounted = []

    def setup(s):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755",
                            "tmpfs", s.mail_root], timeout=10)
        if r.returncode != 0:
            pytest.skip("cannot mount a tmpfs on the mail root")
        mounted.append(s.mail_root)
        s.make_maildir(s.pool[0].name)     # the mount hides the old ones

    srv = None
    try:
        srv = make_server(setup=setup, name="full-disk", plaintext="loopback")
        u = srv.new_user()
        d = srv.maildir(u)
        n, keep = 300, 20
        content = {expected_uidl(x): msg(i)
                   for i, x in enumerate(fill(srv, u, n + keep))}
        with open(os.path.join(srv.mail_root, "filler"), "wb") as f:
            try:
                for _ in range(4096):       # 256 MiB at most
                    f.write(b"x" * 65536)
                    f.flush()
            except OSError:
                pass
            try:
                f.close()
            except OSError:
                pass
        with pytest.raises(OSError):        # the disk is full
            with open(os.path.join(d, "probe"), "wb") as f:
                f.write(b"x" * 4096)
                f.flush()
        os.unlink(os.path.join(d, "probe"))
        with sess(srv, u) as c:
            assert c.stat()[0] == n + keep
            ids = dict(l.split() for l in c.multi_cmd("UIDL"))
            kept = {ids[b"%d" % k].decode() for k in range(n + 1, n + keep + 1)}
            mark = srv.mark()
            dele(c, range(1, n + 1))
            r = quit_ok(c)
            assert "%d" % n in r, r
        # Undone by a second exchange: only the kept files moved twice.
        srv.wait_log(r"no room for the swap of new/ \(No space left on "
                     r"device\); undone \(%d files back\), unlinking" % keep,
                     mark)
        left = srv.names(u)
        assert len(left) == keep, left
        assert {expected_uidl(x) for x in left} == kept
        assert pop3d_tmp(srv, u) == []
        no_manifest_left(srv, u)
        with srv.session_retry(u) as c:
            assert c.stat()[0] == keep
            ids = dict(l.split() for l in c.multi_cmd("UIDL"))
            for k in range(1, keep + 1):
                want = content[ids[b"%d" % k].decode()]
                got = b"".join(l + b"\r\n" for l in c.multi_cmd("RETR %d" % k))
                assert got == crlf(want), k
            c.ok("QUIT")
    finally:
        if srv is not None:
            srv.stop()
        for m in mounted:
            if subprocess.run(["umount", m], timeout=10).returncode != 0:
                subprocess.run(["umount", "-l", m], timeout=10)
