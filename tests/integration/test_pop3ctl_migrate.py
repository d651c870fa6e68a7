"""pop3ctl migrate: the switch from Dovecot's POP3 service without a
re-download.  Maildirs with a dovecot-uidlist written by the real Dovecot
(Debian's, run by fetchutil.Dovecot), or by hand in Dovecot's exact format
for the edge cases.  --check counts, per user, the messages that keep the
UIDL Dovecot served and why the others change, and writes nothing;
--commit renames the messages so that pop3d's own UIDL (the unique part
of the name) is the old one and moves the list aside; the UIDLs pop3d
serves are compared with Dovecot's before and after, across a pop3ctl
killed half-way, and a maildrop in use is left alone."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from ctlutil import (EX_DATAERR, EX_NOUSER, EX_OK, EX_TEMPFAIL, EX_USAGE,
                     add_user, ctl, deliver, pop3ctl_path)
from fetchutil import Dovecot
from pop3util import IS_ROOT, WORKER_USER, Conn, User, wait_until

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root (mail user, "
                                "Dovecot)")

PW = "Quartz-Heron-Mantle-58"
LIST = "dovecot-uidlist"
FIELD_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="ctl-migrate", pool=2, plaintext="loopback",
                          extra={"server": {"dovecot_uidlist": "yes"}})


def fields(line):
    return {k: v.strip('"') for k, v in FIELD_RE.findall(line)}


def migrate(srv, *args, conf=None):
    """Runs pop3ctl migrate; returns (rc, {user: fields}, total, result)."""
    r = ctl(conf or srv.conf_path, "migrate", *args)
    users, total = {}, None
    for line in r.out.splitlines():
        if line.startswith("user="):
            f = fields(line)
            users[f["user"]] = f
        elif line.startswith("total "):
            total = fields(line)
    return r.returncode, users, total, r


def counts(f, *keys):
    return {k: int(f[k]) for k in keys}


_names = iter(range(1, 1000))


def new_user(srv):
    """A user made by pop3ctl user add (its Maildir owned by the mail
    user), once pop3d sees it."""
    name = "mig%02d" % next(_names)
    add_user(srv, name, PW)
    u = User(name, PW)

    def can_login():
        c = srv.connect(tls=True)
        try:
            r = c.try_login(name, PW)
            if r.startswith("+OK"):
                c.cmd("QUIT")
            return r.startswith("+OK")
        finally:
            c.close()
    assert wait_until(can_login, 5, step=0.2)
    return u


def chown_tree(path):
    for dp, dn, fn in os.walk(path):
        for n in dn + fn:
            shutil.chown(os.path.join(dp, n), WORKER_USER, "nogroup")
    shutil.chown(path, WORKER_USER, "nogroup")


def install(srv, user, src):
    """Puts a copy of the Maildir src in place of user's."""
    dst = srv.maildir(user)
    shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    chown_tree(dst)


def uidl_map(c):
    """{subject: UIDL} of a logged-in POP3 connection, then QUIT."""
    out = {}
    for l in c.multi_cmd("UIDL"):
        num, uidl = l.decode().split(" ", 1)
        c.ok("TOP %s 0" % num)
        subj = [h for h in c.multi() if h.lower().startswith(b"subject:")]
        assert len(subj) == 1
        s = subj[0][8:].strip().decode()
        assert s not in out, "two messages with subject %s" % s
        out[s] = uidl
    c.ok("QUIT")
    c.close()
    return out


def pop3d_uidls(srv, user):
    return uidl_map(srv.session_retry(user, tls=True))


def snapshot(path):
    """Every name under path with its size, mode and times."""
    out = {}
    for dp, dn, fn in os.walk(path):
        for n in dn + fn:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mode,
                                             st.st_mtime_ns, st.st_ctime_ns)
    return out


def msg(subject):
    return b"From: a@example.test\nSubject: %s\n\nbody of %s\n" % (
        subject.encode(), subject.encode())


