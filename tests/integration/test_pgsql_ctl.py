"""pop3ctl user against accounts in PostgreSQL when things go wrong: a
database out of reach is a temporary failure for every command (75), a
statement that changes no row or more than one is an error and changes
nothing, and a row whose hash cannot be read is a user all the same
(not "no such user").  The cluster is the tests' own (pgutil.py)."""
import shutil

from ctlutil import EX_CANTCREAT, EX_IOERR, EX_OK, EX_TEMPFAIL, ctl
from pgutil import PW, PW2, needs_pg, pg  # noqa: F401 (a fixture)
from pop3util import Server

pytestmark = needs_pg



def ctl_server(env, pg, name, pgsql=None):
    """Config files of a pop3d with backend = pgsql (not started: pop3ctl
    only reads them)."""
    kv = {"conninfo": pg.conninfo() if pg else "host=127.0.0.1 port=1",
          "timeout": "3"}
    kv.update(pgsql or {})
    s = Server(env, name=name, pool=1,
               extra={"auth": {"backend": "pgsql"}, "pgsql": kv})
    s.write_files()
    return s


def ctl_add(s, name, password):
    return ctl(s.conf_path, "user", "add", name, "--password-stdin",
               input=password + "\n")


def test_database_out_of_reach_is_tempfail(env):
    s = ctl_server(env, None, "pgctl-down")
    try:
        for args, inp in ((("user", "add", "nobody1", "--password-stdin"),
                           PW + "\n"),
                          (("user", "passwd", "nobody1", "--password-stdin"),
                           PW + "\n"),
                          (("user", "lock", "nobody1"), None),
                          (("user", "del", "nobody1"), None),
                          (("user", "list"), None)):
            r = ctl(s.conf_path, *args, input=inp)
            assert r.returncode == EX_TEMPFAIL, (args, r.out, r.err)
            assert "database" in r.err, (args, r.err)
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_statement_that_changes_no_row_is_an_error(env, pg):
    """user_insert that inserts nothing: the user was not added, and
    pop3ctl must not say it was."""
    s = ctl_server(env, pg, "pgctl-norow", {
        "user_insert": "INSERT INTO pop3d_users (username, password, home) "
                       "SELECT $1, $2, $3 WHERE false"})
    try:
        r = ctl_add(s, "pgnorow", PW)
        assert r.returncode == EX_IOERR, (r.out, r.err)
        assert "added" not in r.out, r.out
        assert "no row" in r.err, r.err
        assert pg.hash_of("pgnorow") is None
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_statement_that_changes_two_rows_changes_none(env, pg):
    """A password_update that matches two rows (a table without a key):
    rolled back, an error, both rows as they were."""
    pg.sql("CREATE TABLE IF NOT EXISTS dup_users (username text, "
           "password text);"
           "DELETE FROM dup_users;"
           "INSERT INTO dup_users VALUES ('pgdup', 'old1'), "
           "('pgdup', 'old2');"
           "GRANT SELECT, UPDATE ON dup_users TO pop3d;")
    s = ctl_server(env, pg, "pgctl-tworows", {
        "password_update": "UPDATE dup_users SET password = $2 "
                           "WHERE username = $1"})
    try:
        pg.add_user("pgdup", env.hasher.hash(PW))
        r = ctl(s.conf_path, "user", "passwd", "pgdup", "--password-stdin",
                input=PW2 + "\n")
        assert r.returncode == EX_IOERR, (r.out, r.err)
        assert "2 rows" in r.err, r.err
        rows = sorted(x[0] for x in pg.sql(
            "SELECT password FROM dup_users WHERE username = 'pgdup'"))
        assert rows == ["old1", "old2"], rows
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_row_without_a_usable_hash_is_a_user(env, pg):
    """A row whose password cannot be read (here empty) is a user all
    the same: add says it exists, passwd gives it a password."""
    s = ctl_server(env, pg, "pgctl-badhash")
    try:
        pg.sql("INSERT INTO pop3d_users VALUES ('pgbad', '', NULL, NULL)")
        r = ctl_add(s, "pgbad", PW)
        assert r.returncode == EX_CANTCREAT, (r.out, r.err)
        assert "exists" in r.err, r.err
        r = ctl(s.conf_path, "user", "passwd", "pgbad", "--password-stdin",
                input=PW2 + "\n")
        assert r.returncode == EX_OK, (r.out, r.err)
        assert "no usable" in r.err, r.err
        assert pg.hash_of("pgbad").startswith("$y$")
    finally:
        shutil.rmtree(s.base, ignore_errors=True)


def test_good_edits_still_commit(env, pg):
    s = ctl_server(env, pg, "pgctl-good")
    try:
        r = ctl_add(s, "pggood", PW)
        assert r.returncode == EX_OK, (r.out, r.err)
        r = ctl(s.conf_path, "user", "passwd", "pggood", "--password-stdin",
                input=PW2 + "\n")
        assert r.returncode == EX_OK, (r.out, r.err)
        assert pg.hash_of("pggood").startswith("$y$")
        assert ctl(s.conf_path, "user", "del", "pggood").returncode == EX_OK
        assert pg.hash_of("pggood") is None
    finally:
        shutil.rmtree(s.base, ignore_errors=True)
