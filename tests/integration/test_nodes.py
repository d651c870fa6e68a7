"""Two pop3d nodes behind one real HAProxy (Debian's haproxy, TCP mode,
run by the test), sharing one mail root and one passwd-file: two masters,
each with its own config, ports and log.  TLS is end to end (STLS and
POP3S through the balancer, terminated by pop3d).  HAProxy has one pair
of frontends pinned to each node (so a test knows which node it
reaches: node A with PROXY v2 headers and health checks, node B with v1
on STLS) and a pair that balances both nodes round-robin.  Checked: each
node logs the real client addresses; a ban is per node; the maildrop
lock holds across nodes ([IN-USE] at once); what one node deletes or a
delivery adds is what the other sees, once; round-robin splits sessions
evenly (counted from the nodes' logs, never timed)."""
import os
import time

import pytest

from ctlutil import deliver, free_port
from pop3util import REPO_ROOT, wait_until
from proxyutil import (HAProxy, count_log, needs_haproxy, pport,
                       proxy_server, via)

pytestmark = needs_haproxy


def share_storage(a):
    """A make_server setup: the node uses a's mail root and passwd-file
    (the same users, the same password hashes)."""
    def setup(b):
        b.mail_root = a.mail_root
        b.passwd_path = a.passwd_path
        b.passwd_lines = a.passwd_lines
        b.users = a.users
    return setup


@pytest.fixture
def nodes(make_server, env):
    """(a, b, h): two nodes on one storage, and HAProxy in front."""
    made = []

    def make(**kw):
        a = proxy_server(make_server, "node-a", workers=1, **kw)
        b = proxy_server(make_server, "node-b", workers=1,
                         setup=share_storage(a), **kw)
        assert a.conf_path != b.conf_path and a.port != b.port
        h = HAProxy({
            "a": ["a 127.0.0.1:%d send-proxy-v2 check check-send-proxy "
                  "inter 300ms" % pport(a, "starttls")],
            "a_tls": ["a 127.0.0.1:%d send-proxy-v2" % pport(a, "implicit")],
            "b": ["b 127.0.0.1:%d send-proxy" % pport(b, "starttls")],
            "b_tls": ["b 127.0.0.1:%d send-proxy-v2" % pport(b, "implicit")],
            "rr": ["a 127.0.0.1:%d send-proxy-v2" % pport(a, "starttls"),
                   "b 127.0.0.1:%d send-proxy-v2" % pport(b, "starttls")],
            "rr_tls": ["a 127.0.0.1:%d send-proxy-v2" % pport(a, "implicit"),
                       "b 127.0.0.1:%d send-proxy-v2" % pport(b, "implicit")],
        })
        made.append(h)
        return a, b, h
    yield make
    for h in made:
        h.stop()


def on(h, node, tls, source, env):
    """A connection through the frontend pinned to node ("a", "b"),
    STLS done when not implicit TLS."""
    if tls:
        return via(h, "implicit", source, env, front=node + "_tls")
    c = via(h, "starttls", source, env, front=node)
    assert c.greeting.startswith("+OK"), c.greeting
    c.starttls()
    return c


def ip_re(addr):
    return addr.replace(".", r"\.") + r"\b"


def uidls(c):
    return [l.decode().split()[1] for l in c.multi_cmd("UIDL")]


def test_each_node_logs_the_real_clients(nodes, env):
    a, b, h = nodes(extra={"server": {"verbose": "yes"}})
    u = a.new_user()
    for node, srv, tls, src in (("a", a, False, "127.0.0.2"),
                                ("a", a, True, "127.0.0.3"),
                                ("b", b, False, "127.0.0.4"),
                                ("b", b, True, "127.0.0.5")):
        m = srv.mark()
        with on(h, node, tls, src, env) as c:
            c.login(u.name, u.password)
            c.stat()
            c.ok("QUIT")
        srv.wait_log(r"connect rip=%s tls=%s" % (
            ip_re(src), "implicit" if tls else "no"), start=m)
        srv.wait_log(r"login user=%s rip=%s" % (u.name, ip_re(src)), start=m)
    # Each node saw only its own clients; HAProxy's address is never a
    # client's (its health checks, v2 LOCAL, go to node A only).
    for srv, mine, other in ((a, ("2", "3"), ("4", "5")),
                             (b, ("4", "5"), ("2", "3"))):
        for x in other:
            assert count_log(srv, r"rip=127\.0\.0\.%s\b" % x) == 0, \
                srv.log_tail()
        assert count_log(srv, r"login user=%s rip=127\.0\.0\.1\b"
                         % u.name) == 0, srv.log_tail()
    a.wait_log(r"proxy pip=127\.0\.0\.1 version=2 local=yes",
               timeout=5)
    assert count_log(b, r"proxy pip=.*local=yes") == 0, b.log_tail()


