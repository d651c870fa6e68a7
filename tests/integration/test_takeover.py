"""
test_takeover.py - the switch from Dovecot to pop3d, end to end (issue
12).  The real Dovecot from Debian serves three users from a
Dovecot-style passwd-file (user:{SHA512-CRYPT}hash:uid:gid::home::) with
their Maildirs at BASE/vmail/DOMAIN/LOCALPART/Maildir, a few hundred
messages each, some deleted through Dovecot's POP3 and delivered again,
so the UIDs have gaps.  mpop and pop3fetch fetch everything in keep mode
through Dovecot; Dovecot is stopped by PID; pop3d starts on the same
ports, the same files and the same passwd-file; both clients download
nothing; one `pop3ctl deliver` per user, and both download exactly that
one.  Then the switch back (pop3d -> Dovecot), as pop3d(8) documents it:
pop3d wrote none of Dovecot's files; what Dovecot listed keeps its UIDL
if its file kept its name; what arrived under pop3d, and files pop3d
renamed to cache a size, are downloaded once more; what was deleted
through pop3d stays deleted.  Over STLS and POP3S, with mail_path
~/Maildir, /BASE/vmail/%d/%n/Maildir and pop3d's default mail_root/%u.
And the switch back after `pop3ctl migrate --commit`: every UIDL
changes under Dovecot.
"""
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from ctlutil import ctl
from fetchutil import DOVECOT, Dovecot, Fetcher, msg_bytes
from pop3util import (AUTH_USER, IS_ROOT, WORKER_USER, Conn, Server, crlf,
                      wait_until)

MPOP = "/usr/bin/mpop"

pytestmark = pytest.mark.skipif(
    not (IS_ROOT and os.access(DOVECOT, os.X_OK) and os.access(MPOP, os.X_OK)),
    reason="needs root, Debian's dovecot-pop3d and mpop")

USERS = {"alice@example.org": "Alice-Tulip-Harbor-41",
         "bob@example.org": "Bob-Granite-Violin-58",
         "carol@example.net": "Carol-Meadow-Lantern-26"}
FIRST = 160         # delivered first; Dovecot gives them UIDs 1..FIRST
DELETE_EVERY = 4    # then every 4th is deleted through Dovecot's POP3
LATER = 60          # and these arrive after, with the deleted ones again
PER_USER = FIRST + LATER   # the deleted ones came back under new names
RUN_TIMEOUT = 60


def local_part(user):
    return user.rsplit("@", 1)[0]


def domain(user):
    return user.rsplit("@", 1)[1]


def msg_id(data):
    m = re.search(rb"^Message-ID: (<[^>]*>)", data, re.M)
    assert m, "no Message-ID in %r" % data[:200]
    return m.group(1).decode()


# ---------------------------------------------------------------- the site

class Site:
    """The files an existing Dovecot installation has: vmail tree owned
    by the mail user, passwd-file readable by root and pop3d's auth
    user.  layout: "home" (Maildir at ~/Maildir), "template" (the same
    files, found by pop3d through /BASE/vmail/%d/%n/Maildir) or
    "mail_root" (home = mail_root/USER, the Maildir is the home)."""

    def __init__(self, env, layout):
        self.env = env
        self.layout = layout
        self.base = tempfile.mkdtemp(prefix="pop3d-takeover-")
        os.chmod(self.base, 0o755)
        self.vmail = os.path.join(self.base, "vmail")
        self.uid = pwd.getpwnam(WORKER_USER).pw_uid
        self.gid = grp.getgrnam("nogroup").gr_gid
        self.mkdir(self.vmail)
        self.home, self.maildir, lines = {}, {}, []
        for u, pw in USERS.items():
            if layout == "mail_root":
                h = os.path.join(self.vmail, u)
                md = h
            else:
                self.mkdir(os.path.join(self.vmail, domain(u)))
                h = os.path.join(self.vmail, domain(u), local_part(u))
                md = os.path.join(h, "Maildir")
            self.mkdir(h)
            for sub in ("", "cur", "new", "tmp"):
                self.mkdir(os.path.join(md, sub))
            self.home[u], self.maildir[u] = h, md
            lines.append("%s:{SHA512-CRYPT}%s:%d:%d::%s::" % (
                u, env.hasher.hash(pw, "sha512"), self.uid, self.gid, h))
        self.passwd = os.path.join(self.base, "passwd")
        with open(self.passwd, "w") as f:
            f.write("\n".join(lines) + "\n")
        shutil.chown(self.passwd, "root", AUTH_USER)
        os.chmod(self.passwd, 0o640)
        self.mail_location = ("maildir:~" if layout == "mail_root"
                              else "maildir:~/Maildir")
        self.counter = 0
        self.sent = {u: {} for u in USERS}     # Message-ID -> bytes

    def mkdir(self, path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o700)
        os.chown(path, self.uid, self.gid)

    def deliver(self, user, data):
        """A message file as an MTA writes it (tmp/, then new/); half of
        the names carry ,S= and ,W= as dovecot-lda writes them."""
        self.counter += 1
        n = self.counter
        name = "%d.M%dP%d.mx.example.org" % (1700000000 + n, n, 4000 + n)
        if n % 2:
            name += ",S=%d,W=%d" % (len(data), len(crlf(data)))
        md = self.maildir[user]
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self.uid, self.gid)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(md, "new", name))
        self.sent[user][msg_id(data)] = data

    def on_disk(self, user):
        """Message-IDs of the files in user's new/ and cur/."""
        return Clients.ids(self.maildir[user])

    def message(self, user, i):
        return msg_bytes(i, 200 + (i * 397) % 2500,
                         tag="%s-%s" % (local_part(user), domain(user)))

    def cleanup(self):
        if os.environ.get("POP3D_KEEP") != "1":
            shutil.rmtree(self.base, ignore_errors=True)


