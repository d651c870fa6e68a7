"""pop3ctl deliver behind a real Postfix: smtpd on a loopback port, a pipe
transport (user=nobody) for a test domain running `pop3ctl deliver
${user}`; a message sent over SMTP (smtplib) is fetched over POP3 from a
running pop3d, identical apart from the header fields Postfix prepends.
Unknown users bounce (67 is permanent)."""
import os
import shutil
import smtplib

import pytest

from ctlutil import POSTFIX, Postfix, add_user, listdir, pop3ctl_path, strip_received
from pop3util import IS_ROOT, crlf, wait_until

PW = "Velvet-Otter-Lamp-73"
DOMAIN = "pop3ctl.test"

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="Postfix must start as root")


@pytest.fixture(scope="module")
def mta(module_servers):
    if not os.access(POSTFIX, os.X_OK):
        pytest.skip("postfix is not installed (scripts/deps.sh test)")
    s = module_servers(name="ctl-postfix", pool=0)
    add_user(s, "lena", PW)
    # Postfix runs the pipe as the mail user, who may not be able to reach
    # the build directory (a checkout under a mode-0700 folder): give it a
    # copy in the server's own folder, which is open to it.
    ctl_copy = os.path.join(s.base, "pop3ctl")
    shutil.copy(pop3ctl_path(), ctl_copy)
    os.chmod(ctl_copy, 0o755)
    pf = Postfix(DOMAIN, [ctl_copy, "-c", s.conf_path, "deliver", "${user}"])
    try:
        pf.start()
        yield s, pf
    finally:
        pf.stop()


MSG = (b"From: Sender <sender@example.test>\r\n"
       b"To: Lena <lena@pop3ctl.test>\r\n"
       b"Subject: through postfix\r\n"
       b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
       b"Message-ID: <postfix-test-1@example.test>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=us-ascii\r\n"
       b"\r\n"
       b"Hello Lena,\r\n"
       b".a line starting with a dot\r\n"
       b"\r\n"
       b"bye\r\n")


def fetch_one(srv):
    c = srv.connect(tls=True)
    try:
        c.login("lena", PW)
        assert c.stat()[0] == 1
        c.ok("RETR 1")
        raw = c.multi_raw()[:-3]
        c.ok("DELE 1")
        c.ok("QUIT")
    finally:
        c.close()
    return b"\r\n".join(l[1:] if l.startswith(b".") else l
                        for l in raw.split(b"\r\n"))


def test_postfix_pipe_delivers_identical(mta):
    srv, pf = mta
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as smtp:
        refused = smtp.sendmail("sender@example.test", ["lena@" + DOMAIN], MSG)
    assert refused == {}
    ok = wait_until(lambda: listdir(srv, "lena", "new") != [], 60, step=0.2)
    assert ok, "no delivery within 60 s; maillog:\n" + pf.log()
    names = listdir(srv, "lena", "new")
    assert len(names) == 1 and ",S=" in names[0] and ",W=" in names[0], names
    got = fetch_one(srv)
    # LF on disk, CRLF over POP3; Postfix adds Received (and nothing else
    # we did not send).
    assert b"Received: from " in got
    assert strip_received(got.replace(b"\r\n", b"\n")) == MSG.replace(b"\r\n", b"\n")
    assert got.endswith(crlf(b"Hello Lena,\n.a line starting with a dot\n\nbye\n"))
    assert "status=sent" in pf.log()


def test_postfix_unknown_user_bounces(mta):
    srv, pf = mta
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as smtp:
        smtp.sendmail("sender@example.test", ["nobody-here@" + DOMAIN],
                      b"Subject: lost\r\n\r\nx\r\n")
    # 67 (EX_NOUSER) is a permanent failure for Postfix: a bounce, no retry.
    line = wait_until(lambda: [l for l in pf.log().splitlines()
                               if "nobody-here@" in l and "status=" in l], 60, step=0.2)
    assert line, "no delivery attempt logged:\n" + pf.log()
    assert "status=bounced" in line[0], line
    assert "5.1.1" in line[0] or "unknown user" in line[0].lower(), line
