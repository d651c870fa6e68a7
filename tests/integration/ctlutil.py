"""
ctlutil.py - helpers for the pop3ctl tests: running pop3ctl against a
test Server's config, Maildir listings, certificates with chosen dates,
and a throw-away Postfix (own config and queue directories, smtpd on a
loopback port) that hands mail to `pop3ctl deliver` through a pipe
transport.  Standard library only; every wait is bounded.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from pop3util import WORKER_USER, build_dir, proc_stat, wait_until

CTL_TIMEOUT = 60

# sysexits.h
EX_OK, EX_USAGE, EX_DATAERR, EX_NOUSER = 0, 64, 65, 67
EX_CANTCREAT, EX_IOERR, EX_TEMPFAIL, EX_CONFIG = 73, 74, 75, 78


def pop3ctl_path():
    return os.path.join(build_dir(), "pop3ctl")


def ctl(conf, *args, input=None, timeout=CTL_TIMEOUT, **kw):
    """Runs pop3ctl -c conf args...; returns the CompletedProcess (text)."""
    if isinstance(input, str):
        input = input.encode()
    r = subprocess.run([pop3ctl_path(), "-c", conf] + list(args), input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, **kw)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def add_user(srv, name, password, rc=EX_OK):
    """pop3ctl user add with the password on stdin; asserts the exit code."""
    r = ctl(srv.conf_path, "user", "add", name, "--password-stdin",
            input=password + "\n")
    assert r.returncode == rc, "user add %s: rc=%d out=%r err=%r" % (
        name, r.returncode, r.out, r.err)
    return r


def deliver(conf, user, data, timeout=CTL_TIMEOUT):
    return ctl(conf, "deliver", user, input=data, timeout=timeout)


def listdir(srv, user, sub):
    return sorted(os.listdir(os.path.join(srv.mail_root, user, sub)))


def write_conf(srv):
    """(Re)writes the server's config (e.g. after changing settings)."""
    with open(srv.conf_path, "w") as f:
        f.write(srv.config_text())


def mail_root_for_mail_user(srv):
    """pop3ctl check wants mail_root owned by the mail user, mode 0700."""
    shutil.chown(srv.mail_root, WORKER_USER, "nogroup")
    os.chmod(srv.mail_root, 0o700)


