"""Real clients: Python's poplib (STLS and POP3S) and curl."""
import poplib
import shutil
import subprocess

import pytest

from pop3util import crlf, expected_uidl, unique_part

MSGS = [
    b"From: a@example.org\nTo: b@example.org\nSubject: one\n\nfirst body\nline 2\n",
    b"From: c@example.org\r\nSubject: two\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n",
    b"Subject: three\n\n" + b"".join(b"line %d\n" % i for i in range(200)),
]


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="clients", plaintext="no")


def fill(srv):
    u = srv.new_user()
    names = [srv.deliver(u, m) for m in MSGS]
    return u, names


def lines_of(msg):
    return crlf(msg)[:-2].split(b"\r\n")


def exercise(srv, p, u, names):
    p.user(u.name)
    p.pass_(u.password)
    n, total = p.stat()
    assert n == 3 and total == sum(len(crlf(m)) for m in MSGS)
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK")
    assert listing == [b"%d %d" % (i + 1, len(crlf(m))) for i, m in enumerate(MSGS)]
    assert p.list(2).startswith(b"+OK 2 %d" % len(crlf(MSGS[1])))
    resp, uidls, _ = p.uidl()
    assert uidls == [("%d %s" % (i + 1, expected_uidl(nm))).encode()
                     for i, nm in enumerate(names)]
    assert p.uidl(3) == ("+OK 3 %s" % expected_uidl(names[2])).encode()
    for i, m in enumerate(MSGS):
        resp, lines, octets = p.retr(i + 1)
        assert resp.startswith(b"+OK")
        assert lines == lines_of(m), "RETR %d differs" % (i + 1)
    resp, lines, _ = p.top(1, 0)
    assert lines == [b"From: a@example.org", b"To: b@example.org", b"Subject: one", b""]
    resp, lines, _ = p.top(3, 2)
    assert lines == [b"Subject: three", b"", b"line 0", b"line 1"]
    assert p.noop().startswith(b"+OK")
    assert p.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    assert p.stat()[0] == 2
    assert p.rset().startswith(b"+OK")
    assert p.stat()[0] == 3
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    assert srv.uniques(u) == sorted([unique_part(names[0]), unique_part(names[2])])


def test_poplib_stls(srv, env):
    u, names = fill(srv)
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    try:
        assert p.getwelcome().startswith(b"+OK")
        caps = p.capa()
        assert "STLS" in caps and "USER" not in caps
        p.stls(context=env.ctx)
        caps = p.capa()
        assert "USER" in caps and "STLS" not in caps
        exercise(srv, p, u, names)
    finally:
        p.close()


def test_poplib_pop3s(srv, env):
    u, names = fill(srv)
    p = poplib.POP3_SSL("127.0.0.1", srv.tls_port, context=env.ctx, timeout=10)
    try:
        assert p.getwelcome().startswith(b"+OK")
        assert "USER" in p.capa()
        exercise(srv, p, u, names)
    finally:
        p.close()


def test_poplib_utf8_and_binary_body(srv, env):
    u = srv.new_user()
    body = "Subject: =?utf-8?q?caf=C3=A9?=\n\ncafé 日本語\n".encode() + bytes(range(0x80, 0x100)) + b"\n"
    srv.deliver(u, body)
    p = poplib.POP3_SSL("127.0.0.1", srv.tls_port, context=env.ctx, timeout=10)
    try:
        p.user(u.name)
        p.pass_(u.password)
        assert p.retr(1)[1] == lines_of(body)
        p.quit()
    finally:
        p.close()


# ------------------------------------------------------------------ curl

