"""Process model: privileges, SIGHUP, SIGTERM, dead workers and auth
process, IPv6 listeners."""
import os
import pwd
import signal
import socket
import time

import pytest

from pop3util import (AUTH_USER, IS_ROOT, LISTEN_RE, WORKER_USER, Conn, children,
                      has_cap, ipv6_loopback, proc_alive, proc_uid, wait_until)

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (privilege drop)")


def uid_of(name):
    return pwd.getpwnam(name).pw_uid


def kids_with_uid(s, uid):
    return sorted(p for p, _ in children(s.proc.pid) if proc_uid(p) == uid)


def refresh_listeners(s, start):
    """After a reload the master may have re-bound port 0 listeners."""
    want = len(s.listen) + len(s.listen_tls)
    with s.log_cond:
        lines = s.log[start:]
    new = []
    for l in lines:
        m = LISTEN_RE.search(l)
        if m:
            new.append((m.group(1).strip("[]"), int(m.group(2)), m.group(3)))
    if len(new) >= want:
        s.listeners = new[-want:]


# ------------------------------------------------------------- privileges

@needs_root
def test_privileges(make_server):
    s = make_server(name="priv", workers=2)
    st = os.stat("/proc/%d" % s.proc.pid)

    def uids_now():
        return sorted(proc_uid(p) for p, _ in children(s.proc.pid))
    # A child forked a moment ago may not have dropped root yet (an ASan
    # build on a busy machine is slow to get there): give it a moment.
    wait_until(lambda: 0 not in uids_now() and len(uids_now()) == 3, 5)
    uids = uids_now()
    assert uids.count(uid_of(WORKER_USER)) == 2, "worker uids %r" % uids
    assert uids.count(uid_of(AUTH_USER)) == 1, "auth uid %r" % uids
    assert 0 not in uids, "a child of the master runs as root: %r" % uids
    assert st.st_uid == 0


# ------------------------------------------------------------- SIGHUP

def test_sighup_keeps_sessions(make_server):
    s = make_server(name="hup")
    s.volatile = True
    u = s.new_user()
    for i in range(2):
        s.deliver(u, b"Subject: %d\n\nhup %d\n" % (i, i))
    c = s.session(u)
    try:
        st = c.stat()
        mark = s.mark()
        s.signal(signal.SIGHUP)
        time.sleep(1.0)
        assert s.proc.poll() is None, "master exited on SIGHUP:\n" + s.log_tail()
        assert c.stat() == st
        assert c.multi_cmd("RETR 2") == [b"Subject: 1", b"", b"hup 1"]
        refresh_listeners(s, mark)
        for tls in (False, True):
            u2 = s.new_user()
            with s.connect(tls=tls) as c2:
                assert c2.greeting.startswith("+OK")
                if not tls:
                    c2.starttls()
                c2.login(u2.name, u2.password)
                c2.stat()
                c2.ok("QUIT")
        c.ok("DELE 1")
        c.ok("QUIT")
    finally:
        c.close()
    assert len(s.names(u)) == 1
    s.snapshot_children()


def test_sighup_reloads_config(make_server):
    s = make_server(name="hup-config", plaintext="no")
    s.volatile = True
    with s.connect() as c:
        assert not has_cap(c.capa(), "USER")
    s.set_auth("allow_plaintext_auth", "yes")
    s.write_files()
    mark = s.mark()
    s.signal(signal.SIGHUP)

    def plaintext_offered():
        refresh_listeners(s, mark)
        try:
            with s.connect() as c:
                return has_cap(c.capa(), "USER")
        except (OSError, EOFError):
            return False
    assert wait_until(plaintext_offered, 10, step=0.2), \
        "allow_plaintext_auth change not picked up by SIGHUP:\n" + s.log_tail()
    u = s.new_user()
    with s.connect() as c:
        c.login(u.name, u.password)
        c.ok("QUIT")


