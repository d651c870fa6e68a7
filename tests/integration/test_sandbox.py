"""The sandbox of the auth process and the workers (sandbox.c): no new
privileges, an empty capability bounding set, a seccomp filter; and what
"sandbox = no" leaves.  Every other test runs its servers under the
filters, so a system call missing from an allow-list kills a process
there (the fixture notices the restarted child)."""
import os

import pytest

from pop3util import IS_ROOT, WRAPPER, children

ASAN = "asan" in os.environ.get("POP3D_BUILD", "")


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kids(s):
    pids = sorted(p for p, _ in children(s.proc.pid))
    assert len(pids) == s.workers + 1, "children %r" % pids
    return pids


def login_and_fetch(s):
    u = s.new_user()
    s.deliver(u, b"Subject: sandbox\n\nstill works\n")
    with s.session(u, tls=True) as c:
        c.ok("RETR 1")
        assert b"still works" in c.multi_raw()
        c.ok("QUIT")


@pytest.mark.skipif(bool(WRAPPER), reason="the wrapper (valgrind) turns the filter off")
def test_children_are_confined(make_server):
    s = make_server(name="sbx", workers=2)
    login_and_fetch(s)
    for pid in kids(s):
        st = status(pid)
        assert st["NoNewPrivs"] == "1", (pid, st["NoNewPrivs"])
        if not ASAN:
            # 2: SECCOMP_MODE_FILTER; one filter for every thread.
            assert st["Seccomp"] == "2", (pid, st["Seccomp"])
        if IS_ROOT:
            assert int(st["CapBnd"], 16) == 0, (pid, st["CapBnd"])
            assert int(st["CapEff"], 16) == 0, (pid, st["CapEff"])
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                tst = f.read()
            if not ASAN:
                assert "\nSeccomp:\t2\n" in tst, "thread %s of %d" % (t, pid)
    # The master stays root and unfiltered: it binds, reloads and forks.
    assert status(s.proc.pid)["Seccomp"] == "0"


def test_sandbox_no_keeps_no_new_privs(make_server):
    s = make_server(name="sbxno", workers=1, extra={"server": {"sandbox": "no"}})
    login_and_fetch(s)
    for pid in kids(s):
        st = status(pid)
        assert st["NoNewPrivs"] == "1"
        assert st["Seccomp"] == "0"



def test_a_killed_child_is_named_for_what_killed_it(make_server):
    # SIGSYS is what the filter's kill looks like to the master.
    import signal
    s = make_server(name="sbxkill", workers=1)
    s.volatile = True
    w = [p for p in kids(s)]
    os.kill(max(w), signal.SIGSYS)
    assert s.wait_log(r"died \(signal 31: a system call outside its sandbox; "
                      r"the kernel log names it\); restarting", timeout=10)
