"""
pop3fetch against our pop3d over implicit TLS and STLS: Maildir and mbox
byte-identical to the source, state, keep and delete modes, DELE only
after delivery, delete_after_days, --check, certificate checks.
"""
import os

import pytest

from fetchutil import Fetcher, msg_bytes


@pytest.fixture
def fx(env):
    f = Fetcher(env)
    yield f
    f.cleanup()


def setup_server(make_server, n=3, size=0):
    s = make_server()
    u = s.new_user()
    msgs = [msg_bytes(i, size) for i in range(1, n + 1)]
    for m in msgs:
        s.deliver(u, m)
    return s, u, msgs


def account(fx, env, s, u, **kw):
    fx.set_password(u.password)
    keys = dict(host="localhost", port=s.tls_port, user=u.name,
                tls_ca_file=env.cert)
    keys.update(kw)
    return fx.account(**keys)


def test_maildir_implicit_tls_keep(env, make_server, fx):
    s, u, msgs = setup_server(make_server)
    fx.write(account(fx, env, s, u))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"acct: 3 fetched, 0 deleted, 1 kB\n" and \
        r.stderr == b"", (r.stdout, r.stderr)
    assert sorted(fx.maildir_msgs()) == sorted(msgs)
    assert fx.maildir_tmp() == []
    # keep = yes (the default): all still on the server, all done.
    assert len(s.names(u)) == 3
    rows = fx.rows()
    assert len(rows) == 3 and all(st == 2 for st, _ in rows.values())
    # A second run fetches nothing new.
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert len(fx.maildir_msgs()) == 3
    # A new message is fetched, only it.
    m4 = msg_bytes(4)
    s.deliver(u, m4)
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert sorted(fx.maildir_msgs()) == sorted(msgs + [m4])


def test_maildir_starttls_delete(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=4)
    fx.write(account(fx, env, s, u, port=s.port, tls="starttls", keep="no"))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert sorted(fx.maildir_msgs()) == sorted(msgs)
    assert s.names(u) == []
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert len(fx.maildir_msgs()) == 4


def test_mbox_byte_identical(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=3, size=3000)
    fx.write(account(fx, env, s, u, destination="mbox:" + fx.mbox,
                     keep="no"))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert fx.mbox_msgs() == msgs
    with open(fx.mbox, "rb") as f:
        data = f.read()
    # mboxrd: a body line "From ..." is escaped in the file.
    assert b"\n>From the start of a line\n" in data
    assert not os.path.exists(fx.mbox + ".lock")
    assert s.names(u) == []


def test_mda_receives_each_message(env, make_server, fx):
    s, u, msgs = setup_server(make_server)
    out = os.path.join(fx.base, "mda-out")
    os.mkdir(out)
    cmd = 'cat > %s/$POP3FETCH_KEY' % out
    fx.write(account(fx, env, s, u, destination="mda:" + cmd, keep="no"))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    got = []
    for n in os.listdir(out):
        assert len(n) == 32
        with open(os.path.join(out, n), "rb") as f:
            got.append(f.read())
    assert sorted(got) == sorted(msgs)
    assert s.names(u) == []


def test_check_counts_without_fetching(env, make_server, fx):
    s, u, msgs = setup_server(make_server)
    fx.write(account(fx, env, s, u))
    r = fx.run("--check")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("acct: 3 new messages ("), r.stdout
    assert fx.maildir_msgs() == []
    assert fx.run().returncode == 0
    r = fx.run("--check")
    assert r.stdout.decode().startswith("acct: 0 new messages"), r.stdout


def test_delete_after_days(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=2)
    fx.write(account(fx, env, s, u, delete_after_days=3))
    assert fx.run().returncode == 0
    assert len(s.names(u)) == 2
    fx.age(2)                       # fetched two days ago: kept
    s.deliver(u, msg_bytes(3))
    assert fx.run().returncode == 0
    assert len(s.names(u)) == 3
    fx.age(1.01)                    # now the first two are 3 days old
    r = fx.run()
    assert r.returncode == 0, r.stderr
    left = s.names(u)
    assert len(left) == 1
    with open(os.path.join(s.maildir(u), "new", left[0]), "rb") as f:
        assert f.read() == msg_bytes(3)
    assert len(fx.maildir_msgs()) == 3


def test_untrusted_certificate_refused(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=1)
    fx.write(account(fx, env, s, u, tls_ca_file=None))
    r = fx.run()
    assert r.returncode == 77, (r.returncode, r.stderr)     # EX_NOPERM
    assert b"certificate verification failed" in r.stderr, r.stderr
    assert fx.maildir_msgs() == []