class SiteDovecot(Dovecot):
    """Dovecot serving the site: the shared passwd-file for passdb and
    userdb (its auth process reads it as root: the file is the auth
    user's, mode 0640, as pop3d wants it), mail_location for the
    layout.  Its own run, state and log files in BASE/dovecot."""

    def __init__(self, env, site):
        d = os.path.join(site.base, "dovecot")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        self.configure(d, env.cert, env.key, site.passwd, site.mail_location,
                       site.passwd, extra="service auth {\n  user = root\n}\n")


class SiteServer(Server):
    """pop3d on the site's files: the passwd-file is the site's own and
    is never rewritten."""

    @classmethod
    def on(cls, env, site, dove):
        """pop3d for the site on dove's ports, its config written (not
        started): mail_path as the layout has it."""
        extra = {"server": {}}
        if site.layout == "home":
            extra["server"]["mail_path"] = "~/Maildir"
        elif site.layout == "template":
            extra["server"]["mail_path"] = site.vmail + "/%d/%n/Maildir"
        srv = cls(env, listen=("127.0.0.1:%d" % dove.port,),
                  listen_tls=("127.0.0.1:%d" % dove.tls_port,),
                  pool=0, extra=extra, name="takeover")
        if site.layout == "mail_root":
            srv.mail_root = site.vmail
        srv.passwd_path = site.passwd
        srv.write_files()
        return srv

    def write_files(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())


def switch(dove, srv):
    """Stops dove (by PID), waits until its ports are free, starts srv
    on them."""
    dove.stop(remove=False)
    assert wait_until(lambda: port_free(dove.port) and
                      port_free(dove.tls_port), 10)
    srv.start()


def switch_back(srv, dove):
    """Stops srv (if not None, checked), starts dove again on its ports
    once they are free."""
    if srv is not None:
        srv.stop()
    assert wait_until(lambda: port_free(dove.port) and
                      port_free(dove.tls_port), 10)
    dove.start()


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- POP3

def listing(tls_port, ctx, user):
    """{UIDL: (size, Message-ID)} of user's maildrop over POP3S (UIDL,
    LIST, and TOP n 0 for the Message-ID of each)."""
    c = Conn("127.0.0.1", tls_port, tls=True, ctx=ctx)
    try:
        assert c.greeting.startswith("+OK"), c.greeting
        c.login(user, USERS[user])
        sizes = {}
        for l in c.multi_cmd("LIST"):
            n, sz = l.split()
            sizes[int(n)] = int(sz)
        uidls = [l.decode().split(" ", 1) for l in c.multi_cmd("UIDL")]
        # The TOPs pipelined (RFC 2449): one round trip, not hundreds.
        c.send("".join("TOP %s 0\r\n" % n for n, _ in uidls))
        out = {}
        for n, uidl in uidls:
            assert uidl not in out, "UIDL %s twice for %s" % (uidl, user)
            assert c.line().startswith("+OK")
            out[uidl] = (sizes[int(n)], msg_id(b"\n".join(c.multi())))
        c.ok("QUIT")
        return out
    finally:
        c.close()


