#!/usr/bin/python3
"""mkdata.py OUTDIR - the benchmark's deterministic data set (fixed seed).

OUTDIR/mail/USER/{new,cur,tmp} Maildirs, as pop3ctl deliver stores them
(in new/, CRLF line ends, names carrying ,S=<bytes on disk>, ,W=<CRLF size>,
which both pop3d and Dovecot read instead of opening the file, and
,D=<lines starting with '.'>, which only pop3d reads).  One line in 40
starts with '.', so nearly every message needs dot-stuffing on the wire:
  u00000..u00099   100 messages of 8 KiB each    (retr, 8 KiB)
  u00100..u10199   5 messages of 8 KiB each      (sessions, idle, probes)
  large0           200 messages of 256 KiB each  (retr, 256 KiB)
  large1           200 messages of 256 KiB, no line starting with '.'
                   (retr, 256 KiB as most mail is: sent as stored)
  big0             100,000 messages of 8 KiB     (bigbox; dele copies it)
OUTDIR/passwd          pop3d:   user:{SHA512-CRYPT}$6$...
OUTDIR/dovecot.passwd  Dovecot: user:{SHA512-CRYPT}$6$...:uid:gid::home::
The same hash for a user in both files; every user's password is
"benchpass".  Salts come from the seed, so the files are the same on every
run.  Files are owned by --owner (default nobody).  Does nothing when
OUTDIR/.complete says the same version is there already.
"""
import argparse
import os
import pwd
import random
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

VERSION = "pop3bench-data-3"
SEED = 20240501
PASSWORD = "benchpass"
SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def line_pool(rng, n=4096, dots=True):
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                     for _ in range(rng.randint(1, 9))) for _ in range(2000)]
    pool = []
    for i in range(n):
        ws = []
        length = 0
        target = rng.randint(30, 76)
        while length < target:
            w = rng.choice(words)
            ws.append(w)
            length += len(w) + 1
        s = " ".join(ws)[:76]
        if dots and i % 40 == 0:
            s = "." + s          # dot-stuffing on the wire
        pool.append(s)
    return pool


def message(rng, pool, user, n, size):
    hdr = ("Return-Path: <sender%d@example.org>\n"
           "From: Sender %d <sender%d@example.org>\n"
           "To: %s@example.net\n"
           "Subject: benchmark message %d for %s\n"
           "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
           "Message-ID: <%d.%s@bench.example>\n"
           "MIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=us-ascii\n\n"
           % (n % 97, n % 97, n % 97, user, n, user, n, user))
    parts = [hdr]
    total = len(hdr)
    k = len(pool)
    while total < size:
        s = pool[rng.randrange(k)] + "\n"
        parts.append(s)
        total += len(s)
    body = "".join(parts)[:size]
    if not body.endswith("\n"):
        body = body[:-1] + "\n"
    return body.encode("ascii")


def maildir(root, user, count, size, rng, pool, uid, gid, t0):
    d = os.path.join(root, "mail", user)
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chown(os.path.join(d, sub), uid, gid)
    os.chown(d, uid, gid)
    for i in range(count):
        # Generated with LF (the same text as data set 1), stored CRLF.
        data = message(rng, pool, user, i + 1, size).replace(b"\n", b"\r\n")
        dots = data.count(b"\n.") + data.startswith(b".")
        name = "%d.M%dP1000.bench,S=%d,W=%d,D=%d" % (t0 + i, i + 1, len(data),
                                                     len(data), dots)
        path = os.path.join(d, "new", name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
        os.chown(path, uid, gid)
        os.utime(path, (t0 + i, t0 + i))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--owner", default="nobody")
    a = ap.parse_args()
    out = a.outdir
    stamp = os.path.join(out, ".complete")
    if os.path.exists(stamp) and open(stamp).read().strip() == VERSION:
        return 0
    if os.path.exists(os.path.join(out, "mail")):
        print("mkdata: %s exists but is incomplete; remove it first" % out,
              file=sys.stderr)
        return 1
    pw = pwd.getpwnam(a.owner)
    uid, gid = pw.pw_uid, pw.pw_gid
    os.makedirs(os.path.join(out, "mail"), exist_ok=True)
    os.chmod(out, 0o755)
    os.chown(os.path.join(out, "mail"), uid, gid)
    rng = random.Random(SEED)
    pool = line_pool(rng)
    t0 = 1700000000

    users = []
    for i in range(10200):
        u = "u%05d" % i
        users.append(u)
        maildir(out, u, 100 if i < 100 else 5, 8192, rng, pool, uid, gid,
                t0 + i * 1000)
    users.append("large0")
    maildir(out, "large0", 200, 256 * 1024, rng, pool, uid, gid, t0)
    users.append("big0")
    users.append("dele0")
    maildir(out, "big0", 100000, 8192, rng, pool, uid, gid, t0)
    # Added in set 3, with its own generator: the others stay as they were.
    users.append("large1")
    rng1 = random.Random(SEED + 2)
    maildir(out, "large1", 200, 256 * 1024, rng1,
            line_pool(rng1, dots=False), uid, gid, t0)

    # The same {SHA512-CRYPT} hash for both servers; deterministic salts.
    srng = random.Random(SEED + 1)
    with open(os.path.join(out, "passwd"), "w") as p, \
            open(os.path.join(out, "dovecot.passwd"), "w") as dv:
        for u in users:
            salt = "".join(srng.choice(SALT_CHARS) for _ in range(16))
            h = crypt.crypt(PASSWORD, "$6$" + salt)
            p.write("%s:{SHA512-CRYPT}%s\n" % (u, h))
            dv.write("%s:{SHA512-CRYPT}%s:%d:%d::::\n"
                     % (u, h, uid, gid))
    with open(stamp, "w") as f:
        f.write(VERSION + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