def dovecot_maildir(env, tmp_path, n, dele, later, extra=""):
    """Debian's Dovecot serves n messages m1..mn; a client deletes those
    in dele, `later` more arrive and are listed (UIDs with gaps), and one
    more (m<n+later+1>) arrives once Dovecot has stopped listing.  Returns
    (a copy of the Maildir, {subject: UIDL Dovecot served})."""
    d = Dovecot(env.cert, env.key)
    if extra:
        with open(d.conf, "a") as f:
            f.write(extra + "\n")
    try:
        for i in range(1, n + 1):
            d.deliver(i, msg("m%d" % i))
        d.start()

        def conn():
            c = Conn("127.0.0.1", d.tls_port, tls=True, ctx=env.ctx)
            c.login(d.user, d.password)
            return c
        c = conn()
        for i in dele:
            c.ok("DELE %d" % i)
        c.ok("QUIT")
        c.close()
        for i in range(n + 1, n + later + 1):
            d.deliver(i, msg("m%d" % i))
        served = uidl_map(conn())
        d.deliver(n + later + 1, msg("m%d" % (n + later + 1)))
        assert os.path.exists(os.path.join(d.mail, LIST)), d.log()
        copy = str(tmp_path / "dovecot-maildir")
        shutil.copytree(d.mail, copy, symlinks=True)
    finally:
        d.stop()
    assert len(served) == n - len(dele) + later
    return copy, served


def names(srv, user):
    return sorted(os.listdir(os.path.join(srv.maildir(user), "new")) +
                  os.listdir(os.path.join(srv.maildir(user), "cur")))


def test_real_dovecot_list_check_then_commit_keeps_every_uidl(srv, env,
                                                             tmp_path):
    copy, dove = dovecot_maildir(env, tmp_path, 12, (2, 5, 9), 3)
    u = new_user(srv)
    install(srv, u, copy)
    md = srv.maildir(u)

    # --check: 12 listed messages keep Dovecot's UIDL, m16 came later.
    before = snapshot(md)
    rc, users, total, r = migrate(srv, "--check", u.name)
    assert rc == EX_DATAERR, r.out + r.err
    f = users[u.name]
    assert f["list"] == "dovecot"
    assert counts(f, "messages", "keep", "new", "keep_format", "keep_saved",
                  "new_not_listed", "new_duplicate", "new_no_format") == {
        "messages": 13, "keep": 12, "new": 1, "keep_format": 12,
        "keep_saved": 0, "new_not_listed": 1, "new_duplicate": 0,
        "new_no_format": 0}
    assert total["users"] == "1" and total["new_not_listed"] == "1"
    # Read-only: not even the lock file.
    assert snapshot(md) == before
    assert not os.path.exists(os.path.join(md, ".pop3d.lock"))

    # pop3d on the list answers as Dovecot did.
    served = pop3d_uidls(srv, u)
    assert {s: served[s] for s in dove} == dove
    assert served["m16"] not in dove.values()

    rc, users, total, r = migrate(srv, "--commit", u.name)
    assert rc == EX_OK, r.out + r.err
    f = users[u.name]
    assert f["list"] == "migrated"
    assert counts(f, "renamed", "unfoldable", "keep") == {
        "renamed": 12, "unfoldable": 0, "keep": 12}
    assert total["lists_migrated"] == "1"
    assert not os.path.exists(os.path.join(md, LIST))
    assert os.path.exists(os.path.join(md, LIST + ".migrated"))
    # Each renamed message's unique part is its old UIDL, the rest kept.
    bases = {n.split(",")[0].split(":")[0] for n in names(srv, u)}
    assert set(dove.values()) <= bases
    assert all(n.endswith(":2,") for n in os.listdir(os.path.join(md, "cur")))
    assert pop3d_uidls(srv, u) == served

    # Nothing left to do; --check now finds pop3d's own UIDLs everywhere.
    rc, users, _, r = migrate(srv, "--check", u.name)
    assert rc == EX_OK, r.out + r.err
    assert users[u.name]["list"] == "migrated"
    assert counts(users[u.name], "keep_own", "new") == {"keep_own": 13,
                                                        "new": 0}
    rc, users, _, r = migrate(srv, "--commit", u.name)
    assert rc == EX_OK and users[u.name]["renamed"] == "0", r.out

    # A message delivered now gets a new UIDL; the others keep theirs.
    r = deliver(srv.conf_path, u.name, msg("m17"))
    assert r.returncode == EX_OK, r.err
    after = pop3d_uidls(srv, u)
    assert {s: after[s] for s in served} == served
    assert after["m17"] not in served.values()


