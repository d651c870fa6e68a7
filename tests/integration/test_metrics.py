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

from ctlutil import EX_CONFIG, EX_OK, EX_USAGE, ctl
from pop3util import AUTH_USER, IS_ROOT, WORKER_USER, children, crlf, wait_until

EX_UNAVAILABLE, EX_PROTOCOL = 69, 76
METRICS_RE = re.compile(r"metrics listen addr=(\[[^\]]*\]|[^\s:]+):(\d+)")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')

MSG1 = b"Subject: one\n\nshort\n"
MSG2 = b"Subject: two\n\n" + b"".join(b"line %04d of two\n" % i for i in range(300))


def metrics_server(make_server, **kw):
    extra = kw.pop("extra", {})
    extra.setdefault("server", {}).setdefault("metrics_listen", "127.0.0.1:0")
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
    # The first login hashed; the two after it were the cache's.
    assert m["pop3d_auth_cache_hits_total"] == 2
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


# ------------------------------------------------------------ a real Prometheus

def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_real_prometheus_scrapes_the_endpoint(make_server, tmp_path):
    import json
    import urllib.parse
    import urllib.request

    s = metrics_server(make_server, name="metrics-prometheus")
    for _ in range(2):
        with s.session(s.new_user()) as c:
            c.ok("QUIT")
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: pop3d\n    static_configs:\n"
        "      - targets: ['%s:%d']\n" % (s.mhost, s.mport))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    p = subprocess.Popen(
        ["prometheus", "--config.file=%s" % cfg,
         "--storage.tsdb.path=%s" % (tmp_path / "data"),
         "--web.listen-address=127.0.0.1:%d" % port],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def query(q):
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (
            port, urllib.parse.quote(q))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                d = json.load(r)
        except (OSError, ValueError):
            return None
        res = d.get("data", {}).get("result", [])
        return {tuple(sorted(x["metric"].items())): float(x["value"][1])
                for x in res}

    try:
        got = {}

        def scraped():
            got["up"] = query('up{job="pop3d"}')
            got["ok"] = query('pop3d_logins_total{result="ok"}')
            return bool(got["up"]) and bool(got["ok"])
        assert wait_until(scraped, 60, step=0.5), (
            got, (tmp_path / "prometheus.log").read_text()[-3000:])
        assert list(got["up"].values()) == [1.0]
        assert list(got["ok"].values()) == [2.0]
        ends = query('pop3d_sessions_total{tls="implicit"}')
        assert ends and list(ends.values()) == [2.0]
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
        log.close()


# ------------------------------------------------------------ hostile clients

def status(answer):
    return answer.split(b"\r\n", 1)[0]


def test_bad_requests_get_errors(make_server):
    s = metrics_server(make_server, name="metrics-bad")
    assert status(http(s, b"POST /metrics HTTP/1.1\r\n\r\n")) == \
        b"HTTP/1.1 405 Method Not Allowed"
    assert status(http(s, b"GET / HTTP/1.0\r\n\r\n")) == b"HTTP/1.1 404 Not Found"
    assert status(http(s, b"GET /metricsx HTTP/1.1\r\n\r\n")) == \
        b"HTTP/1.1 404 Not Found"
    assert status(http(s, b"hello\r\n\r\n")) == b"HTTP/1.1 400 Bad Request"
    assert status(http(s, b"GET /metrics SMTP/1.0\r\n\r\n")) == \
        b"HTTP/1.1 400 Bad Request"
    r = http(s, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert status(r) == b"HTTP/1.1 200 OK" and r.endswith(b"\r\n\r\n")
    assert status(http(s, b"GET /metrics?x=1 HTTP/1.1\n\n")) == b"HTTP/1.1 200 OK"
    # Over 4096 octets without the end of the header: 431, or a reset
    # when the unread rest of the request is still in flight.
    try:
        r = http(s, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 8000 + b"\r\n\r\n")
        assert r == b"" or status(r) == b"HTTP/1.1 431 Request Header Fields Too Large"
    except ConnectionResetError:
        pass
    s.alive_check()
    assert "pop3d_sessions_open" in scrape(s)


def test_slow_clients_cannot_hold_the_master(make_server):
    s = metrics_server(make_server, name="metrics-slow")
    slow = []
    try:
        for _ in range(8):
            c = socket.create_connection((s.mhost, s.mport), timeout=10)
            c.sendall(b"GET /metrics HTTP/1.1\r\n")     # and never the end
            slow.append(c)
        time.sleep(0.3)
        # The ninth is closed at once: nothing, then EOF.
        with socket.create_connection((s.mhost, s.mport), timeout=5) as c:
            c.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            try:
                assert c.recv(100) == b""
            except ConnectionResetError:
                pass
        # The master meanwhile supervises and POP3 works.
        t0 = time.monotonic()
        with s.session(s.new_user()) as c:
            c.stat()
            c.ok("QUIT")
        assert time.monotonic() - t0 < 3
        # Each slow one is closed within its 5 s deadline (and a second).
        for c in slow:
            c.settimeout(10)
            assert c.recv(100) == b""
        assert time.monotonic() - t0 < 9
    finally:
        for c in slow:
            c.close()
    assert "pop3d_sessions_open" in scrape(s)


def test_killed_worker_restarts_and_counts_go_on(make_server):
    s = metrics_server(make_server, name="metrics-kill", workers=2)
    s.volatile = True
    for _ in range(3):
        with s.session(s.new_user()) as c:
            c.stat()
            c.ok("QUIT")
    u = s.new_user()
    held = s.session(u)         # an open session in some worker
    before = settle(s, lambda m: m["pop3d_sessions_open"] == 1 and
                    m['pop3d_sessions_total{tls="implicit"}'] == 3)
    assert before['pop3d_restarts_total{process="worker"}'] == 0
    # A session id starts with its worker's pid (registry.c).
    line = s.wait_log(r"^.*\b([0-9a-f]{16}) login user=%s " % u.name)
    sid = int(re.search(r"\b([0-9a-f]{16}) login user=", line).group(1), 16)
    victim = sid >> 42
    assert victim in [p for p, _ in children(s.proc.pid)], (victim, line)
    os.kill(victim, signal.SIGKILL)
    after = settle(s, lambda m: m['pop3d_restarts_total{process="worker"}'] == 1,
                   timeout=10)
    held.abort()
    # The dead worker's open session is gone; no counter went backwards.
    assert after["pop3d_sessions_open"] == 0
    for k, v in before.items():
        if k.endswith("_total") or "_total{" in k or k.endswith("_count") \
                or "_bucket{" in k or k.endswith("_sum"):
            assert after.get(k, -1) >= v, (k, v, after.get(k))
    assert after['pop3d_logins_total{result="ok"}'] == 4
    # The replacement counts on in the slot the dead one left.
    assert wait_until(lambda: len(children(s.proc.pid)) == 3, 10)
    for _ in range(4):
        with s.session(s.new_user()) as c:
            c.ok("QUIT")
    m = settle(s, lambda m: m['pop3d_sessions_total{tls="implicit"}'] == 7)
    assert m['pop3d_logins_total{result="ok"}'] == 8
    assert m["pop3d_sessions_open"] == 0
    assert m['pop3d_restarts_total{process="worker"}'] == 1
    s.snapshot_children()


# ------------------------------------------------------------ configuration

def check_config(env, d, text):
    """pop3d -t on a config with these [server] lines (the first on line
    5) in directory d: (rc, output, path)."""
    path = os.path.join(d, "pop3d.conf")
    passwd = os.path.join(d, "passwd")
    with open(passwd, "w") as f:
        f.write("")
    os.chmod(passwd, 0o600)
    users = "user = %s\nauth_user = %s\n" % (WORKER_USER, AUTH_USER) \
        if IS_ROOT else "\n\n"
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:0\n%s%s\n"
                "mail_root = %s\n[tls]\ncert = %s\nkey = %s\n[auth]\n"
                "passwd_file = %s\n" % (users, text, d, env.cert, env.key, passwd))
    r = subprocess.run([env.pop3d, "-t", "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode(), path


def test_config_errors_name_file_line_and_key(env, tmp_path):
    d = str(tmp_path)
    rc, out, path = check_config(env, d,
                                 "metrics_listen = 127.0.0.1:9110\n"
                                 "metrics_listen = nowhere")
    assert rc != 0
    assert "%s:6: metrics_listen: bad address \"nowhere\"" % path in out, out
    five = "\n".join("metrics_listen = 127.0.0.1:%d" % (9110 + i) for i in range(5))
    rc, out, path = check_config(env, d, five)
    assert rc != 0
    assert "%s:9: metrics_listen: 5 addresses; at most 4" % path in out, out
    rc, out, _ = check_config(env, d, "metrics_listen = 127.0.0.1:9110")
    assert rc == 0, out


def test_off_by_default_and_warns_off_loopback(make_server):
    s = make_server(name="metrics-off")
    assert not any("metrics listen" in l for l in s.log)
    w = metrics_server(make_server, name="metrics-wild",
                       extra={"server": {"metrics_listen": "0.0.0.0:0"}})
    w.wait_log(r"metrics_listen 0\.0\.0\.0:\d+ is not a loopback address")
    assert not any("is not a loopback" in l for l in
                   metrics_server(make_server, name="metrics-lo").log)


# ------------------------------------------------------------ pop3ctl stats

def stats_conf(s, spec):
    """A copy of s's config whose metrics_listen is spec (the test
    server binds port 0; pop3ctl reads the port from its config)."""
    path = os.path.join(s.base, "stats.conf")
    text = re.sub(r"(?m)^metrics_listen = .*\n", "", s.config_text())
    if spec:
        text = text.replace("[server]\n", "[server]\nmetrics_listen = %s\n" % spec, 1)
    with open(path, "w") as f:
        f.write(text)
    return path


def row(out, title):
    m = re.search(r"(?m)^%s\s+(\d+)(.*)$" % re.escape(title), out)
    assert m, "no row %r in:\n%s" % (title, out)
    return int(m.group(1)), m.group(2).strip()


def test_pop3ctl_stats_prints_the_numbers(make_server, env):
    s = metrics_server(make_server, name="metrics-stats", plaintext="loopback")
    u = s.new_user()
    s.deliver(u, MSG1)
    s.deliver(u, MSG2)
    with s.session(u) as c:
        c.ok("RETR 1")
        c.multi_raw()
        c.ok("RETR 2")
        c.multi_raw()
        c.ok("QUIT")
    with s.connect(tls=True) as c:
        assert c.try_login(u.name, "not it").startswith("-ERR")
        c.ok("QUIT")
    settle(s, lambda m: m["pop3d_sessions_open"] == 0 and
           m['pop3d_sessions_total{tls="implicit"}'] == 2)
    r = ctl(stats_conf(s, "%s:%d" % (s.mhost, s.mport)), "stats")
    assert r.returncode == EX_OK, r.err
    assert r.err == ""
    assert re.match(r"pop3d 0\.1 at 127\.0\.0\.1:\d+, up 0d 0h \dm\n\n", r.out), r.out
    assert row(r.out, "Sessions open") == (0, "")
    assert row(r.out, "Sessions ended") == (2, "none 0, stls 0, implicit 2")
    assert row(r.out, "Logins") == (
        2, "ok 1, failed 1, banned 0, login_delay 0, tempfail 0")
    n, more = row(r.out, "Auth time")
    assert n == 2 and re.match(r"mean \S+ s, half <= \S+, 90% <= \S+$", more), more
    assert row(r.out, "Commands") == (8, "USER 2, PASS 2, QUIT 2, RETR 2")
    size = len(crlf(MSG1)) + len(crlf(MSG2))
    assert row(r.out, "RETR sizes") == (
        2, "mean %.0f bytes, half <= 1024, 90%% <= 16384" % (size / 2))
    assert row(r.out, "Bytes sent")[0] > size
    assert row(r.out, "[IN-USE] refusals") == (0, "")
    assert row(r.out, "Commit failures") == (0, "")
    assert row(r.out, "Restarts") == (0, "worker 0, auth 0")
    # --raw: the text as served.
    r = ctl(stats_conf(s, "%s:%d" % (s.mhost, s.mport)), "stats", "--raw")
    assert r.returncode == EX_OK
    assert 'pop3d_logins_total{result="failed"} 1\n' in r.out


def test_pop3ctl_stats_errors(make_server, env):
    s = make_server(name="metrics-stats-off")
    conf = stats_conf(s, "")
    r = ctl(conf, "stats")
    assert r.returncode == EX_CONFIG
    assert "metrics_listen is not set" in r.err, r.err
    # Set, but nobody listens there: the server is not running.
    conf = stats_conf(s, "127.0.0.1:%d" % free_port())
    r = ctl(conf, "stats")
    assert r.returncode == EX_UNAVAILABLE, (r.returncode, r.err)
    assert "cannot connect to pop3d's metrics at 127.0.0.1:" in r.err
    assert "is pop3d running?" in r.err
    # Something else answers there: a POP3 server is no metrics endpoint.
    conf = stats_conf(s, "%s:%d" % (s.host, s.port))
    r = ctl(conf, "stats")
    assert r.returncode == EX_PROTOCOL, (r.returncode, r.err)
    assert "not pop3d's metrics" in r.err
    r = ctl(conf, "stats", "extra")
    assert r.returncode == EX_USAGE


def set_metrics_listen(s, addr):
    """Rewrites s's config with metrics_listen = addr (for a reload)."""
    s.settings["server"] = [(k, v) for k, v in s.settings["server"]
                            if k != "metrics_listen"] + \
        [("metrics_listen", addr)]
    s.write_files()


def test_reload_keeps_or_moves_the_endpoint(make_server):
    s = metrics_server(make_server, name="metrics-reload")
    s.volatile = True       # a reload starts new workers
    with s.session(s.new_user()) as c:
        c.ok("QUIT")
    old = s.mport
    # Unchanged: the same socket stays, counts and all.
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"ready workers=", start=mark)
    assert s.wait_log(r"metrics listen", start=mark, timeout=0.5, must=False) is None
    assert settle(s, lambda m: m['pop3d_logins_total{result="ok"}'] == 1)
    # Moved: the new address is bound, the old one closed.
    port = free_port()
    set_metrics_listen(s, "127.0.0.1:%d" % port)
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"metrics listen addr=127\.0\.0\.1:%d\b" % port, start=mark)
    s.mport = port
    assert scrape(s)['pop3d_logins_total{result="ok"}'] == 1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((s.mhost, old), timeout=5).close()
    s.snapshot_children()


def test_reload_binds_again_after_a_failed_bind(make_server):
    """A reload whose metrics_listen could not be bound leaves the endpoint
    off; the next reload, with the same config once the port is free,
    binds it (it used to wait for a config change or a restart)."""
    s = metrics_server(make_server, name="metrics-rebind")
    s.volatile = True
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        set_metrics_listen(s, "127.0.0.1:%d" % port)
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(r"metrics endpoint off until a reload binds it",
                   start=mark, timeout=10)
    finally:
        busy.close()
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"metrics listen addr=127\.0\.0\.1:%d\b" % port, start=mark,
               timeout=10)
    s.mport = port
    assert "pop3d_logins_total" in " ".join(scrape(s))
    s.snapshot_children()


