"""`pop3d -t`: config checking, errors as FILE:LINE: with the key name."""
import os
import shutil
import signal
import subprocess

import pytest

from pop3util import AUTH_USER, IS_ROOT, WORKER_USER, Server, children, proc_alive


@pytest.fixture
def base(env):
    s = Server(env, name="config", pool=1)
    s.write_files()
    yield s
    shutil.rmtree(s.base, ignore_errors=True)


def check(env, path):
    r = subprocess.run([env.pop3d, "-c", path, "-t"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def with_lines(s, inserts):
    """The good config with (section, text) lines added right after each
    section header; returns (path, {text: line number})."""
    lines = s.config_text().splitlines()
    where = {}
    for sect, text in inserts:
        i = lines.index("[%s]" % sect) + 1
        lines.insert(i, text)
    for n, l in enumerate(lines, 1):
        for _, text in inserts:
            if l == text:
                where[text] = n
    path = os.path.join(s.base, "bad.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, where


def assert_error(err, path, line, key):
    tag = "%s:%d:" % (path, line)
    hits = [l for l in err.splitlines() if tag in l]
    assert hits, "no %r in stderr:\n%s" % (tag, err)
    assert any(key in l for l in hits), "%r not named in %r" % (key, hits)


def test_good_config(env, base):
    rc, err = check(env, base.conf_path)
    assert rc == 0, err


@pytest.mark.parametrize("fmt", ["%08Xv%08Xu", "%v.%u", "%v-%u", "%f", "%Mf",
                                 "%g", "%{uid}.%{uidvalidity}"])
def test_uidl_formats_accepted(env, base, fmt):
    path, _ = with_lines(base, [("server", "pop3_uidl_format = " + fmt)])
    rc, err = check(env, path)
    assert rc == 0, "%r refused: %s" % (fmt, err)


BAD = [
    ("server", "bogus_key = 1", "bogus_key"),
    ("auth", "allow_plaintext_auth = maybe", "allow_plaintext_auth"),
    ("server", "workers = lots", "workers"),
    ("server", "workers = 1000", "workers"),
    ("auth", "fail_delay_ms = -5", "fail_delay_ms"),
    ("auth", "apop = perhaps", "apop"),
    ("server", "idle_timeout = 5x", "idle_timeout"),
    ("server", "dovecot_uidlist = maybe", "dovecot_uidlist"),
    # pop3_uidl_format: pop3d cannot compute the header MD5, knows no %q,
    # and a format without a variable would give every message one UIDL.
    ("server", "pop3_uidl_format = %08Xu%m", "pop3_uidl_format"),
    ("server", "pop3_uidl_format = %v.%q", "pop3_uidl_format"),
    ("server", "pop3_uidl_format = fixed", "pop3_uidl_format"),
    ("server", "pop3_uidl_format = %Hu", "pop3_uidl_format"),
]


@pytest.mark.parametrize("sect,text,key", BAD, ids=[b[1] for b in BAD])
def test_bad_value(env, base, sect, text, key):
    path, where = with_lines(base, [(sect, text)])
    rc, err = check(env, path)
    assert rc == 1, "exit %d for %r; stderr:\n%s" % (rc, text, err)
    assert_error(err, path, where[text], key)


def test_all_errors_reported(env, base):
    ins = [("server", "bogus_key = 1"), ("auth", "allow_plaintext_auth = maybe"),
           ("server", "shutdown_timeout = soon")]
    path, where = with_lines(base, ins)
    rc, err = check(env, path)
    assert rc == 1, err
    assert_error(err, path, where["bogus_key = 1"], "bogus_key")
    assert_error(err, path, where["allow_plaintext_auth = maybe"], "allow_plaintext_auth")
    assert_error(err, path, where["shutdown_timeout = soon"], "shutdown_timeout")


def test_duplicate_key(env, base):
    path, where = with_lines(base, [("server", "mail_root = /elsewhere")])
    rc, err = check(env, path)
    assert rc == 1, err
    # the second occurrence is the one from the generated config
    assert "mail_root" in err, err


def test_unknown_section(env, base):
    lines = base.config_text() + "\n[nosuchsection]\nfoo = bar\n"
    path = os.path.join(base.base, "sect.conf")
    with open(path, "w") as f:
        f.write(lines)
    rc, err = check(env, path)
    assert rc == 1, err
    assert path in err and "nosuchsection" in err, err


def test_missing_config_file(env, base):
    path = os.path.join(base.base, "does-not-exist.conf")
    rc, err = check(env, path)
    assert rc == 1, err
    assert path in err, err


def test_missing_required_keys(env, base):
    path = os.path.join(base.base, "empty.conf")
    with open(path, "w") as f:
        f.write("[server]\nworkers = 1\n")
    rc, err = check(env, path)
    assert rc == 1, err
    for key in ("cert", "key", "passwd_file", "listen"):
        assert key in err, "%s not mentioned:\n%s" % (key, err)


def test_bad_listen_address(env, base):
    path, where = with_lines(base, [("server", "listen = 127.0.0.1")])
    rc, err = check(env, path)
    assert rc == 1, err
    assert "listen" in err and "127.0.0.1" in err, err


def test_bad_listen_addresses_each_named(env, base):
    path, _ = with_lines(base, [("server", "listen = 127.0.0.1"),
                                ("server", "listen_tls = [::1]995")])
    rc, err = check(env, path)
    assert rc == 1, err
    assert '%s: listen: bad address "127.0.0.1"' % path in err, err
    assert '%s: listen_tls: bad address "[::1]995"' % path in err, err


def test_proxy_settings(env, base):
    # Good: blocks of both families, several on a line and repeated.
    path, _ = with_lines(base, [
        ("server", "listen_proxy = 127.0.0.1:0"),
        ("server", "listen_tls_proxy = [::1]:0"),
        ("server", "proxy_trusted = 10.0.0.0/8 2001:db8::/32"),
        ("server", "proxy_trusted = 192.0.2.9")])
    rc, err = check(env, path)
    assert rc == 0, err
    # A bad block is named with its own line, among several.
    bad = "proxy_trusted = 10.0.0.0/8 10.0.0.0/33"
    path, where = with_lines(base, [
        ("server", "listen_proxy = 127.0.0.1:0"),
        ("server", "proxy_trusted = 192.0.2.0/24"), ("server", bad)])
    rc, err = check(env, path)
    assert rc == 1, err
    assert_error(err, path, where[bad], "proxy_trusted")
    assert '"10.0.0.0/33"' in err, err
    # ... also when an earlier line holds the bad block as a substring
    # (here the good line comes first in the file).
    bad, good = "proxy_trusted = 0/8", "proxy_trusted = 10.0.0.0/8"
    path, where = with_lines(base, [
        ("server", "listen_proxy = 127.0.0.1:0"), ("server", bad),
        ("server", good)])
    assert where[good] < where[bad]
    rc, err = check(env, path)
    assert rc == 1, err
    assert_error(err, path, where[bad], "proxy_trusted")
    # A PROXY listener that nobody may use is a mistake, said so.
    path, _ = with_lines(base, [("server", "listen_tls_proxy = 127.0.0.1:0")])
    rc, err = check(env, path)
    assert rc == 1, err
    assert "proxy_trusted: empty" in err, err
    path, _ = with_lines(base, [("server", "listen_proxy = 127.0.0.1")])
    rc, err = check(env, path)
    assert rc == 1, err
    assert 'listen_proxy: bad address "127.0.0.1"' in err, err


@pytest.mark.skipif(not IS_ROOT, reason="the users are checked as root only")
@pytest.mark.parametrize("user,auth_user,want", [
    ("root", AUTH_USER, ["user: sessions must not run as root"]),
    (WORKER_USER, "root",
     ["auth_user: the auth process must not run as root"]),
    ("no-such-user-x", "no-such-user-y",
     ['user: no such user "no-such-user-x"',
      'auth_user: no such user "no-such-user-y"']),
])
def test_run_users_checked(env, base, user, auth_user, want):
    """Both users are checked, each error named by its key."""
    text = base.config_text().replace(
        "\nuser = %s\n" % WORKER_USER, "\nuser = %s\n" % user).replace(
        "\nauth_user = %s\n" % AUTH_USER, "\nauth_user = %s\n" % auth_user)
    path = os.path.join(base.base, "users.conf")
    with open(path, "w") as f:
        f.write(text)
    rc, err = check(env, path)
    assert rc == 1, err
    for w in want:
        assert "%s: %s" % (path, w) in err, err


def test_server_refuses_bad_config(env, base):
    """Without -t a bad config must stop the start, not run on defaults."""
    path, _ = with_lines(base, [("server", "bogus_key = 1")])
    p = subprocess.Popen([env.pop3d, "-c", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        kids = children(p.pid)
        p.kill()
        p.communicate(timeout=10)
        for pid, start in kids:
            if proc_alive(pid, start):
                os.kill(pid, signal.SIGKILL)
        pytest.fail("pop3d started with an unknown key in its config")
    assert p.returncode != 0
    assert "bogus_key" in err.decode("utf-8", "replace")


@pytest.mark.parametrize("conninfo", [
    "postgresql://bob:s3cretpw@[::1/mail",
    "postgresql://bob:s3cr%zzetpw@localhost/mail",
    "postgres://bob:s3cretpw@[::1/mail",
])
def test_pgsql_conninfo_uri_secret_not_echoed(env, base, conninfo):
    """A conninfo URI that does not parse is reported on its line, without
    echoing the password its user part holds (libpq's message quotes the
    string)."""
    path, where = with_pgsql(base, conninfo)
    rc, err = check(env, path)
    assert rc == 1, err
    assert_error(err, path, where["conninfo = " + conninfo], "conninfo")
    assert "s3cr" not in err, err


def with_pgsql(s, conninfo):
    """The good config with backend = pgsql and a [pgsql] section."""
    path, where = with_lines(s, [("auth", "backend = pgsql")])
    with open(path, "a") as f:
        f.write("\n[pgsql]\nconninfo = %s\n" % conninfo)
    with open(path) as f:
        n = len(f.read().splitlines())
    where["conninfo = " + conninfo] = n
    return path, where