def test_saved_uidls_of_pop3_save_uidl(srv, env, tmp_path):
    """Dovecot with pop3_save_uidl writes each UIDL into the list (P)."""
    copy, dove = dovecot_maildir(env, tmp_path, 6, (3,), 2,
                                 extra="pop3_save_uidl = yes")
    with open(os.path.join(copy, LIST)) as f:
        assert len(re.findall(r" P[0-9a-f]{16} ", f.read())) == 7
    u = new_user(srv)
    install(srv, u, copy)
    rc, users, _, r = migrate(srv, "--check", u.name)
    assert counts(users[u.name], "keep_saved", "keep_format",
                  "new_not_listed") == {"keep_saved": 7, "keep_format": 0,
                                        "new_not_listed": 1}, r.out
    served = pop3d_uidls(srv, u)
    assert {s: served[s] for s in dove} == dove
    rc, users, _, r = migrate(srv, "--commit", u.name)
    assert rc == EX_OK and users[u.name]["renamed"] == "7", r.out + r.err
    assert pop3d_uidls(srv, u) == served


# ------------------------------------------------- hand-written lists

UIDVALIDITY = 0x6b13daa3


def write_maildir(path, entries, unlisted=(), header=None, missing=()):
    """A Maildir with a dovecot-uidlist in Dovecot's version-3 format:
    entries are (uid, name, extensions, subject); files of the names
    in missing are not made (deleted since).  unlisted: (name, subject)."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    nextuid = max([e[0] for e in entries] + [0]) + 1
    lines = [header or "3 V%d N%d Gb77ac62fa3da136bde63000083ecc375" % (
        UIDVALIDITY, nextuid)]
    for uid, name, ext, subject in entries:
        lines.append("%d %s:%s" % (uid, ext + " " if ext else "", name))
        if name not in missing:
            with open(os.path.join(path, "cur", name + ":2,S"), "wb") as f:
                f.write(msg(subject))
    for name, subject in unlisted:
        with open(os.path.join(path, "new", name), "wb") as f:
            f.write(msg(subject))
    with open(os.path.join(path, LIST), "w") as f:
        f.write("\n".join(lines) + "\n")


def fmt_uidl(uid):
    """Dovecot's %08Xu%08Xv (its X: lower-case hex)."""
    return "%08x%08x" % (uid, UIDVALIDITY)


def name(i, host="h"):
    n = "%d.M%dP1.%s" % (1700000000 + i, i, host)
    return n + ",S=%d,W=%d" % (len(msg("m%d" % i)),
                               len(msg("m%d" % i)) + 4)


def test_edge_cases_counted_with_reasons(srv, tmp_path):
    users = {}
    # A P extension twice: the later message gets its own UIDL.
    dup = new_user(srv)
    write_maildir(srv.maildir(dup), [(1, name(1), "PSAME", "m1"),
                                     (2, name(2), "PSAME", "m2"),
                                     (3, name(3), "W10", "m3")])
    # A saved UIDL pop3d cannot serve (over 70 octets).
    long_ = new_user(srv)
    write_maildir(srv.maildir(long_), [(1, name(1), "P" + "x" * 80, "m1"),
                                       (2, name(2), "", "m2")])
    # No list at all, and one that does not parse.
    none = new_user(srv)
    write_maildir(srv.maildir(none), [(1, name(1), "", "m1")])
    os.unlink(os.path.join(srv.maildir(none), LIST))
    # A name chosen by whoever delivers: a space, a newline, a '"'.
    evil = '1700000099.M9P1.h "x\nuser=forged list=dovecot'
    with open(os.path.join(srv.maildir(none), "new", evil), "wb") as f:
        f.write(msg("evil"))
    bad = new_user(srv)
    write_maildir(srv.maildir(bad), [(1, name(1), "", "m1")],
                  header="3 Vx N2")
    for u in (dup, long_, none, bad):
        chown_tree(srv.maildir(u))
        users[u.name] = u
    rc, out, total, r = migrate(srv, "--check", *users)
    assert rc == EX_DATAERR, r.out + r.err
    assert counts(out[dup.name], "keep_saved", "keep_format",
                  "new_duplicate", "new") == {
        "keep_saved": 1, "keep_format": 1, "new_duplicate": 1, "new": 1}
    assert counts(out[long_.name], "keep_format", "new_no_format") == {
        "keep_format": 1, "new_no_format": 1}
    assert out[none.name]["list"] == "none"
    assert counts(out[none.name], "new_no_list", "keep") == {
        "new_no_list": 2, "keep": 0}
    assert "forged" not in out
    assert out[bad.name]["list"] == "bad"
    assert out[bad.name]["new_bad_list"] == "1"
    assert re.search(r"%s/dovecot-uidlist\D{1,7}1\b" % re.escape(
        srv.maildir(bad)), out[bad.name]["error"]), out[bad.name]
    assert int(total["users"]) == 4
    rc, _, _, r = migrate(srv, "--check", "--verbose", none.name)
    assert [fields(l)["file"] for l in r.out.splitlines()
            if l.startswith("message ")] == [
        "cur/%s:2,S" % name(1),
        "new/1700000099.M9P1.h\\x20\\x22x\\x0Auser=forged\\x20list=dovecot"
    ], r.out
    # --verbose names each message that changes, and why.
    rc, _, _, r = migrate(srv, "--check", "--verbose", dup.name)
    lines = [l for l in r.out.splitlines() if l.startswith("message ")]
    assert len(lines) == 1 and "new_duplicate" in lines[0], r.out
    assert fields(lines[0])["file"] == "cur/%s:2,S" % name(2)

    # pop3d serves what --check says: the second SAME gets "-2".
    assert pop3d_uidls(srv, dup) == {"m1": "SAME", "m2": "SAME-2",
                                     "m3": fmt_uidl(3)}


