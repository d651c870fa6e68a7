"""Authentication: plaintext policy, USER/PASS, AUTH PLAIN (RFC 5034),
APOP, hash schemes, locked users, [IN-USE], LOGIN-DELAY, brute force."""
import hashlib
import os
import re
import shutil
import signal
import time

import pytest

from pop3util import Conn, plain_b64, wait_until

FAIL_DELAY_MS = 50


@pytest.fixture(scope="module")
def srv(module_servers, env):
    h = env.hasher

    def setup(s):
        s.add_user("ycrypt", hashfield=h.hash("Yes-crypt-pw"))
        s.add_user("sha512a",
                   hashfield="{SHA512-CRYPT}" + h.hash("Sha-512-pw", "sha512"))
        s.add_user("sha512b", hashfield=h.hash("Sha-512-pw", "sha512"))
        s.add_user("bcrypt1", hashfield=h.hash("Bcrypt-pw", "bcrypt"))
        s.add_user("locked1", hashfield="!" + h.hash("Locked-pw"))
        s.add_user("locked2",
                   hashfield="!{SHA512-CRYPT}" + h.hash("Locked-pw", "sha512"))
    return module_servers(name="auth", plaintext="no", fail_delay_ms=FAIL_DELAY_MS,
                          fail_delay_max_ms=200, ban_threshold=0, setup=setup)


def tls_conn(s):
    c = s.connect(tls=True)
    assert c.greeting.startswith("+OK"), c.greeting
    return c


# ------------------------------------------------------- plaintext policy

def test_user_pass_refused_without_tls(srv):
    u = srv.new_user()
    with srv.connect() as c:
        r = c.cmd("USER " + u.name)
        if r.startswith("+OK"):
            r = c.cmd("PASS " + u.password)
        assert r.startswith("-ERR [AUTH]"), r
        assert "STLS" in r.upper(), "refusal should point to STLS: %r" % r
        c.err("STAT")
    # and after STLS on the same port it works
    with srv.connect() as c:
        c.starttls()
        c.login(u.name, u.password)
        c.stat()
        c.ok("QUIT")


def test_auth_plain_refused_without_tls(srv):
    u = srv.new_user()
    with srv.connect() as c:
        r = c.cmd("AUTH PLAIN " + plain_b64("", u.name, u.password))
        assert r.startswith("-ERR"), r
        assert "[AUTH]" in r, r
        c.err("STAT")
    with srv.connect() as c:
        r = c.cmd("AUTH PLAIN")
        if r.startswith("+") and not r.startswith("+OK"):
            r = c.cmd(plain_b64("", u.name, u.password))
        assert r.startswith("-ERR"), r
        c.err("STAT")


@pytest.mark.parametrize("policy", ["loopback", "yes"])
def test_plaintext_allowed_by_policy(make_server, policy):
    s = make_server(name="auth-" + policy, plaintext=policy, listen_tls=())
    u1, u2 = s.new_user(), s.new_user()
    with s.connect() as c:
        c.login(u1.name, u1.password)
        c.stat()
        c.ok("QUIT")
    with s.connect() as c:
        r = c.cmd("AUTH PLAIN " + plain_b64("", u2.name, u2.password))
        assert r.startswith("+OK"), r
        c.stat()
        c.ok("QUIT")


# ------------------------------------------------------- USER/PASS

def test_wrong_password_and_unknown_user_same_answer(srv):
    u = srv.new_user()
    mark = srv.mark()
    with tls_conn(srv) as c:
        r1 = c.cmd("USER " + u.name)
        t0 = time.monotonic()
        a1 = c.cmd("PASS wrong-" + u.password)
        dt = time.monotonic() - t0
        c.err("STAT")
    with tls_conn(srv) as c:
        r2 = c.cmd("USER nosuchuser")
        a2 = c.cmd("PASS whatever-pw")
        c.err("STAT")
    assert r1.startswith("+OK") and r2.startswith("+OK"), \
        "USER must not tell known from unknown users: %r / %r" % (r1, r2)
    assert a1.startswith("-ERR [AUTH]"), a1
    assert a1 == a2, "different answers: %r vs %r" % (a1, a2)
    assert dt >= FAIL_DELAY_MS / 1000.0 * 0.9, \
        "failed login answered after %.3fs < fail_delay_ms" % dt
    for name in (u.name, "nosuchuser"):
        l = srv.wait_log(r"auth failed.*\buser=%s\b|\buser=%s\b.*auth failed"
                         % (name, name), start=mark)
        assert "rip=127.0.0.1" in l, l
    # the failures did not break the user
    with tls_conn(srv) as c:
        c.login(u.name, u.password)
        c.ok("QUIT")


def wrong_pw_answer(srv):
    u = srv.new_user()
    with tls_conn(srv) as c:
        c.ok("USER " + u.name)
        return c.cmd("PASS not-the-password")


