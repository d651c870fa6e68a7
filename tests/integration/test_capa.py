"""Greeting, startup log lines and CAPA (RFC 2449) in every state."""
import hashlib
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


def auth_caps(caps):
    """The capabilities of the AUTHORIZATION state: USER, SASL, STLS."""
    return sorted(c.upper() for c in caps
                  if c.upper().split()[:1] in (["USER"], ["SASL"], ["STLS"]))


def caps_before_and_after(c, login):
    """CAPA before and after login on one connection (RFC 2449 section 5:
    the capabilities of the AUTHORIZATION state are announced in both)."""
    before = c.capa()
    login(c)
    after = c.capa()
    check_common(before)
    check_common(after)
    return before, after


def test_capa_in_transaction_implicit_tls(srv):
    u = srv.new_user()
    with srv.connect(tls=True) as c:
        before, after = caps_before_and_after(
            c, lambda c: c.login(u.name, u.password))
        assert auth_caps(before) == ["SASL PLAIN", "USER"], before
        assert auth_caps(after) == auth_caps(before), (before, after)
        assert not has_cap(after, "STLS"), after
        c.ok("QUIT")


def test_capa_in_transaction_after_stls(srv):
    u = srv.new_user()
    with srv.connect() as c:
        c.starttls()
        before, after = caps_before_and_after(
            c, lambda c: c.login(u.name, u.password))
        assert auth_caps(before) == ["SASL PLAIN", "USER"], before
        assert auth_caps(after) == auth_caps(before), (before, after)
        c.ok("QUIT")


def test_capa_in_transaction_plaintext_allowed(make_server):
    """A plain connection where passwords may be sent: USER, SASL PLAIN
    and STLS in both states."""
    s = make_server(name="capa-trans-plain", plaintext="loopback")
    u = s.new_user()
    with s.connect() as c:
        before, after = caps_before_and_after(
            c, lambda c: c.login(u.name, u.password))
        assert auth_caps(before) == ["SASL PLAIN", "STLS", "USER"], before
        assert auth_caps(after) == auth_caps(before), (before, after)
        c.ok("QUIT")


def test_capa_in_transaction_apop_on_plain_connection(make_server):
    """Plaintext passwords refused, APOP login on a plain connection: STLS
    in both states, USER and SASL PLAIN in neither."""
    def setup(s):
        s.add_user("apopcapa", hashfield="{PLAIN}apop-capa-1")
    s = make_server(setup, name="capa-trans-apop", plaintext="no", apop=True)

    def apop(c):
        ts = re.search(r"<[^>]*>", c.greeting).group(0)
        c.ok("APOP apopcapa " + hashlib.md5(
            (ts + "apop-capa-1").encode()).hexdigest())

    with s.connect() as c:
        before, after = caps_before_and_after(c, apop)
        assert auth_caps(before) == ["STLS"], before
        assert auth_caps(after) == auth_caps(before), (before, after)
        assert c.stat() == (0, 0)
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