def test_unfoldable_uidls_keep_the_list(srv):
    """A saved UIDL that cannot be a unique part (a ','), one whose
    unique part a deleted message's listed name holds, two messages
    with one saved UIDL (the second served "-2"), and a message with a
    copy under the same unique part (the list's entry would go to the
    copy) stay as they are, served from the list, which stays; the
    other one is folded."""
    u = new_user(srv)
    md = srv.maildir(u)
    write_maildir(md, [(1, name(1), "Pa,b", "m1"),
                       (2, name(2), "P" + name(4).split(",")[0], "m2"),
                       (3, name(3), "", "m3"),
                       (4, name(4), "", "gone"),
                       (5, name(5), "PSAME", "m5"),
                       (6, name(6), "PSAME", "m6"),
                       (7, name(7), "", "m7")], missing=(name(4),))
    with open(os.path.join(md, "new", name(7).split(",")[0]), "wb") as f:
        f.write(msg("m7copy"))
    chown_tree(md)
    served = pop3d_uidls(srv, u)
    assert served == {"m1": "a,b", "m2": name(4).split(",")[0],
                      "m3": fmt_uidl(3), "m5": "SAME", "m6": "SAME-2",
                      "m7": fmt_uidl(7), "m7copy": name(7).split(",")[0]}
    rc, out, total, r = migrate(srv, "--commit", "--verbose", u.name)
    assert rc == EX_DATAERR, r.out + r.err
    f = out[u.name]
    assert f["list"] == "dovecot"
    assert counts(f, "renamed", "unfoldable") == {"renamed": 1,
                                                  "unfoldable": 5}
    # (pop3d's login gave the copy a ",W=": its unique part stays.)
    why = sorted((re.sub(r",W=\d+$", "", fields(l)["file"]),
                  fields(l).get("unfoldable"))
                 for l in r.out.splitlines() if l.startswith("message "))
    b = [name(i).split(",")[0] for i in range(8)]
    assert why == sorted([("cur/%s:2,S" % name(1), "not_a_name"),
                          ("cur/%s:2,S" % name(2), "name_taken"),
                          ("cur/%s:2,S" % name(5), "duplicate"),
                          ("cur/%s:2,S" % name(6), "duplicate"),
                          ("cur/%s:2,S" % name(7), "duplicate"),
                          ("new/%s" % b[7], None)]), r.out
    assert os.path.exists(os.path.join(md, LIST))
    assert pop3d_uidls(srv, u) == served
    # A second run changes nothing more.
    rc, out, _, r = migrate(srv, "--commit", u.name)
    assert rc == EX_DATAERR and out[u.name]["renamed"] == "0", r.out
    assert pop3d_uidls(srv, u) == served


