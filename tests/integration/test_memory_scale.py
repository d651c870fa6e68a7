"""Memory at scale: a worker holds no passwd-file data (pop3d(8),
PROCESS MODEL), so its memory does not grow with the number of accounts.
The master checks the passwd-file at start and at each reload, then
frees it; the processes it forks must not carry those pages (with a
million accounts they were some 125 MB in every process of a node)."""
import os
import signal

import pytest

from pop3util import POOL_PASSWORD, WRAPPER, build_dir, children, wait_until

ACCOUNTS = 300000
# A worker of a small node uses about 1 MB; the freed parse of
# ACCOUNTS lines is some 37 MB.
MAX_WORKER_KB = 12 * 1024


def own_allocator():
    """False when pop3d's malloc is not glibc's: a sanitizer build (its
    allocator and shadow memory) or a run under valgrind."""
    with open(os.path.join(build_dir(), "pop3d"), "rb") as f:
        return not WRAPPER and b"__asan_init" not in f.read()


def pss_kb(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise AssertionError("no Pss in smaps_rollup of %d" % pid)


def workers(s):
    """PIDs of the master's children other than the auth process."""
    auth = [p for p, _ in children(s.proc.pid)
            if s.wait_log(r"pop3d\[%d\]: auth:" % p, timeout=0.1,
                          must=False)]
    return [p for p, _ in children(s.proc.pid) if p not in auth]


@pytest.mark.skipif(not own_allocator(), reason="measures glibc's malloc: "
                    "not under a sanitizer or valgrind")
def test_workers_do_not_carry_the_passwd_file(make_server, env):
    h = env.hasher.hash(POOL_PASSWORD)

    def many(s):
        s.passwd_lines.extend("m%07d:%s" % (i, h) for i in range(ACCOUNTS))
    s = make_server(setup=many, name="mem-scale", workers=2)
    assert os.path.getsize(s.passwd_path) > ACCOUNTS * 60
    s.wait_log(r"auth: passwd_file loaded .* users=%d" % (ACCOUNTS + 40),
               timeout=60)
    for gen in ("start", "reload"):
        w = workers(s)
        assert len(w) == 2, (gen, w, s.log_tail())
        for pid in w:
            assert pss_kb(pid) < MAX_WORKER_KB, (gen, pid, pss_kb(pid))
        if gen == "start":
            s.volatile = True
            old = set(w)
            m = s.mark()
            s.signal(signal.SIGHUP)
            assert wait_until(lambda: len(set(workers(s)) - old) == 2, 30), \
                s.log_tail()
            s.wait_log(r"ready|reload", start=m, timeout=30)
    c = s.session(s.new_user())
    c.ok("QUIT")