def test_sighup_with_broken_config_keeps_running(make_server):
    s = make_server(name="hup-bad")
    s.volatile = True
    good = s.config_text()
    with open(s.conf_path, "a") as f:
        f.write("\n[server]\nbogus_key = 1\n")
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"bogus_key", start=mark, timeout=5)
    time.sleep(0.5)
    assert s.proc.poll() is None, "master died on a bad reload:\n" + s.log_tail()
    refresh_listeners(s, mark)
    u = s.new_user()
    with s.session(u) as c:
        c.stat()
        c.ok("QUIT")
    with open(s.conf_path, "w") as f:
        f.write(good)


def test_failed_reload_keeps_the_listeners(make_server):
    """A reload that takes over one listener and then fails on the next
    keeps the running set whole: a later reload still has the socket of
    the unchanged address (it was lost, still open in the master, so
    every later reload failed with "Address already in use")."""
    with socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
    keep = "127.0.0.1:%d" % port
    s = make_server(name="hup-rebind", listen=(keep,))
    s.volatile = True
    # TEST-NET-1 is no address of this host: its bind fails.
    s.listen = [keep, "192.0.2.1:%d" % port]
    s.write_files()
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"reload failed", start=mark, timeout=10)
    s.listen = [keep]
    s.write_files()
    mark = s.mark()
    s.signal(signal.SIGHUP)
    line = s.wait_log(r"reload failed|ready workers=", start=mark, timeout=10)
    assert "ready workers=" in line, \
        "the second reload failed:\n" + s.log_tail()
    u = s.new_user()

    def login():
        try:
            with s.connect() as c:
                c.starttls()
                c.login(u.name, u.password)
                c.stat()
                c.ok("QUIT")
            return True
        except (OSError, EOFError, AssertionError):
            return False
    assert wait_until(login, 10, step=0.2), s.log_tail()
    assert s.proc.poll() is None


# ------------------------------------------------------------- SIGTERM

def test_sigterm_stops_everything(make_server):
    s = make_server(name="term", shutdown_timeout=2)
    idle = s.connect()                      # AUTHORIZATION, never finishes
    u = s.new_user()
    s.deliver(u, b"Subject: t\n\nterm\n")
    busy = s.session(u)                     # TRANSACTION, never QUITs
    busy.ok("DELE 1")
    ports = list(s.listeners)
    try:
        elapsed, kids = s.terminate()
        assert s.proc.poll() is not None, "master still running %ds after SIGTERM" % (
            s.shutdown_timeout + 5)
        assert elapsed <= s.shutdown_timeout + 5
        assert wait_until(lambda: not any(proc_alive(*k) for k in kids), 5), \
            "children outlived the master"
        for h, p, _ in ports:
            with pytest.raises(OSError):
                socket.create_connection((h, p), timeout=2).close()
        # the cut session deleted nothing
        assert len(s.names(u)) == 1
        for c in (idle, busy):
            assert c.wait_eof(1)
    finally:
        idle.close()
        busy.close()


def test_sigterm_lets_sessions_finish(make_server):
    s = make_server(name="drain", shutdown_timeout=4)
    u = s.new_user()
    for i in range(2):
        s.deliver(u, b"Subject: %d\n\ndrain\n" % i)
    c = s.session(u)
    try:
        c.ok("DELE 1")
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert c.stat()[0] == 1
        c.ok("QUIT")
        assert c.wait_eof(5)
    finally:
        c.close()
    assert len(s.names(u)) == 1, "QUIT during the drain did not commit"
    try:
        s.proc.wait(timeout=s.shutdown_timeout + 5)
    except Exception:
        pass
    assert s.proc.poll() is not None, "master still running after the drain"
    assert time.monotonic() - t0 <= s.shutdown_timeout + 5


# ------------------------------------------------------------- dead children

@needs_root
def test_killed_worker_is_replaced(make_server):
    s = make_server(name="kill-worker", workers=2)
    s.volatile = True
    wuid = uid_of(WORKER_USER)
    ws = kids_with_uid(s, wuid)
    assert len(ws) == 2, ws
    os.kill(ws[0], signal.SIGKILL)
    ok = wait_until(lambda: len(kids_with_uid(s, wuid)) == 2
                    and ws[0] not in kids_with_uid(s, wuid), 10)
    assert ok, "no new worker after kill -9 of %d:\n%s" % (ws[0], s.log_tail())
    for _ in range(6):
        u = s.new_user()
        with s.session(u) as c:
            c.stat()
            c.ok("QUIT")
    assert s.proc.poll() is None
    s.snapshot_children()


