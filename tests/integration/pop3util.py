"""
pop3util.py - helpers for the pop3d protocol tests: a Server that writes a
config, Maildirs and a passwd-file, starts the real pop3d and reads its
ports from the log; a raw line-oriented client (Conn) for exact bytes and
hostile input; Maildir and /proc helpers.  Standard library only.

Every wait is bounded and every socket has a timeout.
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

IS_ROOT = os.geteuid() == 0
WORKER_USER = "nobody"
AUTH_USER = "daemon"

POOL_PASSWORD = "Pool-pass-1"
# POP3D_WRAPPER runs pop3d under a tool, e.g. "valgrind --trace-children=yes"
# (make valgrind); such a run is slower, so waits grow with it.
WRAPPER = os.environ.get("POP3D_WRAPPER", "").split()
STARTUP_TIMEOUT = 60.0 if WRAPPER else 10.0
SOCK_TIMEOUT = 10.0

# Servers that are running now; the autouse fixture checks each after a test.
LIVE = []


def build_dir():
    b = os.environ.get("POP3D_BUILD", "build")
    if not os.path.isabs(b):
        b = os.path.join(REPO_ROOT, b)
    return b


def crlf(data):
    """Normalises line ends to CRLF (what the server must send)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def crlf_size(data):
    return len(crlf(data))


def unique_part(name):
    """The Maildir unique name: up to the first ',' or ':'."""
    return re.split(r"[,:]", name, maxsplit=1)[0]


def expected_uidl(name):
    """What DESIGN.md says the UIDL of a Maildir file name is."""
    if isinstance(name, str):
        name = os.fsencode(name)
    u = re.split(rb"[,:]", name, maxsplit=1)[0]
    if 1 <= len(u) <= 70 and all(0x21 <= c <= 0x7E for c in u):
        return u.decode("ascii")
    return hashlib.sha256(u).hexdigest()


def plain_b64(authzid, authcid, password):
    raw = ("%s\0%s\0%s" % (authzid, authcid, password)).encode()
    return base64.b64encode(raw).decode()


def norm_caps(lines):
    return [" ".join(l.decode("latin-1").split()) for l in lines]


def has_sasl_plain(caps):
    for c in caps:
        w = c.upper().split()
        if w and w[0] == "SASL" and "PLAIN" in w[1:]:
            return True
    return False


def has_cap(caps, name):
    name = name.upper()
    return any(c.upper().split()[:1] == [name] for c in caps if c)


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(state, ppid, starttime) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), rest[19]


