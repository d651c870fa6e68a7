"""pop3ctl check: one line per finding, exit 0 when all is well and 78
(EX_CONFIG) when something is wrong: certificate (expired, days left,
not matching the key), passwd-file permissions, mail root owner,
listeners (bindable, in use by pop3d, in use by something else)."""
import os
import re
import shutil
import socket
import tempfile

import pytest

from ctlutil import (EX_CONFIG, EX_OK, ctl, dated_cert, mail_root_for_mail_user,
                     write_conf)
from pop3util import IS_ROOT

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="check runs as root")


@pytest.fixture
def srv(make_server):
    s = make_server(name="ctl-check", pool=1)
    mail_root_for_mail_user(s)
    return s


def check(srv):
    r = ctl(srv.conf_path, "check")
    return r.returncode, r.out + r.err


def test_check_all_good(srv):
    rc, out = check(srv)
    assert rc == EX_OK, out
    # The fixture's certificate lives 2 days: a warning (under 14), not a failure.
    assert re.search(r"^warn\s+tls cert .*matches the key, expires in [12] days", out, re.M), out
    assert re.search(r"^ok\s+passwd_file .*not world-readable", out, re.M), out
    assert re.search(r"^ok\s+mail_root .*owned by the mail user", out, re.M), out
    assert re.search(r"^ok\s+listen 127\.0\.0\.1:0: bindable", out, re.M), out
    assert re.search(r"^ok\s+password policy: dictionary loads", out, re.M), out
    assert "FAIL" not in out


def test_check_password_dictionary(srv, tmp_path):
    """A dictionary that does not load means no user can be added: a FAIL
    naming the package and the key; with dict_check = no it is not used."""
    missing = str(tmp_path / "nodict")
    srv.settings.setdefault("password", []).append(("dict_path", missing))
    write_conf(srv)
    rc, out = check(srv)
    assert rc == EX_CONFIG, out
    assert re.search(r"^FAIL\s+password policy: the password dictionary %s "
                     r"cannot be loaded.*cracklib-runtime.*dict_check = no"
                     % re.escape(missing), out, re.M), out
    srv.settings["password"].append(("dict_check", "no"))
    write_conf(srv)
    rc, out = check(srv)
    assert rc == EX_OK, out
    assert re.search(r"^ok\s+password policy: no dictionary check", out, re.M), out


def test_check_listener_in_use(srv):
    # The running pop3d's own port is in use, by a POP3 server: fine.
    srv.listen = ["127.0.0.1:%d" % srv.port]
    srv.listen_tls = ["127.0.0.1:%d" % srv.tls_port]
    write_conf(srv)
    rc, out = check(srv)
    assert rc == EX_OK, out
    assert re.search(r"^ok\s+listen 127.*in use by a running POP3 server", out, re.M), out
    assert re.search(r"^ok\s+listen_tls 127.*in use by a running POP3 server", out, re.M), out
    # A port held by something that is not a POP3 server is a failure.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        srv.listen = ["127.0.0.1:%d" % s.getsockname()[1]]
        write_conf(srv)
        rc, out = check(srv)
    finally:
        s.close()
    assert rc == EX_CONFIG, out
    assert re.search(r"^FAIL\s+listen 127.*cannot bind: Address already in use", out, re.M), out


def test_check_proxy_listeners(make_server):
    """listen_proxy and listen_tls_proxy are checked like the others; one
    in use by pop3d is recognised through a PROXY v2 LOCAL header."""
    s = make_server(name="ctl-check-proxy", pool=1,
                    listen_proxy=("127.0.0.1:0",),
                    listen_tls_proxy=("127.0.0.1:0",),
                    extra={"server": {"proxy_trusted": "127.0.0.1"}})
    mail_root_for_mail_user(s)
    ports = {k: p for h, p, k in s.proxy_listeners}
    s.listen_proxy = ["127.0.0.1:%d" % ports["starttls"]]
    s.listen_tls_proxy = ["127.0.0.1:%d" % ports["implicit"], "127.0.0.1:0"]
    write_conf(s)
    rc, out = check(s)
    assert rc == EX_OK, out
    assert re.search(r"^ok\s+listen_proxy 127.*in use by a running POP3 "
                     r"server", out, re.M), out
    assert re.search(r"^ok\s+listen_tls_proxy 127.*in use by a running POP3 "
                     r"server", out, re.M), out
    assert re.search(r"^ok\s+listen_tls_proxy 127\.0\.0\.1:0: bindable",
                     out, re.M), out


def test_check_world_readable_passwd(srv):
    os.chmod(srv.passwd_path, 0o644)
    rc, out = check(srv)
    assert rc == EX_CONFIG, out
    assert re.search(r"^FAIL\s+passwd_file .*others may access", out, re.M), out


def test_check_mail_root_owner(srv):
    shutil.chown(srv.mail_root, "root", "root")
    rc, out = check(srv)
    assert rc == EX_CONFIG, out
    assert re.search(r"^FAIL\s+mail_root .*not by the mail user", out, re.M), out


def test_check_expired_and_mismatched_cert(srv):
    d = tempfile.mkdtemp(prefix="pop3ctl-cert-")
    try:
        cert, key = dated_cert(d, "20200101000000Z", "20200201000000Z")
        srv.settings["tls"] = [("cert", cert), ("key", key)]
        text = srv.config_text()
        # The fixture's [tls] lines come first; ours replace them.
        text = re.sub(r"cert = .*\nkey = .*\n", "", text, count=1)
        with open(srv.conf_path, "w") as f:
            f.write(text)
        rc, out = check(srv)
        assert rc == EX_CONFIG, out
        assert re.search(r"^FAIL\s+tls cert .*expired \d+ days ago", out, re.M), out
        # A key that does not belong to the certificate.
        with open(srv.conf_path, "w") as f:
            f.write(text.replace("key = " + key, "key = " + srv.env.key))
        rc, out = check(srv)
        assert rc == EX_CONFIG, out
        assert re.search(r"^FAIL\s+tls cert .*key", out, re.M), out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_check_bad_config(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[server]\nworkers = many\n")
    r = ctl(str(conf), "check")
    assert r.returncode == EX_CONFIG
    assert re.search(r"c\.conf:2: workers", r.err), r.err