def test_a_ban_is_per_node(nodes, env):
    """Failures on node A ban the real client on A; node B, which saw
    none of them, lets the same address in (pop3d(8): bans are per node;
    fail2ban on the nodes' logs bans at the balancer)."""
    a, b, h = nodes(ban_threshold=3, ban_time=600, fail_delay_ms=0,
                    fail_delay_max_ms=0)
    u = a.new_user()
    bad = "127.0.0.6"
    m = a.mark()
    for tls in (False, True, False):
        with on(h, "a", tls, bad, env) as c:
            c.ok("USER " + u.name)
            assert c.cmd("PASS wrong").startswith("-ERR [AUTH]")
    a.wait_log(r"auth ban rip=%s group=\S+ fails=3" % ip_re(bad), start=m)
    with on(h, "a", True, bad, env) as c:
        c.ok("USER " + u.name)
        r = c.cmd("PASS " + u.password)
        assert "too many failed logins" in r, r
    a.wait_log(r"auth refused user=%s rip=%s reason=banned"
               % (u.name, ip_re(bad)), start=m)
    # Another client still gets into A.
    with on(h, "a", False, "127.0.0.7", env) as c:
        c.login(u.name, u.password)
        c.ok("QUIT")
    # Node B never saw the failures: the banned address logs in there.
    for tls in (False, True):
        with on(h, "b", tls, bad, env) as c:
            c.login(u.name, u.password)
            c.ok("QUIT")
    b.wait_log(r"login user=%s rip=%s" % (u.name, ip_re(bad)))
    assert count_log(b, r"auth ban|reason=banned") == 0, b.log_tail()