def curl(env, url, u, *extra):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "--cacert", env.cert,
                        "-u", "%s:%s" % (u.name, u.password)] + list(extra) + [url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, "curl %s: rc=%d %s" % (url, r.returncode, r.stderr.decode())
    return r.stdout


def test_curl_pop3s_retr(srv, env):
    u, _ = fill(srv)
    for i, m in enumerate(MSGS):
        out = curl(env, "pop3s://127.0.0.1:%d/%d" % (srv.tls_port, i + 1), u)
        assert out == crlf(m), "curl RETR %d differs" % (i + 1)


def test_curl_pop3s_list(srv, env):
    u, _ = fill(srv)
    out = curl(env, "pop3s://127.0.0.1:%d/" % srv.tls_port, u)
    assert out.split(b"\r\n")[:-1] == [b"%d %d" % (i + 1, len(crlf(m)))
                                       for i, m in enumerate(MSGS)], out


def test_curl_stls_retr(srv, env):
    u, _ = fill(srv)
    out = curl(env, "pop3://127.0.0.1:%d/2" % srv.port, u, "--ssl-reqd")
    assert out == crlf(MSGS[1])


def test_curl_plain_refused_without_tls(srv, env):
    """Without --ssl-reqd curl may try plaintext: the server must refuse it."""
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    u, _ = fill(srv)
    r = subprocess.run(["curl", "-s", "--max-time", "20", "-u",
                        "%s:%s" % (u.name, u.password),
                        "pop3://127.0.0.1:%d/1" % srv.port],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode != 0 and r.stdout == b"", (r.returncode, r.stdout[:200])


def test_tls_session_resumption_across_workers(srv, env):
    """A TLS session is resumed (tickets shared by every worker process)."""
    import socket

    def connect(session=None):
        raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
        s = env.ctx.wrap_socket(raw, server_hostname="localhost",
                                session=session)
        f = s.makefile("rb")
        assert f.readline().startswith(b"+OK")
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"+OK")
        return s

    first = connect()
    sess = first.session
    assert not first.session_reused
    first.close()
    # Several tries: with 2 workers, at least one lands on the other one.
    reused = []
    for _ in range(4):
        s = connect(sess)
        reused.append(s.session_reused)
        s.close()
    assert all(reused), reused


def test_tls_quit_ends_with_close_notify(srv, env):
    """After QUIT over TLS the server sends close_notify: a clean end, which
    a client can tell from a connection cut by an attacker."""
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=env.cert)
    # Python sets this by default, which would hide a missing close_notify.
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost",
                        suppress_ragged_eofs=False)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
    try:
        # close_notify reads as a clean EOF; a bare TCP close raises.
        assert s.recv(1) == b""
    except ssl.SSLEOFError as e:
        raise AssertionError("no close_notify after QUIT: %r" % e)
    finally:
        s.close()


# ------------------------------------------------------------------ long names

# E-mail style logins: every name the passwd-file takes (1 to 64 octets of
# A-Z a-z 0-9 . _ @ + -) logs in with USER as with AUTH PLAIN and APOP.
NAME_41 = "jean-baptiste.poquelin@moliere-theatre.fr"
NAME_64 = "marie-anne.de-la-tour-d-auvergne+mail@bibliotheque-nationale.org"
assert (len(NAME_41), len(NAME_64)) == (41, 64)
LONG_SECRET = "Long-name-secret-1"


@pytest.fixture(scope="module")
def long_srv(module_servers):
    def setup(s):
        for n in (NAME_41, NAME_64):
            s.add_user(n, hashfield="{PLAIN}" + LONG_SECRET)
    return module_servers(name="long-names", plaintext="no", apop=True,
                          setup=setup)


@pytest.mark.parametrize("name", [NAME_41, NAME_64], ids=["41", "64"])
def test_poplib_user_long_email_login(long_srv, env, name):
    long_srv.deliver(name, MSGS[0])
    p = poplib.POP3_SSL("127.0.0.1", long_srv.tls_port, context=env.ctx,
                        timeout=10)
    try:
        assert p.user(name).startswith(b"+OK")
        assert p.pass_(LONG_SECRET).startswith(b"+OK")
        assert p.stat()[0] >= 1
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()


@pytest.mark.parametrize("name", [NAME_41, NAME_64], ids=["41", "64"])
def test_poplib_apop_long_email_login(long_srv, name):
    p = poplib.POP3("127.0.0.1", long_srv.port, timeout=10)
    try:
        assert p.apop(name, LONG_SECRET).startswith(b"+OK")
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()


def test_user_name_over_the_passwd_limit(long_srv):
    """65 octets: no account can have it; the answer names the limit."""
    with long_srv.connect(tls=True) as c:
        r = c.err("USER " + NAME_64 + "x")
        assert "64" in r, r
        c.ok("USER " + NAME_64)
        c.ok("PASS " + LONG_SECRET)
        c.ok("QUIT")
