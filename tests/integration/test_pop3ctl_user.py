"""pop3ctl user: add/passwd/del/list/lock/unlock against a running pop3d
(which picks every change up without a restart), the password policy
(libpwquality), passwords from a terminal without echo, and concurrent
edits."""
import os
import pty
import re
import select
import stat
import subprocess
import threading
import time

import pytest

from ctlutil import (EX_CANTCREAT, EX_CONFIG, EX_DATAERR, EX_NOUSER, EX_OK, EX_USAGE,
                     add_user, ctl, listdir, pop3ctl_path)
from pop3util import AUTH_USER, IS_ROOT, WORKER_USER, wait_until

GOOD = "Velvet-Otter-Lamp-73"
GOOD2 = "Quartz-Heron-Piano-58"

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="pop3ctl user needs root "
                                "(Maildir owners, passwd-file group)")


@pytest.fixture(scope="module")
def srv(module_servers, env):
    def setup(s):
        h = env.hasher
        s.add_user("old6", hashfield=h.hash("Old-sha512-pw", "sha512"))
        s.add_user("oldtag", hashfield="{SHA512-CRYPT}" + h.hash("Old-sha512-pw", "sha512"))
        s.add_user("oldbf", hashfield=h.hash("Old-bcrypt-pw", "bcrypt"))
    return module_servers(name="ctl-user", setup=setup)


def login(srv, user, password):
    """The final answer of USER/PASS over implicit TLS."""
    c = srv.connect(tls=True)
    try:
        return c.try_login(user, password)
    finally:
        c.close()


def wait_login(srv, user, password, ok, timeout=5.0):
    """The login right after an edit sees it (test_passwd_reload.py);
    the wait only gives a failure a clearer message."""
    r = wait_until(lambda: (login(srv, user, password).startswith("+OK")) == ok,
                   timeout, step=0.2)
    assert r, "login of %s did not become %s within %.0fs: %r" % (
        user, "possible" if ok else "impossible", timeout,
        login(srv, user, password))


