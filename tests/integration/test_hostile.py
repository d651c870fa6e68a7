"""Hostile and odd input: long lines, NULs, wrong states, bad message
numbers, too many errors, pipelining, STLS injection, hang-ups.
Each input gets its own test; the autouse fixture then checks that a
fresh connection still gets +OK and that no worker died."""
import socket
import time

import pytest

from pop3util import crlf, norm_caps, plain_b64

BAD_NUMBERS = ["0", "-1", "+1", "abc", "4294967296", "4294967297",
               "18446744073709551616", "99999", "0x1", "1a"]
MSG = b"Subject: hostile\n\nbody line\n"


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="hostile", plaintext="loopback", pool=60)


def user3(srv):
    u = srv.new_user()
    for _ in range(3):
        srv.deliver(u, MSG)
    return u


def total3():
    return 3 * len(crlf(MSG))


# ------------------------------------------------------------- long lines, NUL

def test_long_line_preauth(srv):
    with srv.connect() as c:
        # 300 octets; the tail past octet 255 must not run as a command
        c.err(b"A" * 294 + b"QUIT")
        assert c.capa()
        c.ok("QUIT")


def test_long_line_postauth(srv):
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        c.err(b"NOOP " + b"x" * 289 + b"DELE 1")
        c.ok("NOOP")
        assert c.stat() == (3, total3())
        c.err(b"X" * 294 + b"QUIT")
        c.ok("NOOP")
        c.ok("QUIT")
    assert len(srv.names(u)) == 3


def test_line_limits_in_error_texts(srv):
    """Each -ERR about a length names the limit that was applied."""
    u = user3(srv)
    with srv.connect() as c:
        r = c.err(b"CAPA " + b"x" * 250)          # 257 octets with CRLF
        assert r == "-ERR line too long (at most 255 octets with CRLF)", r
        c.login(u.name, u.password)
        r = c.err("LIST " + "1" * 41)
        assert r == "-ERR argument too long (at most 40 octets)", r
        c.ok("LIST " + "0" * 39 + "1")
        c.ok("QUIT")


def test_sasl_line_limit(srv):
    """An AUTH PLAIN continuation may have 2048 octets with its CRLF, and
    a longer one is refused with that number (it said 255)."""
    u = user3(srv)
    with srv.connect() as c:
        r = c.cmd("AUTH PLAIN")
        assert r.startswith("+ "), r
        r = c.err(b"A" * 2047)                     # 2049 with CRLF
        assert r == "-ERR line too long (at most 2048 octets with CRLF)", r
        r = c.cmd("AUTH PLAIN")
        assert r.startswith("+ "), r
        r = c.err(b"A" * 2044 + b"==")             # 2048 with CRLF
        assert "too long" not in r, r
        c.login(u.name, u.password)
        c.ok("QUIT")


def test_trailing_spaces_tolerated(srv):
    """`USER alice `, `LIST 1 `: spaces after the last argument (or after
    a command without one) are ignored, as many clients send them."""
    u = user3(srv)
    size = len(crlf(MSG))
    with srv.connect() as c:
        caps = c.capa()
        c.ok("CAPA  ")
        assert norm_caps(c.multi()) == caps
        c.ok("USER %s " % u.name)
        c.ok("PASS " + u.password)
        assert c.cmd("STAT ").split()[:2] == ["+OK", "3"]
        assert c.cmd("LIST 1 ").split()[:3] == ["+OK", "1", str(size)]
        assert c.cmd("UIDL 2  ").split()[:2] == ["+OK", "2"]
        assert len(c.multi_cmd("LIST ")) == 3
        assert c.multi_cmd("TOP 1 0 ") == [b"Subject: hostile", b""]
        assert c.multi_cmd("RETR 1 ") == [b"Subject: hostile", b"", b"body line"]
        c.ok("DELE 2 ")
        c.ok("NOOP ")
        c.ok("RSET ")
        c.ok("QUIT ")
    assert len(srv.names(u)) == 3
    with srv.connect() as c:
        r = c.cmd("AUTH PLAIN ")
        assert r.startswith("+ "), r
        c.ok(plain_b64("", u.name, u.password))
        c.ok("QUIT")


