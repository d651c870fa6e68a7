"""The failure table (penalty.c): bans outlive a restarted auth process,
a full table forgets its least recently seen entry instead of tracking
no one new, IPv6 clients are grouped by prefix, and password spraying
(one user, many addresses) costs the maximum delay while the owner
still gets in at once."""
import os
import signal
import time

import pytest

from pop3util import (AUTH_USER, IS_ROOT, Conn, children, ipv6_loopback,
                      proc_uid, wait_until)

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (auth uid)")


def login(s, user, password, source="127.0.0.1"):
    """(answer to PASS or USER, seconds PASS took) over plaintext."""
    h, p = s.plain[0]
    with Conn(h, p, source=source) as c:
        assert c.greeting.startswith("+OK"), c.greeting
        r = c.cmd("USER " + user)
        if not r.startswith("+OK"):
            return r, 0.0
        t0 = time.monotonic()
        r = c.cmd("PASS " + password)
        return r, time.monotonic() - t0


def auth_pids(s):
    import pwd
    uid = pwd.getpwnam(AUTH_USER).pw_uid
    return sorted(p for p, _ in children(s.proc.pid) if proc_uid(p) == uid)


@needs_root
def test_ban_survives_auth_restart(make_server):
    s = make_server(name="banrestart", plaintext="yes", ban_threshold=3,
                    ban_time=600, fail_delay_ms=0, fail_delay_max_ms=0)
    s.volatile = True
    u = s.new_user()
    bad = "127.0.0.9"
    for _ in range(3):
        assert login(s, u.name, "wrong", bad)[0].startswith("-ERR [AUTH]")
    r, _ = login(s, u.name, u.password, bad)
    assert "too many failed logins" in r, r
    a = auth_pids(s)
    assert len(a) == 1
    os.kill(a[0], signal.SIGKILL)
    assert wait_until(lambda: auth_pids(s) not in ([], a), 10), s.log_tail()

    def answer():
        try:
            return login(s, u.name, u.password, bad)[0]
        except (OSError, EOFError):
            return None

    # The new auth process answers (no [SYS/TEMP]), and the ban holds.
    r = wait_until(lambda: (lambda x: x if x and "SYS/TEMP" not in x
                            else None)(answer()), 15, step=0.5)
    assert r is not None and "too many failed logins" in r, r
    assert s.wait_log(r"auth bans restored=1", timeout=5), s.log_tail()
    # Another address is not banned.
    assert login(s, u.name, u.password, "127.0.0.10")[0].startswith("+OK")


def small_table_server(make_server, env, name):
    """A failure table of 20, a ban at 3 failures, one user u6."""
    def setup(srv):
        # $6$ only: the failure cost (the costliest hash) stays small.
        srv.add_user("u6", hashfield=env.hasher.hash("Right-pw-6", "sha512"))
    return make_server(name=name, plaintext="yes", pool=0,
                       ban_threshold=3, ban_time=600, fail_delay_ms=0,
                       fail_delay_max_ms=0, setup=setup,
                       extra={"auth": {"fail_table_max": "20",
                                       "user_fail_limit": "0"}})


def test_full_table_still_bans_new_addresses(make_server, env):
    s = small_table_server(make_server, env, "fulltable")
    # A flood of names from many addresses fills the table.
    for i in range(40):
        assert login(s, "flood%d" % i, "x", "127.0.2.%d" % (i + 1))[0] \
            .startswith("-ERR")
    assert s.wait_log(r"auth failure table full \(fail_table_max=20\)",
                      timeout=5), s.log_tail()
    # A new address is still tracked, and banned at the threshold.
    for _ in range(3):
        assert login(s, "u6", "wrong", "127.0.0.21")[0].startswith("-ERR")
    r, _ = login(s, "u6", "Right-pw-6", "127.0.0.21")
    assert "too many failed logins" in r, r
    assert login(s, "u6", "Right-pw-6", "127.0.0.22")[0].startswith("+OK")


def test_a_flood_does_not_evict_a_ban(make_server, env):
    """A banned address stays banned while a flood of other addresses
    pushes it out of a full failure table (the ban is also in the shared
    ban table, which the check reads for an address the table forgot)."""
    s = small_table_server(make_server, env, "banevict")
    bad = "127.0.3.1"
    for _ in range(3):
        assert login(s, "u6", "wrong", bad)[0].startswith("-ERR")
    assert "too many failed logins" in login(s, "u6", "Right-pw-6", bad)[0]
    m = s.mark()
    for i in range(40):
        assert login(s, "flood%d" % i, "x", "127.0.4.%d" % (i + 1))[0] \
            .startswith("-ERR")
    assert s.wait_log(r"auth failure table full \(fail_table_max=20\)",
                      start=m, timeout=5), s.log_tail()
    r, _ = login(s, "u6", "Right-pw-6", bad)
    assert "too many failed logins" in r, r
    assert login(s, "u6", "Right-pw-6", "127.0.3.2")[0].startswith("+OK")


@pytest.mark.skipif(not ipv6_loopback(), reason="no ::1")
def test_ipv6_ban_is_for_the_prefix(make_server):
    s = make_server(name="v6ban", listen=("[::1]:0",), listen_tls=(),
                    plaintext="yes", ban_threshold=2, fail_delay_ms=0,
                    fail_delay_max_ms=0, extra={"server": {"ipv6_prefix": "48"}})
    u = s.new_user()
    for _ in range(2):
        assert login(s, u.name, "wrong", "::1")[0].startswith("-ERR")
    assert s.wait_log(r"auth ban rip=::1 group=::/48 fails=2", timeout=5), \
        s.log_tail()


def test_spraying_one_user_costs_the_most(make_server):
    # One failure each from ten addresses (user_fail_limit's default),
    # the owner logging in between (which forgives the user's ordinary
    # failure count).
    s = make_server(name="spray", plaintext="yes", ban_threshold=0,
                    fail_delay_ms=100, fail_delay_max_ms=2000)
    u = s.new_user()
    for i in range(10):
        r, t = login(s, u.name, "guess%d" % i, "127.0.1.%d" % (i + 1))
        assert r.startswith("-ERR [AUTH]"), r
        assert t < 1.5, "failure %d of the user waited %.2f s" % (i + 1, t)
        assert login(s, u.name, u.password)[0].startswith("+OK")
    # The next failure, from an address never seen, waits the maximum.
    r, t = login(s, u.name, "guess-next", "127.0.1.99")
    assert r.startswith("-ERR [AUTH]"), r
    assert t >= 1.9, "a sprayed user's failure waited only %.2f s" % t
    assert s.wait_log(r"auth user under attack user=%s fails=10" % u.name,
                      timeout=5)
    # The right password still gets in at once, from anywhere.
    r, t = login(s, u.name, u.password, "127.0.1.100")
    assert r.startswith("+OK"), r
    assert t < 1.0, "the owner's login waited %.2f s" % t
    print("owner's login during the attack: %.1f ms" % (t * 1000))
