"""pop3d behind a load balancer: listen_proxy and listen_tls_proxy
listeners take a PROXY protocol header (v1, v2) from a proxy_trusted peer
only, before the greeting and before the TLS handshake, and the client
address it names is the one pop3d logs, limits and bans.  First with
headers written by hand (every refusal), then through a real HAProxy
(Debian's haproxy, run in the foreground by the test) from several
127.0.0.x source addresses, with TLS end to end."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from pop3util import Conn, wait_until

BUSY_IP = "-ERR [SYS/TEMP] too many connections from your address"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def proxy_server(make_server, name, **kw):
    extra = kw.pop("extra", {})
    extra.setdefault("server", {})
    extra["server"].setdefault("proxy_trusted", "127.0.0.1/32 ::1")
    extra["server"].setdefault("proxy_timeout", "2")
    return make_server(name=name, plaintext="yes",
                       listen_proxy=("127.0.0.1:0",),
                       listen_tls_proxy=("127.0.0.1:0",), extra=extra, **kw)


def pport(s, kind):
    return [p for h, p, k in s.proxy_listeners if k == kind][0]


def raw(s, kind, source="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", pport(s, kind)), timeout=10,
                                    source_address=(source, 0))


def v2(cmd, fam, block):
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(block)) \
        + block


def v2_tcp4(src, sport, dst="127.0.0.1", dport=110):
    return v2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) +
              struct.pack(">HH", sport, dport))


def count_log(s, pattern, start):
    import re
    rx = re.compile(pattern)
    with s.log_cond:
        return sum(1 for l in s.log[start:] if rx.search(l))


def greeting_after(sock, header):
    """Sends header, then reads pop3d's first line (or b"" at EOF)."""
    sock.sendall(header)
    buf = b""
    end = time.monotonic() + 10
    while not buf.endswith(b"\r\n") and time.monotonic() < end:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


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