def test_huge_line_disconnects(srv):
    with srv.connect() as c:
        chunk = b"A" * 16384
        try:
            for _ in range(16):   # 256 KiB without a line end
                c.send(chunk)
        except OSError:
            pass
        assert c.wait_eof(10), "server kept a connection sending an endless line"
        assert b"+OK" not in bytes(c.buf), bytes(c.buf)


def test_nul_in_command_preauth(srv):
    with srv.connect() as c:
        c.err(b"CA\x00PA")
        c.err(b"CAPA\x00")
        assert c.capa()


def test_nul_in_command_postauth(srv):
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        c.err(b"NOOP\x00")
        c.err(b"DELE 1\x00")
        c.err(b"DELE \x001")
        c.ok("NOOP")
        assert c.stat() == (3, total3())
        c.ok("QUIT")
    assert len(srv.names(u)) == 3


def test_nul_in_password(srv):
    u = srv.new_user()
    with srv.connect() as c:
        c.ok("USER " + u.name)
        r = c.cmd(b"PASS " + u.password.encode() + b"\x00junk")
        assert not r.startswith("+OK"), "PASS with a NUL logged in: %r" % r
        c.err("STAT")
    with srv.connect() as c:
        r = c.cmd(b"USER " + u.name.encode() + b"\x00junk")
        if r.startswith("+OK"):
            r = c.cmd("PASS " + u.password)
        assert not r.startswith("+OK"), "USER with a NUL logged in: %r" % r


def test_control_and_8bit_bytes(srv):
    with srv.connect() as c:
        c.err(b"\x1b[2J")
        c.err(b"\xff\xfe\xfd")
        c.err(b"US\rER x")
        assert c.capa()


def test_unknown_and_empty_commands(srv):
    with srv.connect() as c:
        c.err("FOO")
        c.err("")
        c.err("NOOPX")
        assert c.capa()
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        c.err("FOO")
        c.err("")
        c.err("XTND XMIT")
        c.ok("NOOP")
        c.ok("QUIT")


def test_lowercase_commands(srv):
    u = user3(srv)
    with srv.connect() as c:
        c.ok("user " + u.name)
        c.ok("pass " + u.password)
        assert c.cmd("stat").startswith("+OK 3 ")
        c.ok("quit")


# ------------------------------------------------------------- wrong state

def test_wrong_state_preauth(srv):
    with srv.connect() as c:
        c.err("STAT")
        c.err("RETR 1")
        c.err("DELE 1")
        assert c.capa()
    with srv.connect() as c:
        c.err("PASS something")   # PASS without USER
        c.err("LIST")
        c.err("TOP 1 0")
        assert c.capa()
    with srv.connect() as c:
        c.err("UIDL")
        c.err("RSET")
        c.err("NOOP")
        assert c.capa()


def test_wrong_state_postauth(srv):
    u = user3(srv)
    other = srv.new_user()
    with srv.session(u, tls=False) as c:
        c.err("USER " + other.name)
        c.err("PASS " + other.password)
        c.err("APOP %s %s" % (other.name, "0" * 32))
        c.err("AUTH PLAIN " + plain_b64("", other.name, other.password))
        c.err("STLS")
        c.ok("NOOP")
        assert c.stat() == (3, total3())
        c.ok("QUIT")
    # nothing above switched the session to other's maildrop or locked it
    with srv.session(other, tls=False) as c:
        c.ok("QUIT")


# ------------------------------------------------------------- message numbers

@pytest.mark.parametrize("cmd", ["RETR %s", "LIST %s", "DELE %s", "UIDL %s",
                                 "TOP %s 0"])