def test_list_stays_while_a_pop3d_commit_awaits_recovery(srv):
    """A pop3d killed in its QUIT commit left cur/ swapped out in tmp/,
    a listed message in it: --commit folds the others but keeps the list
    (the message comes back under its listed name at the next login),
    and a run after that login finishes."""
    u = new_user(srv)
    md = srv.maildir(u)
    write_maildir(md, [(i, name(i), "", "m%d" % i) for i in (1, 2, 3)])
    swap = os.path.join(md, "tmp", ".pop3d-swap.cur.M1P1")
    os.mkdir(swap, 0o700)
    os.rename(os.path.join(md, "cur", name(2) + ":2,S"),
              os.path.join(swap, name(2) + ":2,S"))
    chown_tree(md)
    want = {"m%d" % i: fmt_uidl(i) for i in (1, 2, 3)}
    rc, out, _, r = migrate(srv, "--commit", u.name)
    assert rc == EX_DATAERR, r.out + r.err
    assert out[u.name]["list"] == "dovecot" and \
        out[u.name]["renamed"] == "2", r.out
    assert "unfinished pop3d commit" in out[u.name]["error"]
    # The login recovers m2 into cur/; the list still answers for it.
    assert pop3d_uidls(srv, u) == want
    assert not os.path.exists(swap)
    rc, out, _, r = migrate(srv, "--commit", u.name)
    assert rc == EX_OK and out[u.name]["renamed"] == "1", r.out + r.err
    assert out[u.name]["list"] == "migrated"
    assert pop3d_uidls(srv, u) == want


def test_maildrop_in_use_is_skipped(srv):
    u = new_user(srv)
    md = srv.maildir(u)
    write_maildir(md, [(1, name(1), "", "m1"), (2, name(2), "", "m2")])
    chown_tree(md)
    c = srv.session_retry(u, tls=True)
    try:
        before = names(srv, u)
        rc, out, total, r = migrate(srv, "--commit", u.name)
        assert rc == EX_TEMPFAIL, r.out + r.err
        assert out[u.name]["list"] == "in_use"
        assert total["in_use"] == "1"
        assert names(srv, u) == before
        assert os.path.exists(os.path.join(md, LIST))
    finally:
        c.ok("QUIT")
        c.close()
    # Once the session is gone, the commit goes through.
    end = time.monotonic() + 10
    while True:
        rc, out, _, r = migrate(srv, "--commit", u.name)
        if out[u.name]["list"] != "in_use" or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert rc == EX_OK and out[u.name]["list"] == "migrated", r.out


