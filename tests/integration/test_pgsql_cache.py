"""The credential cache (cache_ttl) with accounts in PostgreSQL: the
database is asked at every login, and a pair verified against the hash
it returns skips the slow hash while that hash stays the same - so a
client polling every few minutes costs a query, not a yescrypt, and a
new password or a lock still counts at the next login."""
import re

from ctlutil import EX_OK, ctl
from pgutil import (PW, PW2, db_user, needs_pg, pg,  # noqa: F401
                    pg_server, try_login)

pytestmark = needs_pg


def logged_in(s, name, password):
    """Logs in (must succeed); whether the auth line says cached=yes."""
    m = s.mark()
    with s.connect() as c:
        c.login(name, password)
        c.ok("QUIT")
    line = s.wait_log(r"auth ok user=%s " % re.escape(name), start=m)
    return line.endswith(" cached=yes")


def test_cache_follows_the_stored_hash(make_server, pg, env):
    s = pg_server(make_server, pg, "pg-cache")
    db_user(s, pg, env, "pgc", PW)
    assert not logged_in(s, "pgc", PW)
    assert logged_in(s, "pgc", PW)
    # A new password: the old one is refused at once, the new one hashed.
    r = ctl(s.conf_path, "user", "passwd", "pgc", "--password-stdin",
            input=PW2 + "\n")
    assert r.returncode == EX_OK, r.err
    assert try_login(s, "pgc", PW).startswith("-ERR [AUTH]")
    assert not logged_in(s, "pgc", PW2)
    assert logged_in(s, "pgc", PW2)
    # A lock counts at the next login, cached pair or not.
    assert ctl(s.conf_path, "user", "lock", "pgc").returncode == EX_OK
    assert try_login(s, "pgc", PW2).startswith("-ERR [AUTH]")
    assert ctl(s.conf_path, "user", "unlock", "pgc").returncode == EX_OK
    assert logged_in(s, "pgc", PW2)
    # A wrong password is never answered from the cache.
    assert try_login(s, "pgc", PW).startswith("-ERR [AUTH]")
