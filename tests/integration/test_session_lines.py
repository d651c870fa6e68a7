"""The session's state machine and its command lines, pinned from the
outside: PASS takes its secret as sent (spaces, a tab, a trailing SP),
a USER name outlives an AUTH exchange that did not log in but not a
refused login or STLS, a line's faults are named in a fixed order
(line, verb, state, argument count, argument form), the state in an
-ERR is the RFC's name, and the log tells a login (logout line) from a
connection that never had one (disconnect line)."""
import re

import pytest

from pop3util import plain_b64

# Spaces in a row, a tab and a trailing SP: none may be trimmed.
ODD_PW = "two  spaces\tand tab "
MSG = b"Subject: lines\n\nbody\n"


@pytest.fixture(scope="module")
def srv(module_servers, env):
    def setup(s):
        s.add_user("oddpw", hashfield=env.hasher.hash(ODD_PW))
    return module_servers(name="lines", plaintext="loopback", pool=20,
                          setup=setup)


def fresh(srv):
    c = srv.connect()
    assert c.greeting.startswith("+OK"), c.greeting
    return c


def test_pass_secret_taken_as_sent(srv):
    for pw in (ODD_PW.rstrip(" "), ODD_PW.replace("\t", " "),
               ODD_PW.replace("  ", " ")):
        with fresh(srv) as c:
            c.ok("USER oddpw")
            r = c.cmd("PASS " + pw)
            assert r.startswith("-ERR [AUTH]"), "%r -> %r" % (pw, r)
    with fresh(srv) as c:
        c.ok("USER oddpw")
        c.ok("PASS " + ODD_PW)
        c.ok("QUIT")


def test_user_kept_across_auth_without_login(srv):
    """USER, then an AUTH PLAIN cancelled, an AUTH PLAIN whose data line
    is too long, an unknown mechanism: PASS still completes the USER."""
    u = srv.new_user()
    with fresh(srv) as c:
        c.ok("USER " + u.name)
        assert c.cmd("AUTH PLAIN").startswith("+ ")
        assert c.cmd("*") == "-ERR authentication cancelled"
        assert c.cmd("AUTH PLAIN").startswith("+ ")
        r = c.cmd("A" * 2100)
        assert r.startswith("-ERR line too long"), r
        assert c.cmd("AUTH CRAM-MD5") == "-ERR unsupported SASL mechanism"
        c.ok("PASS " + u.password)
        c.ok("QUIT")


def test_user_forgotten_after_refused_login(srv):
    u = srv.new_user()
    with fresh(srv) as c:
        c.ok("USER " + u.name)
        assert c.cmd("PASS wrong").startswith("-ERR [AUTH]")
        assert c.cmd("PASS " + u.password) == "-ERR USER first"
        # a refused AUTH PLAIN after USER forgets it as well
        c.ok("USER " + u.name)
        assert c.cmd("AUTH PLAIN").startswith("+ ")
        assert c.cmd(plain_b64("", u.name, "wrong")).startswith("-ERR [AUTH]")
        assert c.cmd("PASS " + u.password) == "-ERR USER first"
        c.ok("USER " + u.name)
        c.ok("PASS " + u.password)
        c.ok("QUIT")


def test_sasl_login_after_user_is_the_sasl_user(srv):
    u, other = srv.new_user(), srv.new_user()
    srv.deliver(other, MSG)
    with fresh(srv) as c:
        c.ok("USER " + u.name)
        assert c.cmd("AUTH PLAIN").startswith("+ ")
        c.ok(plain_b64("", other.name, other.password))
        assert c.stat()[0] == 1
        c.ok("QUIT")


# (line, answer) in AUTHORIZATION; at most 4 bad commands per connection
# (the fifth closes it).
PREAUTH = [
    [("STAT x", "-ERR STAT is not valid in the AUTHORIZATION state"),
     ("LIST\t1", "-ERR command contains a control character"),
     ("USER", "-ERR USER needs 1 argument"),
     ("USER a b", "-ERR too many arguments for USER")],
    [("CAPA x", "-ERR CAPA takes no arguments"),
     ("PASS", "-ERR PASS needs an argument"),
     ("PASS ", "-ERR PASS needs an argument"),
     ("QUITS", "-ERR unknown command")],
    [("USER " + "a" * 65, "-ERR argument too long (at most 64 octets)"),
     ("USER  a", "-ERR too many arguments for USER"),
     ("XYZ\tq", "-ERR command contains a control character"),
     ("FOO", "-ERR unknown command")],
    [("PASS x\x00y", "-ERR line contains NUL"),
     ("", "-ERR empty command"),
     ("STLS x", "-ERR STLS takes no arguments")],
]


@pytest.mark.parametrize("lines", PREAUTH)
def test_error_texts_preauth(srv, lines):
    with fresh(srv) as c:
        for line, want in lines:
            assert c.cmd(line) == want, line
        c.ok("QUIT")


def test_error_texts_after_user(srv):
    """USER given (an AUTHORIZATION sub-state): the same state name."""
    u = srv.new_user()
    with fresh(srv) as c:
        c.ok("USER " + u.name)
        assert c.cmd("RETR 1") == \
            "-ERR RETR is not valid in the AUTHORIZATION state"
        assert c.cmd("PASS") == "-ERR PASS needs an argument"
        c.ok("PASS " + u.password)
        c.ok("QUIT")


def test_error_texts_postauth(srv):
    u = srv.new_user()
    srv.deliver(u, MSG)
    with fresh(srv) as c:
        c.login(u.name, u.password)
        for line, want in [
                ("USER x", "-ERR USER is not valid in the TRANSACTION state"),
                ("PASS x y", "-ERR PASS is not valid in the TRANSACTION state"),
                ("PASS", "-ERR PASS is not valid in the TRANSACTION state"),
                ("LIST  1", "-ERR too many arguments for LIST"),
                ("TOP 1 2 3", "-ERR too many arguments"),
                ("TOP 1  2", "-ERR empty argument"),
                ("TOP 1", "-ERR TOP needs 2 arguments"),
                ("RETR " + "1" * 41, "-ERR argument too long (at most 40 octets)"),
                ("NOOP 1", "-ERR NOOP takes no arguments")]:
            assert c.cmd(line) == want, line
        assert c.stat() == (1, len(MSG.replace(b"\n", b"\r\n")))
        c.ok("QUIT")


def test_log_tells_login_from_none(srv):
    u = srv.new_user()
    srv.deliver(u, MSG)
    mark = srv.mark()
    with fresh(srv) as c:
        c.ok("USER " + u.name)
        c.err("PASS wrong")
        c.ok("QUIT")
    srv.wait_log(r" disconnect rip=127\.0\.0\.1 reason=quit", start=mark)
    mark = srv.mark()
    with fresh(srv) as c:
        c.login(u.name, u.password)
        c.ok("DELE 1")
        c.ok("QUIT")      # through UPDATE
    srv.wait_log(r" logout user=%s retr=0/0 top=0 del=1 reason=quit$"
                 % re.escape(u.name), start=mark)
    mark = srv.mark()
    with fresh(srv) as c:
        c.login(u.name, u.password)
        c.close()         # no QUIT
    srv.wait_log(r" logout user=%s .*reason=disconnect$" % re.escape(u.name),
                 start=mark)