def test_bad_message_numbers(srv, cmd):
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        for n in BAD_NUMBERS:
            r = c.cmd(cmd % n)
            assert r.startswith("-ERR"), "%r -> %r" % (cmd % n, r)
        c.ok("NOOP")
        assert c.stat() == (3, total3())
        c.ok("QUIT")
    assert len(srv.names(u)) == 3


def test_top_bad_arguments(srv):
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        for a in ["TOP", "TOP 1", "TOP 1 -1", "TOP 1 abc", "TOP 1 +1", "TOP 1 0x1",
                  "TOP  1 1", "TOP 1  1"]:
            r = c.cmd(a)
            assert r.startswith("-ERR"), "%r -> %r" % (a, r)
        c.ok("NOOP")
        assert c.multi_cmd("TOP 1 0") == [b"Subject: hostile", b""]
        c.ok("QUIT")


# ------------------------------------------------------------- too many errors

def count_until_close(c, line, limit=30):
    """Sends line until the server closes; returns how many answers came."""
    for i in range(limit):
        try:
            r = c.cmd(line)
        except (EOFError, OSError):
            return i
        assert r.startswith("-ERR"), r
    return None


def test_bad_commands_disconnect_preauth(srv):
    with srv.connect() as c:
        n = count_until_close(c, "BOGUS")
        assert n is not None, "30 bad commands before login and still connected"


def test_bad_commands_disconnect_postauth(srv):
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        n = count_until_close(c, "BOGUS")
        assert n is not None, "30 bad commands after login and still connected"
    with srv.session_retry(u, tls=False) as c:   # maildrop released
        assert c.stat()[0] == 3
        c.ok("QUIT")


def test_unparseable_commands_disconnect_postauth(srv):
    """Commands that cannot be carried out as sent (not a number, missing or
    extra arguments) count as bad ones."""
    u = user3(srv)
    for line in ("RETR abc", "TOP 1", "LIST 1 2", "DELE -1"):
        with srv.session_retry(u, tls=False) as c:
            n = count_until_close(c, line)
            assert n is not None, "30 x %r after login and still connected" % line


# A well-formed command that fails on its argument's value: never a bad
# command (the 21st used to close the session).
ARG_FAILURES = ["RETR 3", "LIST 4", "DELE 0", "TOP 99999 0",
                "UIDL 18446744073709551616", "RETR 4294967297"]


def test_argument_failures_do_not_count_preauth(srv):
    """Before login too: an unsupported SASL mechanism, a name no account
    can have, PASS without USER are answered -ERR, 10 times each, and
    the login that follows works."""
    u = user3(srv)
    with srv.connect() as c:
        for line in ("AUTH CRAM-MD5", "USER no/such/name", "PASS x"):
            for _ in range(10):
                c.err(line)
        c.login(u.name, u.password)
        assert c.stat() == (3, total3())
        c.ok("QUIT")


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_argument_failures_do_not_count(srv, tls):
    """1,000 pipelined commands in one write, 300 of them failing on their
    argument (no such message, message deleted, out of range): 1,000
    answers in order, and the session goes on."""
    u = user3(srv)
    size = len(crlf(MSG))
    oks = ["NOOP", "STAT", "LIST 1", "UIDL 2"]
    cmds = ["DELE 3"]
    for i in range(1, 1000):
        if i % 10 in (1, 4, 7):
            cmds.append(ARG_FAILURES[i % len(ARG_FAILURES)])
        else:
            cmds.append(oks[i % len(oks)])
    assert len(cmds) == 1000
    assert sum(x in ARG_FAILURES for x in cmds) == 300
    with srv.session(u, tls=tls) as c:
        c.send("".join(x + "\r\n" for x in cmds))
        for i, x in enumerate(cmds):
            try:
                r = c.line()
            except EOFError:
                raise AssertionError("connection closed after %d answers "
                                     "(next: %r)" % (i, x))
            if x in ARG_FAILURES:
                want = "-ERR message 3 is deleted" if x == "RETR 3" \
                    else "-ERR no such message"
                ok = r == want
            elif x == "STAT":
                ok = r.split()[:3] == ["+OK", "2", str(2 * size)]
            elif x == "LIST 1":
                ok = r.split()[:3] == ["+OK", "1", str(size)]
            elif x == "UIDL 2":
                ok = r.split()[:2] == ["+OK", "2"]
            else:
                ok = r.startswith("+OK")
            assert ok, "answer %d to %r: %r" % (i, x, r)
        assert c.silent(0.3), "extra data after 1000 answers: %r" % bytes(c.buf)
        c.ok("RSET")
        assert c.stat() == (3, total3())
        c.ok("QUIT")
    assert len(srv.names(u)) == 3