def test_busy_metrics_port_stops_the_start(env, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        rc, out, path = check_config(env, str(tmp_path),
                                     "metrics_listen = 127.0.0.1:%d" % port)
        assert rc == 0, out         # -t binds nothing
        r = subprocess.run([env.pop3d, "-c", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert "metrics_listen 127.0.0.1:%d: cannot bind" % port in out, out
    assert "Address already in use" in out, out


def test_every_command_counts_under_its_own_name(make_server):
    s = metrics_server(make_server, name="metrics-cmds", plaintext="loopback")
    u = s.new_user()
    s.deliver(u, MSG1)
    with s.connect() as c:
        c.capa()
        c.login(u.name, u.password)
        for cmd in ("STAT", "LIST", "UIDL", "RETR 1", "TOP 1 0"):
            c.ok(cmd)
            if cmd != "STAT":
                c.multi_raw()
        for cmd in ("DELE 1", "RSET", "NOOP", "QUIT"):
            c.ok(cmd)
    with s.connect() as c:
        assert c.cmd("APOP %s 0123456789abcdef0123456789abcdef" % u.name) \
            .startswith("-ERR")
        assert c.cmd("AUTH").startswith("+OK")
        c.multi_raw()
        c.ok("STLS")
    m = settle(s, lambda m: m["pop3d_sessions_open"] == 0 and
               m["pop3d_commands_total{command=\"STLS\"}"] == 1)
    assert cmds(m) == {"CAPA": 1, "USER": 1, "PASS": 1, "STAT": 1, "LIST": 1,
                       "UIDL": 1, "RETR": 1, "TOP": 1, "DELE": 1, "RSET": 1,
                       "NOOP": 1, "QUIT": 1, "APOP": 1, "AUTH": 1, "STLS": 1}
