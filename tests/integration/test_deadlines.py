"""Deadlines before login (session.c): a connection that drips a byte
every half second, one whose TLS handshake stalls, and one that sends
whole lines but never logs in are each cut within their bound, while a
client from another address logs in within a second throughout."""
import select
import socket
import time

import pytest

from pop3util import WRAPPER, Conn

LINE_T, TLS_T, LOGIN_T = 2, 2, 6
SLACK = 2.0     # the timers tick in whole seconds; a loaded machine
DRIP, STALL = 200, 100

pytestmark = pytest.mark.skipif(bool(WRAPPER), reason="timing under valgrind")


@pytest.fixture
def srv(make_server):
    return make_server(name="deadlines", workers=2, plaintext="loopback",
                       extra={"server": {"line_timeout": str(LINE_T),
                                         "tls_handshake_timeout": str(TLS_T),
                                         "login_timeout": str(LOGIN_T)}})


def connect(host, port, source):
    s = socket.create_connection((host, port), timeout=5,
                                 source_address=(source, 0))
    s.setblocking(False)
    return s


def probe_login(s, u):
    """Seconds a full login (connect, USER, PASS, QUIT) takes."""
    t0 = time.monotonic()
    with s.connect(source="127.0.0.200") as c:
        assert c.greeting.startswith("+OK"), c.greeting
        r = c.try_login(u.name, u.password)
        assert r.startswith("+OK"), r
        c.ok("QUIT")
    return time.monotonic() - t0


def test_drip_and_stalled_handshakes_are_cut(srv):
    u = srv.new_user()
    (h, p), (th, tp) = srv.plain[0], srv.tls[0]
    socks = {}          # socket -> [kind, opened at, closed at]
    for i in range(DRIP):
        k = connect(h, p, "127.0.0.%d" % (100 + i % 10))
        socks[k] = ["drip", time.monotonic(), None]
    for i in range(STALL):
        k = connect(th, tp, "127.0.0.%d" % (110 + i % 5))
        # A TLS record header and nothing more: a handshake that stalls.
        k.send(b"\x16\x03\x01\x02\x00")
        socks[k] = ["stall", time.monotonic(), None]
    probes = []
    end = time.monotonic() + max(LINE_T, TLS_T) + SLACK + 3
    next_drip = next_probe = time.monotonic()
    while time.monotonic() < end and any(v[2] is None for v in socks.values()):
        now = time.monotonic()
        if now >= next_drip:
            for k, v in socks.items():
                if v[0] == "drip" and v[2] is None:
                    try:
                        k.send(b"C")    # never a whole line
                    except OSError:
                        pass
            next_drip = now + 0.5
        if now >= next_probe:
            probes.append(probe_login(srv, u))
            next_probe = time.monotonic() + 0.5
        live = [k for k, v in socks.items() if v[2] is None]
        r, _, _ = select.select(live, [], [], 0.1)
        for k in r:
            try:
                data = k.recv(4096)
            except OSError:
                data = b""
            if data == b"" or data.endswith(b"\r\n") and b"too long" in data:
                socks[k][2] = time.monotonic()
    for k in socks:
        k.close()
    left = [v for v in socks.values() if v[2] is None]
    assert not left, "%d of %d still open after %.0f s" % (
        len(left), len(socks), end - min(v[1] for v in socks.values()))
    worst = {kind: max(v[2] - v[1] for v in socks.values() if v[0] == kind)
             for kind in ("drip", "stall")}
    assert worst["drip"] <= LINE_T + SLACK, worst
    assert worst["stall"] <= TLS_T + SLACK, worst
    assert probes and max(probes) < 1.0, probes
    print("cut after (worst): drip %.1f s, stalled handshake %.1f s; "
          "%d logins meanwhile, slowest %.0f ms" % (
              worst["drip"], worst["stall"], len(probes), max(probes) * 1000))
    assert srv.wait_log(r"disconnect rip=127\.0\.0\.10\d reason=line_timeout",
                        timeout=2)
    assert srv.wait_log(r"disconnect rip=127\.0\.0\.11\d reason=tls_timeout",
                        timeout=2)


def test_whole_lines_without_login_are_cut(srv):
    h, p = srv.plain[0]
    c = Conn(h, p, source="127.0.0.120")
    t0 = time.monotonic()
    got = b""
    while time.monotonic() - t0 < LOGIN_T + SLACK + 2:
        try:
            c.send("CAPA\r\n")
            c.sock.settimeout(0.5)
            data = c.sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            break
        if not data:
            break
        got += data
    took = time.monotonic() - t0
    c.close()
    assert b"-ERR [SYS/TEMP] login took too long\r\n" in got, got[-200:]
    assert LOGIN_T - 1 <= took <= LOGIN_T + SLACK, took
    assert srv.wait_log(r"reason=login_timeout", timeout=2)