# ------------------------------------------------------------- pipelining

@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_pipelining_1000(srv, tls):
    u = user3(srv)
    size = len(crlf(MSG))
    with srv.session(u, tls=tls) as c:
        kinds = ["NOOP", "STAT", "LIST 1"]
        cmds = [kinds[(i * 7) % 3] for i in range(1000)]
        c.send("".join(x + "\r\n" for x in cmds))
        for i, x in enumerate(cmds):
            r = c.line()
            if x == "NOOP":
                ok = r.startswith("+OK")
            elif x == "STAT":
                ok = r.split()[:3] == ["+OK", "3", str(3 * size)]
            else:
                ok = r.split()[:3] == ["+OK", "1", str(size)]
            assert ok, "answer %d to %r: %r" % (i, x, r)
        assert c.silent(0.3), "extra data after 1000 answers: %r" % bytes(c.buf)
        c.ok("QUIT")


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_pipelining_multiline(srv, tls):
    u = srv.new_user()
    msg = b"Subject: p\n\n" + b"".join(b".line %d\n" % i for i in range(3000))
    srv.deliver(u, msg)
    srv.deliver(u, MSG)
    want_retr = crlf(msg)[:-2].split(b"\r\n")
    with srv.session(u, tls=tls) as c:
        cmds = ["RETR 1", "LIST", "UIDL", "TOP 2 0", "STAT", "RETR 2"] * 40
        c.send("".join(x + "\r\n" for x in cmds))
        for x in cmds:
            if x == "STAT":
                assert c.line().startswith("+OK 2 ")
                continue
            lines = c.multi_cmd(x)
            if x == "RETR 1":
                assert lines == want_retr
            elif x in ("LIST", "UIDL"):
                assert [l.split()[0] for l in lines] == [b"1", b"2"]
            elif x == "TOP 2 0":
                assert lines == [b"Subject: hostile", b""]
            else:
                assert lines == [b"Subject: hostile", b"", b"body line"]
        c.ok("QUIT")


def test_pipelined_login(srv):
    u = user3(srv)
    with srv.connect() as c:
        c.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST 2\r\nQUIT\r\n" % (u.name, u.password))
        assert c.line().startswith("+OK")
        assert c.line().startswith("+OK")
        assert c.line().split()[:2] == ["+OK", "3"]
        assert c.line().split()[:2] == ["+OK", "2"]
        assert c.line().startswith("+OK")
        assert c.wait_eof(5)


def test_pipelined_failed_login_then_stat(srv):
    u = user3(srv)
    with srv.connect() as c:
        c.send("USER %s\r\nPASS wrong\r\nSTAT\r\n" % u.name)
        assert c.line().startswith("+OK")
        assert c.line().startswith("-ERR")
        assert c.line().startswith("-ERR"), "STAT ran after a failed PASS"


# ------------------------------------------------------------- STLS

def test_stls_plaintext_injection(srv):
    with srv.connect() as c:
        c.send(b"STLS\r\nCAPA\r\n")
        assert c.line().startswith("+OK")
        # whatever followed STLS in the same segment is in the kernel buffer
        # now; it must be thrown away, not answered inside TLS
        c.sock = c.ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.buf.clear()
        assert c.silent(1.0), "answer to injected plaintext inside TLS: %r" % bytes(c.buf)
        caps = c.capa()
        assert "STLS" not in [x.upper() for x in caps]