def test_lock_and_mail_are_shared(nodes, env):
    """A session on A holds the maildrop: B answers [IN-USE] at once.
    A deletes a message while pop3ctl deliver adds one; after A's QUIT,
    B logs in and sees the deletion and the new message, once."""
    a, b, h = nodes()
    u = a.new_user()
    for i in range(3):
        a.deliver(u, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
    ca = on(h, "a", False, "127.0.0.8", env)
    try:
        ca.login(u.name, u.password)
        assert ca.stat()[0] == 3
        before = uidls(ca)
        m = b.mark()
        for tls in (False, True):
            t0 = time.monotonic()
            with on(h, "b", tls, "127.0.0.9", env) as cb:
                r = cb.try_login(u.name, u.password)
            assert r.startswith("-ERR [IN-USE]"), r
            # Not a wait for A's lock: refused without blocking on it.
            assert time.monotonic() - t0 < 5
        wait_until(lambda: count_log(b, r"login refused user=%s "
                                     r"reason=in_use" % u.name, m) >= 2, 5)
        assert count_log(b, r"login refused user=%s reason=in_use"
                         % u.name, m) == 2
        # Delivery does not take the maildrop lock: it lands meanwhile,
        # unseen by A's session (its list was made at login).
        r = deliver(a.conf_path, u.name, "Subject: late\n\nlate\n")
        assert r.returncode == 0, r.err
        assert len(a.names(u)) == 4
        assert ca.stat()[0] == 3
        ca.ok("DELE 2")
        ca.ok("QUIT")
    finally:
        ca.close()
    assert len(a.names(u)) == 3
    gone = before[1]
    # The lock went with A's QUIT answer: B logs in at once.
    for node, tls, src in (("b", True, "127.0.0.9"),
                           ("a", False, "127.0.0.10"),
                           ("b", False, "127.0.0.11")):
        with on(h, node, tls, src, env) as c:
            c.login(u.name, u.password)
            seen = uidls(c)
            late = [x for x in seen if x not in before]
            assert gone not in seen, seen
            assert len(seen) == 3 and len(late) == 1, (before, seen)
            assert seen[:2] == [before[0], before[2]], (before, seen)
            body = c.multi_cmd("RETR %d" % (seen.index(late[0]) + 1))
            assert b"late" in body
            c.ok("QUIT")


def test_round_robin_splits_sessions(nodes, env):
    """HAProxy's round-robin over the two nodes: N sessions on each
    frontend give each node N/2 (+-1), counted from the nodes' logs."""
    a, b, h = nodes()
    n = 10
    users = [a.new_user() for _ in range(2 * n)]
    ma, mb = a.mark(), b.mark()
    for i in range(2 * n):
        tls = i >= n
        src = "127.0.0.%d" % (20 + i)
        if tls:
            c = via(h, "implicit", src, env, front="rr_tls")
        else:
            c = via(h, "starttls", src, env, front="rr")
            c.starttls()
        with c:
            c.login(users[i].name, users[i].password)
            c.ok("QUIT")
    rx = r"login user=p\d+ rip=127\.0\.0\.(%s)\b"
    plain = "|".join(str(20 + i) for i in range(n))
    tls = "|".join(str(20 + n + i) for i in range(n))
    for kind in (plain, tls):
        # The lines come through each master's log pipe: let them in.
        wait_until(lambda: count_log(a, rx % kind, ma) +
                   count_log(b, rx % kind, mb) >= n, 5)
        na = count_log(a, rx % kind, ma)
        nb = count_log(b, rx % kind, mb)
        assert na + nb == n, (na, nb, a.log_tail(), b.log_tail())
        assert abs(na - n / 2) <= 1 and abs(nb - n / 2) <= 1, (na, nb)


def sample_config(a, b, ports):
    """etc/haproxy-pop3d.cfg with the nodes' loopback ports, frontends on
    ports {"pop3": p, "pop3s": p}, no syslog, fewer connections (the
    test's file-descriptor limit) and a short check interval; everything
    else as shipped."""
    with open(os.path.join(REPO_ROOT, "etc", "haproxy-pop3d.cfg")) as f:
        cfg = f.read()
    subst = [("bind :110", "bind 127.0.0.1:%d" % ports["pop3"]),
             ("bind :995", "bind 127.0.0.1:%d" % ports["pop3s"]),
             ("10.0.0.11:1110", "127.0.0.1:%d" % pport(a, "starttls")),
             ("10.0.0.12:1110", "127.0.0.1:%d" % pport(b, "starttls")),
             ("10.0.0.11:1995", "127.0.0.1:%d" % pport(a, "implicit")),
             ("10.0.0.12:1995", "127.0.0.1:%d" % pport(b, "implicit")),
             ("    log /dev/log local0\n", ""), ("    log global\n", ""),
             ("maxconn 50000", "maxconn 500"), ("inter 2s", "inter 200ms")]
    for old, new in subst:
        assert old in cfg, old
        cfg = cfg.replace(old, new)
    return cfg


def test_sample_haproxy_config(make_server, env):
    """The shipped etc/haproxy-pop3d.cfg: its health checks (v2 LOCAL,
    the greeting read, over TLS for POP3S) keep both nodes up; a client
    address always reaches the same node (balance source); a node that
    stops is taken out and its clients go to the other one."""
    verbose = {"server": {"verbose": "yes"}}
    a = proxy_server(make_server, "node-a", workers=1, extra=verbose)
    b = proxy_server(make_server, "node-b", workers=1, extra=verbose,
                     setup=share_storage(a))
    ports = {"pop3": free_port(), "pop3s": free_port()}
    h = HAProxy(config=sample_config(a, b, ports), ports=ports)
    try:
        for s in (a, b):
            s.wait_log(r"proxy pip=127\.0\.0\.1 version=2 local=yes")
            s.wait_log(r"connect rip=127\.0\.0\.1 tls=implicit")
            s.wait_log(r"disconnect rip=127\.0\.0\.1 reason=quit")
        u = a.new_user()
        sources = ["127.0.0.%d" % (40 + i) for i in range(8)]
        ma, mb = a.mark(), b.mark()
        for _ in range(2):
            for i, src in enumerate(sources):
                tls = i % 2 == 1
                with via(h, "implicit" if tls else "starttls", src,
                         env) as c:
                    if not tls:
                        c.starttls()
                    c.login(u.name, u.password)
                    c.ok("QUIT")
        for src in sources:
            rx = r"login user=%s rip=%s" % (u.name, ip_re(src))
            na, nb = count_log(a, rx, ma), count_log(b, rx, mb)
            assert sorted((na, nb)) == [0, 2], (src, na, nb)
        assert "is DOWN" not in h.log(), h.log()
        # Node B goes away: HAProxy's checks notice, every client gets
        # node A.
        b.stop()
        assert wait_until(lambda: h.log().count("is DOWN") >= 2, 10), h.log()
        m = a.mark()
        for i, src in enumerate(sources):
            with via(h, "starttls", src, env) as c:
                c.starttls()
                c.login(u.name, u.password)
                c.ok("QUIT")
        assert count_log(a, r"login user=%s rip=127\.0\.0\.(4[0-7])\b"
                         % u.name, m) == len(sources)
    finally:
        h.stop()