def dele_every(tls_port, ctx, user, every):
    """Deletes every every-th message (in UIDL order) through POP3S."""
    c = Conn("127.0.0.1", tls_port, tls=True, ctx=ctx)
    try:
        c.login(user, USERS[user])
        n, _ = c.stat()
        for i in range(every, n + 1, every):
            c.ok("DELE %d" % i)
        c.ok("QUIT")
    finally:
        c.close()


def same_uidls(want, got, user):
    """Asserts got == want ({UIDL: (size, Message-ID)}), saying how many
    differ."""
    lost = sorted(set(want) - set(got))
    new = sorted(set(got) - set(want))
    other = [x for x in want if x in got and got[x] != want[x]]
    assert not (lost or new or other), (
        "%s: %d of %d UIDLs Dovecot gave are not answered (e.g. %s), %d "
        "UIDLs are new (e.g. %s), %d name another message or size" % (
            user, len(lost), len(want), lost[:2], len(new), new[:2],
            len(other)))


def dovecot_files(maildir):
    """{name: bytes} of Dovecot's own files in a Maildir."""
    out = {}
    for n in sorted(os.listdir(maildir)):
        p = os.path.join(maildir, n)
        if n.startswith("dovecot") and os.path.isfile(p):
            with open(p, "rb") as f:
                out[n] = f.read()
    return out


def listed_names(maildir):
    """The file names (up to ':') dovecot-uidlist lists."""
    with open(os.path.join(maildir, "dovecot-uidlist")) as f:
        return {l.split(" :", 1)[1].split(":", 1)[0]
                for l in f.read().splitlines()[1:]}


def renamed(maildir, names):
    """Message-IDs of the files whose name (up to ':', what Dovecot
    matches its list by) is none of names."""
    out = []
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(maildir, sub)):
            if n.split(":", 1)[0] not in names:
                with open(os.path.join(maildir, sub, n), "rb") as f:
                    out.append(msg_id(f.read()))
    return sorted(out)


def check_report(out):
    """{user: {key: value}} of the user= lines of pop3ctl migrate."""
    report = {}
    for line in out.splitlines():
        if line.startswith("user="):
            kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
            report[kv["user"]] = kv
    return report


# ---------------------------------------------------------------- clients