def test_stls_injection_of_user(srv):
    """An injected USER must not be carried into the TLS session."""
    u = srv.new_user()
    with srv.connect() as c:
        c.send(("STLS\r\nUSER %s\r\n" % u.name).encode())
        assert c.line().startswith("+OK")
        c.sock = c.ctx.wrap_socket(c.sock, server_hostname="localhost")
        assert c.silent(0.5)
        r = c.cmd("PASS " + u.password)
        assert r.startswith("-ERR"), "PASS accepted after an injected USER: %r" % r


def test_stls_twice(srv):
    with srv.connect() as c:
        c.starttls()
        c.err("STLS")
        assert c.capa()


def test_stls_on_implicit_tls_port(srv):
    with srv.connect(tls=True) as c:
        c.err("STLS")
        assert c.capa()


def test_stls_after_login(srv):
    u = user3(srv)
    with srv.session(u, tls=False) as c:
        c.err("STLS")
        c.ok("NOOP")
        c.ok("QUIT")


def test_stls_then_hangup(srv):
    with srv.connect() as c:
        c.ok("STLS")
    with srv.connect() as c:
        c.ok("STLS")
        c.send(b"\x16\x03\x01\x00\xc8\x01\x00\x00")   # the start of a ClientHello
        c.abort()


def test_stls_then_garbage(srv):
    with srv.connect() as c:
        c.ok("STLS")
        c.send(b"CAPA\r\nthis is not TLS\r\n")
        assert c.wait_eof(10), "server kept a failed handshake open"
        assert b"+OK" not in bytes(c.buf)


def test_plaintext_to_implicit_tls_port(srv):
    h, p = srv.tls[0]
    s = socket.create_connection((h, p), timeout=10)
    try:
        s.sendall(b"CAPA\r\n")
        data = b""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                d = s.recv(4096)
            except (socket.timeout, ConnectionError):
                break
            if not d:
                break
            data += d
        assert not data.startswith(b"+OK"), "plaintext greeting on the TLS port"
        assert b"+OK" not in data
    finally:
        s.close()


def test_tls_handshake_hangup(srv):
    h, p = srv.tls[0]
    for payload in (b"", b"\x16\x03\x01", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        s = socket.create_connection((h, p), timeout=10)
        s.sendall(payload)
        s.close()


# ------------------------------------------------------------- hang-ups

@pytest.mark.parametrize("correct", [False, True], ids=["wrong", "correct"])
def test_pass_then_hangup(srv, correct):
    u = user3(srv)
    for i in range(5):
        c = srv.connect()
        pw = u.password if correct else "wrong-%d" % i
        c.send("USER %s\r\nPASS %s\r\n" % (u.name, pw))
        if i % 2:
            c.abort()
        else:
            c.close()
    # the auth answers for gone sessions are dropped; the maildrop is free
    with srv.session_retry(u, tls=False) as c:
        assert c.stat()[0] == 3
        c.ok("QUIT")


def test_half_line_then_hangup(srv):
    for part in (b"US", b"USER p0", b"CAPA\r\nST", b"\r"):
        c = srv.connect()
        c.send(part)
        c.close()
    u = user3(srv)
    c = srv.session(u, tls=False)
    c.send(b"RETR 1\r\nDELE 1\r\nQU")
    c.close()
    with srv.session_retry(u, tls=False) as c2:
        assert c2.stat()[0] == 3
        c2.ok("QUIT")


def test_hangup_before_greeting_read(srv):
    for tls in (False, True):
        h, p = (srv.tls if tls else srv.plain)[0]
        for _ in range(5):
            s = socket.create_connection((h, p), timeout=10)
            s.close()


def test_many_concurrent_connections(srv):
    conns = []
    try:
        for i in range(40):
            conns.append(srv.connect(tls=(i % 4 == 0)))
        for c in conns:
            assert c.greeting.startswith("+OK")
        for c in conns:
            c.ok("CAPA")
            assert c.multi()
    finally:
        for c in conns:
            c.close()