@pytest.mark.parametrize("user", ["locked1", "locked2"])
def test_locked_user(srv, user):
    ref = wrong_pw_answer(srv)
    with tls_conn(srv) as c:
        r = c.try_login(user, "Locked-pw")
        assert r == ref, "locked user answer %r, wrong password answer %r" % (r, ref)
        c.err("STAT")


@pytest.mark.parametrize("user,pw", [
    ("ycrypt", "Yes-crypt-pw"),
    ("sha512a", "Sha-512-pw"),
    ("sha512b", "Sha-512-pw"),
    ("bcrypt1", "Bcrypt-pw"),
])
def test_hash_schemes(srv, user, pw):
    with tls_conn(srv) as c:
        c.login(user, pw)
        c.stat()
        c.ok("QUIT")
    with tls_conn(srv) as c:
        assert c.try_login(user, pw + "x").startswith("-ERR")


@pytest.mark.parametrize("name", ["../p01", "p01/../p01", "./p01", "p01/", "/p01"])
def test_user_name_path_tricks(srv, name):
    with tls_conn(srv) as c:
        r = c.try_login(name, "Pool-pass-1")
        assert r.startswith("-ERR"), "%r logged in: %r" % (name, r)
        c.err("STAT")


# ------------------------------------------------------- AUTH PLAIN

def test_auth_plain_initial_response(srv):
    u = srv.new_user()
    with tls_conn(srv) as c:
        c.ok("AUTH PLAIN " + plain_b64("", u.name, u.password))
        c.stat()
        c.ok("QUIT")


def test_auth_plain_continuation(srv):
    u = srv.new_user()
    with tls_conn(srv) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.startswith("+") and not r.startswith("+OK"), r
        c.ok(plain_b64("", u.name, u.password))
        c.stat()
        c.ok("QUIT")


def test_auth_plain_authzid_same_as_authcid(srv):
    u = srv.new_user()
    with tls_conn(srv) as c:
        c.ok("AUTH PLAIN " + plain_b64(u.name, u.name, u.password))
        c.stat()


def test_auth_plain_authzid_differs(srv):
    u, other = srv.new_user(), srv.new_user()
    with tls_conn(srv) as c:
        r = c.cmd("AUTH PLAIN " + plain_b64(other.name, u.name, u.password))
        assert r.startswith("-ERR"), r
        c.err("STAT")
    # other's maildrop was not opened (no lock held): other can log in
    with tls_conn(srv) as c:
        c.login(other.name, other.password)


def test_auth_plain_cancel(srv):
    u = srv.new_user()
    with tls_conn(srv) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.startswith("+") and not r.startswith("+OK"), r
        c.err("*")
        c.err("STAT")
        # still in AUTHORIZATION: a login works on the same connection
        c.login(u.name, u.password)
        c.stat()


@pytest.mark.parametrize("data", ["!!!not-base64!!!", "AGZvbwBiYXI", "Zm9v",
                                  "AA==", "AAAA", "=" * 8])
def test_auth_plain_malformed(srv, data):
    with tls_conn(srv) as c:
        c.err("AUTH PLAIN " + data)
        c.err("STAT")
    with tls_conn(srv) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.startswith("+") and not r.startswith("+OK"), r
        c.err(data)
        c.err("STAT")
        caps = c.capa()   # the session goes on
        assert caps


def test_auth_unknown_mechanism(srv):
    with tls_conn(srv) as c:
        c.err("AUTH FOOBAR")
        c.err("STAT")
        assert c.capa()


# ------------------------------------------------------- [IN-USE]

def test_in_use(srv):
    u = srv.new_user()
    srv.deliver(u, b"Subject: a\n\nbody\n")
    first = srv.session(u)
    try:
        first.stat()
        with tls_conn(srv) as c:
            c.ok("USER " + u.name)
            r = c.cmd("PASS " + u.password)
            assert r.startswith("-ERR [IN-USE]"), r
            c.err("STAT")
        with tls_conn(srv) as c:
            r = c.cmd("AUTH PLAIN " + plain_b64("", u.name, u.password))
            assert r.startswith("-ERR [IN-USE]"), r
        first.stat()   # the first session is unharmed
        first.ok("QUIT")
        assert first.wait_eof(5), "no close after QUIT"
    finally:
        first.close()
    with tls_conn(srv) as c:
        c.login(u.name, u.password)
        assert c.stat()[0] == 1
        c.ok("QUIT")


def test_in_use_is_not_a_failed_login(srv):
    """[IN-USE] must not count as an authentication failure in the log."""
    u = srv.new_user()
    first = srv.session(u)
    mark = srv.mark()
    try:
        with tls_conn(srv) as c:
            r = c.try_login(u.name, u.password)
            assert r.startswith("-ERR [IN-USE]"), r
        time.sleep(0.3)
        assert srv.wait_log(r"auth failed.*\buser=%s\b" % u.name, start=mark,
                            timeout=0.5, must=False) is None
    finally:
        first.close()


