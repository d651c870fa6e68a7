"""Connection limits that hold against one client filling the server:
max_connections_per_ip counted across all workers (addrlimit.c), a dead
worker's connections no longer counted, and a full worker that sheds
its oldest not-logged-in connection instead of refusing a new one, but
never a logged-in session."""
import os
import signal
import socket

from pop3util import WORKER_USER, Conn, children, proc_uid, wait_until

BUSY_IP = "-ERR [SYS/TEMP] too many connections from your address"
FULL = "-ERR [SYS/TEMP] too many connections"


def open_many(s, n, source):
    """n plain connections from source; (admitted, refused) lists."""
    h, p = s.plain[0]
    ok, refused = [], []
    for _ in range(n):
        c = Conn(h, p, source=source)
        (ok if c.greeting.startswith("+OK") else refused).append(c)
    return ok, refused


def close_all(conns):
    for c in conns:
        c.close()


def test_per_ip_limit_is_for_the_whole_server(make_server):
    s = make_server(name="perip", workers=4,
                    extra={"server": {"max_connections_per_ip": "5"}})
    ok, refused = open_many(s, 16, "127.0.0.50")
    try:
        assert len(ok) == 5, "admitted %d of 16 (limit 5, 4 workers)" % len(ok)
        for c in refused:
            assert c.greeting == BUSY_IP, c.greeting
        # Another address is not affected.
        other, _ = open_many(s, 1, "127.0.0.51")
        assert len(other) == 1
        close_all(other)
        # Two leave, two may come.
        close_all(ok[:2])
        ok = ok[2:]

        def two_more():
            more, no = open_many(s, 1, "127.0.0.50")
            ok.extend(more)
            close_all(no)
            return len(ok) == 5
        assert wait_until(two_more, 5, step=0.1) and wait_until(two_more, 5,
                                                               step=0.1)
        _, no = open_many(s, 1, "127.0.0.50")
        assert len(no) == 1
        close_all(no)
    finally:
        close_all(ok + refused)


def test_dead_workers_connections_stop_counting(make_server):
    s = make_server(name="perip-kill", workers=2,
                    extra={"server": {"max_connections_per_ip": "4"}})
    s.volatile = True
    ok, refused = open_many(s, 4, "127.0.0.60")
    close_all(refused)
    assert len(ok) == 4
    import pwd
    uid = pwd.getpwnam(WORKER_USER).pw_uid if os.geteuid() == 0 else os.geteuid()
    workers = [p for p, _ in children(s.proc.pid) if proc_uid(p) == uid]
    assert len(workers) == 2
    for w in workers:
        os.kill(w, signal.SIGKILL)
    close_all(ok)

    def admitted_again():
        try:
            more, no = open_many(s, 4, "127.0.0.60")
        except OSError:
            return False
        close_all(more + no)
        return len(more) == 4
    assert wait_until(admitted_again, 10, step=0.3), s.log_tail()


def test_full_worker_sheds_the_oldest_not_logged_in(make_server):
    s = make_server(name="shed", workers=1, plaintext="loopback",
                    extra={"server": {"max_connections": "4"}})
    u = s.new_user()
    logged = s.session(u, tls=False)
    idle, _ = open_many(s, 3, "127.0.0.70")
    try:
        # Full (4).  A new one gets in; the oldest idle one is closed.
        new, refused = open_many(s, 1, "127.0.0.71")
        assert len(new) == 1 and not refused, [c.greeting for c in refused]
        idle[0].sock.settimeout(5)
        assert idle[0].sock.recv(100) == b"", "the oldest idle one was kept"
        assert s.wait_log(r"shed rip=127\.0\.0\.70 state=", timeout=5)
        # The logged-in session was not touched.
        assert logged.cmd("NOOP").startswith("+OK")
    finally:
        close_all(idle + new)
    # All logged in: nothing to shed, a new one is refused.
    others = [s.session(s.new_user(), tls=False) for _ in range(3)]
    try:
        _, refused = open_many(s, 1, "127.0.0.72")
        assert len(refused) == 1 and refused[0].greeting == FULL + \
            "; try again later", refused[0].greeting
        close_all(refused)
        for c in [logged] + others:
            assert c.cmd("NOOP").startswith("+OK")
    finally:
        close_all([logged] + others)


def test_no_shedding_for_a_connection_its_address_limit_refuses(make_server):
    s = make_server(name="shed-perip", workers=1,
                    extra={"server": {"max_connections": "3",
                                      "max_connections_per_ip": "2"}})
    b, _ = open_many(s, 1, "127.0.0.80")        # the oldest, another address
    a, _ = open_many(s, 2, "127.0.0.81")        # at its limit; the worker is full
    try:
        _, refused = open_many(s, 1, "127.0.0.81")
        assert len(refused) == 1 and refused[0].greeting.startswith(
            "-ERR [SYS/TEMP] too many connections"), refused[0].greeting
        close_all(refused)
        # Nobody was shed for it: the other address's session lives.
        assert b[0].cmd("CAPA").startswith("+OK")
        b[0].multi()
    finally:
        close_all(a + b)
