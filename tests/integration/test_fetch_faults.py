"""
pop3fetch fault tests: kill -9 at random points, a connection cut
mid-RETR by a loopback proxy, a full destination disk, a failing MDA.
After each, a rerun completes; the destination holds every message
exactly once and the server exactly those not safely delivered.  In keep
and in delete mode.  Trials are bounded (seeded random kill points).
"""
import os
import random
import signal
import subprocess
import tempfile
import time

import pytest

from fetchutil import CutProxy, Fetcher, mbox_cut_last, msg_bytes
from pop3util import IS_ROOT

KILL_TRIALS = 15


@pytest.fixture
def fx(env):
    f = Fetcher(env)
    yield f
    f.cleanup()


def make_setup(make_server, fx, env, n, size, **kw):
    s = make_server()
    u = s.new_user()
    msgs = [msg_bytes(i, size) for i in range(1, n + 1)]
    for m in msgs:
        s.deliver(u, m)
    fx.set_password(u.password)
    keys = dict(host="localhost", port=s.tls_port, user=u.name,
                tls_ca_file=env.cert, timeout=10)
    keys.update(kw)
    fx.write(fx.account(**keys))
    return s, u, msgs


def rerun_ok(fx, tries=20):
    """Reruns until success (a killed session may hold the maildrop for a
    moment: [IN-USE])."""
    for _ in range(tries):
        r = fx.run()
        if r.returncode == 0:
            return r
        time.sleep(0.2)
    raise AssertionError("rerun failed: rc=%d %s" % (r.returncode, r.stderr))


def check_exactly_once(fx, s, u, msgs, keep, got=None):
    got = fx.maildir_msgs() if got is None else got
    assert sorted(got) == sorted(msgs), \
        "destination has %d messages for %d sources (duplicates or loss)" % (
            len(got), len(msgs))
    assert len(set(got)) == len(got)
    assert len(s.names(u)) == (len(msgs) if keep else 0)


@pytest.mark.parametrize("keep", ["yes", "no"])
def test_kill9_random_points(env, make_server, fx, keep):
    s, u, msgs = make_setup(make_server, fx, env, 40, 20000, keep=keep)
    s.volatile = True
    # One full run's length (on a copy would cost a server); estimate with
    # --check plus a margin: the kill points spread over a fetch.
    t0 = time.monotonic()
    fx.run("--check")
    base = time.monotonic() - t0
    rng = random.Random(4 if keep == "yes" else 5)
    kills = 0
    for i in range(KILL_TRIALS):
        p = fx.start()
        # The first kill lands at once, so a fast machine still gets one;
        # the others at random points of a fetch.
        time.sleep(0 if i == 0 else rng.uniform(0, base * 4 + 0.05))
        if p.poll() is None:
            p.kill()
            kills += 1
        p.wait(10)
        p.stderr.close()
        # Mail arrives between runs too.
        if i % 5 == 0:
            m = msg_bytes(100 + i, 1000)
            msgs.append(m)
            s.deliver(u, m)
    assert kills > 0
    rerun_ok(fx)
    check_exactly_once(fx, s, u, msgs, keep == "yes")
    # A kill between open and rename may leave a file in tmp/ (Maildir:
    # readers never look there); only new/ and cur/ count.
    assert len(fx.maildir_tmp()) <= kills
    assert all(st == 2 for st, _ in fx.rows().values())


@pytest.mark.parametrize("keep", ["yes", "no"])
def test_connection_cut_mid_retr(env, make_server, fx, keep):
    s, u, msgs = make_setup(make_server, fx, env, 10, 30000, keep=keep)
    proxy = CutProxy("127.0.0.1", s.tls_port, cut_after=150000)
    try:
        fx.write(fx.account(host="localhost", port=proxy.port, user=u.name,
                            tls_ca_file=env.cert, keep=keep, timeout=10))
        r = fx.run()
        assert r.returncode == 75, r.stderr        # EX_TEMPFAIL
        assert proxy.cuts == 1
        first = fx.maildir_msgs()
        assert 0 < len(first) < len(msgs)
        # No QUIT: the server deleted nothing.
        assert len(s.names(u)) == len(msgs)
        rerun_ok(fx)
        check_exactly_once(fx, s, u, msgs, keep == "yes")
    finally:
        proxy.close()