# ------------------------------------------------------- APOP

@pytest.fixture(scope="module")
def apop_srv(module_servers):
    def setup(s):
        s.add_user("apopuser", hashfield="{PLAIN}apop-secret-1")
        s.add_user("apopuser2", hashfield="{PLAIN}apop-secret-2")
    return module_servers(name="apop", plaintext="no", apop=True,
                          fail_delay_ms=FAIL_DELAY_MS, fail_delay_max_ms=200,
                          setup=setup)


def apop_digest(greeting, secret):
    m = re.search(r"<[^<>\s]+@[^<>\s]+>", greeting)
    assert m, "no <...@...> timestamp in the greeting %r" % greeting
    return hashlib.md5((m.group(0) + secret).encode()).hexdigest()


def test_apop_login_on_plain_connection(apop_srv):
    with apop_srv.connect() as c:
        c.ok("APOP apopuser " + apop_digest(c.greeting, "apop-secret-1"))
        c.stat()
        c.ok("QUIT")


def test_apop_greeting_timestamps_differ(apop_srv):
    with apop_srv.connect() as a, apop_srv.connect() as b:
        ta = re.search(r"<[^<>]+>", a.greeting)
        tb = re.search(r"<[^<>]+>", b.greeting)
        assert ta and tb, (a.greeting, b.greeting)
        assert ta.group(0) != tb.group(0)


def test_apop_wrong_digest(apop_srv):
    with apop_srv.connect() as c:
        r = c.cmd("APOP apopuser2 " + apop_digest(c.greeting, "wrong"))
        assert r.startswith("-ERR"), r
        c.err("STAT")
    with apop_srv.connect() as c:
        # the digest of another connection's timestamp is no good either
        c.err("APOP apopuser2 " + hashlib.md5(b"<1.2@x>apop-secret-2").hexdigest())


def test_apop_hashed_user_refused(apop_srv):
    u = apop_srv.new_user()
    with apop_srv.connect() as c:
        c.err("APOP %s %s" % (u.name, apop_digest(c.greeting, u.password)))
        c.err("STAT")


def test_apop_disabled(srv):
    u = srv.new_user()
    with srv.connect() as c:
        c.err("APOP %s %s" % (u.name, hashlib.md5(b"x").hexdigest()))
        c.err("STAT")


# ------------------------------------------------------- LOGIN-DELAY

def test_login_delay_refuses_quick_relogin(make_server):
    s = make_server(name="login-delay", login_delay=7)
    u = s.new_user()
    with s.session(u) as c:
        c.ok("QUIT")
    with s.connect(tls=True) as c:
        r = c.try_login(u.name, u.password)
        assert r.startswith("-ERR") and "[LOGIN-DELAY]" in r, r


# ------------------------------------------------------- brute force

def test_ban_after_threshold(make_server):
    s = make_server(name="ban", plaintext="loopback", ban_threshold=3, ban_time=60,
                    fail_delay_ms=10, fail_delay_max_ms=50)
    s.probe_source = "127.0.0.9"   # the end-of-test check must not be banned
    u = s.new_user()
    for i in range(3):
        with s.connect() as c:
            r = c.try_login(u.name, "wrong-%d" % i)
            assert r.startswith("-ERR"), r
    # the correct password from the same address now fails
    try:
        c = s.connect()
    except (OSError, EOFError):
        c = None          # refused at connect: banned too
    if c is not None:
        with c:
            if c.greeting.startswith("+OK"):
                try:
                    r = c.try_login(u.name, u.password)
                except (OSError, EOFError):
                    r = "(closed)"
                assert not r.startswith("+OK"), "banned address logged in: %r" % r
                try:
                    r = c.cmd("STAT")
                except (OSError, EOFError):
                    r = "(closed)"
                assert not r.startswith("+OK"), r
    # another address is not banned (the ban is per address)
    c = Conn("127.0.0.1", s.tls_port, tls=True, ctx=s.env.ctx, source="127.0.0.2")
    with c:
        c.login(u.name, u.password)
        c.ok("QUIT")


# ------------------------------------------------------- passwd-file changes

def replace_passwd(s, lines):
    """Replaces the server's passwd-file atomically (new inode, later mtime),
    as an admin's editor or pop3ctl would."""
    tmp = s.passwd_path + ".new"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    if os.geteuid() == 0:
        shutil.chown(tmp, "root", "daemon")
    os.chmod(tmp, 0o640)
    later = time.time() + 2
    os.utime(tmp, (later, later))
    os.rename(tmp, s.passwd_path)