def proc_uid(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children(ppid):
    """Live (non-zombie) children of ppid as a set of (pid, starttime)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st and st[1] == ppid and st[0] != "Z":
            out.add((int(d), st[2]))
    return out


def proc_alive(pid, start):
    st = proc_stat(pid)
    return st is not None and st[2] == start and st[0] != "Z"


def ipv6_loopback():
    """Whether ::1 can be bound here (some containers lack IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as t:
            t.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_until(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            return v
        time.sleep(step)


# ---------------------------------------------------------------- hashes

class Hasher:
    """Password hashes from tools/mkhash, computed once per session.
    If mkhash has not been built, Python's crypt module (libxcrypt, the
    same library) makes them instead."""

    SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    def __init__(self, mkhash):
        self.mkhash = mkhash if os.access(mkhash, os.X_OK) else None
        self.cache = {}

    def _crypt(self, password, scheme):
        import secrets
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        if scheme == "sha512":
            salt = crypt.mksalt(crypt.METHOD_SHA512)
        elif scheme == "bcrypt":
            salt = crypt.mksalt(crypt.METHOD_BLOWFISH)
        else:
            salt = "$y$j9T$" + "".join(secrets.choice(self.SALT_CHARS)
                                       for _ in range(16))
        return crypt.crypt(password, salt)

    def hash(self, password, scheme="yescrypt"):
        key = (password, scheme)
        if scheme not in ("yescrypt", "sha512", "bcrypt"):
            raise ValueError(scheme)
        if key in self.cache:
            return self.cache[key]
        if self.mkhash is None:
            h = self._crypt(password, scheme)
        else:
            args = [self.mkhash]
            if scheme == "sha512":
                args += ["-s", "$6$"]
            elif scheme == "bcrypt":
                args += ["-s", "$2b$"]
            r = subprocess.run(args, input=(password + "\n").encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            h = r.stdout.decode().strip()
            if r.returncode != 0:
                raise RuntimeError("mkhash %s failed: rc=%d out=%r err=%r" % (
                    args[1:], r.returncode, h, r.stderr.decode()))
        prefix = {"yescrypt": "$y$", "sha512": "$6$", "bcrypt": "$2b$"}[scheme]
        if not h or not h.startswith(prefix):
            raise RuntimeError("bad %s hash %r" % (scheme, h))
        self.cache[key] = h
        return h


# ---------------------------------------------------------------- client

class Conn:
    """A raw POP3 client: exact bytes out, CRLF-checked lines in."""

    def __init__(self, host, port, *, tls=False, ctx=None, timeout=SOCK_TIMEOUT,
                 source=None, greeting=True):
        src = (source, 0) if source else None
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=src)
        self.ctx = ctx
        self.timeout = timeout
        if tls:
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = bytearray()
        self.greeting = self.line() if greeting else None

    # -- io
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(262144)
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def rawline(self, timeout=None):
        """One line including CRLF (bytes); asserts the CRLF."""
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                break
            start = len(self.buf)
            if len(self.buf) > 1 << 20:
                raise AssertionError("server line longer than 1 MiB")
            self._fill(timeout)
        line = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        assert line.endswith(b"\r\n"), "server line not CRLF-terminated: %r" % line
        return line

    def line(self, timeout=None):
        return self.rawline(timeout)[:-2].decode("latin-1")

    def cmd(self, c):
        if isinstance(c, str):
            c = c.encode("latin-1")
        self.send(c + b"\r\n")
        return self.line()

    def ok(self, c):
        r = self.cmd(c)
        assert r.startswith("+OK"), "%r -> %r" % (c, r)
        return r

    def err(self, c):
        r = self.cmd(c)
        assert r.startswith("-ERR"), "%r -> %r (expected -ERR)" % (c, r)
        return r

    def multi_raw(self):
        """The body of a multi-line answer, raw, including '.\\r\\n'."""
        pos = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                end = 3
                break
            i = self.buf.find(b"\r\n.\r\n", pos)
            if i >= 0:
                end = i + 5
                break
            pos = max(0, len(self.buf) - 4)
            if len(self.buf) > 200 << 20:
                raise AssertionError("multi-line answer over 200 MiB")
            self._fill()
        data = bytes(self.buf[:end])
        del self.buf[:end]
        return data

    def multi(self):
        """Lines of a multi-line answer, dot-unstuffed, without CRLF."""
        raw = self.multi_raw()
        lines = raw[:-2].split(b"\r\n")
        assert lines[-1] == b"."
        return [l[1:] if l.startswith(b".") else l for l in lines[:-1]]

    def multi_cmd(self, c):
        self.ok(c)
        return self.multi()

    # -- helpers
    def starttls(self):
        r = self.cmd("STLS")
        assert r.startswith("+OK"), "STLS -> %r" % r
        assert not self.buf, "data after the STLS answer: %r" % bytes(self.buf)
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname="localhost")

    def login(self, user, password):
        r = self.cmd("USER " + user)
        assert r.startswith("+OK"), "USER %s -> %r" % (user, r)
        r = self.cmd("PASS " + password)
        assert r.startswith("+OK"), "PASS for %s -> %r" % (user, r)
        return r

    def try_login(self, user, password):
        """Returns the final answer (USER's if -ERR, else PASS's)."""
        r = self.cmd("USER " + user)
        if not r.startswith("+OK"):
            return r
        return self.cmd("PASS " + password)

    def capa(self):
        self.ok("CAPA")
        return norm_caps(self.multi())

    def stat(self):
        r = self.ok("STAT")
        m = re.match(r"^\+OK (\d+) (\d+)", r)
        assert m, "STAT answer %r" % r
        return int(m.group(1)), int(m.group(2))

    def wait_eof(self, timeout=5.0):
        """True if the server closes the connection within timeout.
        Data received meanwhile is kept in self.buf."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                self._fill(max(0.01, end - time.monotonic()))
            except EOFError:
                return True
            except (ConnectionError, ssl.SSLError):
                return True
            except socket.timeout:
                return False
            except OSError:
                return True
        return False

    def silent(self, timeout):
        """True if nothing arrives within timeout (the connection stays open)."""
        try:
            self._fill(timeout)
        except socket.timeout:
            return True
        except (EOFError, OSError):
            return False
        return False

    def abort(self):
        """Closes with a RST (SO_LINGER 0)."""
        try:
            s = self.sock
            if isinstance(s, ssl.SSLSocket):
                s = socket.socket(fileno=s.detach())
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        except OSError:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------- server

class User:
    def __init__(self, name, password):
        self.name = name
        self.password = password

    def __repr__(self):
        return "User(%s)" % self.name


LISTEN_RE = re.compile(r"listen addr=(\[[^\]]*\]|[^\s:]+):(\d+) tls=(starttls|implicit) "
                       r"proxy=no")
PROXY_LISTEN_RE = re.compile(r"listen addr=(\[[^\]]*\]|[^\s:]+):(\d+) "
                             r"tls=(starttls|implicit) proxy=yes")


class Server:
    """One pop3d master with its own temporary tree."""

    def __init__(self, env, *, listen=("127.0.0.1:0",), listen_tls=("127.0.0.1:0",),
                 plaintext="no", apop=False, workers=2, shutdown_timeout=3,
                 idle_timeout=600, fail_delay_ms=50, fail_delay_max_ms=200,
                 ban_threshold=0, ban_time=900, login_delay=0, pool=40,
                 extra=None, name="pop3d", debug=None, preexec=None,
                 listen_proxy=(), listen_tls_proxy=()):
        self.env = env
        self.listen_proxy = list(listen_proxy)
        self.listen_tls_proxy = list(listen_tls_proxy)
        self.preexec = preexec   # run in the child before pop3d (rlimits)
        self.name = name
        self.listen = list(listen)
        self.listen_tls = list(listen_tls)
        self.settings = {
            "server": [("workers", str(workers)),
                       ("idle_timeout", str(idle_timeout)),
                       ("shutdown_timeout", str(shutdown_timeout))],
            "tls": [],
            "auth": [("allow_plaintext_auth", plaintext),
                     ("apop", "yes" if apop else "no"),
                     ("fail_delay_ms", str(fail_delay_ms)),
                     ("fail_delay_max_ms", str(fail_delay_max_ms)),
                     ("ban_threshold", str(ban_threshold)),
                     ("ban_time", str(ban_time)),
                     ("login_delay", str(login_delay))],
        }
        for sect, kv in (extra or {}).items():
            for k, v in kv.items():
                lst = self.settings.setdefault(sect, [])
                lst[:] = [(a, b) for a, b in lst if a != k]
                lst.append((k, v))
        self.shutdown_timeout = shutdown_timeout
        self.workers = workers
        self.debug = os.environ.get("POP3D_DEBUG") == "1" if debug is None else debug
        self.base = tempfile.mkdtemp(prefix="pop3d-test-")
        os.chmod(self.base, 0o755)
        self.mail_root = os.path.join(self.base, "mail")
        os.mkdir(self.mail_root)
        os.chmod(self.mail_root, 0o755)
        self.conf_path = os.path.join(self.base, "pop3d.conf")
        self.passwd_path = os.path.join(self.base, "passwd")
        self.passwd_lines = []
        self.users = []          # names with a Maildir
        self.pool = []
        self.pool_next = 0
        self.counter = {}
        self.proc = None
        self.log = []
        self.log_cond = threading.Condition()
        self.reader = None
        self.listeners = []      # (host, port, kind)
        self.ready = False
        self.kids = set()
        self.volatile = False    # children may change (signals, kills)
        self.probe_source = None
        pool_hash = env.hasher.hash(POOL_PASSWORD)
        for i in range(1, pool + 1):
            n = "p%02d" % i
            self.add_user(n, hashfield=pool_hash)
            self.pool.append(User(n, POOL_PASSWORD))

    # -- setup
    def add_user(self, name, password=None, *, scheme="yescrypt", prefix="",
                 locked=False, hashfield=None, maildir=True):
        if hashfield is None:
            hashfield = prefix + self.env.hasher.hash(password, scheme)
        if locked:
            hashfield = "!" + hashfield
        self.passwd_lines.append("%s:%s" % (name, hashfield))
        if maildir:
            self.make_maildir(name)
        return User(name, password)

    def make_maildir(self, name):
        d = os.path.join(self.mail_root, name)
        for sub in ("", "cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(os.path.join(d, sub), 0o700)
            self._chown(os.path.join(d, sub))
        self.users.append(name)

    def new_user(self):
        assert self.pool_next < len(self.pool), "user pool exhausted"
        u = self.pool[self.pool_next]
        self.pool_next += 1
        return u

    def _chown(self, path):
        if IS_ROOT:
            shutil.chown(path, WORKER_USER, "nogroup")

    def config_text(self):
        lines = ["# written by tests/integration", "[server]"]
        for a in self.listen:
            lines.append("listen = " + a)
        for a in self.listen_tls:
            lines.append("listen_tls = " + a)
        for a in self.listen_proxy:
            lines.append("listen_proxy = " + a)
        for a in self.listen_tls_proxy:
            lines.append("listen_tls_proxy = " + a)
        if IS_ROOT:
            lines.append("user = " + WORKER_USER)
            lines.append("auth_user = " + AUTH_USER)
        lines.append("mail_root = " + self.mail_root)
        if WRAPPER and "sandbox" not in dict(self.settings["server"]):
            # valgrind's own system calls are not on the allow-list.
            lines.append("sandbox = no")
        for k, v in self.settings["server"]:
            lines.append("%s = %s" % (k, v))
        lines += ["", "[tls]", "cert = " + self.env.cert, "key = " + self.env.key]
        for k, v in self.settings["tls"]:
            lines.append("%s = %s" % (k, v))
        lines += ["", "[auth]", "passwd_file = " + self.passwd_path]
        for k, v in self.settings["auth"]:
            lines.append("%s = %s" % (k, v))
        for sect, kv in self.settings.items():
            if sect in ("server", "tls", "auth"):
                continue
            lines += ["", "[%s]" % sect] + ["%s = %s" % x for x in kv]
        return "\n".join(lines) + "\n"

    def write_files(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())
        with open(self.passwd_path, "w") as f:
            f.write("\n".join(self.passwd_lines) + "\n")
        if IS_ROOT:
            shutil.chown(self.passwd_path, "root", AUTH_USER)
        os.chmod(self.passwd_path, 0o640)

    def set_auth(self, key, value):
        lst = self.settings["auth"]
        lst[:] = [(a, b) for a, b in lst if a != key] + [(key, value)]

    # -- run
    def start(self):
        self.write_files()
        args = WRAPPER + [self.env.pop3d, "-c", self.conf_path]
        if self.debug:
            args.append("-d")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=self.base,
                                     preexec_fn=self.preexec)
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()
        LIVE.append(self)
        want = len(self.listen) + len(self.listen_tls)
        want_proxy = len(self.listen_proxy) + len(self.listen_tls_proxy)
        end = time.monotonic() + STARTUP_TIMEOUT
        with self.log_cond:
            while True:
                self.listeners = []
                self.proxy_listeners = []
                for l in self.log:
                    m = LISTEN_RE.search(l) or PROXY_LISTEN_RE.search(l)
                    if m:
                        host = m.group(1).strip("[]")
                        (self.listeners if m.re is LISTEN_RE else
                         self.proxy_listeners).append(
                             (host, int(m.group(2)), m.group(3)))
                if (len(self.listeners) >= want and
                        len(self.proxy_listeners) >= want_proxy):
                    break
                if self.proc.poll() is not None or time.monotonic() >= end:
                    break
                self.log_cond.wait(0.1)
        if len(self.listeners) < want:
            self.kill()
            raise AssertionError("pop3d did not report %d listeners within %ds "
                                 "(exit=%r); log:\n%s" % (
                                     want, STARTUP_TIMEOUT, self.proc.returncode,
                                     self.log_tail()))
        self.ready = self.wait_log(r"\bready\b", timeout=3, must=False) is not None
        self.snapshot_children()
        return self

    def snapshot_children(self):
        # The master forks the auth process and the workers: let them appear.
        want = self.workers + 1
        wait_until(lambda: len(children(self.proc.pid)) >= want, 5)
        time.sleep(0.05)
        self.kids = children(self.proc.pid)

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.log_cond:
                self.log.append(line)
                self.log_cond.notify_all()
        with self.log_cond:
            self.log_cond.notify_all()

    def mark(self):
        with self.log_cond:
            return len(self.log)

    def wait_log(self, pattern, start=0, timeout=5.0, must=True):
        """First log line from index start matching pattern (regex)."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.log_cond:
            while True:
                for l in self.log[start:]:
                    if rx.search(l):
                        return l
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.log_cond.wait(min(left, 0.2))
        if must:
            raise AssertionError("no log line matching %r within %.1fs; log:\n%s"
                                 % (pattern, timeout, self.log_tail()))
        return None

    def log_tail(self, n=80):
        with self.log_cond:
            return "\n".join(self.log[-n:])

    @property
    def plain(self):
        return [(h, p) for h, p, k in self.listeners if k == "starttls"]

    @property
    def tls(self):
        return [(h, p) for h, p, k in self.listeners if k == "implicit"]

    @property
    def host(self):
        return (self.plain or self.tls)[0][0]

    @property
    def port(self):
        return self.plain[0][1]

    @property
    def tls_port(self):
        return self.tls[0][1]

    def connect(self, tls=False, **kw):
        h, p = (self.tls if tls else self.plain)[0]
        return Conn(h, p, tls=tls, ctx=self.env.ctx, **kw)

    def session(self, user, tls=None, **kw):
        """A connection in TRANSACTION for user (implicit TLS unless the
        server allows plaintext auth here and tls is False)."""
        if tls is None:
            tls = bool(self.tls)
        c = self.connect(tls=tls, **kw)
        assert c.greeting.startswith("+OK"), c.greeting
        c.login(user.name, user.password)
        return c

    def session_retry(self, user, timeout=5.0, tls=None):
        """Logs in, retrying while the maildrop is still [IN-USE] by a
        session the server has not yet noticed is gone."""
        if WRAPPER:
            timeout *= 6    # under valgrind every process runs far slower
        end = time.monotonic() + timeout
        while True:
            if tls is None:
                tls = bool(self.tls)
            c = self.connect(tls=tls)
            r = c.try_login(user.name, user.password)
            if r.startswith("+OK"):
                return c
            c.close()
            if "[IN-USE]" not in r or time.monotonic() >= end:
                raise AssertionError("login of %s -> %r" % (user.name, r))
            time.sleep(0.1)

    def alive_check(self):
        """The master runs and a fresh connection gets +OK."""
        if self.proc.poll() is not None:
            raise AssertionError("pop3d master exited (rc=%r); log:\n%s" % (
                self.proc.returncode, self.log_tail()))
        h, p, k = self.listeners[0]
        try:
            c = Conn(h, p, tls=(k == "implicit"), ctx=self.env.ctx, timeout=5,
                     source=self.probe_source)
        except (OSError, EOFError) as e:
            raise AssertionError("fresh connection to %s:%d failed: %r; log:\n%s"
                                 % (h, p, e, self.log_tail()))
        try:
            assert c.greeting.startswith("+OK"), \
                "fresh connection greeting %r" % c.greeting
            c.cmd("QUIT")
        finally:
            c.close()

    def health_check(self):
        self.alive_check()
        if not self.volatile:
            now = children(self.proc.pid)
            if now != self.kids:
                gone = sorted(p for p, _ in self.kids - now)
                new = sorted(p for p, _ in now - self.kids)
                self.kids = now
                raise AssertionError(
                    "child processes of the master changed during the test "
                    "(a crash?): gone %s, new %s; log:\n%s"
                    % (gone, new, self.log_tail()))
        self.check_sanitizers()

    def check_sanitizers(self):
        with self.log_cond:
            bad = [l for l in self.log
                   if "AddressSanitizer" in l or "runtime error:" in l
                   or "LeakSanitizer" in l
                   or re.search(r"ERROR SUMMARY: [1-9]", l)]
        if bad:
            raise AssertionError("sanitizer report in the log:\n%s\n%s"
                                 % ("\n".join(bad[:20]), self.log_tail()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def terminate(self):
        """SIGTERM; returns (seconds until the master exited, kids before)."""
        kids = children(self.proc.pid)
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=self.shutdown_timeout + 5)
        except subprocess.TimeoutExpired:
            pass
        return time.monotonic() - t0, kids

    def kill(self):
        if self.proc and self.proc.poll() is None:
            kids = children(self.proc.pid)
            self.proc.kill()
            self.proc.wait(10)
            for pid, start in kids:
                if proc_alive(pid, start):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        if self in LIVE:
            LIVE.remove(self)

    def stop(self, check=True):
        """Stops the server; raises AssertionError on any problem found."""
        problems = []
        if self in LIVE:
            LIVE.remove(self)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if check:
                try:
                    self.health_check()
                except AssertionError as e:
                    problems.append(str(e))
            elapsed, kids = self.terminate()
            if self.proc.poll() is None:
                problems.append("master did not exit within %ds of SIGTERM"
                                % (self.shutdown_timeout + 5))
                self.proc.kill()
                self.proc.wait(10)
            left = wait_until(lambda: [k for k in kids if proc_alive(*k)] == [], 5)
            if not left:
                alive = [k for k in kids if proc_alive(*k)]
                problems.append("children left after the master exited: %s"
                                % [p for p, _ in alive])
                for pid, _ in alive:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        if self.reader:
            self.reader.join(5)
        try:
            self.check_sanitizers()
        except AssertionError as e:
            problems.append(str(e))
        if problems:
            problems.append("log:\n" + self.log_tail())
            if os.environ.get("POP3D_KEEP") != "1":
                shutil.rmtree(self.base, ignore_errors=True)
            raise AssertionError("\n".join(problems))
        if os.environ.get("POP3D_KEEP") != "1":
            shutil.rmtree(self.base, ignore_errors=True)

    # -- Maildir
    def maildir(self, user):
        return os.path.join(self.mail_root, getattr(user, "name", user))

    def deliver(self, user, data, *, name=None, sub="new", sec=1700000000,
                tags=""):
        """Writes a message file (via tmp/, then rename) and returns its
        name.  Default names keep delivery order: one second, growing M."""
        u = getattr(user, "name", user)
        if name is None:
            n = self.counter.get(u, 0) + 1
            self.counter[u] = n
            name = "%d.M%dP1.test%s" % (sec, n, tags)
            if sub == "cur":
                name += ":2,S"
        d = self.maildir(u)
        tmp = os.path.join(d, "tmp", "t.%d.%s" % (os.getpid(), time.monotonic_ns()))
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        self._chown(tmp)
        dest = os.path.join(os.fsencode(d), os.fsencode(sub),
                            os.fsencode(name) if isinstance(name, str) else name)
        os.rename(tmp, dest)
        return name

    def deliver_big_wire(self, user, mbytes, tag):
        """A wire-form message (CRLF, no line starting with a dot: ,D=0)
        of about mbytes MB in new/, as sendfile(2) sends it; its bytes."""
        line = b"x" * 78 + b"\r\n"
        body = (b"Subject: %s\r\n\r\n" % tag.encode()) + \
            line * ((mbytes << 20) // 80)
        name = "1700000000.M1P1.%s,S=%d,W=%d,D=0" % (tag, len(body), len(body))
        path = os.path.join(self.maildir(user), "new", name)
        with open(path, "wb") as f:
            f.write(body)
        self._chown(path)
        return body

    def names(self, user):
        """Names of message files in new/ and cur/ (bytes-safe str)."""
        d = self.maildir(user)
        out = []
        for sub in ("new", "cur"):
            out += os.listdir(os.path.join(d, sub))
        return sorted(out)

    def uniques(self, user):
        return sorted(unique_part(n) for n in self.names(user))
