"""
pop3fetch's mbox key scan against lines far longer than any From_ line
it writes: a message with a 10 MB line of "From " tokens (every read
chunk of the scan starts mid-line), foreign records with a huge body line
and a huge From_ line.  After the state DB is lost, a rerun must still
find every key (nothing fetched twice, the mbox unchanged), and the scan
must not grow with the line (peak RSS of the run, from wait4).

Crashes: kill -9 at random points of an mbox fetch, then a rerun with no
cleanup by hand brings every message exactly once; the dotlock of a dead
owner is taken over (PID, age), a live one waited for; the partial record
of a killed append is cut off when its lock proves it, and never when
another program may have written after it.
"""
import fcntl
import mailbox
import os
import tempfile
import shutil
import random
import re
import socket
import subprocess
import sys
import time

import pytest

from fetchutil import RUN_TIMEOUT, Fetcher, mbox_cut_last, msg_bytes

MB = 1024 * 1024
MBOX_KILL_TRIALS = 24


@pytest.fixture
def fx(env):
    f = Fetcher(env)
    yield f
    f.cleanup()


def long_line_msg(i, n):
    """A message whose body holds one line of n bytes of "From " tokens,
    without LF but at its end: wherever a read of the mbox starts inside
    it, the bytes there look like a From_ line."""
    head = msg_bytes(i, tag="long")
    return head + (b"From " * (n // 5)) + b"\nafter the long line\n"


def drop_state(fx):
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(fx.db() + ext):
            os.unlink(fx.db() + ext)


# Runs argv as its child, its stdout to /dev/null, and prints the
# child's peak RSS.  The peak counts the image that forked it (until the
# exec), so the forking process must be small: not the test process,
# which holds the test's mbox.
RSS_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_rss(fx):
    """Runs pop3fetch once; (exit code, stderr, peak RSS in KiB)."""
    r = subprocess.run([sys.executable, "-c", RSS_WRAPPER, fx.bin, "-C",
                        fx.conf], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=fx.environ(), timeout=RUN_TIMEOUT)
    return r.returncode, r.stderr, int(r.stdout)


def setup_mbox(make_server, fx, env, msgs):
    s = make_server()
    u = s.new_user()
    for m in msgs:
        s.deliver(u, m)
    fx.set_password(u.password)
    fx.write(fx.account(host="localhost", port=s.tls_port, user=u.name,
                        tls_ca_file=env.cert, keep="yes", timeout=30,
                        destination="mbox:" + fx.mbox))
    return s


def test_mbox_keys_past_long_line(env, make_server, fx):
    """Our record with a 10 MB line, then a last record: the state lost,
    the rerun finds both keys (the long record is whole, and no chunk of
    the long line is taken for a From_ line) and fetches nothing."""
    msgs = [msg_bytes(1, 2000), long_line_msg(2, 10 * MB),
            msg_bytes(3, 2000)]
    setup_mbox(make_server, fx, env, msgs)
    r = fx.run()
    assert r.returncode == 0, r.stderr
    assert fx.mbox_msgs() == msgs
    with open(fx.mbox, "rb") as f:
        before = f.read()
    assert b"\n>From From From " in before
    drop_state(fx)
    r = fx.run()
    assert r.returncode == 0, r.stderr
    with open(fx.mbox, "rb") as f:
        assert f.read() == before, "a message was fetched again"
    rows = fx.rows()
    assert len(rows) == 3 and all(st == 2 for st, _ in rows.values())


def test_mbox_keys_foreign_long_lines_bounded(env, make_server, fx):
    """Foreign records (another MDA's) between ours: one with a 48 MB body
    line, one whose From_ line itself is 1 MB (it still ends the record
    before it).  Every key is found, and the scan's memory does not follow
    the line: the run's peak RSS stays near that of a run over a small
    mbox."""
    msgs = [msg_bytes(i, 3000) for i in range(1, 4)]
    setup_mbox(make_server, fx, env, msgs)
    r = fx.run()
    assert r.returncode == 0, r.stderr
    drop_state(fx)
    rc, err, base_rss = run_rss(fx)
    assert rc == 0, err
    with open(fx.mbox, "rb") as f:
        data = f.read()
    # Our records: split at their From_ lines (the body has none).
    starts = [i for i in range(len(data))
              if data.startswith(b"From ", i) and (i == 0 or
                                                   data[i - 1] == 10)]
    assert len(starts) == 3
    foreign_body = (b"From other@example.org Mon Jan  1 00:00:00 2024\n"
                    b"Subject: huge line\n\n" + b"y" * (48 * MB) + b"\n\n")
    foreign_from = (b"From " + b"z" * MB + b"\nSubject: huge From_\n\n"
                    b"body\n\n")
    mixed = (data[:starts[1]] + foreign_from + data[starts[1]:starts[2]] +
             foreign_body + data[starts[2]:])
    with open(fx.mbox, "wb") as f:
        f.write(mixed)
    drop_state(fx)
    rc, err, rss = run_rss(fx)
    assert rc == 0, err
    with open(fx.mbox, "rb") as f:
        assert f.read() == mixed, "a message was fetched again"
    rows = fx.rows()
    assert len(rows) == 3 and all(st == 2 for st, _ in rows.values())
    # getline() would have held the 48 MB line (ru_maxrss is in KiB).
    assert rss - base_rss < 16 * 1024, (base_rss, rss)


# ---------------------------------------------------------------- crashes
#
# A run killed in the middle of an mbox delivery leaves its dotlock (with
# its PID) and perhaps the start of a record.  The next run must take the
# lock over (its owner is gone), cut that record off, and bring every
# message exactly once, without anyone removing anything by hand.

def dead_pid():
    """The PID of a process that has exited (and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait(10)
    return p.pid


def fetcher_lock(pid, host=None, offset=None):
    """A dotlock as pop3fetch writes it: "PID HOST pop3fetch", and while
    it appends "PID HOST pop3fetch OFFSET" (where the append began)."""
    text = "%d %s pop3fetch" % (pid, host or socket.gethostname())
    if offset is not None:
        text += " %d" % offset
    return (text + "\n").encode()


def write_lock(fx, data, age=0):
    with open(fx.mbox + ".lock", "wb") as f:
        f.write(data)
    if age:
        t = time.time() - age
        os.utime(fx.mbox + ".lock", (t, t))


def records(data):
    """Offsets of the lines starting with "From " (record starts)."""
    return [i for i in range(len(data)) if data.startswith(b"From ", i) and
            (i == 0 or data[i - 1] == 10)]


def mbox_by_module(path):
    """(Message-IDs, bodies) as Python's mailbox module reads the mbox."""
    box = mailbox.mbox(path, create=False)
    try:
        ms = list(box)
        return [m["Message-ID"] for m in ms], ms
    finally:
        box.close()


def mbox_setup(make_server, fx, env, n, size, keep="yes"):
    s = make_server()
    u = s.new_user()
    msgs = [msg_bytes(i, size, tag="crash") for i in range(1, n + 1)]
    for m in msgs:
        s.deliver(u, m)
    fx.set_password(u.password)
    fx.write(fx.account(host="localhost", port=s.tls_port, user=u.name,
                        tls_ca_file=env.cert, keep=keep, timeout=10,
                        destination="mbox:" + fx.mbox))
    return s, u, msgs


def check_mbox_once(fx, s, u, msgs, keep):
    """The mbox holds every message exactly once, whole, nothing else; no
    lock is left; the server keeps them (keep) or none."""
    got = fx.mbox_msgs()
    assert sorted(got) == sorted(msgs), \
        "mbox has %d records for %d messages (duplicate, loss or a cut " \
        "record)" % (len(got), len(msgs))
    ids, _ = mbox_by_module(fx.mbox)
    want = sorted(re.search(rb"Message-ID: (<[^>]*>)", m).group(1).decode()
                  for m in msgs)
    assert sorted(ids) == want
    assert not os.path.exists(fx.mbox + ".lock")
    assert len(s.names(u)) == (len(msgs) if keep == "yes" else 0)
    assert all(st == 2 for st, _ in fx.rows().values())


def lone_run(fx):
    """One run, timed: (result, seconds)."""
    t0 = time.monotonic()
    r = fx.run()
    return r, time.monotonic() - t0


def rerun_after_kills(fx):
    """The run after the kills: (result, seconds).  The server may still
    hold the maildrop of the last killed session for a moment ([IN-USE],
    status 75): only that is retried, briefly."""
    for _ in range(20):
        r, secs = lone_run(fx)
        if r.returncode != 75 or b"IN-USE" not in r.stderr:
            break
        time.sleep(0.2)
    return r, secs


def own_lock(fx, p):
    """The fields of the mbox's dotlock if p wrote it, else None (no
    lock, or a killed run's lock that p has not taken over yet)."""
    try:
        with open(fx.mbox + ".lock", "rb") as f:
            fields = f.read().split()
    except FileNotFoundError:
        return None
    return fields if fields and fields[0] == str(p.pid).encode() else None


def wait_for_lock(fx, p, limit, append=False):
    """Polls (bounded) until p holds the mbox's dotlock, for an append
    (the lock names its OFFSET) if append, or p ended."""
    end = time.monotonic() + limit
    while time.monotonic() < end and p.poll() is None:
        fields = own_lock(fx, p)
        if fields is not None and (not append or len(fields) == 4):
            return True
    return False


@pytest.mark.parametrize("keep", ["yes", "no"])
def test_kill9_mbox_random_points(env, make_server, fx, keep):
    """kill -9 at random points of an mbox fetch, most of them while the
    mbox's dotlock is held by that run: a random delay, then the next
    moment its lock exists (the scan of the keys, held for a few ms)
    plus up to 12 ms, or the next moment its lock names an OFFSET (an
    append) plus up to 2 ms; with new mail arriving between runs (a run
    that ends before its kill finds more next time).  Then one rerun,
    with no cleanup by hand, completes at once and brings everything
    exactly once: no cut record, no duplicate, no lock left."""
    s, u, msgs = mbox_setup(make_server, fx, env, 40, MB, keep=keep)
    s.volatile = True
    rng = random.Random(9 if keep == "yes" else 10)
    kills = locks_left = in_append = cut_left = 0
    # On a loaded machine a kill may miss the lock's windows for a whole
    # round: go on (bounded) until one left the lock to judge.
    for i in range(3 * MBOX_KILL_TRIALS):
        if i >= MBOX_KILL_TRIALS and locks_left > 0:
            break
        # A run that finds the maildrop still [IN-USE] by the session
        # just killed ends at once: start it again (bounded), so that the
        # kill lands in a fetch.
        for _ in range(10):
            p = fx.start()
            time.sleep(rng.uniform(0, 0.08))
            if i % 4 == 0:
                wait_for_lock(fx, p, 5)
                time.sleep(rng.uniform(0, 0.012))
            elif i % 4 != 3:
                wait_for_lock(fx, p, 5, append=True)
                time.sleep(rng.uniform(0, 0.002))
            killed = p.poll() is None
            if killed:
                p.kill()
                kills += 1
            p.wait(10)
            err = p.stderr.read()
            p.stderr.close()
            if killed or p.returncode != 75 or b"IN-USE" not in err:
                break
            time.sleep(0.1)
        if killed and own_lock(fx, p) is not None:
            locks_left += 1
            with open(fx.mbox + ".lock", "rb") as f:
                text = f.read()
            # Never a lock without its PID (nobody could judge it for 5
            # minutes): it appears with its text, whenever the kill lands.
            assert re.match(rb"\d+ \S+ pop3fetch( \d+)?\n\Z", text), text
            if len(text.split()) == 4:      # with an OFFSET
                in_append += 1
        if os.path.exists(fx.mbox):
            with open(fx.mbox, "rb") as f:
                data = f.read()
            if data and not data.endswith(b"\n\n"):
                cut_left += 1
        # New mail between runs, so that every run has some to fetch.
        for j in range(3):
            m = msg_bytes(100 + 3 * i + j, 1000 if j == 0 else MB // 2,
                          tag="crash")
            msgs.append(m)
            s.deliver(u, m)
    print("kill -9 trials: %d kills, %d left the dotlock (%d of them in an "
          "append), %d left a cut record" % (kills, locks_left, in_append,
                                             cut_left))
    assert kills > 0 and locks_left > 0
    r, secs = rerun_after_kills(fx)
    assert r.returncode == 0, r.stderr
    assert secs < 20, "the rerun waited %.1f s for a dead owner's lock" % secs
    check_mbox_once(fx, s, u, msgs, keep)


def test_stale_dotlock_dead_pid_taken_over(env, make_server, fx):
    """A dotlock whose owner's PID is gone on this host (as liblockfile
    writes it: only the PID) is removed at once and the run completes."""
    s, u, msgs = mbox_setup(make_server, fx, env, 3, 2000)
    write_lock(fx, b"%d\n" % dead_pid())
    r, secs = lone_run(fx)
    assert r.returncode == 0, r.stderr
    assert secs < 10, secs
    check_mbox_once(fx, s, u, msgs, "yes")


def test_dotlock_live_pid_waits(env, make_server, fx):
    """A fresh dotlock whose PID is alive is honoured: the run waits (and
    writes nothing) while it exists, and goes on once its owner removes
    it.  The same with a dead PID written on another host (which cannot
    be checked from here)."""
    s, u, msgs = mbox_setup(make_server, fx, env, 3, 2000)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        for n, data in enumerate((b"%d\n" % holder.pid,
                                  fetcher_lock(dead_pid(),
                                               "elsewhere.example"))):
            if n > 0:
                m = msg_bytes(10 + n, 500, tag="crash")
                msgs.append(m)
                s.deliver(u, m)
            write_lock(fx, data)
            size = os.path.getsize(fx.mbox) if os.path.exists(fx.mbox) else 0
            p = fx.start()
            time.sleep(3)
            assert p.poll() is None, "the run did not wait for the lock"
            assert (os.path.getsize(fx.mbox) if os.path.exists(fx.mbox)
                    else 0) == size, "written under another's lock"
            os.unlink(fx.mbox + ".lock")
            assert p.wait(20) == 0, p.stderr.read()
            p.stderr.close()
            check_mbox_once(fx, s, u, msgs, "yes")
    finally:
        holder.kill()
        holder.wait(5)


def test_dotlock_old_live_pid_taken_over(env, make_server, fx):
    """A dotlock older than the bound (5 minutes, as liblockfile) is
    stale even when its PID cannot be checked (another host)."""
    s, u, msgs = mbox_setup(make_server, fx, env, 3, 2000)
    write_lock(fx, fetcher_lock(dead_pid(), "elsewhere.example"), age=400)
    r, secs = lone_run(fx)
    assert r.returncode == 0, r.stderr
    assert secs < 10, secs
    check_mbox_once(fx, s, u, msgs, "yes")


@pytest.mark.parametrize("where", ["body", "from_line", "key"])
def test_cut_record_repaired(env, make_server, fx, where):
    """The crashed run's record cut in its body, in its From_ line after
    the key, or inside the key itself, its lock left saying where the
    append began: the rerun takes the dead run's lock over, cuts the
    record off, fetches the message again and appends it whole."""
    s, u, msgs = mbox_setup(make_server, fx, env, 4, 3000)
    cut = {"body": lambda w, e: w + (e - w) // 2,
           "from_line": lambda w, e: w + 5 + 32 + 3,
           "key": lambda w, e: w + 5 + 10}[where]
    whole, _ = mbox_cut_last(fx, s, u, cut)
    write_lock(fx, fetcher_lock(dead_pid(), offset=whole))
    r, secs = lone_run(fx)
    assert r.returncode == 0, r.stderr
    assert secs < 10, secs
    check_mbox_once(fx, s, u, msgs, "yes")
    assert b"cut short" in r.stderr, r.stderr


def test_cut_record_foreign_append_kept(env, make_server, fx):
    """After the crash another program took the lock over (by its age) and
    appended a message, glued to the cut record.  That mail must never be
    cut: the rerun leaves the cut record and the other program's message,
    and appends the message again, whole, on a line of its own."""
    s, u, msgs = mbox_setup(make_server, fx, env, 4, 3000)
    mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
    foreign = (b"From other@example.org Mon Jan  1 00:00:00 2024\n"
               b"Subject: delivered by another program\n\nkeep me\n\n")
    with open(fx.mbox, "ab") as f:
        f.write(foreign)
    r = fx.run()
    assert r.returncode == 0, r.stderr
    with open(fx.mbox, "rb") as f:
        data = f.read()
    assert foreign in data, "another program's mail was cut"
    got = fx.mbox_msgs()
    for m in msgs:
        assert got.count(m) == 1, "a message is missing or doubled"
    # The last record is ours, whole, starting a line.
    assert data.endswith(msgs[-1].replace(b"\nFrom the", b"\n>From the") +
                         b"\n")
    assert not os.path.exists(fx.mbox + ".lock")


def test_kill9_inside_big_append(env, make_server, fx):
    """kill -9 while a 40 MB message is being written into the mbox (the
    lock says where the append began and the mbox has grown past it; the
    kill lands up to 10 ms later, in the write or its fsync), three times
    over, with a small message before and after it; then one rerun brings
    all three exactly once and leaves
    no partial record, however much of the big one each kill left."""
    s = make_server()
    u = s.new_user()
    msgs = [msg_bytes(1, 2000, tag="big"), msg_bytes(2, 40 * MB, tag="big"),
            msg_bytes(3, 2000, tag="big")]
    for m in msgs:
        s.deliver(u, m)
    s.volatile = True
    fx.set_password(u.password)
    fx.write(fx.account(host="localhost", port=s.tls_port, user=u.name,
                        tls_ca_file=env.cert, keep="no", timeout=30,
                        destination="mbox:" + fx.mbox))
    rng = random.Random(91)
    lock = fx.mbox + ".lock"
    cuts = size = 0
    for _ in range(3):
        p = fx.start()
        end = time.monotonic() + 30
        began = None
        while began is None and time.monotonic() < end and p.poll() is None:
            try:
                with open(lock, "rb") as f:
                    fields = f.read().split()
                now = os.path.getsize(fx.mbox)
            except FileNotFoundError:
                continue
            # This run's lock (not the last killed one's), not the first
            # message's append (offset 0), and the mbox grown past the
            # offset since the last kill: the big one's append (a run
            # that took a dead run's lock over says that run's offset
            # from the start, before its repair).
            if (len(fields) == 4 and fields[0] == b"%d" % p.pid and
                    0 < int(fields[3]) < now and now != size):
                began = int(fields[3])
        assert began is not None, "no append of the big message was seen"
        time.sleep(rng.uniform(0, 0.01))
        p.kill()
        p.wait(10)
        p.stderr.close()
        size = os.path.getsize(fx.mbox)
        partial = began < size < began + 40 * MB
        cuts += partial
    print("kill -9 inside a 40 MB append: %d of 3 left a partial record"
          % cuts)
    assert cuts > 0
    r, _ = rerun_after_kills(fx)
    assert r.returncode == 0, r.stderr
    # The last kill's partial record (an earlier one's was cut by the
    # next run) is cut by the rerun.
    assert b"removing a message cut short" in r.stderr or not partial
    check_mbox_once(fx, s, u, msgs, "no")


# ------------------------------------------------- the proof and its lock
#
# A run that took a dead pop3fetch's lock over (with OFFSET) holds a proof
# only as long as the dotlock is still its own file: it checks that under
# the mbox's fcntl lock, before it cuts or appends anything.

def lock_fields(fx):
    try:
        with open(fx.mbox + ".lock", "rb") as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def start_held(fx):
    """Holds the mbox's fcntl lock, starts a run and waits (bounded) until
    it has taken the dotlock: it is then waiting for the fcntl lock, at
    the start of its key scan.  (process, the open mbox holding the
    fcntl lock)."""
    hold = open(fx.mbox, "r+b")
    fcntl.lockf(hold, fcntl.LOCK_EX)
    p = fx.start()
    end = time.monotonic() + 20
    while time.monotonic() < end and p.poll() is None:
        if lock_fields(fx)[:1] == [b"%d" % p.pid]:
            return p, hold
        time.sleep(0.01)
    raise AssertionError("the run did not take the dotlock over")


def test_takeover_keeps_the_offset(env, make_server, fx):
    """A run that takes a dead run's lock (with OFFSET) over writes that
    offset into its own lock at once: killed before its repair, it leaves
    the proof for the next run, which cuts the record and completes."""
    s, u, msgs = mbox_setup(make_server, fx, env, 4, 3000)
    whole, _ = mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
    write_lock(fx, fetcher_lock(dead_pid(), offset=whole))
    p, hold = start_held(fx)
    try:
        fields = lock_fields(fx)
        p.kill()
        p.wait(10)
        p.stderr.close()
    finally:
        hold.close()
    assert fields[1:] == [socket.gethostname().encode(), b"pop3fetch",
                          b"%d" % whole], fields
    r, secs = lone_run(fx)
    assert r.returncode == 0, r.stderr
    assert b"cut short" in r.stderr, r.stderr
    check_mbox_once(fx, s, u, msgs, "yes")


def test_lost_dotlock_no_repair_no_append(env, make_server, fx):
    """The run took a dead run's lock over (with OFFSET) and waits for the
    fcntl lock; meanwhile another program replaces that dotlock with its
    own (as procmail does with a lock older than its bound, whoever owns
    it) and appends a message.  The run must notice that the dotlock is no
    longer its own: it cuts nothing and appends nothing (status 73, the
    next run tries again); once the other lock is gone, a rerun brings
    the message whole and the other program's mail stays."""
    s, u, msgs = mbox_setup(make_server, fx, env, 4, 3000)
    whole, _ = mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
    write_lock(fx, fetcher_lock(dead_pid(), offset=whole))
    lock = fx.mbox + ".lock"
    theirs = b"%d\n" % os.getpid()
    foreign = (b"\nFrom other@example.org Mon Jan  1 00:00:00 2024\n"
               b"Subject: delivered by another program\n\nkeep me\n\n")
    p, hold = start_held(fx)
    try:
        with open(lock + ".other", "wb") as f:
            f.write(theirs)
        os.rename(lock + ".other", lock)
        hold.seek(0, 2)
        hold.write(foreign)
        hold.flush()
        with open(fx.mbox, "rb") as f:
            before = f.read()
    finally:
        hold.close()
    rc = p.wait(60)
    err = p.stderr.read()
    p.stderr.close()
    with open(fx.mbox, "rb") as f:
        assert f.read() == before, "written under a dotlock not its own"
    with open(lock, "rb") as f:
        assert f.read() == theirs, "the other program's lock was touched"
    assert rc == 73, err
    assert b"no longer ours" in err, err
    os.unlink(lock)
    r = fx.run()
    assert r.returncode == 0, r.stderr
    with open(fx.mbox, "rb") as f:
        data = f.read()
    # Nothing cut (the record without its proof stays), and the message
    # appended whole after the other program's mail.
    assert data.startswith(before), "another program's mail was cut"
    tail = data[len(before):]
    assert re.match(rb"From [0-9a-f]{32}\+\d+@pop3fetch\.invalid ", tail)
    assert tail.endswith(msgs[-1].replace(b"\nFrom the", b"\n>From the") +
                         b"\n"), tail[:200]
    assert not os.path.exists(lock)


def test_dotlock_old_live_local_pid_waits(env, make_server, fx):
    """A dotlock older than 5 minutes whose PID is alive on this host is
    not taken over by its age (its owner may be in a long append, or the
    clock stepped): the run waits and writes nothing.  Once its owner is
    gone, the lock is taken over at once and the run completes.  Both as
    pop3fetch writes it and as liblockfile does (only the PID)."""
    s, u, msgs = mbox_setup(make_server, fx, env, 3, 2000)
    for n, form in enumerate((lambda pid: fetcher_lock(pid),
                              lambda pid: b"%d\n" % pid)):
        if n > 0:
            m = msg_bytes(10 + n, 500, tag="crash")
            msgs.append(m)
            s.deliver(u, m)
        # A live pop3fetch (by its name): its lock is held whatever its age.
        holder = named_sleeper(fx.base, "pop3fetch")
        p = None
        try:
            write_lock(fx, form(holder.pid), age=400)
            size = os.path.getsize(fx.mbox) if os.path.exists(fx.mbox) else 0
            p = fx.start()
            time.sleep(3)
            assert p.poll() is None, \
                "a live owner's lock was taken over by its age"
            assert (os.path.getsize(fx.mbox) if os.path.exists(fx.mbox)
                    else 0) == size, "written under another's lock"
            with open(fx.mbox + ".lock", "rb") as f:
                assert f.read() == form(holder.pid)
        finally:
            holder.kill()
            holder.wait(5)
        assert p.wait(20) == 0, p.stderr.read()
        p.stderr.close()
        check_mbox_once(fx, s, u, msgs, "yes")


def test_mbox_not_a_file(env, make_server, fx):
    """A FIFO where the mbox should be (a wrong path, a prank) fails the
    run at once, saying so, instead of blocking the key scan's reads for
    ever with the locks held; the messages stay on the server."""
    s, u, msgs = mbox_setup(make_server, fx, env, 1, 500, keep="no")
    os.mkfifo(fx.mbox)
    r = fx.run(timeout=20)
    assert r.returncode != 0
    assert b"not a regular file" in r.stderr, r.stderr
    assert not os.path.exists(fx.mbox + ".lock")
    d = s.maildir(u)
    assert len(os.listdir(os.path.join(d, "new")) +
               os.listdir(os.path.join(d, "cur"))) == 1


def named_sleeper(tmpdir, name):
    """A live process whose name (/proc/PID/comm) is name: sleep, copied."""
    exe = os.path.join(tmpdir, name)
    shutil.copy("/bin/sleep", exe)
    return subprocess.Popen([exe, "60"])


def test_dotlock_pid_reused_by_another_program(env, make_server, fx, tmp_path):
    """After a power loss a pop3fetch lock names a PID that, after the
    reboot, some other long-lived program got: its owner is gone, so the
    lock is taken over at once (the PID's process is not a pop3fetch),
    its OFFSET proof included; a PID that is a pop3fetch is waited for."""
    s, u, msgs = mbox_setup(make_server, fx, env, 2, 2000)
    other = subprocess.Popen(["sleep", "60"])
    try:
        write_lock(fx, fetcher_lock(other.pid), age=3 * 86400)
        r = fx.run(timeout=25)
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(fx.mbox + ".lock")
    finally:
        other.kill()
        other.wait(5)
    check_mbox_once(fx, s, u, msgs, "yes")


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_dotlock_not_a_file(env, make_server, fx, kind):
    """Something other than a file at the lock path (a FIFO would block
    an open for reading forever; a directory cannot be read or replaced):
    the run fails at once saying so, writes nothing and leaves it."""
    s, u, msgs = mbox_setup(make_server, fx, env, 1, 500)
    lock = fx.mbox + ".lock"
    (os.mkfifo if kind == "fifo" else os.mkdir)(lock)
    try:
        r, secs = None, 0
        t0 = time.monotonic()
        r = fx.run(timeout=20)
        secs = time.monotonic() - t0
    except subprocess.TimeoutExpired:
        pytest.fail("pop3fetch hung (over 20 s) on a %s at the lock path"
                    % kind)
    assert r.returncode == 73, r.stderr
    assert b"not a regular file" in r.stderr, r.stderr
    assert secs < 10, secs
    assert not os.path.exists(fx.mbox)
    assert os.path.exists(lock)


NOBODY = 65534


def run_as_nobody(fx, sticky=False):
    """One run as the user nobody, its files (but the mbox's lock) given
    to it; with sticky, the directory of the mbox is root's, mode 1777
    (as /tmp, or /var/mail on some systems).  (result, seconds).  The
    binary runs from a copy in the fetcher's folder: the build tree may be
    where nobody cannot reach (/root/p in the fresh-machine check)."""
    exe = os.path.join(fx.base, "pop3fetch-nobody")
    shutil.copy(fx.bin, exe)
    os.chmod(exe, 0o755)
    for root, dirs, files in os.walk(fx.base):
        os.chown(root, NOBODY, NOBODY)
        for n in files:
            if os.path.join(root, n) != fx.mbox + ".lock":
                os.chown(os.path.join(root, n), NOBODY, NOBODY)
    if sticky:
        os.chown(fx.base, 0, 0)
        os.chmod(fx.base, 0o1777)
    t0 = time.monotonic()
    r = subprocess.run([exe, "-C", fx.conf], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=fx.environ(), timeout=RUN_TIMEOUT, user=NOBODY,
                       group=NOBODY, extra_groups=[])
    return r, time.monotonic() - t0


def test_stale_lock_not_replaceable_says_so(env, make_server, fx):
    """A stale lock (its PID is dead) that the run may not replace (root's,
    in a sticky directory): the run fails at once saying why, instead of
    waiting 30 s and calling the lock held by another process."""
    s, u, msgs = mbox_setup(make_server, fx, env, 1, 500)
    write_lock(fx, b"%d\n" % dead_pid())
    r, secs = run_as_nobody(fx, sticky=True)
    assert r.returncode == 73, r.stderr
    assert b"held by another" not in r.stderr, r.stderr
    assert b"stale, but cannot be replaced: Operation not permitted" in \
        r.stderr, r.stderr
    assert secs < 10, secs
    assert not os.path.exists(fx.mbox)


def test_dotlock_unreadable_old_taken_over(env, make_server, fx):
    """A dotlock the run cannot read (another user's, mode 0600: its PID
    cannot be checked) is judged by its age, as liblockfile does: older
    than 5 minutes, it is taken over and the run completes.  The run is
    made as the user nobody, in a directory of its own."""
    s, u, msgs = mbox_setup(make_server, fx, env, 3, 2000)
    write_lock(fx, b"%d\n" % dead_pid(), age=400)
    os.chmod(fx.mbox + ".lock", 0o600)
    r, secs = run_as_nobody(fx)
    assert r.returncode == 0, r.stderr
    assert secs < 10, secs
    check_mbox_once(fx, s, u, msgs, "yes")


def test_fcntl_only_writer_never_cut(env, make_server, fx):
    """A dead run's lock with OFFSET is still in place, but a program that
    locks the mbox with fcntl only (Dovecot with mbox_write_locks = fcntl,
    Exim with use_lockfile = false) appended a message after the cut
    record.  The repair must not cut it: it cuts only when everything
    after the offset is that one partial record.  The record stays, and
    the message is appended again whole."""
    s, u, msgs = mbox_setup(make_server, fx, env, 4, 3000)
    whole, _ = mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
    write_lock(fx, fetcher_lock(dead_pid(), offset=whole))
    foreign = (b"\nFrom other@example.org Mon Jan  1 00:00:00 2024\n"
               b"Subject: delivered by an fcntl-only MDA\n\nkeep me\n\n")
    with open(fx.mbox, "ab") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        f.write(foreign)
        f.flush()
        fcntl.lockf(f, fcntl.LOCK_UN)
    run_cuts_nothing(fx, msgs[-1], "the fcntl-only writer's mail was cut")


def run_cuts_nothing(fx, last, why):
    """One run that must cut nothing: the mbox before it stays the start
    of the mbox after it, which ends with the message last appended whole;
    no lock is left."""
    with open(fx.mbox, "rb") as f:
        before = f.read()
    r = fx.run()
    assert r.returncode == 0, r.stderr
    with open(fx.mbox, "rb") as f:
        data = f.read()
    assert data.startswith(before), why
    assert b"removing a message cut short" not in r.stderr, r.stderr
    assert data[len(before):].endswith(
        last.replace(b"\nFrom the", b"\n>From the") + b"\n")
    assert not os.path.exists(fx.mbox + ".lock")


@pytest.mark.parametrize("case", ["owner", "midline", "blankline"])
def test_lock_offset_untrusted(env, make_server, fx, case):
    """The OFFSET of a lock is trusted only from a lock file of our own
    user, and only where a line starts.  A dead run's lock owned by
    another user, or one whose offset points inside a line (there, a
    quoted ">From KEY+LEN@pop3fetch.invalid" line of another program's
    message looks like the start of our record), never makes the run cut
    anything: the lock is taken over, the mbox kept as it is.  Nor does an
    offset at the blank line before a record (our append never starts
    there: cutting from it would take the line end of the record before)."""
    s, u, msgs = mbox_setup(make_server, fx, env, 3, 2000)
    if case == "owner":
        whole, _ = mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
        write_lock(fx, fetcher_lock(dead_pid(), offset=whole))
        os.chown(fx.mbox + ".lock", NOBODY, NOBODY)
    elif case == "blankline":
        whole, _ = mbox_cut_last(fx, s, u, lambda w, e: w + (e - w) // 2)
        with open(fx.mbox, "rb") as f:
            f.seek(whole - 2)
            assert f.read(2) == b"\n\n"
        write_lock(fx, fetcher_lock(dead_pid(), offset=whole - 1))
    else:
        r = fx.run()
        assert r.returncode == 0, r.stderr
        line = (b">From " + b"a" * 32 + b"+99999@pop3fetch.invalid "
                b"Mon Jan  1 00:00:00 2024\n")
        with open(fx.mbox, "ab") as f:
            f.write(b"From other@example.org Mon Jan  1 00:00:00 2024\n"
                    b"Subject: quoted\n\n" + line)
        off = os.path.getsize(fx.mbox) - len(line) + 1
        write_lock(fx, fetcher_lock(dead_pid(), offset=off))
        m = msg_bytes(10, 500, tag="crash")
        msgs.append(m)
        s.deliver(u, m)
    run_cuts_nothing(fx, msgs[-1], "cut on an untrusted offset")
