"""
pop3fetch against a real Dovecot (Debian's dovecot-pop3d), started by the
test with its own config on ephemeral loopback ports: implicit TLS and
STLS, into Maildir and mbox, byte-identical to the source messages.
"""
import os

import pytest

from fetchutil import DOVECOT, Dovecot, Fetcher, msg_bytes
from pop3util import IS_ROOT

pytestmark = pytest.mark.skipif(
    not (IS_ROOT and os.access(DOVECOT, os.X_OK)),
    reason="needs root and Debian's dovecot-pop3d")


@pytest.fixture(scope="module")
def dove(env):
    d = Dovecot(env.cert, env.key).start()
    yield d
    d.stop()


@pytest.fixture
def fx():
    f = Fetcher()
    yield f
    f.cleanup()


@pytest.mark.parametrize("mode,dest", [("implicit", "maildir"),
                                       ("starttls", "mbox")])
def test_dovecot(env, dove, fx, mode, dest):
    base = 10 if mode == "implicit" else 20
    msgs = [msg_bytes(base + i, 5000 * i) for i in range(1, 5)]
    for i, m in enumerate(msgs):
        dove.deliver(base + i, m)
    fx.set_password(dove.password)
    target = fx.maildir if dest == "maildir" else fx.mbox
    fx.write(fx.account(host="localhost", user=dove.user, tls=mode,
                        port=dove.tls_port if mode == "implicit" else dove.port,
                        tls_ca_file=env.cert, keep="no",
                        destination="%s:%s" % (dest, target)))
    r = fx.run("--verbose")
    assert r.returncode == 0, r.stderr.decode() + dove.log()
    got = fx.maildir_msgs() if dest == "maildir" else fx.mbox_msgs()
    assert sorted(got) == sorted(msgs)
    assert dove.count() == 0
    assert b"C: STLS" in r.stderr if mode == "starttls" else True
    r = fx.run()
    assert r.returncode == 0, r.stderr
    got = fx.maildir_msgs() if dest == "maildir" else fx.mbox_msgs()
    assert len(got) == len(msgs)