def test_passwd_file_reread_when_changed(make_server, env):
    s = make_server(name="passwd-reload")
    u = s.new_user()
    s.make_maildir("lateuser")
    lines = [l for l in s.passwd_lines if not l.startswith(u.name + ":")]
    lines.append("%s:%s" % (u.name, env.hasher.hash("Changed-pw-1")))
    lines.append("lateuser:%s" % env.hasher.hash("Late-user-pw"))
    replace_passwd(s, lines)

    def late_login():
        with s.connect(tls=True) as c:
            return c.try_login("lateuser", "Late-user-pw").startswith("+OK")
    assert wait_until(late_login, 10, step=0.3), \
        "a user added to passwd_file cannot log in:\n" + s.log_tail()
    with s.connect(tls=True) as c:
        assert c.try_login(u.name, u.password).startswith("-ERR")
    with s.connect(tls=True) as c:
        c.login(u.name, "Changed-pw-1")
        c.ok("QUIT")


def test_credential_cache_forgets_a_changed_password(make_server, env):
    """A cached login (cache_ttl) never outlives a password change or a lock."""
    s = make_server(name="authcache")
    u = s.new_user()
    # Log in twice: the second answer may come from the cache.
    for _ in range(2):
        with s.connect(tls=True) as c:
            c.login(u.name, u.password)
            c.ok("QUIT")

    def rewrite(hashfield):
        lines = [l for l in s.passwd_lines if not l.startswith(u.name + ":")]
        lines.append("%s:%s" % (u.name, hashfield))
        replace_passwd(s, lines)

    mark = s.mark()
    rewrite(env.hasher.hash("Changed-pw-2"))
    s.wait_log(r"passwd_file loaded", start=mark, timeout=10)
    with s.connect(tls=True) as c:
        assert c.try_login(u.name, u.password).startswith("-ERR [AUTH]")
    with s.connect(tls=True) as c:
        c.login(u.name, "Changed-pw-2")
        c.ok("QUIT")
    # Locking the (now cached) new password works at once as well.
    mark = s.mark()
    rewrite("!" + env.hasher.hash("Changed-pw-2"))
    s.wait_log(r"passwd_file loaded", start=mark, timeout=10)
    with s.connect(tls=True) as c:
        assert c.try_login(u.name, "Changed-pw-2").startswith("-ERR [AUTH]")


def test_credential_cache_outlives_other_users_edits(make_server, env):
    """A cached pair is bound to the hash it was verified against, not to
    one load of the passwd-file: another user's change (a reload) keeps
    it (cached=yes in the auth line), the user's own change drops it."""
    s = make_server(name="authcache2")
    u, v = s.new_user(), s.new_user()

    def login(name, password):
        m = s.mark()
        with s.connect(tls=True) as c:
            c.login(name, password)
            c.ok("QUIT")
        line = s.wait_log(r"auth ok user=%s " % re.escape(name), start=m)
        return line.endswith(" cached=yes")

    assert not login(u.name, u.password)
    assert login(u.name, u.password)
    mark = s.mark()
    lines = [l for l in s.passwd_lines if not l.startswith(v.name + ":")]
    replace_passwd(s, lines + ["%s:%s" % (v.name,
                                          env.hasher.hash("Other-pw-77"))])
    s.wait_log(r"passwd_file loaded", start=mark, timeout=10)
    assert login(u.name, u.password), s.log_tail()
    assert not login(v.name, "Other-pw-77")
    mark = s.mark()
    lines = [l for l in s.passwd_lines if not l.startswith(u.name + ":")
             and not l.startswith(v.name + ":")]
    replace_passwd(s, lines + ["%s:%s" % (u.name,
                                          env.hasher.hash("Mine-pw-88"))])
    s.wait_log(r"passwd_file loaded", start=mark, timeout=10)
    with s.connect(tls=True) as c:
        assert c.try_login(u.name, u.password).startswith("-ERR [AUTH]")
    assert not login(u.name, "Mine-pw-88")


def test_shorter_cache_ttl_on_reload_starts_afresh(make_server):
    """Entries keep the expiry they were stored with: a reload that
    shortens cache_ttl empties the cache rather than letting them live
    on under the old, longer one."""
    s = make_server(name="authcache-ttl")
    s.volatile = True
    u = s.new_user()

    def cached():
        m = s.mark()
        with s.connect(tls=True) as c:
            c.login(u.name, u.password)
            c.ok("QUIT")
        line = s.wait_log(r"auth ok user=%s " % re.escape(u.name), start=m)
        return line.endswith(" cached=yes")

    cached()
    assert cached()
    s.set_auth("cache_ttl", "60")
    s.write_files()
    m = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"ready workers=", start=m, timeout=10)
    time.sleep(0.5)
    refresh = [l for l in s.log[m:] if "listen addr=" in l]
    assert not refresh, refresh      # the same listeners
    assert not cached()
    assert cached()
