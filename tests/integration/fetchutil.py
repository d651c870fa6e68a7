"""
fetchutil.py - helpers for the pop3fetch tests: a Fetcher that writes a
config into its own HOME/XDG tree and runs build/pop3fetch; a scripted
FakeServer that asserts the exact command transcript; a CutProxy on
loopback that forwards to a server and cuts the connection after a given
number of server bytes; a Dovecot runner (own config, ephemeral loopback
ports, stopped by PID); Maildir/mbox readers.  Standard library only;
every wait is bounded.
"""
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time

from pop3util import build_dir, wait_until

RUN_TIMEOUT = 60


def msg_bytes(i, size=0, tag="m"):
    """A test message with LF line ends, a dot line and a From line."""
    body = ("From: sender%d@example.org\nTo: rcpt@example.org\n"
            "Subject: %s %d\nMessage-ID: <%s-%d@test>\n\n"
            "Line one of message %d.\n.a dot line\n..two dots\n"
            "From the start of a line\n" % (i, tag, i, tag, i, i))
    if size > len(body):
        filler = ("x" * 75 + "\n") * ((size - len(body)) // 76 + 1)
        body += filler
    return body.encode()


class Fetcher:
    """pop3fetch with its own HOME, config and state."""

    def __init__(self, env=None):
        self.base = tempfile.mkdtemp(prefix="pop3fetch-test-")
        self.home = os.path.join(self.base, "home")
        os.makedirs(self.home)
        self.conf = os.path.join(self.base, "config")
        self.state = os.path.join(self.base, "state")
        self.maildir = os.path.join(self.base, "Maildir")
        self.mbox = os.path.join(self.base, "mbox")
        self.pwfile = os.path.join(self.base, "pw")
        self.bin = os.path.join(build_dir(), "pop3fetch")
        self.env = env
        self.proc = None

    def set_password(self, pw):
        with open(self.pwfile, "w") as f:
            f.write(pw + "\n")
        os.chmod(self.pwfile, 0o600)

    def account(self, name="acct", **kw):
        """Text of one account section; kw are keys (None drops one)."""
        keys = {"host": "127.0.0.1", "user": "u",
                "password_command": "cat " + self.pwfile,
                "destination": "maildir:" + self.maildir}
        keys.update(kw)
        lines = ["[%s]" % name]
        for k, v in keys.items():
            if v is not None:
                lines.append("%s = %s" % (k, v))
        return "\n".join(lines) + "\n"

    def write(self, *sections):
        with open(self.conf, "w") as f:
            f.write("\n".join(sections))

    def environ(self):
        e = dict(os.environ)
        e["HOME"] = self.home
        e["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        e["XDG_STATE_HOME"] = self.state
        return e

    def run(self, *args, timeout=RUN_TIMEOUT, config=True):
        argv = [self.bin] + (["-C", self.conf] if config else []) + list(args)
        return subprocess.run(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.environ(), timeout=timeout)

    def start(self, *args):
        argv = [self.bin, "-C", self.conf] + list(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     env=self.environ())
        return self.proc

    def db(self, account="acct"):
        return os.path.join(self.state, "pop3fetch", account + ".db")

    def rows(self, account="acct"):
        c = sqlite3.connect(self.db(account))
        try:
            return {r[0]: (r[1], r[2]) for r in
                    c.execute("SELECT uid, state, fetched FROM uidl")}
        finally:
            c.close()

    def age(self, days, account="acct"):
        """Moves every fetched time back by days (for delete_after_days)."""
        c = sqlite3.connect(self.db(account))
        try:
            c.execute("UPDATE uidl SET fetched = fetched - ?",
                      (int(days * 86400),))
            c.commit()
        finally:
            c.close()

    def maildir_msgs(self, path=None):
        d = path or self.maildir
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(d, sub)
            if not os.path.isdir(p):
                continue
            for n in sorted(os.listdir(p)):
                with open(os.path.join(p, n), "rb") as f:
                    out.append(f.read())
        return out

    def maildir_tmp(self, path=None):
        return os.listdir(os.path.join(path or self.maildir, "tmp"))

    def mbox_msgs(self, path=None):
        """Messages of an mboxrd file, From_ lines dropped, unescaped."""
        try:
            with open(path or self.mbox, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        msgs, cur = [], None
        for line in data.split(b"\n")[:-1]:
            if line.startswith(b"From "):
                if cur is not None:
                    msgs.append(cur)
                cur = []
                continue
            assert cur is not None, "mbox does not start with From_"
            if re.match(rb"^>+From ", line):
                line = line[1:]
            cur.append(line)
        if cur is not None:
            msgs.append(cur)
        out = []
        for m in msgs:
            assert m and m[-1] == b"", "message not followed by a blank line"
            out.append(b"\n".join(m[:-1]) + b"\n")
        return out

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.base, ignore_errors=True)


def mbox_cut_last(fx, s, u, cut):
    """Delivers the server's messages but the last to fx.mbox in one run,
    the last in a second; then makes the mbox look as a kill -9 in the
    middle of that append leaves it: the last record cut to cut(whole,
    size) bytes (whole: the mbox before the append, size: after), its
    "done" row never written.  Returns (whole, put_back): put_back()
    delivers the last message to the server again (keep = no)."""
    new = os.path.join(s.maildir(u), "new")
    name = sorted(os.listdir(new))[-1]
    held = os.path.join(fx.base, "held-back")
    shutil.copy2(os.path.join(new, name), held)
    os.unlink(os.path.join(new, name))

    def put_back():
        shutil.copy2(held, os.path.join(new, name))
        s._chown(os.path.join(new, name))
    r = fx.run()
    assert r.returncode == 0, r.stderr
    whole = os.path.getsize(fx.mbox)
    put_back()
    r = fx.run()
    assert r.returncode == 0, r.stderr
    size = os.path.getsize(fx.mbox)
    assert size > whole
    c = sqlite3.connect(fx.db())
    c.execute("DELETE FROM uidl WHERE uid IN (SELECT uid FROM uidl "
              "ORDER BY fetched DESC, uid DESC LIMIT 1)")
    c.commit()
    c.close()
    with open(fx.mbox, "r+b") as f:
        f.truncate(cut(whole, size))
    return whole, put_back


# ---------------------------------------------------------------- fake server

class FakeServer:
    """A scripted POP3 server on loopback (one connection).  script is a
    list of (command, reply): command is the exact line expected (without
    CRLF) or None for the greeting; reply is bytes sent back (CRLF added
    to each line of a str).  Records every line received in transcript;
    a command that does not match gets -ERR and is recorded as such."""

    def __init__(self, script, tls_ctx=None, stls_ctx=None):
        self.script = list(script)
        self.transcript = []
        self.errors = []
        self.tls_ctx = tls_ctx
        self.stls_ctx = stls_ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _bytes(r):
        if isinstance(r, bytes):
            return r
        return "".join(l + "\r\n" for l in r.split("\n")).encode()

    def _serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError as e:
            self.errors.append("accept: %r" % e)
            return
        c.settimeout(20)
        if self.tls_ctx is not None:
            try:
                c = self.tls_ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError) as e:
                self.errors.append("tls: %r" % e)
                c.close()
                return
        f = c.makefile("rb")
        try:
            for cmd, reply in self.script:
                if cmd is not None:
                    line = f.readline(1024)
                    if not line:
                        self.errors.append("EOF, expected %r" % cmd)
                        return
                    got = line.rstrip(b"\r\n").decode("latin-1")
                    self.transcript.append(got)
                    if got != cmd:
                        self.errors.append("got %r, expected %r" % (got, cmd))
                        c.sendall(b"-ERR unexpected\r\n")
                        return
                if reply == "STARTTLS":
                    c.sendall(b"+OK begin TLS\r\n")
                    f.close()
                    c = self.stls_ctx.wrap_socket(c, server_side=True)
                    f = c.makefile("rb")
                    continue
                if reply == "CLOSE":
                    return
                c.sendall(self._bytes(reply))
            # Whatever the client sends after the script is recorded.
            while True:
                line = f.readline(1024)
                if not line:
                    break
                self.transcript.append(line.rstrip(b"\r\n").decode("latin-1"))
                c.sendall(b"-ERR script ended\r\n")
        except (OSError, ssl.SSLError) as e:
            self.errors.append("io: %r" % e)
        finally:
            try:
                c.close()
            except OSError:
                pass

    def join(self):
        self.thread.join(25)
        self.sock.close()
        return self.transcript


# ---------------------------------------------------------------- proxy

class CutProxy:
    """Forwards loopback connections to (host, port); the first connection
    is cut (both ways, RST) after cut_after bytes from the server, if set.
    Later connections pass untouched."""

    def __init__(self, host, port, cut_after=None):
        self.target = (host, port)
        self.cut_after = cut_after
        self.cuts = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        first = True
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            limit = self.cut_after if first else None
            first = False
            threading.Thread(target=self._pipe, args=(c, limit),
                             daemon=True).start()

    def _pipe(self, c, limit):
        try:
            s = socket.create_connection(self.target, timeout=10)
        except OSError:
            c.close()
            return
        done = threading.Event()

        def up():
            try:
                while not done.is_set():
                    d = c.recv(65536)
                    if not d:
                        break
                    s.sendall(d)
            except OSError:
                pass
            done.set()

        t = threading.Thread(target=up, daemon=True)
        t.start()
        n = 0
        try:
            s.settimeout(30)
            while not done.is_set():
                d = s.recv(65536)
                if not d:
                    break
                if limit is not None and n + len(d) >= limit:
                    c.sendall(d[:max(0, limit - n)])
                    self.cuts += 1
                    break
                n += len(d)
                c.sendall(d)
        except OSError:
            pass
        done.set()
        for x in (c, s):
            try:
                # shutdown wakes the other thread's recv; close alone
                # would not end the connection while it waits.
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                x.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


# ---------------------------------------------------------------- dovecot

DOVECOT = "/usr/sbin/dovecot"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


DOVECOT_CONF = """
protocols = pop3
base_dir = {run}
state_dir = {state}
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
disable_plaintext_auth = yes
mail_location = {mail_location}
first_valid_uid = 1
log_path = {log}
default_login_user = nobody
default_internal_user = nobody
default_internal_group = nogroup
passdb {{
  driver = passwd-file
  args = {passdb_args}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
pop3_uidl_format = %08Xu%08Xv
{extra}"""


class Dovecot:
    """Debian's dovecot with its own config and base_dir, POP3 on two
    loopback ports (STLS and implicit TLS), one user with a Maildir, a
    passwd-file with a {PLAIN} password.  Started as root, stopped by
    PID.  A subclass may serve other users and files: it calls
    configure() instead of this __init__."""

    def __init__(self, cert, key, user="dove", password="Dove-pass-1"):
        self.base = tempfile.mkdtemp(prefix="pop3fetch-dovecot-")
        os.chmod(self.base, 0o755)
        self.user = user
        self.password = password
        self.mail = os.path.join(self.base, "mail", user)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.mail, sub))
        shutil.chown(os.path.join(self.base, "mail"), "nobody", "nogroup")
        for dp, dn, fn in os.walk(os.path.join(self.base, "mail")):
            for d in dn:
                shutil.chown(os.path.join(dp, d), "nobody", "nogroup")
        passwd = os.path.join(self.base, "passwd")
        with open(passwd, "w") as f:
            f.write("%s:{PLAIN}%s:65534:65534::%s\n" % (user, password,
                                                         self.mail))
        self.configure(self.base, cert, key, passwd, "maildir:~",
                       "scheme=PLAIN " + passwd)

    def configure(self, base, cert, key, passwd, mail_location, passdb_args,
                  extra=""):
        """Writes the config; Dovecot's own files (run, state, log) go
        to base, which a stop(remove=True) deletes."""
        self.base = base
        self.port = free_port()
        self.tls_port = free_port()
        self.conf = os.path.join(base, "dovecot.conf")
        run = os.path.join(base, "run")
        os.makedirs(run)
        os.makedirs(os.path.join(base, "state"))
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(
                run=run, state=os.path.join(base, "state"), cert=cert,
                key=key, mail_location=mail_location,
                log=os.path.join(base, "dovecot.log"),
                passdb_args=passdb_args, passwd=passwd, port=self.port,
                tls_port=self.tls_port, extra=extra))
        self.pid = None

    def start(self):
        # dovecot daemonizes: its output goes to a file, not a pipe the
        # daemon would hold open.
        out = os.path.join(self.base, "start.out")
        pidfile = os.path.join(self.base, "run", "master.pid")
        if os.path.exists(pidfile):     # left by an earlier run
            os.unlink(pidfile)
        with open(out, "wb") as o:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdout=o,
                               stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=30)
        with open(out) as o:
            assert r.returncode == 0, "dovecot: %s\n%s" % (o.read(),
                                                           self.log())

        def pid():
            # dovecot creates the file, then writes the PID into it.
            try:
                with open(pidfile) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                return 0
        self.pid = wait_until(pid, 10) or None
        assert self.pid, self.log()

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), 1).close()
                return True
            except OSError:
                return False
        assert wait_until(up, 10), "dovecot not listening:\n" + self.log()
        return self

    def log(self):
        try:
            with open(os.path.join(self.base, "dovecot.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def deliver(self, i, data):
        name = "%d.M%dP1.dove" % (1700000000 + i, i)
        p = os.path.join(self.mail, "new", name)
        with open(p, "wb") as f:
            f.write(data)
        shutil.chown(p, "nobody", "nogroup")

    def count(self):
        return sum(len(os.listdir(os.path.join(self.mail, s)))
                   for s in ("new", "cur"))

    def stop(self, remove=True):
        """Stops the master by PID and waits until it is gone; with
        remove, deletes base."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            wait_until(lambda: not os.path.exists("/proc/%d" % self.pid), 10)
            if os.path.exists("/proc/%d" % self.pid):
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)
