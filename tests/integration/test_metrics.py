"""The Prometheus endpoint (metrics_listen): exact counts after known
sessions, promtool's check, a real Prometheus scraping it, hostile HTTP
clients, a killed worker, config errors."""
import os
import poplib
import re
import signal
import socket
import subprocess
import time

import pytest

from pop3util import children, crlf, wait_until

METRICS_RE = re.compile(r"metrics listen addr=(\[[^\]]*\]|[^\s:]+):(\d+)")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')

MSG1 = b"Subject: one\n\nshort\n"
MSG2 = b"Subject: two\n\n" + b"".join(b"line %04d of two\n" % i for i in range(300))


def metrics_server(make_server, **kw):
    extra = kw.pop("extra", {})
    extra.setdefault("server", {})["metrics_listen"] = "127.0.0.1:0"
    s = make_server(extra=extra, **kw)
    line = s.wait_log(r"metrics listen addr=")
    m = METRICS_RE.search(line)
    s.mhost, s.mport = m.group(1).strip("[]"), int(m.group(2))
    return s


def http(s, request, timeout=5.0):
    """Sends request (bytes) to the metrics port; the whole answer."""
    with socket.create_connection((s.mhost, s.mport), timeout=timeout) as c:
        c.sendall(request)
        out = b""
        while True:
            d = c.recv(65536)
            if not d:
                return out
            out += d


def scrape_text(s):
    r = http(s, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    assert b"Content-Type: text/plain; version=0.0.4" in head, head
    assert b"Content-Length: %d\r\n" % len(body) in head + b"\r\n", head
    return body.decode()


def parse(text):
    """{name{labels}: float} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def scrape(s):
    return parse(scrape_text(s))


def settle(s, pred, timeout=5.0):
    """The scrape once pred(scrape) holds (sessions end asynchronously)."""
    last = [None]

    def ok():
        last[0] = scrape(s)
        return pred(last[0])
    assert wait_until(ok, timeout, step=0.1), last[0]
    return last[0]


def cmds(m):
    return {k[len('pop3d_commands_total{command="'):-2]: v for k, v in m.items()
            if k.startswith("pop3d_commands_total{") and v}


# ------------------------------------------------------------------ counts

def test_scrape_counts_exactly_what_the_sessions_did(make_server, env):
    s = metrics_server(make_server, name="metrics-counts", plaintext="loopback",
                       fail_delay_ms=0, fail_delay_max_ms=0)
    u = s.new_user()
    s.deliver(u, MSG1)
    s.deliver(u, MSG2)
    sizes = [len(crlf(MSG1)), len(crlf(MSG2))]
    m0 = scrape(s)
    assert m0["pop3d_sessions_open"] == 0
    assert m0['pop3d_logins_total{result="ok"}'] == 0

    # A plain session: login, STAT, RETR both, QUIT.
    p = poplib.POP3(s.host, s.port, timeout=10)
    p.user(u.name)
    p.pass_(u.password)
    assert p.stat()[0] == 2
    assert len(b"\r\n".join(p.retr(1)[1])) > 0
    p.retr(2)
    p.quit()
    # STLS, then a wrong password.
    p = poplib.POP3(s.host, s.port, timeout=10)
    p.stls(env.ctx)
    p.user(u.name)
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong password")
    p.quit()
    # POP3S holds the maildrop; a second, plain session gets [IN-USE].
    held = poplib.POP3_SSL(s.host, s.tls_port, context=env.ctx, timeout=10)
    held.user(u.name)
    held.pass_(u.password)
    p = poplib.POP3(s.host, s.port, timeout=10)
    p.user(u.name)
    with pytest.raises(poplib.error_proto, match=r"IN-USE"):
        p.pass_(u.password)
    p.quit()
    held.quit()
    # One line that is no command.
    with s.connect() as c:
        assert c.cmd("XYZZY").startswith("-ERR")
        assert c.cmd("FOO").startswith("-ERR")
        c.ok("QUIT")

    m = settle(s, lambda m: m["pop3d_sessions_open"] == 0 and
               sum(m['pop3d_sessions_total{tls="%s"}' % k]
                   for k in ("none", "stls", "implicit")) == 5)
    assert m['pop3d_sessions_total{tls="none"}'] == 3
    assert m['pop3d_sessions_total{tls="stls"}'] == 1
    assert m['pop3d_sessions_total{tls="implicit"}'] == 1
    assert m['pop3d_logins_total{result="ok"}'] == 3   # [IN-USE] is after auth
    assert m['pop3d_logins_total{result="failed"}'] == 1
    assert m['pop3d_logins_total{result="banned"}'] == 0
    assert m['pop3d_logins_total{result="tempfail"}'] == 0
    assert m["pop3d_auth_duration_seconds_count"] == 4
    assert m['pop3d_auth_duration_seconds_bucket{le="+Inf"}'] == 4
    assert 0 < m["pop3d_auth_duration_seconds_sum"] < 60
    assert m["pop3d_in_use_refusals_total"] == 1
    assert m["pop3d_commit_failures_total"] == 0
    assert cmds(m) == {"USER": 4, "PASS": 4, "CAPA": 1, "STLS": 1, "STAT": 1,
                       "RETR": 2, "QUIT": 5, "unknown": 2}
    assert m["pop3d_retr_size_bytes_count"] == 2
    assert m["pop3d_retr_size_bytes_sum"] == sum(sizes)
    assert m['pop3d_retr_size_bytes_bucket{le="1024"}'] == 1     # MSG1
    assert m['pop3d_retr_size_bytes_bucket{le="4096"}'] == 1
    assert m['pop3d_retr_size_bytes_bucket{le="16384"}'] == 2    # MSG2
    assert m['pop3d_retr_size_bytes_bucket{le="+Inf"}'] == 2
    # Both messages, their status and end lines, and every other answer.
    assert m["pop3d_sent_bytes_total"] > sum(sizes)
    assert m["pop3d_sent_bytes_total"] < sum(sizes) + 4096
    assert m['pop3d_restarts_total{process="worker"}'] == 0
    assert m['pop3d_build_info{version="0.1"}'] == 1
    assert abs(m["pop3d_start_time_seconds"] - time.time()) < 120


def test_promtool_check_metrics_passes(make_server):
    s = metrics_server(make_server, name="metrics-promtool")
    with s.session(s.new_user()) as c:
        c.stat()
        c.ok("QUIT")
    text = scrape_text(s)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + "\n" + text
    assert r.stdout.strip() == b"", r.stdout.decode()
    # Every family has its HELP and TYPE lines, each name once.
    helps = re.findall(r"^# HELP (\S+) ", text, re.M)
    types = re.findall(r"^# TYPE (\S+) (\w+)$", text, re.M)
    assert len(helps) == len(set(helps)) == len(types) >= 12
    assert all(n.startswith("pop3d_") for n in helps)
