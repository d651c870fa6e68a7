"""pop3d behind a load balancer: listen_proxy and listen_tls_proxy
listeners take a PROXY protocol header (v1, v2) from a proxy_trusted peer
only, before the greeting and before the TLS handshake, and the client
address it names is the one pop3d logs, limits and bans.  First with
headers written by hand (every refusal), then through a real HAProxy
(Debian's haproxy, run in the foreground by the test) from several
127.0.0.x source addresses, with TLS end to end."""
import signal
import socket
import time

import pytest

from pop3util import Conn, wait_until
from proxyutil import (HAProxy, count_log, greeting_after, needs_haproxy,
                       pport, proxy_server, raw, v2, v2_tcp4, via,
                       V2_SIG)

BUSY_IP = "-ERR [SYS/TEMP] too many connections from your address"


def closed_silently(sock, timeout=10):
    """True if pop3d closes the connection without sending a byte."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def test_v1_and_v2_headers_name_the_client(make_server):
    s = proxy_server(make_server, "proxyhdr")
    m = s.mark()
    with raw(s, "starttls") as c:
        hdr = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n"
        assert greeting_after(c, hdr).startswith(b"+OK")
    assert s.wait_log(r"connect rip=192\.0\.2\.7 tls=no", start=m), \
        s.log_tail()
    with raw(s, "starttls") as c:
        hdr = b"PROXY TCP6 2001:db8::7 ::1 40000 110\r\n"
        assert greeting_after(c, hdr).startswith(b"+OK")
    assert s.wait_log(r"connect rip=2001:db8::7 tls=no", start=m)
    with raw(s, "starttls") as c:
        assert greeting_after(c, v2_tcp4("198.51.100.9", 1234)) \
            .startswith(b"+OK")
    assert s.wait_log(r"connect rip=198\.51\.100\.9 tls=no", start=m)
    # The header and a command in one segment: the command is the
    # client's, answered after the greeting.
    with raw(s, "starttls") as c:
        c.sendall(b"PROXY TCP4 192.0.2.8 127.0.0.1 1 110\r\nNOOP\r\n")
        r = b""
        while r.count(b"\r\n") < 2:
            chunk = c.recv(4096)
            assert chunk, r
            r += chunk
        assert r.startswith(b"+OK") and b"-ERR" in r.split(b"\r\n")[1], r
    # UNKNOWN and LOCAL (health checks): the peer's own address stays.
    m = s.mark()
    with raw(s, "starttls") as c:
        assert greeting_after(c, b"PROXY UNKNOWN\r\n").startswith(b"+OK")
    with raw(s, "starttls") as c:
        assert greeting_after(c, v2(0, 0x00, b"")).startswith(b"+OK")
    assert wait_until(lambda: count_log(s, r"connect rip=127\.0\.0\.1 "
                                        r"tls=no", m) == 2, 5), s.log_tail()


def test_implicit_tls_after_the_header(make_server, env):
    s = proxy_server(make_server, "proxytls")
    m = s.mark()
    sock = raw(s, "implicit")
    sock.sendall(v2_tcp4("203.0.113.5", 5555, dport=995))
    t = env.ctx.wrap_socket(sock, server_hostname="localhost")
    try:
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = t.recv(4096)
            assert chunk
            buf += chunk
        assert buf.startswith(b"+OK"), buf
    finally:
        t.close()
    assert s.wait_log(r"connect rip=203\.0\.113\.5 tls=implicit", start=m)


def test_refusals(make_server):
    s = proxy_server(make_server, "proxyrefuse")
    # An untrusted peer: closed before a byte is read or sent.
    m = s.mark()
    with raw(s, "starttls", source="127.0.0.9") as c:
        c.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n")
        assert closed_silently(c)
    assert s.wait_log(r"connection refused pip=127\.0\.0\.9 "
                      r"reason=proxy_untrusted", start=m)
    assert s.wait_log(r"rip=192\.0\.2\.7", start=m, timeout=0.5,
                      must=False) is None
    # A trusted peer that speaks POP3 instead of a header.
    for bad in (b"CAPA\r\n", b"PROXY TCP4 192.0.2.7 127.0.0.1 x 1\r\n",
                b"PROXY TCP4 192.0.2.7 127.0.0.1 1 1\n",
                b"PROXY " + b"A" * 120 + b"\r\n",
                V2_SIG + b"\x21\x12\x00\x0c" + b"\0" * 12,
                V2_SIG + b"\x21\x11\xff\xff"):
        m = s.mark()
        with raw(s, "starttls") as c:
            c.sendall(bad)
            assert closed_silently(c), bad
        assert s.wait_log(r"connection refused pip=127\.0\.0\.1 "
                          r"reason=proxy_header", start=m), bad
    # A trusted peer that sends nothing, or half a header: timed out.
    for part in (b"", b"PROXY TCP4 1"):
        m = s.mark()
        t0 = time.monotonic()
        with raw(s, "implicit") as c:
            c.sendall(part)
            assert closed_silently(c)
        assert 1.5 < time.monotonic() - t0 < 6
        assert s.wait_log(r"reason=proxy_timeout", start=m)
    # The ordinary listeners take no header: a client is a client.
    with Conn(*s.plain[0]) as c:
        assert c.greeting.startswith("+OK")


def test_per_address_limit_counts_header_addresses(make_server):
    s = proxy_server(make_server, "proxylimit",
                     extra={"server": {"max_connections_per_ip": "2"}})
    conns = []
    try:
        for _ in range(2):
            c = raw(s, "starttls")
            conns.append(c)
            assert greeting_after(
                c, b"PROXY TCP4 192.0.2.50 127.0.0.1 1 110\r\n") \
                .startswith(b"+OK")
        c = raw(s, "starttls")
        conns.append(c)
        r = greeting_after(c, b"PROXY TCP4 192.0.2.50 127.0.0.1 1 110\r\n")
        assert r.decode().rstrip() == BUSY_IP, r
        # Another client behind the same balancer is not affected.
        c = raw(s, "starttls")
        conns.append(c)
        assert greeting_after(
            c, b"PROXY TCP4 192.0.2.51 127.0.0.1 1 110\r\n").startswith(b"+OK")
    finally:
        for c in conns:
            c.close()


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def login_via_proxy(s, u, ip):
    """A session logged in through the PROXY listener as client ip."""
    c = raw(s, "starttls")
    assert greeting_after(c, b"PROXY TCP4 %s 127.0.0.1 1 110\r\n"
                          % ip.encode()).startswith(b"+OK")
    c.sendall(b"USER %s\r\nPASS %s\r\n" % (u.name.encode(),
                                           u.password.encode()))
    r = b""
    while r.count(b"\r\n") < 2:
        chunk = c.recv(4096)
        assert chunk, r
        r += chunk
    assert r.split(b"\r\n")[1].startswith(b"+OK"), r
    return c


def test_header_deadline_is_not_extended_by_a_trickle(make_server):
    """proxy_timeout is a deadline from accept: a balancer (or anyone
    trusted) trickling a header one octet at a time does not move it."""
    s = proxy_server(make_server, "proxytrickle",
                     extra={"server": {"proxy_timeout": "3"}})
    m = s.mark()
    with raw(s, "starttls") as c:
        t0 = time.monotonic()
        for ch in b"PROXY TCP4 192.0.2.":
            if time.monotonic() - t0 > 2.6:
                break
            c.sendall(bytes([ch]))
            time.sleep(0.15)
        assert closed_silently(c)
        took = time.monotonic() - t0
    # A timeout re-armed by each octet would end at 2.6 + 3 s or later.
    assert took < 4.5, took
    assert s.wait_log(r"reason=proxy_timeout", start=m)


def test_pending_header_survives_a_reload(make_server):
    """A connection accepted before a reload whose header arrives after it
    is served by the draining worker, not dropped with it."""
    s = proxy_server(make_server, "proxydrain",
                     extra={"server": {"proxy_timeout": "8"}})
    s.volatile = True
    c = raw(s, "starttls")
    try:
        time.sleep(0.5)     # accepted by a worker, which waits for a header
        m = s.mark()
        s.signal(signal.SIGHUP)
        assert s.wait_log(r"ready workers=", start=m, timeout=10), \
            s.log_tail()
        time.sleep(0.3)
        r = greeting_after(c, b"PROXY TCP4 192.0.2.77 127.0.0.1 1 110\r\n")
        assert r.startswith(b"+OK"), (r, s.log_tail())
        c.sendall(b"QUIT\r\n")
        assert s.wait_log(r"connect rip=192\.0\.2\.77", start=m)
    finally:
        c.close()


def test_full_worker_behind_a_balancer(make_server):
    """A full worker makes room for a PROXY connection only once its
    header names the client, as for a direct one: an untrusted peer
    sheds nobody; a trusted one sheds the oldest session that has not
    logged in; with every session logged in, the client is told."""
    s = proxy_server(make_server, "proxyfull", workers=1,
                     extra={"server": {"max_connections": "2",
                                       "proxy_timeout": "4"}})
    conns = []
    try:
        for _ in range(2):
            conns.append(Conn(*s.plain[0], source="127.0.0.80"))
        m = s.mark()
        with raw(s, "starttls", source="127.0.0.9") as c:
            c.sendall(b"PROXY TCP4 192.0.2.70 127.0.0.1 1 110\r\n")
            assert closed_silently(c)
        assert s.wait_log(r"reason=proxy_untrusted", start=m)
        assert s.wait_log(r" shed ", start=m, timeout=0.5,
                          must=False) is None, s.log_tail()
        for c in conns:
            assert c.cmd("CAPA").startswith("+OK")
            c.multi_raw()
        # A trusted one: the oldest that has not logged in makes room.
        c = raw(s, "starttls")
        conns.append(c)
        assert greeting_after(c, b"PROXY TCP4 192.0.2.70 127.0.0.1 1 110"
                              b"\r\n").startswith(b"+OK")
        assert s.wait_log(r" shed rip=127\.0\.0\.80 ", start=m)
        # Every session logged in: nobody to shed, the client is told.
        for c in conns:
            c.close()
        conns = [login_via_proxy(s, s.new_user(), "192.0.2.%d" % i)
                 for i in (71, 73)]
        m = s.mark()
        with raw(s, "starttls") as c:
            r = greeting_after(c, b"PROXY TCP4 192.0.2.72 127.0.0.1 1 110"
                               b"\r\n")
        assert r.startswith(b"-ERR [SYS/TEMP] too many connections"), r
        assert s.wait_log(r"connection refused reason=max_connections "
                          r"limit=2", start=m), s.log_tail()
    finally:
        for c in conns:
            c.close()


def test_mapped_ipv6_block_trusts_an_ipv4_balancer(make_server):
    s = proxy_server(make_server, "proxymapped",
                     extra={"server": {"proxy_trusted": "::ffff:127.0.0.0/120"}})
    m = s.mark()
    with raw(s, "starttls") as c:
        assert greeting_after(c, b"PROXY TCP4 192.0.2.7 127.0.0.1 1 110\r\n") \
            .startswith(b"+OK")
    assert s.wait_log(r"connect rip=192\.0\.2\.7", start=m)
    # ... and an IPv4 peer outside the block stays untrusted.
    with raw(s, "starttls", source="127.1.0.9") as c:
        c.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 110\r\n")
        assert closed_silently(c)


def test_refusal_lines_are_rate_limited(make_server):
    """A flood from an untrusted peer cannot flood the log: a burst of
    lines, then one line a second saying how many were left out."""
    # One worker: each keeps its own count, and the line that says how
    # many were left out must come from the one that left them out.
    s = proxy_server(make_server, "proxyflood", workers=1)
    m = s.mark()
    t0 = time.monotonic()
    for _ in range(80):
        with raw(s, "starttls", source="127.0.0.9") as c:
            assert closed_silently(c)
    took = time.monotonic() - t0
    time.sleep(0.5)
    n = count_log(s, r"reason=proxy_untrusted", m)
    assert 1 <= n <= 10 + took + 2, (n, took)
    assert n < 80, n
    time.sleep(1.1)
    with raw(s, "starttls", source="127.0.0.9") as c:
        assert closed_silently(c)
    assert s.wait_log(r"reason=proxy_untrusted suppressed=\d+", start=m), \
        s.log_tail()


def test_reload_moves_a_port_between_plain_and_proxy(make_server):
    """A reload may move an address from listen to listen_proxy and back
    (putting a running server behind a balancer): the socket is kept."""
    a, b = free_port(), free_port()
    s = proxy_server(make_server, "proxymove",
                     listen=("127.0.0.1:%d" % a,), listen_tls=(),
                     listen_proxy=("127.0.0.1:%d" % b,), listen_tls_proxy=())
    s.volatile = True
    s.listen, s.listen_proxy = ["127.0.0.1:%d" % b], ["127.0.0.1:%d" % a]
    s.write_files()
    m = s.mark()
    s.signal(signal.SIGHUP)
    assert s.wait_log(r"ready workers=", start=m, timeout=10), s.log_tail()
    assert s.wait_log(r"reload failed", start=m, timeout=0.5,
                      must=False) is None, s.log_tail()
    s.listeners = [("127.0.0.1", b, "starttls")]
    s.proxy_listeners = [("127.0.0.1", a, "starttls")]
    time.sleep(0.5)     # the old workers stop accepting
    with Conn("127.0.0.1", b) as c:
        assert c.greeting.startswith("+OK")
    with socket.create_connection(("127.0.0.1", a), timeout=10) as c:
        assert greeting_after(c, b"PROXY TCP4 192.0.2.9 127.0.0.1 1 110\r\n") \
            .startswith(b"+OK")


# ------------------------------------------------------------ real HAProxy

@pytest.fixture
def balanced(make_server):
    """A pop3d with PROXY listeners only behind a running HAProxy."""
    made = []

    def make(name, **kw):
        s = proxy_server(make_server, name, **kw)
        h = HAProxy({
            "pop3": ["n1 127.0.0.1:%d send-proxy-v2 check check-send-proxy "
                     "inter 300ms" % pport(s, "starttls")],
            "pop3s": ["n1 127.0.0.1:%d send-proxy" % pport(s, "implicit")]})
        made.append(h)
        return s, h
    yield make
    for h in made:
        h.stop()


@needs_haproxy
def test_haproxy_sessions_log_the_real_client(balanced, env):
    s, h = balanced("haproxy-rip", extra={"server": {"verbose": "yes"}})
    u = s.new_user()
    for i, (kind, src) in enumerate([("starttls", "127.0.0.2"),
                                     ("implicit", "127.0.0.3"),
                                     ("starttls", "127.0.0.4")]):
        m = s.mark()
        with via(h, kind, src, env) as c:
            assert c.greeting.startswith("+OK"), c.greeting
            if kind == "starttls":
                c.starttls()
            c.login(u.name, u.password)
            c.stat()
            c.ok("QUIT")
        tls = "implicit" if kind == "implicit" else "no"
        assert s.wait_log(r"connect rip=%s tls=%s" % (src.replace(".", r"\."),
                                                        tls), start=m), \
            s.log_tail()
        assert s.wait_log(r"rip=%s.*user=%s|user=%s.*rip=%s" % (
            src.replace(".", r"\."), u.name, u.name,
            src.replace(".", r"\.")), start=m), s.log_tail()
    # HAProxy's health checks (v2 LOCAL) keep the balancer's address.
    m = s.mark()
    assert s.wait_log(r"proxy pip=127\.0\.0\.1 version=2 local=yes",
                      start=m, timeout=5), s.log_tail() + h.log()
    assert s.wait_log(r"connect rip=127\.0\.0\.1 tls=no", start=m,
                      timeout=5), s.log_tail() + h.log()


@needs_haproxy
def test_haproxy_ban_hits_the_real_client(balanced, env):
    s, h = balanced("haproxy-ban", ban_threshold=3, ban_time=600,
                    fail_delay_ms=0, fail_delay_max_ms=0)
    u = s.new_user()
    bad = "127.0.0.5"
    for _ in range(3):
        with via(h, "starttls", bad, env) as c:
            c.ok("USER " + u.name)
            assert c.cmd("PASS wrong").startswith("-ERR [AUTH]")
    with via(h, "implicit", bad, env) as c:
        c.ok("USER " + u.name)
        r = c.cmd("PASS " + u.password)
        assert "too many failed logins" in r, r
    # Another client behind the same balancer still gets in.
    for kind in ("starttls", "implicit"):
        with via(h, kind, "127.0.0.6", env) as c:
            c.login(u.name, u.password)
            c.ok("QUIT")


@needs_haproxy
def test_haproxy_per_address_limit_counts_real_clients(balanced, env):
    s, h = balanced("haproxy-limit",
                    extra={"server": {"max_connections_per_ip": "2"}})
    conns = []
    try:
        for kind in ("starttls", "implicit"):
            c = via(h, kind, "127.0.0.7", env)
            conns.append(c)
            assert c.greeting.startswith("+OK"), c.greeting
        c = via(h, "starttls", "127.0.0.7", env)
        conns.append(c)
        assert c.greeting == BUSY_IP, c.greeting
        for src in ("127.0.0.8", "127.0.0.9"):
            c = via(h, "starttls", src, env)
            conns.append(c)
            assert c.greeting.startswith("+OK"), c.greeting
    finally:
        for c in conns:
            c.close()


@needs_haproxy
def test_haproxy_login_delay_names_the_real_client(balanced, env):
    s, h = balanced("haproxy-delay", login_delay=7)
    u = s.new_user()
    with via(h, "implicit", "127.0.0.10", env) as c:
        c.login(u.name, u.password)
        c.ok("QUIT")
    m = s.mark()
    with via(h, "starttls", "127.0.0.11", env) as c:
        c.starttls()
        r = c.try_login(u.name, u.password)
        assert r.startswith("-ERR") and "[LOGIN-DELAY]" in r, r
    assert s.wait_log(r"auth refused user=%s rip=127\.0\.0\.11 "
                      r"reason=login_delay" % u.name, start=m), s.log_tail()


def test_plaintext_loopback_needs_the_balancer_hop_too(make_server):
    """allow_plaintext_auth = loopback behind a balancer: a client the
    header names on loopback, through a balancer that connected from
    loopback, may send USER in clear; a remote client may not, nor a
    connection whose header keeps the balancer's own address (LOCAL,
    UNKNOWN: the client is not known)."""
    s = make_server(name="proxylo", plaintext="loopback",
                    listen_proxy=("127.0.0.1:0",),
                    listen_tls_proxy=("127.0.0.1:0",),
                    extra={"server": {"proxy_trusted": "127.0.0.1/32",
                                      "proxy_timeout": "2"}})
    u = s.new_user()

    def user_answer(header):
        with raw(s, "starttls") as c:
            assert greeting_after(c, header).startswith(b"+OK")
            c.sendall(("USER %s\r\n" % u.name).encode())
            r = b""
            while not r.endswith(b"\r\n"):
                chunk = c.recv(4096)
                assert chunk, r
                r += chunk
            return r
    assert user_answer(b"PROXY TCP4 127.0.0.5 127.0.0.1 40000 110\r\n") \
        .startswith(b"+OK")
    for hdr in (b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n",
                b"PROXY UNKNOWN\r\n", v2(0, 0x00, b"")):
        assert user_answer(hdr).startswith(b"-ERR"), hdr
