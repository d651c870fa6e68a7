"""Greeting, startup log lines and CAPA (RFC 2449) in every state."""
import re

import pytest

from pop3util import has_cap, has_sasl_plain

ALWAYS = ["TOP", "UIDL", "PIPELINING", "RESP-CODES"]


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="capa", plaintext="no")


def check_common(caps, login_delay=0):
    for c in ALWAYS:
        assert has_cap(caps, c), "CAPA lacks %s: %r" % (c, caps)
    assert "EXPIRE NEVER" in [c.upper() for c in caps], caps
    assert "LOGIN-DELAY %d" % login_delay in [c.upper() for c in caps], caps
    impl = [c for c in caps if c.upper().startswith("IMPLEMENTATION ")]
    assert len(impl) == 1, caps


def test_listen_and_ready_logged(srv):
    kinds = sorted(k for _, _, k in srv.listeners)
    assert kinds == ["implicit", "starttls"]
    assert all(h == "127.0.0.1" and p > 0 for h, p, _ in srv.listeners)
    assert srv.ready, "no 'ready' line after the listen lines:\n" + srv.log_tail()
    # log format: "pop3d[PID]: ROLE: message"
    l = srv.wait_log(r"listen addr=")
    assert re.match(r"^pop3d\[\d+\]: \w+: ", l), l


def test_greeting_plain(srv):
    with srv.connect() as c:
        assert c.greeting.startswith("+OK")


def test_greeting_implicit_tls(srv):
    with srv.connect(tls=True) as c:
        assert c.greeting.startswith("+OK")
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_capa_plain_before_stls(srv):
    with srv.connect() as c:
        caps = c.capa()
        check_common(caps)
        assert has_cap(caps, "AUTH-RESP-CODE"), caps
        assert has_cap(caps, "STLS"), caps
        assert not has_cap(caps, "USER"), "USER offered without TLS: %r" % caps
        assert not has_sasl_plain(caps), "SASL PLAIN offered without TLS: %r" % caps


def test_capa_after_stls(srv):
    with srv.connect() as c:
        c.starttls()
        caps = c.capa()
        check_common(caps)
        assert has_cap(caps, "AUTH-RESP-CODE"), caps
        assert not has_cap(caps, "STLS"), caps
        assert has_cap(caps, "USER"), caps
        assert has_sasl_plain(caps), caps


def test_capa_implicit_tls(srv):
    with srv.connect(tls=True) as c:
        caps = c.capa()
        check_common(caps)
        assert not has_cap(caps, "STLS"), caps
        assert has_cap(caps, "USER"), caps
        assert has_sasl_plain(caps), caps


def test_capa_in_transaction(srv):
    u = srv.new_user()
    with srv.session(u) as c:
        caps = c.capa()
        for cap in ALWAYS:
            assert has_cap(caps, cap), caps
        assert has_cap(caps, "IMPLEMENTATION"), caps
        assert not has_cap(caps, "STLS"), caps
        assert not has_cap(caps, "USER"), caps
        assert not has_cap(caps, "SASL"), caps
        c.ok("QUIT")


@pytest.mark.parametrize("policy", ["loopback", "yes"])
def test_capa_plaintext_allowed(make_server, policy):
    s = make_server(name="capa-" + policy, plaintext=policy)
    with s.connect() as c:
        caps = c.capa()
        check_common(caps)
        assert has_cap(caps, "STLS"), caps
        assert has_cap(caps, "USER"), caps
        assert has_sasl_plain(caps), caps


def test_capa_login_delay_configured(make_server):
    s = make_server(name="capa-delay", login_delay=7, listen_tls=())
    with s.connect() as c:
        caps = c.capa()
        check_common(caps, login_delay=7)