def test_killed_half_way_every_uidl_stays(srv, tmp_path):
    """pop3ctl killed (SIGKILL) at growing delays, and once its renames
    have begun, while it renames 3000 messages (every other round each):
    after each kill, pop3d serves every message the UIDL
    Dovecot gave it (old name in the list, or new name carrying it), a
    --check counts them all kept, and a last run finishes the job."""
    n = 3000
    u = new_user(srv)
    md = srv.maildir(u)
    write_maildir(md, [(i, name(i), "", "m%d" % i)
                       for i in range(1, n + 1)])
    chown_tree(md)
    served = pop3d_uidls(srv, u)
    assert served == {"m%d" % i: fmt_uidl(i) for i in range(1, n + 1)}

    def renamed():
        return sum(1 for x in os.listdir(os.path.join(md, "cur"))
                   if not x.startswith("17"))
    partial = 0
    delay = 0.002
    for rnd in range(40):
        before = renamed()
        p = subprocess.Popen([pop3ctl_path(), "-c", srv.conf_path, "migrate",
                              "--commit", u.name], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        if rnd % 2 == 0:
            time.sleep(delay)       # anywhere: before, in or after
        else:
            # In the renames, whatever the start-up costs (a sanitizer
            # build starts slowly): once the first new name shows.
            end = time.monotonic() + 20
            while (p.poll() is None and renamed() == before and
                   time.monotonic() < end):
                pass
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        if not os.path.exists(os.path.join(md, LIST)):
            break
        k = renamed()
        if 0 < k < n:
            partial += 1
            rc, out, _, r = migrate(srv, "--check", u.name)
            assert counts(out[u.name], "keep", "keep_folded", "new") == {
                "keep": n, "keep_folded": k, "new": 0}, r.out
            assert pop3d_uidls(srv, u) == served
        delay *= 1.25
    assert partial >= 1, "no kill landed while renaming"
    rc, out, _, r = migrate(srv, "--commit", u.name)
    if os.path.exists(os.path.join(md, LIST)):
        assert rc == EX_OK, r.out + r.err
    assert not os.path.exists(os.path.join(md, LIST))
    assert renamed() == n
    assert pop3d_uidls(srv, u) == served


def test_command_line(srv):
    r = ctl(srv.conf_path, "migrate")
    assert r.returncode == EX_USAGE
    r = ctl(srv.conf_path, "migrate", "--check", "--commit")
    assert r.returncode == EX_USAGE
    r = ctl(srv.conf_path, "migrate", "--help")
    assert r.returncode == EX_OK and "--commit" in r.out
    r = ctl(srv.conf_path, "migrate", "--check", "nobody-here")
    assert r.returncode == EX_NOUSER, r.out + r.err
    assert "no such user nobody-here" in r.err
    r = ctl(srv.conf_path, "migrate", "--check", "../x")
    assert r.returncode == EX_USAGE


def test_every_user_of_the_passwd_file_without_names(srv):
    rc, users, total, r = migrate(srv, "--check")
    with open(srv.passwd_path) as f:
        names_ = {l.split(":")[0] for l in f if l.strip()}
    assert set(users) == names_, r.out
    assert int(total["users"]) == len(names_)
    # The pool users have an empty Maildir and no list.
    assert users["p01"]["list"] == "none" and users["p01"]["messages"] == "0"


def test_list_off_counts_and_commit_still_folds(srv, tmp_path):
    """With dovecot_uidlist = no pop3d would serve its own UIDLs: --check
    says so; --commit folds all the same, after which pop3d serves the
    old UIDLs with the list or without it."""
    u = new_user(srv)
    md = srv.maildir(u)
    write_maildir(md, [(1, name(1), "", "m1"), (2, name(2), "Pkept", "m2")])
    chown_tree(md)
    off = tmp_path / "off.conf"
    with open(srv.conf_path) as f:
        text = f.read()
    assert "dovecot_uidlist = yes" in text
    off.write_text(text.replace("dovecot_uidlist = yes",
                                "dovecot_uidlist = no"))
    rc, out, _, r = migrate(srv, "--check", u.name, conf=str(off))
    assert rc == EX_DATAERR, r.out + r.err
    assert counts(out[u.name], "new_list_off", "keep") == {
        "new_list_off": 2, "keep": 0}, r.out
    rc, out, _, r = migrate(srv, "--commit", u.name, conf=str(off))
    assert rc == EX_OK and out[u.name]["renamed"] == "2", r.out + r.err
    assert pop3d_uidls(srv, u) == {"m1": fmt_uidl(1), "m2": "kept"}


def test_many_equal_saved_uidls_in_linear_time(srv):
    """40,000 messages that all had the saved UIDL "P" (a list a user
    can write): --check hands out "P-2" to "P-40000" in well under the
    bound (the per-message restart at "-2" took about 14 s for 20,000
    and four times that for twice as many)."""
    n = 40000
    u = new_user(srv)
    md = srv.maildir(u)
    body = msg("same")
    lines = ["3 V%d N%d Gb77ac62fa3da136bde63000083ecc375" % (
        UIDVALIDITY, n + 1)]
    for i in range(1, n + 1):
        nm = "%d.M%dP1.h" % (1700000000 + i, i)
        lines.append("%d PP :%s" % (i, nm))
        with open(os.path.join(md, "cur", nm + ":2,S"), "wb") as f:
            f.write(body)
    with open(os.path.join(md, LIST), "w") as f:
        f.write("\n".join(lines) + "\n")
    chown_tree(md)
    t0 = time.monotonic()
    try:
        r = ctl(srv.conf_path, "migrate", "--check", u.name, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("migrate --check of %d equal UIDLs took over 20 s" % n)
    took = time.monotonic() - t0
    line = [l for l in r.out.splitlines() if l.startswith("user=")]
    assert len(line) == 1, r.out + r.err
    assert counts(fields(line[0]), "keep_saved", "new_duplicate") == {
        "keep_saved": 1, "new_duplicate": n - 1}, r.out
    assert took < 20, took