def dated_cert(dirpath, start, end):
    """A self-signed certificate for localhost valid from start to end
    (YYYYMMDDHHMMSSZ), made with `openssl ca` (the only OpenSSL 3.0 tool
    that takes dates in the past).  Returns (cert, key)."""
    key = os.path.join(dirpath, "key.pem")
    csr = os.path.join(dirpath, "req.pem")
    cert = os.path.join(dirpath, "cert.pem")
    open(os.path.join(dirpath, "index.txt"), "w").close()
    with open(os.path.join(dirpath, "serial"), "w") as f:
        f.write("01\n")
    cnf = os.path.join(dirpath, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\n"
                "new_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\n"
                "policy = p\n[p]\ncommonName = supplied\n" % (dirpath, dirpath, dirpath))
    for args in (["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                  "-keyout", key, "-out", csr],
                 ["openssl", "ca", "-batch", "-config", cnf, "-selfsign",
                  "-keyfile", key, "-in", csr, "-out", cert,
                  "-startdate", start, "-enddate", end]):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        assert r.returncode == 0, r.stdout.decode()
    os.chmod(key, 0o600)
    return cert, key


def free_port():
    """A loopback port that was free a moment ago (Postfix's master.cf
    needs a number; the race with other programs is small and fails
    loudly)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- Postfix

POSTFIX = "/usr/sbin/postfix"


class Postfix:
    """A private Postfix: config_directory and queue_directory under a
    temporary directory, smtpd on 127.0.0.1:port only, and mail for
    domain handed to `argv` through a pipe transport running as user."""

    def __init__(self, domain, argv, user=WORKER_USER):
        self.domain = domain
        self.base = tempfile.mkdtemp(prefix="pop3ctl-postfix-")
        os.chmod(self.base, 0o755)
        self.conf = os.path.join(self.base, "etc")
        self.queue = os.path.join(self.base, "queue")
        self.data = os.path.join(self.base, "data")
        self.maillog = os.path.join(self.base, "maillog")
        for d in (self.conf, self.data, self.queue):
            os.mkdir(d)
            os.chmod(d, 0o755)
        shutil.chown(self.data, "postfix")
        self.port = free_port()
        self.master_pid = None
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("\n".join([
                "compatibility_level = 3.6",
                "queue_directory = " + self.queue,
                "data_directory = " + self.data,
                "meta_directory = /etc/postfix",
                "command_directory = /usr/sbin",
                "daemon_directory = /usr/lib/postfix/sbin",
                "shlib_directory = /usr/lib/postfix",
                "mail_owner = postfix",
                "setgid_group = postdrop",
                "myhostname = mx.pop3ctl.test",
                "mydomain = pop3ctl.test",
                "myorigin = $myhostname",
                "mydestination =",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "mynetworks = 127.0.0.0/8",
                "relay_domains = " + domain,
                "transport_maps = inline:{%s=pop3ctl:}" % domain,
                "smtpd_relay_restrictions = permit_mynetworks, reject",
                "smtpd_peername_lookup = no",
                "smtp_dns_support_level = disabled",
                "alias_maps =",
                "alias_database =",
                "local_recipient_maps =",
                "biff = no",
                "maillog_file = " + self.maillog,
                "maillog_file_prefixes = " + self.base,
                "pop3ctl_destination_recipient_limit = 1",
                "queue_run_delay = 1s",
                "minimal_backoff_time = 1s",
                "maximal_backoff_time = 2s",
                "",
            ]))
        # No chroot: the pipe command lives in this tree.
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join([
                "127.0.0.1:%d inet n - n - - smtpd" % self.port,
                "pickup unix n - n 60 1 pickup",
                "cleanup unix n - n - 0 cleanup",
                "qmgr unix n - n 300 1 qmgr",
                "rewrite unix - - n - - trivial-rewrite",
                "bounce unix - - n - 0 bounce",
                "defer unix - - n - 0 bounce",
                "trace unix - - n - 0 bounce",
                "verify unix - - n - 1 verify",
                "flush unix n - n 1000? 0 flush",
                "proxymap unix - - n - - proxymap",
                "smtp unix - - n - - smtp",
                "relay unix - - n - - smtp",
                "showq unix n - n - - showq",
                "error unix - - n - - error",
                "retry unix - - n - - error",
                "discard unix - - n - - discard",
                "local unix - n n - - local",
                "anvil unix - - n - 1 anvil",
                "scache unix - - n - 1 scache",
                "postlog unix-dgram n - n - 1 postlogd",
                "pop3ctl unix - n n - - pipe",
                "  flags=q user=%s argv=%s" % (user, " ".join(argv)),
                "",
            ]))

    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)

    def start(self):
        r = self.postfix("start")
        out = r.stdout.decode("utf-8", "replace")
        pidfile = os.path.join(self.queue, "pid", "master.pid")

        def pid():
            try:
                with open(pidfile) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                return 0
        self.master_pid = wait_until(pid, 15) or None
        if r.returncode != 0 or not self.master_pid:
            self.stop()
            raise AssertionError("postfix start failed (rc=%d): %s\n%s" % (
                r.returncode, out, self.log()))
        # smtpd answers once master has bound the port.
        if not wait_until(self._smtp_ready, 15, step=0.1):
            raise AssertionError("postfix smtpd not answering on port %d\n%s"
                                 % (self.port, self.log()))

    def _smtp_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.settimeout(5)
                return s.recv(100).startswith(b"220")
        except OSError:
            return False

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return "(no maillog)"

    def stop(self):
        """Stops the master by its PID (SIGTERM, then SIGKILL), waits for
        it and its children to go, and removes the tree."""
        pid = self.master_pid
        if pid:
            kids = _descendants(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
            if not wait_until(lambda: not _alive(pid), 10, step=0.1):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                wait_until(lambda: not _alive(pid), 5, step=0.1)
            for k in kids:
                if _alive(k):
                    try:
                        os.kill(k, signal.SIGKILL)
                    except OSError:
                        pass
            self.master_pid = None
        if os.environ.get("POP3D_KEEP") != "1":
            shutil.rmtree(self.base, ignore_errors=True)


def _alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def _descendants(pid):
    """All live descendants of pid (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        st = proc_stat(int(d)) if d.isdigit() else None
        if st is not None:
            parent[int(d)] = st[1]
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


def strip_received(msg):
    """The message without the header fields Postfix prepends
    (Return-Path, Delivered-To, Received), LF line ends."""
    head, sep, body = msg.partition(b"\n\n")
    lines = head.split(b"\n")
    fields, cur = [], None
    for l in lines:
        if l[:1] in (b" ", b"\t") and cur is not None:
            cur.append(l)
        else:
            cur = [l]
            fields.append(cur)
    keep = [b"\n".join(f) for f in fields
            if not re.match(rb"(?i)(received|return-path|delivered-to):", f[0])]
    return b"\n".join(keep) + sep + body
