"""
pop3fetch's mbox key scan against lines far longer than any From_ line
it writes: a message with a 10 MB line of "From " tokens (every read
chunk of the scan starts mid-line), foreign records with a huge body line
and a huge From_ line.  After the state DB is lost, a rerun must still
find every key (nothing fetched twice, the mbox unchanged), and the scan
must not grow with the line (peak RSS of the run, from wait4).
"""
import os
import subprocess
import sys

import pytest

from fetchutil import RUN_TIMEOUT, Fetcher, msg_bytes

MB = 1024 * 1024


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