class Clients:
    """mpop and pop3fetch, keep mode, one account per user each, on the
    ports Dovecot listens on (pop3d takes the same ports: the clients'
    configs never change)."""

    def __init__(self, env, site, port, tls):
        self.site = site
        self.base = os.path.join(site.base, "clients")
        os.makedirs(self.base)
        self.fx = Fetcher()
        secs = []
        for u in USERS:
            pwf = os.path.join(self.fx.base, "pw-" + local_part(u))
            with open(pwf, "w") as f:
                f.write(USERS[u] + "\n")
            os.chmod(pwf, 0o600)
            secs.append(self.fx.account(
                name=local_part(u), host="localhost", port=port, user=u,
                tls="starttls" if tls == "stls" else "implicit",
                tls_ca_file=env.cert, keep="yes",
                password_command="cat " + pwf,
                destination="maildir:" + self.fetch_dir(u)))
        self.fx.write(*secs)
        self.mpoprc = os.path.join(self.base, "mpoprc")
        lines = ["defaults", "tls on",
                 "tls_starttls %s" % ("on" if tls == "stls" else "off"),
                 "tls_trust_file " + env.cert, "keep on", "only_new on",
                 "uidls_file %s/mpop-uidls-%%U" % self.base, ""]
        for u in USERS:
            md = self.mpop_dir(u)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(md, sub))
            lines += ["account " + local_part(u), "host localhost",
                      "port %d" % port, "user " + u, "password " + USERS[u],
                      "delivery maildir " + md, ""]
        with open(self.mpoprc, "w") as f:
            f.write("\n".join(lines))
        os.chmod(self.mpoprc, 0o600)

    def fetch_dir(self, u):
        return os.path.join(self.base, "pop3fetch-" + local_part(u))

    def mpop_dir(self, u):
        return os.path.join(self.base, "mpop-" + local_part(u))

    @staticmethod
    def ids(md):
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(md, sub)
            if not os.path.isdir(p):
                continue
            for n in os.listdir(p):
                with open(os.path.join(p, n), "rb") as f:
                    out.append(msg_id(f.read()))
        return out

    def state(self):
        """{client: {user: [Message-ID of every message it holds]}}."""
        return {"pop3fetch": {u: self.ids(self.fetch_dir(u)) for u in USERS},
                "mpop": {u: self.ids(self.mpop_dir(u)) for u in USERS}}

    def run(self, log=""):
        """Runs both; returns {client: {user: [Message-IDs new this run]}}."""
        before = self.state()
        r = self.fx.run()
        assert r.returncode == 0, "pop3fetch: %s\n%s" % (r.stderr.decode(),
                                                         log())
        r = subprocess.run([MPOP, "-C", self.mpoprc, "-q", "-a"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT,
                           env=self.fx.environ())
        assert r.returncode == 0, "mpop: %s\n%s" % (r.stdout.decode(), log())
        after = self.state()
        out = {}
        for c in after:
            out[c] = {}
            for u in USERS:
                old = list(before[c][u])
                new = []
                for i in after[c][u]:
                    if i in old:
                        old.remove(i)
                    else:
                        new.append(i)
                out[c][u] = sorted(new)
        return out

    def cleanup(self):
        self.fx.cleanup()


def all_ids(site, u):
    return sorted(site.sent[u])


# ---------------------------------------------------------------- the test

# Each TLS mode with each mail_path form once (TLS and the Maildir's
# path are independent of each other), about 20 s a variant.
VARIANTS = [("home", "stls"), ("template", "pop3s"), ("mail_root", "stls")]


@pytest.mark.parametrize("layout,tls", VARIANTS)
def test_switch_dovecot_to_pop3d_and_back(env, layout, tls):
    t0 = time.monotonic()
    site = Site(env, layout)
    dove = SiteDovecot(env, site)
    srv = None
    clients = None
    try:
        # Dovecot serves the site: FIRST messages, every DELE_EVERY-th
        # deleted through its POP3 (UIDs get gaps), the deleted ones
        # delivered again and LATER new ones.
        for u in USERS:
            for i in range(FIRST):
                site.deliver(u, site.message(u, i))
        dove.start()
        for u in USERS:
            dele_every(dove.tls_port, env.ctx, u, DELETE_EVERY)
        for u in USERS:
            gone = sorted(set(site.sent[u]) - set(site.on_disk(u)))
            assert len(gone) == FIRST // DELETE_EVERY, dove.log()
            for x in gone:
                data = site.sent[u].pop(x)
                site.deliver(u, data.replace(b"Message-ID: <",
                                             b"Message-ID: <again-"))
            for i in range(FIRST, FIRST + LATER):
                site.deliver(u, site.message(u, i))
            assert len(site.sent[u]) == PER_USER
        before = {}
        for u in USERS:
            before[u] = listing(dove.tls_port, env.ctx, u)
            assert sorted(v[1] for v in before[u].values()) == \
                all_ids(site, u), dove.log()
        with open(os.path.join(site.maildir["alice@example.org"],
                               "dovecot-uidlist")) as f:
            uids = [int(l.split()[0]) for l in f.read().splitlines()[1:]]
        assert len(uids) == PER_USER and max(uids) > len(uids), \
            "the UIDs have no gaps: %s" % uids

        # Both clients fetch everything through Dovecot, keep mode.
        port = dove.port if tls == "stls" else dove.tls_port
        clients = Clients(env, site, port, tls)
        got = clients.run(dove.log)
        for c in got:
            for u in USERS:
                assert got[c][u] == all_ids(site, u), (c, u)
        t_dovecot = time.monotonic() - t0

        # pop3d's config for the same files and ports; before the
        # switch, pop3ctl migrate --check says every message keeps its
        # UIDL.
        srv = SiteServer.on(env, site, dove)
        r = ctl(srv.conf_path, "migrate", "--check")
        assert r.returncode == 0, "migrate --check: rc=%d\n%s%s" % (
            r.returncode, r.out, r.err)
        report = check_report(r.out)
        for u in USERS:
            assert report.get(u, {}).get("messages") == str(PER_USER) and \
                report[u].get("keep") == str(PER_USER) and \
                report[u].get("new") == "0", \
                "migrate --check for %s: %s\n%s" % (u, report.get(u), r.out)

        # The switch: Dovecot stopped by PID, pop3d on the same ports,
        # files and passwd-file.
        dove_files = {u: dovecot_files(site.maildir[u]) for u in USERS}
        switch(dove, srv)

        # pop3d answers every message with the UIDL (and size) Dovecot gave.
        for u in USERS:
            same_uidls(before[u], listing(srv.tls_port, env.ctx, u), u)
        got = clients.run(srv.log_tail)
        for c in got:
            for u in USERS:
                assert got[c][u] == [], \
                    "%s downloaded %d messages of %s again" % (
                        c, len(got[c][u]), u)

        # One message per user through pop3ctl deliver: each client
        # downloads exactly that one.
        fresh = {}
        for k, u in enumerate(USERS):
            data = msg_bytes(9000 + k, 700, tag="after-switch")
            r = ctl(srv.conf_path, "deliver", u, input=data)
            assert r.returncode == 0, "deliver %s: %s" % (u, r.err)
            fresh[u] = msg_id(data)
        got = clients.run(srv.log_tail)
        for c in got:
            for u in USERS:
                assert got[c][u] == [fresh[u]], (c, u)
        for u in USERS:
            after = listing(srv.tls_port, env.ctx, u)
            same_uidls(before[u], {x: v for x, v in after.items()
                                   if x in before[u]}, u)
            assert [v[1] for x, v in after.items()
                    if x not in before[u]] == [fresh[u]]
        # A message deleted through pop3d (the first of Dovecot's list).
        dropped = {}
        for u in USERS:
            dropped[u] = min(before[u])
            c = Conn("127.0.0.1", srv.tls_port, tls=True, ctx=env.ctx)
            try:
                c.login(u, USERS[u])
                n = [l.decode().split()[0] for l in c.multi_cmd("UIDL")
                     if l.decode().split()[1] == dropped[u]]
                assert len(n) == 1
                c.ok("DELE " + n[0])
                c.ok("QUIT")
            finally:
                c.close()
        t_pop3d = time.monotonic() - t0 - t_dovecot

        # The switch back: pop3d stopped, Dovecot on the same files.
        # pop3d wrote none of Dovecot's files.  Dovecot matches its list
        # by file name (up to ':'): a file that keeps its name keeps its
        # UIDL; a message delivered under pop3d, or a file pop3d renamed
        # (to cache its size, ,W=), gets a new UID, so the keep-mode
        # clients download exactly those once more.  The message deleted
        # through pop3d stays deleted.
        srv.stop()
        srv = None
        again = {}
        for u in USERS:
            md = site.maildir[u]
            assert dovecot_files(md) == dove_files[u], \
                "pop3d changed Dovecot's files of %s" % u
            again[u] = renamed(md, listed_names(md))
            assert fresh[u] in again[u]
        switch_back(None, dove)
        for u in USERS:
            back = listing(dove.tls_port, env.ctx, u)
            assert len(back) == PER_USER and dropped[u] not in back
            same_uidls({x: v for x, v in before[u].items()
                        if v[1] not in again[u] and x != dropped[u]},
                       {x: v for x, v in back.items()
                        if v[1] not in again[u]}, u)
            assert sorted(v[1] for x, v in back.items()
                          if x not in before[u]) == again[u], u
        got = clients.run(dove.log)
        for c in got:
            for u in USERS:
                assert got[c][u] == again[u], (c, u)
        print("takeover %s/%s: Dovecot half %.1fs, pop3d half %.1fs, "
              "all %.1fs; the switch back downloaded %s" % (
                  layout, tls, t_dovecot, t_pop3d, time.monotonic() - t0,
                  [len(again[u]) for u in USERS]))
    finally:
        if srv is not None:
            srv.stop(check=False)
        dove.stop(remove=False)
        if clients is not None:
            clients.cleanup()
        site.cleanup()


def test_switch_back_after_migrate_commit(env):
    """pop3d(8): after pop3ctl migrate --commit (names carry the old
    UIDLs, the list put aside) pop3d still answers every UIDL Dovecot
    gave, but Dovecot, started again, gives every message a new UID:
    no UIDL it answers is one it gave before."""
    site = Site(env, "home")
    dove = SiteDovecot(env, site)
    srv = None
    u = "alice@example.org"
    try:
        for i in range(12):
            site.deliver(u, site.message(u, i))
        dove.start()
        dele_every(dove.tls_port, env.ctx, u, 3)
        before = listing(dove.tls_port, env.ctx, u)
        assert len(before) == 8
        srv = SiteServer.on(env, site, dove)
        switch(dove, srv)
        same_uidls(before, listing(srv.tls_port, env.ctx, u), u)
        r = ctl(srv.conf_path, "migrate", "--commit", u)
        assert r.returncode == 0, r.out + r.err
        assert check_report(r.out)[u]["renamed"] == "8", r.out
        same_uidls(before, listing(srv.tls_port, env.ctx, u), u)
        switch_back(srv, dove)
        srv = None
        back = listing(dove.tls_port, env.ctx, u)
        assert sorted(v[1] for v in back.values()) == \
            sorted(v[1] for v in before.values())
        assert not set(back) & set(before), \
            "Dovecot kept UIDLs after migrate --commit: %s" % (
                sorted(set(back) & set(before)))
    finally:
        if srv is not None:
            srv.stop(check=False)
        dove.stop(remove=False)
        site.cleanup()
