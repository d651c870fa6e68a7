"""
proxyutil.py - helpers for the tests of pop3d behind a load balancer
(test_proxy.py, test_nodes.py): a pop3d with PROXY listeners, PROXY
headers written by hand, and Debian's real haproxy run in the foreground
by the test, with a generated config of TCP frontends, each in front of
one backend of pop3d PROXY listeners, or a given one.  Standard library only; every wait
is bounded.
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from ctlutil import free_port
from pop3util import Conn, wait_until

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

needs_haproxy = pytest.mark.skipif(
    not os.access(HAPROXY, os.X_OK),
    reason="haproxy not installed (scripts/deps.sh installs it)")


def proxy_server(make_server, name, setup=None, **kw):
    """A pop3d with one listen_proxy and one listen_tls_proxy listener
    (next to its ordinary ones), trusting 127.0.0.1 and ::1."""
    extra = kw.pop("extra", {})
    extra.setdefault("server", {})
    extra["server"].setdefault("proxy_trusted", "127.0.0.1/32 ::1")
    extra["server"].setdefault("proxy_timeout", "2")
    kw.setdefault("listen_proxy", ("127.0.0.1:0",))
    kw.setdefault("listen_tls_proxy", ("127.0.0.1:0",))
    return make_server(setup=setup, name=name, plaintext="yes", extra=extra,
                       **kw)


def pport(s, kind):
    """The port of s's PROXY listener of kind "starttls" or "implicit"."""
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


def count_log(s, pattern, start=0):
    """How many of s's log lines from index start match pattern."""
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


def fronts_config(fronts):
    """HAProxy config text and frontend ports for fronts {name: [server
    line, ...]}: mode tcp, balance roundrobin, one frontend on an
    ephemeral loopback port per name, each with a backend of its own
    ("n1 127.0.0.1:1234 send-proxy-v2 check" and so on)."""
    ports = {}
    cfg = ["global", "    maxconn 500",
           "defaults", "    mode tcp", "    balance roundrobin",
           "    timeout connect 5s", "    timeout client 60s",
           "    timeout server 60s"]
    for name, servers in fronts.items():
        ports[name] = free_port()
        cfg += ["frontend fe_" + name,
                "    bind 127.0.0.1:%d" % ports[name],
                "    default_backend be_" + name,
                "backend be_" + name]
        cfg += ["    server " + line for line in servers]
    return "\n".join(cfg) + "\n", ports


class HAProxy:
    """Debian's haproxy in the foreground (-db) with the config of
    fronts_config(fronts), or config text whose frontends listen on
    ports {name: port}; self.port[name] is a frontend's port.  Started
    and stopped by PID."""

    def __init__(self, fronts=None, *, config=None, ports=None):
        self.dir = tempfile.mkdtemp(prefix="haproxy-")
        if fronts is not None:
            config, ports = fronts_config(fronts)
        self.port = dict(ports)
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(config)
        self.err = open(os.path.join(self.dir, "haproxy.log"), "w+")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.err, stderr=self.err)
        ok = wait_until(lambda: self.proc.poll() is not None or
                        all(self._listening(p) for p in self.port.values()),
                        10)
        if not ok or self.proc.poll() is not None:
            log = self.log()
            self.stop()
            raise AssertionError("haproxy did not start:\n" + log)

    @staticmethod
    def _listening(port):
        # From an address of its own: pop3d logs it, not 127.0.0.1.
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1,
                                     source_address=("127.0.0.254", 0)).close()
            return True
        except OSError:
            return False

    def log(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def via(h, kind, source, env, front=None):
    """A POP3 connection through HAProxy's frontend front (default
    "pop3", or "pop3s" for kind "implicit") from source, greeting read;
    implicit TLS when kind is "implicit"."""
    tls = kind == "implicit"
    if front is None:
        front = "pop3s" if tls else "pop3"
    return Conn("127.0.0.1", h.port[front], tls=tls, ctx=env.ctx,
                source=source)
