"""
test_ops.py - what a mail admin runs around the server: the demo, the
open-files limit, logging to a file (and logrotate's SIGUSR1), the
fail2ban filter against a real log, and make install.
"""
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from pop3util import (IS_ROOT, REPO_ROOT, Server, build_dir, children,
                      plain_b64, proc_alive, wait_until)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound, read, released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Lines:
    """Collects the lines of a pipe in a thread, for bounded waits."""

    def __init__(self, pipe):
        self.lines = []
        self.done = False
        self.cond = threading.Condition()
        self.t = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.t.start()

    def _run(self, pipe):
        for raw in pipe:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait(self, pattern, timeout):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if rx.search(l):
                        return l
                left = end - time.monotonic()
                if left <= 0 or self.done:
                    return None
                self.cond.wait(min(left, 0.2))

    def text(self):
        with self.cond:
            return "\n".join(self.lines)


def stop_tree(proc, timeout=15):
    """SIGTERM to proc (a pop3d master), then SIGKILL to what is left."""
    kids = children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    wait_until(lambda: not [k for k in kids if proc_alive(*k)], 5)
    for pid, start in kids:
        if proc_alive(pid, start):
            os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- make demo

def test_demo_honours_tmpdir():
    """scripts/demo.sh makes its state folder under $TMPDIR, and the curl
    command it prints fetches message 1 from the demo server."""
    b = build_dir()
    if not os.access(os.path.join(b, "tools", "mkhash"), os.X_OK):
        pytest.fail("tools/mkhash is missing: run `make all`")
    tmp = tempfile.mkdtemp(prefix="pop3d-tmpdir-")
    os.chmod(tmp, 0o755)    # the workers (user nobody) read the mail there
    port, sport = free_ports(2)
    env = dict(os.environ, TMPDIR=tmp, POP3_PORT=str(port),
               POP3S_PORT=str(sport))
    proc = subprocess.Popen(["sh", os.path.join(REPO_ROOT, "scripts", "demo.sh"), b],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=tmp)
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    state = None
    try:
        assert out.wait(r"^Stop with Ctrl-C", 30), \
            "demo printed no instructions:\n%s\n%s" % (out.text(), err.text())
        m = re.search(r"state in (\S+)", out.text())
        assert m, out.text()
        state = m.group(1)
        assert os.path.dirname(state) == os.path.realpath(tmp) or \
            os.path.dirname(state) == tmp, \
            "state folder %s is not in TMPDIR=%s" % (state, tmp)
        assert os.path.isdir(state)
        # demo.sh execs pop3d: the PID is the master's.
        assert err.wait(r"master: ready", 15), err.text()
        curl = [l.strip() for l in out.lines
                if l.strip().startswith("curl ") and "pop3s://" in l]
        assert curl, out.text()
        r = subprocess.run(shlex.split(curl[0]), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert r.returncode == 0, r.stderr.decode()
        assert b"Subject: Welcome to pop3d" in r.stdout, r.stdout
    finally:
        stop_tree(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        if state and not state.startswith(tmp):
            shutil.rmtree(state, ignore_errors=True)
    assert proc.returncode == 0, err.text()


# ---------------------------------------------------------------- open files

def nofile_limits(pid):
    """(soft, hard) of RLIMIT_NOFILE from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                big = 1 << 62
                return (big if soft == "unlimited" else int(soft),
                        big if hard == "unlimited" else int(hard))
    raise AssertionError("no Max open files in /proc/%d/limits" % pid)


def low_nofile(soft, hard=None):
    def f():
        h = resource.getrlimit(resource.RLIMIT_NOFILE)[1] if hard is None else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, h))
    return f


def has_cap_sys_resource():
    """Whether this process may raise a hard rlimit (CAP_SYS_RESOURCE,
    bit 24 of CapEff); some containers drop it even for root."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 24))
    return False


def fd_need(max_connections, workers, listeners=2):
    """What pop3d says a worker needs: 4 per session of its share, the
    listeners, 512 for the rest and queued purges (FDS_PER_SESSION, FDS_OVERHEAD)."""
    return -(-max_connections // workers) * 4 + listeners + 512


def child_pids(s):
    """The auth process and the workers: all inherit the master's limit."""
    return [pid for pid, _ in s.kids]


def fd_warnings(s):
    with s.log_cond:
        return [l for l in s.log if "open files" in l]


def test_start_raises_soft_open_files_limit(make_server):
    """Launched with ulimit -Sn 256 (the hard limit as it is), the
    master raises the soft limit to what the default max_connections
    (10000) needs per worker: no warning, and every worker has it."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    workers = 4
    need = fd_need(10000, workers)
    if hard < need:
        pytest.skip("hard limit %d is below the %d needed" % (hard, need))
    s = make_server(workers=workers, preexec=low_nofile(256))
    s.wait_log(r"master: ready", timeout=5)
    assert fd_warnings(s) == []
    pids = child_pids(s)
    assert len(pids) == workers + 1, s.kids
    for pid in pids:
        soft, _ = nofile_limits(pid)
        assert soft >= need, (pid, soft, need)
    c = s.session(s.new_user())
    c.ok("STAT")
    c.close()


@pytest.mark.skipif(not IS_ROOT, reason="only root may raise a hard limit")
def test_root_raises_hard_open_files_limit(make_server):
    """Launched with ulimit -n 256 and a hard limit of 4096, below the
    10066 a worker needs: a root master that may (CAP_SYS_RESOURCE)
    raises the hard limit too and says nothing; one that may not raises
    the soft limit to the hard one and warns once, with the numbers."""
    workers = 4
    need = fd_need(10000, workers)
    s = make_server(workers=workers, preexec=low_nofile(256, 4096))
    s.wait_log(r"master: ready", timeout=5)
    pids = child_pids(s)
    assert len(pids) == workers + 1, s.kids
    if has_cap_sys_resource():
        assert fd_warnings(s) == []
        for pid in pids:
            soft, hard = nofile_limits(pid)
            assert soft >= need and hard >= need, (pid, soft, hard, need)
    else:
        w = fd_warnings(s)
        assert len(w) == 1 and re.search(
            r"open files limited to 4096; max_connections=10000 needs about "
            r"%d per worker \(workers=4\)" % need, w[0]), w
        for pid in pids:
            assert nofile_limits(pid) == (4096, 4096), pid


# ---------------------------------------------------------------- log = file:

# ISO 8601 with milliseconds and the UTC offset, which fail2ban's
# datedetector reads: 2026-12-05T03:48:40.123+0000
TS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}"
LINE_RE = re.compile(r"^%s pop3d\[\d+\]: (master|auth|worker): \S" % TS_RE)


class FileLogServer(Server):
    """A Server with log = file:PATH: its log list is fed from that file
    (following it across a rename, as a reader after logrotate would)
    and from stderr, which should stay empty once pop3d runs."""

    def __init__(self, env, **kw):
        super().__init__(env, **kw)
        self.log_path = os.path.join(self.base, "pop3d.log")
        self.settings["server"].append(("log", "file:" + self.log_path))
        self.stderr_lines = []

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.log_cond:
                self.stderr_lines.append(line)
                self.log.append("stderr: " + line)
                self.log_cond.notify_all()

    def _read_log(self):
        t = threading.Thread(target=self._read_stderr, daemon=True)
        t.start()
        f, ino, part = None, None, b""
        while True:
            running = self.proc.poll() is None
            try:
                st = os.stat(self.log_path)
            except FileNotFoundError:
                st = None
            if f is None and st is not None and stat.S_ISREG(st.st_mode):
                f, ino = open(self.log_path, "rb"), st.st_ino
            if f is not None:
                data = f.read()
                if data:
                    part += data
                    *lines, part = part.split(b"\n")
                    with self.log_cond:
                        self.log += [l.decode("utf-8", "replace") for l in lines]
                        self.log_cond.notify_all()
                elif st is not None and st.st_ino != ino:
                    f.close()   # renamed away and drained: the new file
                    f, part = None, b""
                    continue
            if not running:
                break
            time.sleep(0.02)
        if f is not None:
            f.close()
        t.join(5)
        with self.log_cond:
            self.log_cond.notify_all()


def start_file_log_server(make_server, **kw):
    s = FileLogServer(make_server.env, **kw)
    make_server.servers.append(s)
    s.start()
    return s


def file_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def test_log_file_timestamps_all_processes_and_sigusr1(make_server):
    """log = file:PATH: master, auth and worker lines land in PATH, each
    a whole line with a timestamp, nothing on stderr; after logrotate's
    rename and SIGUSR1 the lines of every process go to a new PATH."""
    s = start_file_log_server(make_server, plaintext="yes")
    u1, u2 = s.new_user(), s.new_user()
    c = s.session(u1)
    c.ok("STAT")
    c.ok("QUIT")
    c.close()
    s.wait_log(r"worker: [0-9a-f]{16} logout user=%s " % u1.name)
    lines = file_lines(s.log_path)
    bad = [l for l in lines if not LINE_RE.match(l)]
    assert bad == [], bad
    text = "\n".join(lines)
    assert re.search(r"master: listen addr=", text)
    assert re.search(r"auth: [0-9a-f]{16} auth ok user=%s " % u1.name, text)
    assert re.search(r"worker: [0-9a-f]{16} login user=%s " % u1.name, text)
    assert s.stderr_lines == []

    rotated = s.log_path + ".1"
    os.rename(s.log_path, rotated)
    mark = s.mark()
    s.signal(signal.SIGUSR1)
    s.wait_log(r"master: log reopened path=", start=mark)
    assert os.path.exists(s.log_path)
    c = s.session(u2)
    c.ok("STAT")
    c.ok("QUIT")
    c.close()
    s.wait_log(r"worker: [0-9a-f]{16} logout user=%s " % u2.name, start=mark)
    new = "\n".join(file_lines(s.log_path))
    old = "\n".join(file_lines(rotated))
    for rx in (r"auth: [0-9a-f]{16} auth ok user=%s " % u2.name,
               r"worker: [0-9a-f]{16} login user=%s " % u2.name,
               r"worker: [0-9a-f]{16} logout user=%s " % u2.name):
        assert re.search(rx, new), (rx, new)
        assert not re.search(rx, old), (rx, old)
    assert all(LINE_RE.match(l) for l in new.splitlines()), new
    assert s.stderr_lines == []
    # The children are still the same processes: nothing restarted.
    assert children(s.proc.pid) == s.kids


def test_log_file_lines_never_interleave(make_server):
    """Many sessions on two workers, logging at once: every line in the
    file is one whole line."""
    s = start_file_log_server(make_server, plaintext="yes", workers=2)
    users = [s.new_user() for _ in range(8)]
    errs = []

    def run(u):
        try:
            for _ in range(15):
                c = s.session_retry(u, tls=False)
                c.ok("STAT")
                c.ok("QUIT")
                c.close()
        except Exception as e:          # reported below
            errs.append(repr(e))
    ts = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert errs == []
    wait_until(lambda: len([l for l in file_lines(s.log_path)
                            if " logout user=" in l]) >= 120, 10)
    lines = file_lines(s.log_path)
    bad = [l for l in lines if not LINE_RE.match(l)]
    assert bad == [], bad[:5]
    assert len([l for l in lines if " logout user=" in l]) == 120


def test_log_file_errors_also_on_stderr(env):
    """With log = file:, a start that fails (a port in use) says why on
    standard error too, where it was started, and in the file."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    s = FileLogServer(env, listen=("127.0.0.1:%d" % busy.getsockname()[1],))
    try:
        s.write_files()
        r = subprocess.run([env.pop3d, "-c", s.conf_path], cwd=s.base,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        assert r.returncode == 1
        rx = r"master: listen 127\.0\.0\.1:\d+: Address already in use"
        assert re.search(rx, r.stderr.decode()), r.stderr
        lines = file_lines(s.log_path)
        assert any(re.search(rx, l) and LINE_RE.match(l) for l in lines), lines
    finally:
        busy.close()
        shutil.rmtree(s.base, ignore_errors=True)


def test_log_file_fifo_refused_at_start(env):
    """A FIFO (or anything but a regular file) at the log path is refused
    at once with the path named: opened as root, it must neither block
    the master (a FIFO without reader) nor write somewhere unexpected."""
    s = FileLogServer(env)
    try:
        s.write_files()
        os.mkfifo(s.log_path)
        r = subprocess.run([env.pop3d, "-c", s.conf_path], cwd=s.base,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        assert r.returncode == 1, r.stderr
        err = r.stderr.decode()
        assert "log file %s" % s.log_path in err and "regular file" in err, err
        # A second link to the file (say, to a file an attacker wants
        # root to append to) is refused the same way.
        os.unlink(s.log_path)
        other = os.path.join(s.base, "other")
        open(other, "w").close()
        os.link(other, s.log_path)
        r = subprocess.run([env.pop3d, "-c", s.conf_path], cwd=s.base,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        assert r.returncode == 1, r.stderr
        assert "regular file" in r.stderr.decode(), r.stderr
        assert os.path.getsize(other) == 0
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_log_reopen_onto_fifo_keeps_the_old_file(make_server):
    """SIGUSR1 when a FIFO sits at the log path: the master says so in the
    file it keeps, goes on serving, and still stops on SIGTERM."""
    s = start_file_log_server(make_server, plaintext="yes")
    u = s.new_user()
    rotated = s.log_path + ".1"
    os.rename(s.log_path, rotated)
    os.mkfifo(s.log_path)
    s.signal(signal.SIGUSR1)
    assert wait_until(lambda: any(
        "log reopen path=%s" % s.log_path in l and "regular file" in l
        for l in file_lines(rotated)), 10), file_lines(rotated)[-5:]
    c = s.session(u, tls=False)
    c.ok("STAT")
    c.ok("QUIT")
    c.close()
    assert wait_until(lambda: any(" logout user=%s " % u.name in l
                                  for l in file_lines(rotated)), 10)
    os.unlink(s.log_path)
    s.terminate()
    assert wait_until(lambda: s.proc.poll() is not None, 10), \
        "master did not stop on SIGTERM"


def test_log_pipe_full_never_blocks_a_worker(make_server):
    """A master that does not drain the children's log pipe (stopped
    here; a hung log disk does the same) costs log lines, never service:
    with it stopped, thousands of connections, far more lines than the
    pipe holds, each still get their greeting at once; once it runs
    again the log says how many lines were dropped."""
    s = start_file_log_server(make_server, plaintext="yes", workers=1)
    os.kill(s.proc.pid, signal.SIGSTOP)
    try:
        n, slow = 0, None
        for n in range(1, 12001):       # well past 1 MiB of lines
            with socket.create_connection(("127.0.0.1", s.port), timeout=3) as k:
                try:
                    g = k.recv(512)
                except socket.timeout:
                    slow = n
                    break
                assert g.startswith(b"+OK"), g
        assert slow is None, "connection %d got no greeting within 3 s" % slow
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    u = s.new_user()
    c = s.session(u, tls=False)
    c.ok("QUIT")
    c.close()
    s.wait_log(r"worker: [0-9a-f]{16} logout user=%s " % u.name, start=0,
               timeout=10)
    s.wait_log(r"worker: log: \d+ lines dropped", start=0, timeout=10)


def test_log_file_bad_path_is_a_config_error(env, tmp_path):
    """log = file: needs an absolute path; pop3d -t says so."""
    s = Server(env)
    try:
        s.settings["server"].append(("log", "file:relative.log"))
        s.write_files()
        r = subprocess.run([env.pop3d, "-t", "-c", s.conf_path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        assert r.returncode != 0
        assert re.search(rb"log: .*absolute", r.stderr), r.stderr
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


# ---------------------------------------------------------------- fail2ban

FILTER = os.path.join(REPO_ROOT, "etc", "fail2ban", "filter.d", "pop3d.conf")
BAD_PASSWORD = "Wrong-pass-9"


def f2b_regex(log, *opts):
    r = subprocess.run(["fail2ban-regex", "-r"] + list(opts) + [log, FILTER],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out
    return out


def test_fail2ban_filter_on_a_real_log(make_server):
    """A pop3d log (log = file:) of failed and successful logins of every
    kind, through fail2ban-regex and the filter in the source tree: each
    failure matches with its client address, no other line does, and the
    date detector reads every timestamp."""
    if shutil.which("fail2ban-regex") is None:
        pytest.fail("fail2ban-regex is missing: run scripts/deps.sh test")
    s = start_file_log_server(make_server, plaintext="yes")
    good = s.new_user()
    src = iter("127.0.0.%d" % i for i in range(10, 250))

    def plain(user, password):
        return "AUTH PLAIN " + plain_b64("", user, password)

    def user_pass(c, user, password):
        return c.try_login(user, password)

    def auth_plain(c, user, password):
        return c.cmd(plain(user, password))

    # (transport, how, user, password): each a new connection.
    cases = []
    for transport in ("plain", "stls", "pop3s"):
        for how in (user_pass, auth_plain):
            cases.append((transport, how, good.name, BAD_PASSWORD, False))
            cases.append((transport, how, "nosuchuser", BAD_PASSWORD, False))
            cases.append((transport, how, good.name, good.password, True))
    failed_ips, ok_ips = [], []
    for transport, how, user, password, ok in cases:
        ip = next(src)
        c = s.connect(tls=(transport == "pop3s"), source=ip)
        if transport == "stls":
            c.starttls()
        r = how(c, user, password)
        assert r.startswith("+OK" if ok else "-ERR"), (transport, how, user, r)
        (ok_ips if ok else failed_ips).append(ip)
        c.cmd("QUIT")
        c.close()
    s.wait_log(r"auth: [0-9a-f]{16} auth ok user=\S+ rip=%s "
               % re.escape(ok_ips[-1]))
    # Every connection has ended with its logout or disconnect line: no
    # line comes after the file is read (fail2ban-regex reads it again).
    wait_until(lambda: len([l for l in file_lines(s.log_path)
                            if " logout user=" in l or " disconnect rip=" in l])
               >= len(cases), 10)
    lines = file_lines(s.log_path)
    assert len([l for l in lines if " auth failed " in l]) == len(failed_ips)
    assert len([l for l in lines if " auth ok " in l]) == len(ok_ips)

    out = f2b_regex(s.log_path, "--print-all-matched", "--print-all-missed")
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, "
                  r"(\d+) missed", out, re.M)
    assert m, out
    total, ignored, matched, missed = map(int, m.groups())
    assert total == len(lines) and ignored == 0, out
    assert matched == len(failed_ips), out
    assert missed == total - matched, out
    # Every timestamp was read by the ISO 8601 date template.
    hits = re.findall(r"^\|\s+\[(\d+)\] \{\^LN-BEG\}ExYear", out, re.M)
    assert hits and int(hits[0]) == total, out
    # Which lines matched: all the failures, none of the successes.
    sect = out[out.index("Matched line(s):"):out.index("Missed line(s):")] \
        if "Missed line(s):" in out else out[out.index("Matched line(s):"):]
    assert sect.count(" auth failed ") == len(failed_ips), sect
    for bad in (" auth ok ", " login user=", " logout user="):
        assert bad not in sect, sect
    # fail2ban takes the client's address from each failure.
    ips = f2b_regex(s.log_path, "-o", "ip").split()
    assert ips == failed_ips


# ---------------------------------------------------------------- make install

def test_make_install_destdir_prefix(tmp_path):
    """make install DESTDIR=D PREFIX=/opt/x: the three programs, the man
    pages, the systemd units with /opt/x in their command lines (system
    units in PREFIX/lib/systemd/system, pop3fetch's user units in
    PREFIX/lib/systemd/user), the sample config and the fail2ban files
    under D/etc."""
    b = build_dir()
    dest = str(tmp_path / "dest")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "-s", "install", "B=" + b, "DESTDIR=" + dest,
                        "PREFIX=/opt/x"], cwd=REPO_ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    assert r.returncode == 0, r.stdout.decode()
    root = dest + "/opt/x"
    for p in ("sbin/pop3d", "sbin/pop3ctl", "bin/pop3fetch"):
        assert os.access(os.path.join(root, p), os.X_OK), p
    for m in ("man8/pop3d.8", "man8/pop3ctl.8", "man5/pop3d.conf.5",
              "man1/pop3fetch.1"):
        assert os.path.isfile(os.path.join(root, "share/man", m)), m
    units = {
        "lib/systemd/system/pop3d.service":
            ["ExecStart=/opt/x/sbin/pop3d -c /etc/pop3d/pop3d.conf",
             "ExecReload=/opt/x/sbin/pop3d -c /etc/pop3d/pop3d.conf -t"],
        "lib/systemd/user/pop3fetch.service": ["ExecStart=/opt/x/bin/pop3fetch"],
        "lib/systemd/user/pop3fetch.timer": ["OnUnitActiveSec="],
    }
    for path, want in units.items():
        full = os.path.join(root, path)
        assert os.path.isfile(full), path
        with open(full) as f:
            text = f.read()
        got = text.splitlines()
        for w in want:
            assert any(l.startswith(w) for l in got), (path, w, text)
        assert "/usr/local" not in text, (path, text)
    for p in ("etc/fail2ban/filter.d/pop3d.conf", "etc/fail2ban/jail.d/pop3d.conf",
              "etc/pop3d/pop3d.conf"):
        assert os.path.isfile(os.path.join(dest, p)), p
    with open(os.path.join(dest, "etc/fail2ban/filter.d/pop3d.conf")) as f:
        assert "auth failed" in f.read()