def test_add_creates_user_and_maildir(srv):
    st0 = os.stat(srv.passwd_path)
    r = add_user(srv, "anna", GOOD)
    assert "anna" in r.out
    d = os.path.join(srv.mail_root, "anna")
    for sub in ("", "new", "cur", "tmp"):
        st = os.stat(os.path.join(d, sub))
        assert stat.S_ISDIR(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o700, sub
        assert st.st_uid == __import__("pwd").getpwnam(WORKER_USER).pw_uid, sub
    # The passwd-file was replaced (new inode) with owner, group and mode kept.
    st1 = os.stat(srv.passwd_path)
    assert st1.st_ino != st0.st_ino
    assert (st1.st_uid, st1.st_gid, stat.S_IMODE(st1.st_mode)) == \
        (st0.st_uid, st0.st_gid, stat.S_IMODE(st0.st_mode))
    assert __import__("grp").getgrgid(st1.st_gid).gr_name == \
        __import__("grp").getgrgid(__import__("pwd").getpwnam(AUTH_USER).pw_gid).gr_name
    assert not os.path.exists(srv.passwd_path + ".tmp")
    line = [l for l in open(srv.passwd_path) if l.startswith("anna:")]
    assert len(line) == 1 and line[0].startswith("anna:$y$"), line
    # pop3d sees the new user without a restart.
    wait_login(srv, "anna", GOOD, True)


def test_add_existing_and_missing_users(srv):
    add_user(srv, "bert", GOOD)
    r = add_user(srv, "bert", GOOD2, rc=EX_CANTCREAT)
    assert "exists" in r.err
    for args in (["passwd", "nobody1", "--password-stdin"], ["del", "nobody1"],
                 ["lock", "nobody1"], ["unlock", "nobody1"]):
        r = ctl(srv.conf_path, "user", *args, input=GOOD + "\n")
        assert r.returncode == EX_NOUSER, (args, r.returncode, r.err)
        assert "no such user" in r.err


@pytest.mark.parametrize("pw,reason", [
    ("Sh0rt-x", r"shorter than 10 characters"),
    ("carla-Secret-99x", r"contains the user name"),
    ("password123", r"dictionary"),
    ("Aaaaaa-bbbbbb-1", r"same character"),
    ("Xy-1234567-zQ", r"monotonic"),
])
def test_password_policy_rejects_with_reason(srv, pw, reason):
    before = open(srv.passwd_path).read()
    r = add_user(srv, "carla", pw, rc=EX_DATAERR)
    assert re.search(reason, r.err, re.I), r.err
    assert "password rejected" in r.err
    assert open(srv.passwd_path).read() == before
    assert not os.path.exists(os.path.join(srv.mail_root, "carla"))


def test_password_policy_from_config(module_servers, env):
    s = module_servers(name="ctl-policy", pool=0,
                       extra={"password": {"min_length": "24", "min_class": "3",
                                           "bad_words": "acme"}})
    r = add_user(s, "dora", GOOD, rc=EX_DATAERR)       # 20 characters
    assert "shorter than 24" in r.err, r.err
    r = add_user(s, "dora", "velvet-otter-lamp-piano-x", rc=EX_DATAERR)
    assert "classes" in r.err, r.err
    r = add_user(s, "dora", "Velvet-ACME-Lamp-Piano-77", rc=EX_DATAERR)
    assert "words" in r.err, r.err
    add_user(s, "dora", "Velvet-Otter-Lamp-Piano-7")


def test_missing_dictionary_is_a_config_error(module_servers, env, tmp_path):
    """A dictionary that cannot be loaded (cracklib-runtime not installed, or
    a wrong dict_path) is a configuration error naming the package and the
    dict_check key (exit 78), not a weak password; dict_check = no adds."""
    missing = str(tmp_path / "no-such-dict")
    s = module_servers(name="ctl-nodict", pool=0,
                       extra={"password": {"dict_path": missing}})
    before = open(s.passwd_path).read()
    r = add_user(s, "dict1", GOOD, rc=EX_CONFIG)
    assert "password rejected" not in r.err, r.err
    assert "dictionary" in r.err and "cracklib-runtime" in r.err, r.err
    assert "dict_check = no" in r.err and missing in r.err, r.err
    assert s.conf_path in r.err, r.err
    assert open(s.passwd_path).read() == before
    assert not os.path.exists(os.path.join(s.mail_root, "dict1"))
    s2 = module_servers(name="ctl-nodictcheck", pool=0,
                        extra={"password": {"dict_path": missing,
                                            "dict_check": "no"}})
    add_user(s2, "dict2", GOOD)


def test_password_never_from_argv(srv):
    r = ctl(srv.conf_path, "user", "add", "emil", GOOD)
    assert r.returncode == EX_USAGE
    assert "emil:" not in open(srv.passwd_path).read()


def test_no_terminal_needs_password_stdin(srv):
    # A new session has no controlling terminal: /dev/tty cannot open.
    r = ctl(srv.conf_path, "user", "add", "emil", start_new_session=True,
            stdin=subprocess.DEVNULL, input=None)
    assert r.returncode == EX_USAGE, (r.returncode, r.err)
    assert "--password-stdin" in r.err


def _tty_session(args, answers, timeout=60):
    """Runs pop3ctl on a new pseudo-terminal, answering each prompt in
    turn; returns (exit code, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(pop3ctl_path(), [pop3ctl_path()] + args)
        finally:
            os._exit(127)
    seen = b""
    answered = 0        # len(seen) when the last answer went
    answers = list(answers)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not r:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            # Only a prompt shown since the last answer: the newline
            # pop3ctl echoes after an answer is no cue (an answer typed
            # before the next prompt sets up the terminal is flushed).
            if answers and seen[answered:].rstrip().endswith(b":"):
                os.write(fd, answers.pop(0).encode() + b"\n")
                answered = len(seen)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def test_terminal_asks_twice_without_echo(srv):
    rc, seen = _tty_session(["-c", srv.conf_path, "user", "add", "fritz"],
                            [GOOD, GOOD2])
    assert rc == EX_DATAERR, seen
    assert "do not match" in seen
    assert "New password for fritz:" in seen and "Again:" in seen
    assert GOOD not in seen and GOOD2 not in seen, "password echoed: %r" % seen
    rc, seen = _tty_session(["-c", srv.conf_path, "user", "add", "fritz"],
                            [GOOD, GOOD])
    assert rc == EX_OK, seen
    assert GOOD not in seen, "password echoed: %r" % seen
    wait_login(srv, "fritz", GOOD, True)


def test_passwd_changes_password_live(srv):
    add_user(srv, "gina", GOOD)
    wait_login(srv, "gina", GOOD, True)
    r = ctl(srv.conf_path, "user", "passwd", "gina", "--password-stdin",
            input=GOOD2 + "\n")
    assert r.returncode == EX_OK, r.err
    wait_login(srv, "gina", GOOD, False)
    assert login(srv, "gina", GOOD2).startswith("+OK")


def test_lock_refuses_login_like_bad_password(srv):
    add_user(srv, "hugo", GOOD)
    wait_login(srv, "hugo", GOOD, True)
    r = ctl(srv.conf_path, "user", "lock", "hugo")
    assert r.returncode == EX_OK and "locked" in r.out
    wait_login(srv, "hugo", GOOD, False)
    locked = login(srv, "hugo", GOOD)
    wrong = login(srv, "hugo", "Wrong-password-1")
    assert locked.startswith("-ERR") and locked == wrong, (locked, wrong)
    r = ctl(srv.conf_path, "user", "list")
    assert re.search(r"^hugo\s+YESCRYPT\s+locked$", r.out, re.M), r.out
    # Locking twice changes nothing and says so.
    r = ctl(srv.conf_path, "user", "lock", "hugo")
    assert r.returncode == EX_OK and "already" in r.out
    # A new password keeps the lock.
    r = ctl(srv.conf_path, "user", "passwd", "hugo", "--password-stdin",
            input=GOOD2 + "\n")
    assert r.returncode == EX_OK and "still locked" in r.out
    r = ctl(srv.conf_path, "user", "unlock", "hugo")
    assert r.returncode == EX_OK
    wait_login(srv, "hugo", GOOD2, True)
    r = ctl(srv.conf_path, "user", "list")
    assert re.search(r"^hugo\s+YESCRYPT\s+active$", r.out, re.M), r.out


def test_list_shows_schemes(srv):
    r = ctl(srv.conf_path, "user", "list")
    assert r.returncode == EX_OK
    assert re.search(r"^old6\s+SHA512-CRYPT\s+active$", r.out, re.M), r.out
    assert re.search(r"^oldtag\s+SHA512-CRYPT\s+active$", r.out, re.M), r.out
    assert re.search(r"^oldbf\s+BLF-CRYPT\s+active$", r.out, re.M), r.out
    # The old schemes still log in, and can be locked and unlocked.
    assert login(srv, "oldtag", "Old-sha512-pw").startswith("+OK")
    assert ctl(srv.conf_path, "user", "lock", "oldtag").returncode == EX_OK
    assert "oldtag:!{SHA512-CRYPT}$6$" in open(srv.passwd_path).read()
    wait_login(srv, "oldtag", "Old-sha512-pw", False)
    assert ctl(srv.conf_path, "user", "unlock", "oldtag").returncode == EX_OK
    wait_login(srv, "oldtag", "Old-sha512-pw", True)
    # Rehash: passwd turns a weak hash into yescrypt.
    r = ctl(srv.conf_path, "user", "passwd", "old6", "--password-stdin",
            input=GOOD + "\n")
    assert r.returncode == EX_OK
    r = ctl(srv.conf_path, "user", "list")
    assert re.search(r"^old6\s+YESCRYPT\s+active$", r.out, re.M), r.out


def test_del_keeps_or_purges_mail(srv):
    add_user(srv, "ida", GOOD)
    add_user(srv, "jan", GOOD)
    srv.deliver("ida", b"Subject: keep me\n\nbody\n")
    wait_login(srv, "ida", GOOD, True)
    r = ctl(srv.conf_path, "user", "del", "ida")
    assert r.returncode == EX_OK, r.err
    wait_login(srv, "ida", GOOD, False)
    assert not os.path.exists(os.path.join(srv.mail_root, "ida"))
    kept = [n for n in os.listdir(srv.mail_root) if n.startswith(".deleted.ida.")]
    assert len(kept) == 1, os.listdir(srv.mail_root)
    assert len(os.listdir(os.path.join(srv.mail_root, kept[0], "new"))) == 1
    # Mail for a deleted user is refused: no such user.
    r = ctl(srv.conf_path, "deliver", "ida", input=b"Subject: x\n\ny\n")
    assert r.returncode == EX_NOUSER
    r = ctl(srv.conf_path, "user", "del", "jan", "--purge")
    assert r.returncode == EX_OK, r.err
    assert not os.path.exists(os.path.join(srv.mail_root, "jan"))
    assert not [n for n in os.listdir(srv.mail_root) if "jan" in n]
    assert "jan:" not in open(srv.passwd_path).read()


def test_purge_does_not_follow_symlinks(srv, tmp_path):
    add_user(srv, "kim", GOOD)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("x")
    os.symlink(str(outside), os.path.join(srv.mail_root, "kim", "cur", "link"))
    r = ctl(srv.conf_path, "user", "del", "kim", "--purge")
    assert r.returncode == EX_OK, r.err
    assert (outside / "precious").read_text() == "x"
    assert not os.path.exists(os.path.join(srv.mail_root, "kim"))


def test_concurrent_edits_lose_nothing(srv):
    names = ["par%d" % i for i in range(6)]
    results = {}

    def run(n):
        results[n] = ctl(srv.conf_path, "user", "add", n, "--password-stdin",
                         input=GOOD + "\n")
    threads = [threading.Thread(target=run, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for n in names:
        assert results[n].returncode == EX_OK, (n, results[n].err)
    r = ctl(srv.conf_path, "user", "list")
    for n in names:
        assert re.search(r"^%s\s" % n, r.out, re.M), (n, r.out)
        assert listdir(srv, n, "new") == []


def test_invalid_names_and_help(srv):
    for bad in ("../etc", ".hidden", "-x", "a/b", "x" * 65):
        r = ctl(srv.conf_path, "user", "add", bad, "--password-stdin",
                input=GOOD + "\n")
        assert r.returncode in (EX_DATAERR, EX_USAGE), (bad, r.returncode)
        assert not os.path.lexists(os.path.join(srv.mail_root, bad))
    for args in (["--help"], ["user", "--help"], ["user", "add", "--help"],
                 ["user", "del", "--help"], ["deliver", "--help"],
                 ["check", "--help"]):
        r = ctl(srv.conf_path, *args)
        assert r.returncode == EX_OK, args
        assert "usage: pop3ctl" in r.out, (args, r.out)
    r = ctl(srv.conf_path, "frobnicate")
    assert r.returncode == EX_USAGE