@needs_root
def test_killed_auth_process_is_replaced(make_server):
    s = make_server(name="kill-auth")
    s.volatile = True
    auid = uid_of(AUTH_USER)
    a = kids_with_uid(s, auid)
    assert len(a) == 1, a
    os.kill(a[0], signal.SIGKILL)
    assert wait_until(lambda: kids_with_uid(s, auid) not in ([], a), 10), \
        "no new auth process:\n" + s.log_tail()

    def can_login():
        u = s.new_user()
        try:
            with s.connect(tls=True) as c:
                return c.try_login(u.name, u.password).startswith("+OK")
        except (OSError, EOFError):
            return False
    assert wait_until(can_login, 10, step=0.5), s.log_tail()
    assert s.proc.poll() is None


# ------------------------------------------------------------- IPv6

@pytest.mark.skipif(not ipv6_loopback(), reason="no ::1")
def test_ipv6_listeners(make_server):
    s = make_server(name="ipv6", listen=("[::1]:0", "127.0.0.1:0"),
                    listen_tls=("[::1]:0",))
    assert s.wait_log(r"listen addr=\[::1\]:\d+ tls=starttls")
    assert s.wait_log(r"listen addr=\[::1\]:\d+ tls=implicit")
    hosts = sorted(h for h, _, _ in s.listeners)
    assert hosts == ["127.0.0.1", "::1", "::1"], s.listeners
    for h, p, kind in s.listeners:
        u = s.new_user()
        c = Conn(h, p, tls=(kind == "implicit"), ctx=s.env.ctx)
        with c:
            assert c.greeting.startswith("+OK")
            if kind == "starttls":
                c.starttls()
            c.login(u.name, u.password)
            c.stat()
            c.ok("QUIT")


def test_reload_does_not_switch_the_account_backend(make_server):
    """backend and the database settings are the auth process's from its
    start: a reload that changes them says a restart applies it and
    keeps the running backend (before, the file-based auth process got
    an empty passwd_file and every login failed [SYS/TEMP])."""
    s = make_server(name="hup-backend", plaintext="yes")
    s.volatile = True
    u = s.new_user()
    with s.connect() as c:
        c.login(u.name, u.password)
    s.set_auth("backend", "pgsql")
    s.settings.setdefault("pgsql", []).append(
        ("conninfo", "host=127.0.0.1 port=1 dbname=mail"))
    text = "\n".join(l for l in s.config_text().splitlines()
                     if not l.startswith("passwd_file")) + "\n"
    with open(s.conf_path, "w") as f:
        f.write(text)
    m = s.mark()
    s.signal(signal.SIGHUP)
    assert s.wait_log(r"ready workers=", start=m, timeout=10), s.log_tail()
    assert s.wait_log(r"backend: changed to \"pgsql\"; a restart applies "
                      r"it", start=m, timeout=2), s.log_tail()
    refresh_listeners(s, m)
    for _ in range(3):      # the new workers, and the auth process
        with s.connect() as c:
            c.login(u.name, u.password)
            c.ok("QUIT")


def test_default_workers_follow_the_cpu_affinity(make_server):
    """workers = 0 (and threads = 0): one per CPU the process may use - a
    container's or taskset's cpuset - not one per CPU of the host."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs to tell the two apart")
    s = make_server(name="affinity", workers=0,
                    preexec=lambda: os.sched_setaffinity(0, {0}))
    time.sleep(1.0)
    kids = children(s.proc.pid)
    assert len(kids) == 2, kids       # one worker and the auth process
    if IS_ROOT:
        auth = [p for p, _ in kids if proc_uid(p) == pwd.getpwnam(
            AUTH_USER).pw_uid]
        assert len(auth) == 1, kids
        with open("/proc/%d/status" % auth[0]) as f:
            threads = [int(l.split()[1]) for l in f
                       if l.startswith("Threads:")][0]
        assert threads == 2, threads  # its main thread and one hasher