def test_host_name_mismatch_refused(fx):
    """A certificate the CA file trusts, but for another name."""
    import ssl
    import subprocess
    from fetchutil import FakeServer
    cert, key = os.path.join(fx.base, "o.pem"), os.path.join(fx.base, "o.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=other.example", "-addext",
                    "subjectAltName=DNS:other.example", "-keyout", key,
                    "-out", cert], check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = FakeServer([(None, "+OK hello")], tls_ctx=ctx)
    fx.set_password("pw")
    fx.write(fx.account(host="127.0.0.1", port=srv.port, tls_ca_file=cert))
    r = fx.run()
    srv.join()
    assert r.returncode == 77, (r.returncode, r.stderr)
    assert b"certificate verification failed" in r.stderr, r.stderr
    assert srv.transcript == []


def fingerprint(cert):
    import hashlib
    import ssl
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def test_fingerprint_pin(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=2)
    fp = fingerprint(env.cert)
    pretty = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
    fx.write(account(fx, env, s, u, tls_ca_file=None, tls_fingerprint=pretty))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert sorted(fx.maildir_msgs()) == sorted(msgs)
    wrong = ("0" if fp[0] != "0" else "1") + fp[1:]
    fx.write(account(fx, env, s, u, tls_ca_file=None, tls_fingerprint=wrong))
    r = fx.run()
    assert r.returncode == 77, r.stderr
    assert b"does not match tls_fingerprint" in r.stderr


def test_wrong_password(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=1)
    fx.write(account(fx, env, s, u))
    fx.set_password("not-the-password")
    r = fx.run()
    assert r.returncode == 77, r.stderr
    assert b"refused" in r.stderr
    assert b"not-the-password" not in r.stderr
    assert fx.maildir_msgs() == []


def test_verbose_hides_secret(env, make_server, fx):
    s, u, msgs = setup_server(make_server, n=1)
    fx.write(account(fx, env, s, u))
    r = fx.run("--verbose")
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "C: CAPA" in err and "C: RETR 1" in err and "C: QUIT" in err
    assert u.password not in err
    assert "********" in err


def test_host_with_port(env, make_server, fx):
    """host = HOST:PORT stands for host and port; a bad or doubled port
    is a config error naming the key."""
    s, u, msgs = setup_server(make_server)
    fx.write(account(fx, env, s, u, host="localhost:%d" % s.tls_port,
                     port=None))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert sorted(fx.maildir_msgs()) == sorted(msgs)
    for host, port, msg in (("localhost:99999", None, b"port after ':'"),
                            ("localhost:", None, b"port after ':'"),
                            ("localhost:995", 995, b"both here and"),
                            ("[::1", None, b"[ADDRESS]")):
        fx.write(account(fx, env, s, u, host=host, port=port))
        r = fx.run()
        assert r.returncode == 78, (host, r.stderr)     # EX_CONFIG
        assert b"host: " in r.stderr and msg in r.stderr, r.stderr


def test_summary_line_and_quiet(env, make_server, fx):
    """One line per account on stdout saying what the run did (as mpop
    and fetchmail do), also when there was nothing; -q prints nothing;
    an error stays one line on stderr, also with -q."""
    s, u, msgs = setup_server(make_server, n=3, size=4000)
    fx.write(account(fx, env, s, u, keep="no"))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    size = sum(len(m) for m in msgs)
    assert r.stdout.decode() == "acct: 3 fetched, 3 deleted, %d kB\n" % (
        (size + 999) // 1000), r.stdout
    assert r.stderr == b""
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"acct: 0 fetched, 0 deleted, 0 kB\n", r.stdout
    for m in (msg_bytes(7, 2500), msg_bytes(8, 2500)):
        s.deliver(u, m)
    for q in ("-q", "--quiet"):
        r = fx.run(q)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"" and r.stderr == b"", (r.stdout, r.stderr)
    assert len(fx.maildir_msgs()) == 5 and s.names(u) == []
    # Two accounts: one line each, in config order; the failing one says
    # why on stderr in one line, and -q keeps that line.
    s.deliver(u, msg_bytes(9, 100))
    fx.write(account(fx, env, s, u, keep="no"),
             fx.account(name="broken", host="127.0.0.1", port=1,
                        user="x", tls="off"))
    r = fx.run()
    assert r.returncode == 75, r.stderr
    assert r.stdout.decode().splitlines() == ["acct: 1 fetched, 1 deleted, "
                                              "1 kB"], r.stdout
    err = [l for l in r.stderr.decode().splitlines() if "tls = off" not in l]
    assert len(err) == 1 and err[0].startswith("pop3fetch: broken: "), err
    r = fx.run("-q")
    assert r.returncode == 75 and r.stdout == b""
    err = [l for l in r.stderr.decode().splitlines() if "tls = off" not in l]
    assert len(err) == 1 and err[0].startswith("pop3fetch: broken: "), err