@pytest.mark.skipif(not IS_ROOT, reason="mounts a small tmpfs")
@pytest.mark.parametrize("keep", ["yes", "no"])
def test_destination_disk_full(env, make_server, fx, keep):
    mnt = tempfile.mkdtemp(prefix="pop3fetch-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                   check=True, timeout=10)
    try:
        md = os.path.join(mnt, "Maildir")
        s, u, msgs = make_setup(make_server, fx, env, 12, 40000, keep=keep,
                           destination="maildir:" + md)
        r = fx.run()
        assert r.returncode == 73, r.stderr         # EX_CANTCREAT
        assert b"No space left on device" in r.stderr, r.stderr
        part = fx.maildir_msgs(md)
        assert 0 < len(part) < len(msgs)
        assert fx.maildir_tmp(md) == []
        # The server keeps exactly what did not arrive.
        left = len(msgs) if keep == "yes" else len(msgs) - len(part)
        assert len(s.names(u)) == left
        # More room (a bigger mount over the same files) and a rerun.
        subprocess.run(["mount", "-o", "remount,size=4m", mnt], check=True,
                       timeout=10)
        rerun_ok(fx)
        check_exactly_once(fx, s, u, msgs, keep == "yes",
                           got=fx.maildir_msgs(md))
    finally:
        subprocess.run(["umount", "-l", mnt], timeout=10)
        os.rmdir(mnt)


@pytest.mark.parametrize("keep", ["yes", "no"])
def test_mda_fails(env, make_server, fx, keep):
    out = os.path.join(fx.base, "out")
    os.mkdir(out)
    flag = os.path.join(fx.base, "fail-once")
    open(flag, "w").close()
    # Fails (75) on the fourth message while the flag exists.
    mda = ("n=$(ls %s | wc -l); if [ $n -ge 3 ] && [ -e %s ]; then rm %s; "
           "cat >/dev/null; exit 75; fi; cat > %s/$POP3FETCH_KEY"
           % (out, flag, flag, out))
    s, u, msgs = make_setup(make_server, fx, env, 8, 2000, keep=keep,
                       destination="mda:" + mda)
    r = fx.run()
    assert r.returncode == 73, r.stderr
    assert b"exited with status 75" in r.stderr
    assert len(os.listdir(out)) == 3
    assert len(s.names(u)) == (8 if keep == "yes" else 5)
    rerun_ok(fx)
    got = []
    for n in os.listdir(out):
        with open(os.path.join(out, n), "rb") as f:
            got.append(f.read())
    check_exactly_once(fx, s, u, msgs, keep == "yes", got=got)


def test_pending_resolved_by_key(env, make_server, fx):
    """A crash between delivery and "done" leaves a pending row and the
    message in the Maildir: the rerun finds its key and marks it done
    without delivering again; a pending one whose key is absent is
    fetched again."""
    import sqlite3
    s, u, msgs = make_setup(make_server, fx, env, 3, 500, keep="yes")
    rerun_ok(fx)
    assert len(fx.maildir_msgs()) == 3

    def all_pending():
        c = sqlite3.connect(fx.db())
        c.execute("UPDATE uidl SET state = 1")
        c.commit()
        c.close()
    all_pending()
    rerun_ok(fx)
    assert sorted(fx.maildir_msgs()) == sorted(msgs)
    assert all(st == 2 for st, _ in fx.rows().values())
    # Lose one delivered file, mark all pending: only that one returns.
    new = os.path.join(fx.maildir, "new")
    victim = sorted(os.listdir(new))[0]
    with open(os.path.join(new, victim), "rb") as f:
        lost = f.read()
    os.unlink(os.path.join(new, victim))
    all_pending()
    rerun_ok(fx)
    got = fx.maildir_msgs()
    assert sorted(got) == sorted(msgs) and lost in got


def drop_rows(fx, last=None):
    """The state DB loses rows (a lost commit): the last `last` by fetched
    time and uid, or all of them."""
    import sqlite3
    c = sqlite3.connect(fx.db())
    if last is None:
        c.execute("DELETE FROM uidl")
    else:
        c.execute("DELETE FROM uidl WHERE uid IN (SELECT uid FROM uidl "
                  "ORDER BY fetched DESC, uid DESC LIMIT ?)", (last,))
    c.commit()
    c.close()


@pytest.mark.parametrize("dest", ["maildir", "mbox"])
def test_lost_state_rows_keep(env, make_server, fx, dest):
    """State rows lost between runs (keep = yes): the rerun finds every
    message by its key in the destination, fetches none again, and
    records them done again."""
    kw = {} if dest == "maildir" else {"destination": "mbox:" + fx.mbox}
    s, u, msgs = make_setup(make_server, fx, env, 12, 3000, keep="yes", **kw)
    got = fx.maildir_msgs if dest == "maildir" else fx.mbox_msgs
    rerun_ok(fx)
    assert sorted(got()) == sorted(msgs)
    drop_rows(fx, last=5)
    assert len(fx.rows()) == 7
    rerun_ok(fx)
    check_exactly_once(fx, s, u, msgs, True, got=got())
    rows = fx.rows()
    assert len(rows) == 12 and all(st == 2 for st, _ in rows.values())
    # The whole state file gone: the same.
    os.unlink(fx.db())
    for ext in ("-wal", "-shm"):
        if os.path.exists(fx.db() + ext):
            os.unlink(fx.db() + ext)
    r = rerun_ok(fx)
    check_exactly_once(fx, s, u, msgs, True, got=got())
    # A new message still arrives, once.
    m = msg_bytes(99, 500)
    s.deliver(u, m)
    msgs.append(m)
    rerun_ok(fx)
    check_exactly_once(fx, s, u, msgs, True, got=got())


def test_lost_state_rows_delete_uncommitted(env, make_server, fx):
    """keep = no, the connection cut before QUIT (the server deleted
    nothing), then the state DB loses every row: the rerun fetches none of
    the delivered ones again and deletes them all on the server."""
    s, u, msgs = make_setup(make_server, fx, env, 10, 30000, keep="no")
    proxy = CutProxy("127.0.0.1", s.tls_port, cut_after=150000)
    try:
        fx.write(fx.account(host="localhost", port=proxy.port, user=u.name,
                            tls_ca_file=env.cert, keep="no", timeout=10))
        r = fx.run()
        assert r.returncode == 75, r.stderr
        first = fx.maildir_msgs()
        assert 0 < len(first) < len(msgs)
        assert len(s.names(u)) == len(msgs)
        drop_rows(fx)
        rerun_ok(fx)
        check_exactly_once(fx, s, u, msgs, False)
    finally:
        proxy.close()


def test_batch_dele_after_sync(env, make_server, fx):
    """keep = no with more messages than one batch: every message is
    fetched once and deleted; no row is left pending."""
    s, u, msgs = make_setup(make_server, fx, env, 150, 300, keep="no")
    rerun_ok(fx)
    check_exactly_once(fx, s, u, msgs, False)
    assert all(st == 2 for st, _ in fx.rows().values())


@pytest.mark.parametrize("keep", ["yes", "no"])
def test_mbox_append_cut_short(env, make_server, fx, keep):
    """A record of ours cut short with no lock left behind (a power loss
    that lost the lock file, or another program took the lock over and
    may have written after it).  The next run must not take it as
    delivered (in delete mode the server would then drop the only whole
    copy), and with no proof that only pop3fetch wrote there it must not
    cut anything either: the short record stays as it is, and the message
    is fetched again and appended whole, on a line of its own.
    (test_fetch_mbox.py: a dead run's lock left in place lets the next
    run cut the record off.)"""
    s, u, msgs = make_setup(make_server, fx, env, 4, 3000, keep=keep,
                            destination="mbox:" + fx.mbox)
    # The last record cut in its middle, "done" never written and (delete
    # mode) no DELE sent, so the server still has the message.
    _, put_back = mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
    with open(fx.mbox, "rb") as f:
        cut = f.read()
    last = msgs[-1]
    if keep == "no":
        put_back()
    r = rerun_ok(fx)
    assert b"left as it is" in r.stderr, r.stderr
    with open(fx.mbox, "rb") as f:
        data = f.read()
    assert data.startswith(cut), "the cut record was changed"
    tail = os.path.join(fx.base, "tail")
    with open(tail, "wb") as f:
        f.write(data[len(cut):].removeprefix(b"\n"))
    assert data[len(cut):len(cut) + 6] == b"\nFrom "
    assert fx.mbox_msgs(tail) == [last], "not fetched again, or not whole"
    assert all(st == 2 for st, _ in fx.rows().values())
    if keep == "no":
        assert s.names(u) == []
    # The state lost once more: the short record is not taken for the
    # message, the whole one is; nothing is fetched again.
    drop_rows(fx)
    rerun_ok(fx)
    with open(fx.mbox, "rb") as f:
        assert f.read() == data
