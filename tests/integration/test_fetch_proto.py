"""
pop3fetch against a scripted fake server that asserts the exact command
transcript (curl tests/data/test850 style): USER/PASS and SASL PLAIN,
PIPELINING, DELE only after delivery, STLS required, no UIDL, a failed
QUIT, OAuth2, hostile answers.
"""
import base64

import pytest

from fetchutil import FakeServer, Fetcher

M1 = b"From: a@example.org\nSubject: one\n\nbody one\n.dot\n"
M2 = b"From: b@example.org\nSubject: two\n\nbody two\n"


def wire(m):
    out = []
    for l in m.decode().split("\n")[:-1]:
        out.append("." + l if l.startswith(".") else l)
    return "\n".join(out) + "\n."


CAPA_USER = "+OK\nUSER\nUIDL\nTOP\n."
CAPA_PIPE = "+OK\nSASL PLAIN\nUIDL\nPIPELINING\n."


@pytest.fixture
def fx():
    f = Fetcher()
    f.set_password("secret-pw")
    yield f
    f.cleanup()


def body(*msgs):
    return ("+OK\n" + "\n".join("%d uid-%d" % (i, i) for i in
                                range(1, len(msgs) + 1)) + "\n.",
            "+OK\n" + "\n".join("%d %d" % (i, len(m)) for i, m in
                                enumerate(msgs, 1)) + "\n.")


def run(fx, script, **kw):
    srv = FakeServer(script)
    keys = dict(port=srv.port, tls="off")
    keys.update(kw)
    fx.write(fx.account(**keys))
    r = fx.run()
    t = srv.join()
    return r, t, srv


def test_user_pass_sequential_delete(fx):
    uidl, lst = body(M1, M2)
    r, t, srv = run(fx, [
        (None, "+OK fake"), ("CAPA", CAPA_USER), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 2 99"), ("UIDL", uidl),
        ("LIST", lst), ("RETR 1", "+OK\n" + wire(M1)),
        ("RETR 2", "+OK\n" + wire(M2)), ("DELE 1", "+OK"), ("DELE 2", "+OK"),
        ("QUIT", "+OK bye")], keep="no")
    assert r.returncode == 0, r.stderr
    # One command at a time; the DELEs follow the batch's one sync.
    assert t == ["CAPA", "USER u", "PASS secret-pw", "STAT", "UIDL", "LIST",
                 "RETR 1", "RETR 2", "DELE 1", "DELE 2", "QUIT"]
    assert srv.errors == []
    assert sorted(fx.maildir_msgs()) == sorted([M1, M2])
    assert b"tls = off" in r.stderr        # the plaintext warning


def test_sasl_plain_pipelined(fx):
    uidl, lst = body(M1, M2)
    ir = base64.b64encode(b"\0u\0secret-pw").decode()
    r, t, srv = run(fx, [
        (None, "+OK fake"), ("CAPA", CAPA_PIPE),
        ("AUTH PLAIN " + ir, "+OK"), ("STAT", "+OK 2 99"), ("UIDL", uidl),
        ("LIST", lst), ("RETR 1", "+OK\n" + wire(M1)),
        ("RETR 2", "+OK\n" + wire(M2)), ("DELE 1", "+OK"), ("DELE 2", "+OK"),
        ("QUIT", "+OK")], keep="no")
    assert r.returncode == 0, r.stderr
    assert srv.errors == [], srv.errors
    assert t[-5:] == ["RETR 1", "RETR 2", "DELE 1", "DELE 2", "QUIT"]
    assert sorted(fx.maildir_msgs()) == sorted([M1, M2])


def test_keep_mode_sends_no_dele(fx):
    uidl, lst = body(M1)
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", CAPA_USER), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 1 9"), ("UIDL", uidl),
        ("LIST", lst), ("RETR 1", "+OK\n" + wire(M1)), ("QUIT", "+OK")])
    assert r.returncode == 0, r.stderr
    assert srv.errors == [] and t[-2:] == ["RETR 1", "QUIT"]
    # Second run: nothing new, so no RETR.
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", CAPA_USER), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 1 9"), ("UIDL", uidl),
        ("LIST", lst), ("QUIT", "+OK")])
    assert r.returncode == 0, r.stderr
    assert srv.errors == [] and t[-1] == "QUIT"


