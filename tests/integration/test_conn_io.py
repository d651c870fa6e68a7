"""The plain socket's I/O in pop3d (src/pop3d/conn_plain.c): a client's
close seen with or after its last commands, those commands still
carried out; the idle timeout of a full socket not reset by input that
arrives while the session does not read."""
import os
import socket
import time

import pytest


@pytest.fixture(scope="module")
def srv(module_servers):
    return module_servers(name="connio", plaintext="loopback")


def test_half_close_after_a_command_is_seen(srv):
    """A client that sends a command and shuts down its side gets the
    answer, then the server closes at once (not at the idle timeout,
    600 s here): the end of its input is read after the command."""
    u = srv.new_user()
    srv.deliver(u, b"Subject: a\n\nbody\n")
    for together in (True, False):
        c = srv.session(u, tls=False)
        if together:
            # command and FIN in one go
            c.send(b"STAT\r\n")
            c.sock.shutdown(socket.SHUT_WR)
        else:
            c.send(b"STAT\r\n")
            time.sleep(0.2)
            c.sock.shutdown(socket.SHUT_WR)
        assert c.line().startswith("+OK 1 ")
        assert c.wait_eof(5), "server did not see the client's close"
        c.close()


def test_commands_sent_with_the_close_are_carried_out(srv):
    """DELE and QUIT sent with the FIN right behind them: both are
    answered and the deletion is committed, as after a QUIT read alone."""
    u = srv.new_user()
    for i in range(3):
        srv.deliver(u, b"Subject: %d\n\nbody %d\n" % (i, i))
    c = srv.session(u, tls=False)
    c.send(b"DELE 1\r\nDELE 3\r\nQUIT\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    assert c.line().startswith("+OK")
    assert c.line().startswith("+OK")
    assert c.line().startswith("+OK bye")
    assert c.wait_eof(5)
    c.close()
    with srv.session_retry(u) as c2:
        assert c2.stat()[0] == 1
        c2.ok("QUIT")


def test_pipelined_burst_larger_than_the_input_limit(srv):
    """256 KiB of pipelined NOOPs (four times the input limit) in one
    write, read back only after all were sent: every one is answered
    in order, so input left in the socket at the limit is read later
    (the socket is edge-triggered)."""
    u = srv.new_user()
    srv.deliver(u, b"Subject: a\n\nbody\n")
    c = srv.session(u, tls=False)
    n = (256 * 1024) // len(b"NOOP\r\n")
    c.send(b"NOOP\r\n" * n + b"STAT\r\n")
    for i in range(n):
        assert c.line() == "+OK", "answer %d" % i
    assert c.line().startswith("+OK 1 ")
    c.ok("QUIT")
    c.close()


@pytest.mark.skipif(os.environ.get("POP3D_SLOW") != "1",
                    reason="slow (idle_timeout >= 10 s); set POP3D_SLOW=1")
def test_full_socket_times_out_while_the_client_talks(make_server):
    """A client that stops reading a big answer but keeps sending bytes
    is cut at the idle timeout: input the paused session does not read
    does not count as activity (as with a read event turned off)."""
    s = make_server(name="fullsock", plaintext="loopback", idle_timeout=10)
    u = s.new_user()
    s.deliver_big_wire(u, 32, "big")
    c = s.session(u, tls=False)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.send(b"RETR 1\r\n")
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < 40:
        try:
            c.sock.send(b"NOOP\r\n")
        except OSError:
            closed = True
            break
        time.sleep(0.5)
        # the server's close shows as a reset on a later send, or here
        if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            closed = True
            break
    elapsed = time.monotonic() - t0
    c.abort()
    assert closed, "still open after %.0f s of unread output" % elapsed
    assert 9 <= elapsed <= 30, elapsed
