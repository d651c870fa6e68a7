"""
Fixtures for the pop3d protocol tests (see pop3util.py for the helpers).

Run:  POP3D_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
Env:  POP3D_BUILD  build directory (default build, relative to the repo root)
      POP3D_DEBUG=1  start pop3d with -d
      POP3D_KEEP=1   keep the temporary trees
"""
import os
import shutil
import ssl
import subprocess
import tempfile

import pytest

from pop3util import LIVE, Hasher, Server, build_dir


class Env:
    pass


@pytest.fixture(scope="session")
def env():
    e = Env()
    b = build_dir()
    e.build = b
    e.pop3d = os.path.join(b, "pop3d")
    e.mkhash = os.path.join(b, "tools", "mkhash")
    if not os.access(e.pop3d, os.X_OK):
        pytest.fail("%s is missing: run `make all` (POP3D_BUILD=%s)" % (e.pop3d, b))
    e.dir = tempfile.mkdtemp(prefix="pop3d-tls-")
    os.chmod(e.dir, 0o755)
    e.cert = os.path.join(e.dir, "cert.pem")
    e.key = os.path.join(e.dir, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", e.key, "-out", e.cert],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode()
    os.chmod(e.key, 0o600)
    os.chmod(e.cert, 0o644)
    e.ctx = ssl.create_default_context(cafile=e.cert)
    e.hasher = Hasher(e.mkhash)
    yield e
    shutil.rmtree(e.dir, ignore_errors=True)


class _Factory:
    def __init__(self, env):
        self.env = env
        self.servers = []

    def __call__(self, setup=None, **kw):
        """Server(**kw); setup(server) may add users before the start."""
        s = Server(self.env, **kw)
        self.servers.append(s)
        if setup is not None:
            setup(s)
        s.start()
        return s

    def close(self):
        errors = []
        for s in self.servers:
            try:
                s.stop()
            except AssertionError as e:
                errors.append("%s: %s" % (s.name, e))
        if errors:
            pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def make_server(env):
    """Starts servers for one test; each is checked and stopped after it."""
    f = _Factory(env)
    yield f
    f.close()


@pytest.fixture(scope="module")
def module_servers(env):
    """Starts servers shared by the tests of one module."""
    f = _Factory(env)
    yield f
    f.close()


@pytest.fixture(autouse=True)
def _server_health():
    """Every test ends by checking that each running pop3d still answers a
    fresh connection with +OK and lost no process (a worker crash)."""
    yield
    errors = []
    for s in list(LIVE):
        try:
            s.health_check()
        except AssertionError as e:
            errors.append("%s: %s" % (s.name, e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for s in list(LIVE):
            rep.sections.append(("pop3d log (%s, last lines)" % s.name, s.log_tail(60)))


def pytest_report_header(config):
    b = build_dir()
    mk = os.path.join(b, "tools", "mkhash")
    return "pop3d: %s; hashes: %s" % (
        os.path.join(b, "pop3d"),
        mk if os.access(mk, os.X_OK) else "Python crypt (tools/mkhash not built)")
