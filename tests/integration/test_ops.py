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
import subprocess
import tempfile
import threading
import time

import pytest

from pop3util import (IS_ROOT, REPO_ROOT, build_dir, children, proc_alive,
                      wait_until)


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
    listeners, 64 for the rest (FDS_PER_SESSION, FDS_OVERHEAD)."""
    return -(-max_connections // workers) * 4 + listeners + 64


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