def test_failed_quit_then_dele_without_retr(fx):
    uidl, lst = body(M1)
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", CAPA_USER), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 1 9"), ("UIDL", uidl),
        ("LIST", lst), ("RETR 1", "+OK\n" + wire(M1)), ("DELE 1", "+OK"),
        ("QUIT", "-ERR [SYS/TEMP] cannot commit")], keep="no")
    assert r.returncode == 75, r.stderr
    assert b"QUIT failed" in r.stderr
    assert fx.maildir_msgs() == [M1]
    # The server kept it; the next run deletes it without fetching again.
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", CAPA_USER), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 1 9"), ("UIDL", uidl),
        ("LIST", lst), ("DELE 1", "+OK"), ("QUIT", "+OK")], keep="no")
    assert r.returncode == 0, r.stderr
    assert srv.errors == [], srv.errors
    assert "RETR 1" not in t
    assert fx.maildir_msgs() == [M1]


def test_starttls_required(fx):
    r, t, srv = run(fx, [(None, "+OK"), ("CAPA", CAPA_USER)],
                    tls="starttls")
    assert r.returncode == 76, r.stderr     # EX_PROTOCOL
    assert b"does not offer STLS" in r.stderr
    assert t == ["CAPA"]                    # no USER, no PASS in plaintext


def test_no_uidl_is_an_error(fx):
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", "+OK\nUSER\n."), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 1 9"),
        ("UIDL", "-ERR no such command")])
    assert r.returncode == 69, r.stderr     # EX_UNAVAILABLE
    assert b"no UIDL" in r.stderr
    assert "RETR 1" not in t
    assert fx.maildir_msgs() == []


def test_duplicate_uidl_refused(fx):
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", CAPA_USER), ("USER u", "+OK"),
        ("PASS secret-pw", "+OK"), ("STAT", "+OK 2 9"),
        ("UIDL", "+OK\n1 same\n2 same\n.")])
    assert r.returncode == 76, r.stderr
    assert b"two messages have the unique-id same" in r.stderr
    assert fx.maildir_msgs() == []


def test_overlong_response_line(fx):
    r, t, srv = run(fx, [(None, "+OK " + "x" * 600)])
    assert r.returncode == 76, r.stderr
    assert b"line too long" in r.stderr


def test_xoauth2_token_command(fx):
    uidl, lst = body(M1)
    ir = base64.b64encode(b"user=u\x01auth=Bearer tok-123\x01\x01").decode()
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", "+OK\nSASL PLAIN XOAUTH2\nUIDL\n."),
        ("AUTH XOAUTH2 " + ir, "+OK"), ("STAT", "+OK 1 9"), ("UIDL", uidl),
        ("LIST", lst), ("RETR 1", "+OK\n" + wire(M1)), ("QUIT", "+OK")],
        oauth_token_command="echo tok-123")
    assert r.returncode == 0, r.stderr
    assert srv.errors == [], srv.errors


def test_oauthbearer_failure_acknowledged(fx):
    r, t, srv = run(fx, [
        (None, "+OK"), ("CAPA", "+OK\nSASL OAUTHBEARER\n.")],
        oauth_token_command="echo bad", auth="oauthbearer")
    # The script ends after CAPA: the AUTH line is recorded, answered -ERR.
    assert r.returncode == 77, r.stderr
    assert t[1].startswith("AUTH OAUTHBEARER ")
    raw = base64.b64decode(t[1].split()[2])
    assert raw.startswith(b"n,a=u,\x01host=127.0.0.1\x01port=")
    assert raw.endswith(b"\x01auth=Bearer bad\x01\x01")
