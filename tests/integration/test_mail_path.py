"""mail_path: a user's Maildir where an existing install keeps it
(~/Maildir from a Dovecot-style passwd-file's home, /vmail/%d/%n/Maildir),
found the same way by pop3d and pop3ctl (deliver, user add/del); the
user's part of the path is walked without following a symlink, a Maildir
of another uid is refused, and a bad template is a config error."""
import os
import pwd
import shutil
import subprocess

import pytest

from ctlutil import EX_NOUSER, EX_OK, EX_TEMPFAIL, add_user, ctl, deliver
from pop3util import IS_ROOT, WORKER_USER

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root (mail user)")

PW = "Quiet-Harbor-Lamp-41"
MSG = b"From: a@example.test\r\nSubject: hello\r\n\r\nbody line\r\n"


def mkdirs_owned(path, top):
    """Makes path (and its parents up to top) owned by the mail user."""
    os.makedirs(path, exist_ok=True)
    p = path
    while len(p) >= len(top):
        shutil.chown(p, WORKER_USER, "nogroup")
        os.chmod(p, 0o700)
        p = os.path.dirname(p)


def dove_line(env, name, home, extra=""):
    """A Dovecot passwd-file line: user:{SCHEME}hash:uid:gid:gecos:home:shell:extra."""
    return "%s:{SHA512-CRYPT}%s:1000:1000::%s::%s" % (
        name, env.hasher.hash(PW, "sha512"), home, extra)


def put_message(maildir, name, data=MSG):
    p = os.path.join(maildir, "new", name)
    with open(p, "wb") as f:
        f.write(data)
    shutil.chown(p, WORKER_USER, "nogroup")


def make_maildir(path, top):
    for sub in ("cur", "new", "tmp"):
        mkdirs_owned(os.path.join(path, sub), top)


def quit(c):
    assert c.cmd("QUIT").startswith("+OK")
    c.close()


def login(s, user):
    c = s.connect(tls=True)
    r = c.try_login(user, PW)
    return c, r


def test_home_maildir(env, make_server):
    """mail_path = ~/Maildir: the home from the passwd-file's 6th field."""
    homes = {}

    def setup(s):
        for n in ("alice@example.org", "bob"):
            home = os.path.join(s.base, "home", n.split("@")[0])
            make_maildir(os.path.join(home, "Maildir"), s.base + "/home")
            homes[n] = home
            s.passwd_lines.append(dove_line(env, n, home))
        put_message(os.path.join(homes["alice@example.org"], "Maildir"),
                    "1700000000.M1P1.h,S=%d" % len(MSG))
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    c, r = login(s, "alice@example.org")
    assert r.startswith("+OK"), r
    assert c.stat() == (1, len(MSG))
    quit(c)
    c, r = login(s, "bob")
    assert r.startswith("+OK"), r
    assert c.stat() == (0, 0)
    quit(c)
    # Nothing was made under mail_root.
    assert not {"alice@example.org", "bob"} & set(os.listdir(s.mail_root))


def test_domain_template_created_and_delivered(env, make_server):
    """/vmail/%Ld/%n/Maildir: made at the first login below the fixed part;
    pop3ctl deliver and user add/del use the same path."""
    def setup(s):
        vm = os.path.join(s.base, "vmail")
        mkdirs_owned(vm, vm)
        s.passwd_lines.append(dove_line(env, "carol@Example.NET", ""))
    def setup2(s):
        setup(s)
        s.settings["server"].append(
            ("mail_path", os.path.join(s.base, "vmail", "%Ld", "%n",
                                       "Maildir")))
    s = make_server(setup2)
    md = os.path.join(s.base, "vmail", "example.net", "carol", "Maildir")
    c, r = login(s, "carol@Example.NET")
    assert r.startswith("+OK"), r
    quit(c)
    for sub in ("new", "cur", "tmp"):
        assert os.path.isdir(os.path.join(md, sub))
    assert os.stat(md).st_uid == pwd.getpwnam(WORKER_USER).pw_uid
    r = deliver(s.conf_path, "carol@Example.NET", MSG)
    assert r.returncode == EX_OK, r.err
    assert len(os.listdir(os.path.join(md, "new"))) == 1
    c, r = login(s, "carol@Example.NET")
    assert c.stat() == (1, len(MSG))
    quit(c)
    # A user whose Maildir does not exist: deliver says no such user.
    r = deliver(s.conf_path, "dave@example.net", MSG)
    assert r.returncode == EX_NOUSER, r.err
    # user add makes it there, user del moves it aside.
    add_user(s, "erin@example.org", PW)
    emd = os.path.join(s.base, "vmail", "example.org", "erin", "Maildir")
    assert os.path.isdir(os.path.join(emd, "new"))
    assert os.stat(emd).st_uid == pwd.getpwnam(WORKER_USER).pw_uid
    r = ctl(s.conf_path, "user", "del", "erin@example.org")
    assert r.returncode == EX_OK, r.err
    assert not os.path.exists(emd)
    left = os.listdir(os.path.dirname(emd))
    assert len(left) == 1 and left[0].startswith(".deleted.Maildir."), left


def test_deliver_reads_the_home_as_root(env, make_server):
    """With ~/Maildir, deliver finds the home in the passwd-file (read as
    root, before it becomes the mail user); a user not in the file is 67;
    started as the mail user, who may not read the file, it is 75."""
    def setup(s):
        home = os.path.join(s.base, "home", "frank")
        make_maildir(os.path.join(home, "Maildir"), s.base + "/home")
        s.passwd_lines.append(dove_line(env, "frank", home))
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    r = deliver(s.conf_path, "frank", MSG)
    assert r.returncode == EX_OK, r.err
    assert len(os.listdir(os.path.join(s.base, "home", "frank", "Maildir",
                                       "new"))) == 1
    r = deliver(s.conf_path, "nobody-here", MSG)
    assert r.returncode == EX_NOUSER, r.err
    os.chmod(s.base, 0o755)
    os.chmod(s.conf_path, 0o644)
    r = subprocess.run(["setpriv", "--reuid", WORKER_USER, "--regid",
                        "nogroup", "--clear-groups", ctl_bin(), "-c",
                        s.conf_path, "deliver", "frank"], input=MSG,
                       capture_output=True, timeout=30)
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert b"run pop3ctl as root" in r.stderr


def ctl_bin():
    from ctlutil import pop3ctl_path
    return pop3ctl_path()


@pytest.mark.parametrize("where", ["domain", "user", "home"])
def test_symlink_in_the_path_is_refused(env, make_server, where):
    """A symlink in the user's part of the path (a domain or user directory,
    or a component of the home) is [SYS/PERM], never followed into the
    Maildir it points to."""
    def setup(s):
        vm = os.path.join(s.base, "vmail")
        victim = os.path.join(vm, "example.org", "victim", "Maildir")
        make_maildir(victim, vm)
        put_message(victim, "1700000000.M9P9.h,S=%d" % len(MSG))
        if where == "domain":
            os.symlink(os.path.join(vm, "example.org"),
                       os.path.join(vm, "evil.org"))
            s.passwd_lines.append(dove_line(env, "victim@evil.org", ""))
            s.settings["server"].append(
                ("mail_path", os.path.join(vm, "%d", "%n", "Maildir")))
        elif where == "user":
            os.symlink(os.path.join(vm, "example.org", "victim"),
                       os.path.join(vm, "example.org", "mallory"))
            s.passwd_lines.append(dove_line(env, "mallory@example.org", ""))
            s.settings["server"].append(
                ("mail_path", os.path.join(vm, "%d", "%n", "Maildir")))
        else:
            os.symlink(os.path.join(vm, "example.org"),
                       os.path.join(s.base, "homes"))
            s.passwd_lines.append(dove_line(
                env, "mallory", os.path.join(s.base, "homes", "victim")))
            s.settings["server"].append(("mail_path", "~/Maildir"))
    s = make_server(setup)
    name = {"domain": "victim@evil.org", "user": "mallory@example.org",
            "home": "mallory"}[where]
    c, r = login(s, name)
    assert r.startswith("-ERR [SYS/PERM]"), r
    c.close()


def test_maildir_of_another_uid_is_refused(env, make_server):
    def setup(s):
        home = os.path.join(s.base, "home", "gina")
        make_maildir(os.path.join(home, "Maildir"), s.base + "/home")
        shutil.chown(os.path.join(home, "Maildir"), "root", "root")
        os.chmod(os.path.join(home, "Maildir"), 0o755)
        s.passwd_lines.append(dove_line(env, "gina", home))
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    c, r = login(s, "gina")
    assert r.startswith("-ERR [SYS/PERM]"), r
    assert "not owned by the mail user" in r
    c.close()


def test_home_missing_for_a_home_template(env, make_server):
    """A user whose line has no home, with ~/Maildir: [SYS/PERM], logged."""
    def setup(s):
        s.passwd_lines.append("henry:" + env.hasher.hash(PW))
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    n = len(s.log)
    c, r = login(s, "henry")
    assert r.startswith("-ERR [SYS/PERM]"), r
    c.close()
    s.wait_log(r"maildrop user=henry: mail_path needs a home", start=n)


@pytest.mark.parametrize("tmpl,msg", [
    ("/srv/%x/Maildir", "unknown variable"),
    ("/srv/mail/shared", "must contain %u, %n, %h or ~"),
    ("relative/%u", "must be an absolute path"),
    ("/srv/~/%u", "~ is only allowed at the start"),
    ("~bob/Maildir", "~ must be followed by /"),
])
def test_bad_template_is_a_config_error(env, make_server, tmpl, msg):
    from pop3util import Server
    s = Server(env, extra={"server": {"mail_path": tmpl}})
    s.write_files()
    r = subprocess.run([env.pop3d, "-c", s.conf_path, "-t"],
                       capture_output=True, timeout=30)
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "mail_path" in err and msg in err, err
    assert s.conf_path in err, err
    shutil.rmtree(s.base, ignore_errors=True)


def test_pop3ctl_check_reports_the_template(env, make_server):
    """pop3ctl check names mail_path and whether its fixed part exists."""
    def setup(s):
        s.settings["server"].append(
            ("mail_path", os.path.join(s.base, "missing", "%d", "%n")))
    s = make_server(setup)
    r = ctl(s.conf_path, "check")
    assert r.returncode != 0
    line = [l for l in r.out.splitlines() if "mail_path" in l]
    assert len(line) == 1, r.out
    assert os.path.join(s.base, "missing") in line[0]
    assert "No such file or directory" in line[0], line
    os.makedirs(os.path.join(s.base, "missing"))
    r = ctl(s.conf_path, "check")
    line = [l for l in r.out.splitlines() if "mail_path" in l]
    assert "Maildirs under" in line[0], line


def test_user_add_with_home(env, make_server):
    """With ~/Maildir, user add needs --home, writes it as the sixth field
    (Dovecot's format) and makes the Maildir below it; the user logs in
    and gets mail by deliver; user del finds it through the home."""
    def setup(s):
        os.makedirs(os.path.join(s.base, "home", "ivy"))
        shutil.chown(os.path.join(s.base, "home", "ivy"), WORKER_USER,
                     "nogroup")
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    home = os.path.join(s.base, "home", "ivy")
    r = ctl(s.conf_path, "user", "add", "ivy", "--password-stdin",
            input=PW + "\n")
    assert r.returncode == 64, r.err          # EX_USAGE: no --home
    assert "--home" in r.err
    add = ctl(s.conf_path, "user", "add", "ivy", "--password-stdin",
              "--home", home, input=PW + "\n")
    assert add.returncode == EX_OK, add.err
    with open(s.passwd_path) as f:
        line = [l for l in f if l.startswith("ivy:")][0]
    assert line.rstrip("\n").split(":")[5] == home, line
    assert os.path.isdir(os.path.join(home, "Maildir", "new"))
    r = deliver(s.conf_path, "ivy", MSG)
    assert r.returncode == EX_OK, r.err
    c, r = login(s, "ivy")
    assert r.startswith("+OK"), r
    assert c.stat() == (1, len(MSG))
    quit(c)
    r = ctl(s.conf_path, "user", "del", "ivy")
    assert r.returncode == EX_OK, r.err
    assert not os.path.exists(os.path.join(home, "Maildir"))
    assert [n for n in os.listdir(home) if n.startswith(".deleted.Maildir.")]


def test_deliver_defers_when_the_fixed_part_is_missing(env, make_server):
    """An unmounted mail store (the template's fixed part, or mail_root,
    missing) is 75: the MTA retries; only a missing Maildir of the user's
    own is 67."""
    def setup(s):
        s.settings["server"].append(
            ("mail_path", os.path.join(s.base, "vmail", "%d", "%n")))
    s = make_server(setup)
    r = deliver(s.conf_path, "kim@example.org", MSG)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.err)
    vm = os.path.join(s.base, "vmail")
    mkdirs_owned(vm, vm)
    r = deliver(s.conf_path, "kim@example.org", MSG)
    assert r.returncode == EX_NOUSER, (r.returncode, r.err)
    # A name that cannot have a Maildir under this template: 67 too.
    r = deliver(s.conf_path, "kim", MSG)
    assert r.returncode == EX_NOUSER, (r.returncode, r.err)


def test_user_del_when_the_path_cannot_be_made(env, make_server):
    """user del of a user whose Maildir cannot be located (no home for
    ~/Maildir) still removes the line, and says the Maildir stays."""
    def setup(s):
        s.passwd_lines.append("lee:" + env.hasher.hash(PW))
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    r = ctl(s.conf_path, "user", "del", "lee")
    assert r.returncode == EX_OK, r.err
    assert "left as it is" in r.err
    with open(s.passwd_path) as f:
        assert not [l for l in f if l.startswith("lee:")]


def test_user_del_purge_never_removes_a_home(env, make_server):
    """mail_path = ~: the Maildir is the home; user del --purge leaves it
    (and everything in it), as it leaves a directory of another uid."""
    def setup(s):
        for n in ("mo", "ned"):
            home = os.path.join(s.base, "home", n)
            make_maildir(home, home)
            with open(os.path.join(home, "keep.txt"), "w") as f:
                f.write("x")
            s.passwd_lines.append(dove_line(env, n, home))
    s = make_server(setup, extra={"server": {"mail_path": "~"}})
    r = ctl(s.conf_path, "user", "del", "mo", "--purge")
    assert r.returncode != EX_OK
    assert "is the home itself" in r.err
    assert os.path.exists(os.path.join(s.base, "home", "mo", "keep.txt"))
    # With ~/Maildir, a Maildir owned by root is not removed either.
    s2 = make_server(lambda t: _root_maildir(env, t),
                     extra={"server": {"mail_path": "~/Maildir"}})
    r = ctl(s2.conf_path, "user", "del", "olga", "--purge")
    assert r.returncode != EX_OK
    assert "not a directory of the mail user" in r.err
    assert os.path.isdir(os.path.join(s2.base, "home", "olga", "Maildir",
                                      "new"))


def _root_maildir(env, s):
    home = os.path.join(s.base, "home", "olga")
    make_maildir(os.path.join(home, "Maildir"), home)
    shutil.chown(os.path.join(home, "Maildir"), "root", "root")
    s.passwd_lines.append(dove_line(env, "olga", home))


def test_bad_home_is_left_out_not_the_file(env, make_server):
    """A relative or over-long home leaves that field out (logged), not
    the whole passwd-file: other users log in; that user, with a
    template that needs the home, gets [SYS/PERM]; a home of 512
    characters or more is never cut to a shorter, other path."""
    def setup(s):
        home = os.path.join(s.base, "home", "pat")
        make_maildir(os.path.join(home, "Maildir"), s.base + "/home")
        s.passwd_lines.append(dove_line(env, "pat", home))
        s.passwd_lines.append(dove_line(env, "quin", "relative/home"))
        longhome = os.path.join(s.base, "P" * 250, "P" * 250, "x")
        assert len(longhome) >= 512
        # What a cut to 511 octets would name must not be used.
        make_maildir(os.path.join(longhome[:511], "Maildir"),
                     os.path.join(s.base, "P" * 250))
        s.passwd_lines.append(dove_line(env, "rae", longhome))
    s = make_server(setup, extra={"server": {"mail_path": "~/Maildir"}})
    s.wait_log(r"passwd_file .*user quin: home is not an absolute path")
    c, r = login(s, "pat")
    assert r.startswith("+OK"), r
    quit(c)
    for n in ("quin", "rae"):
        c, r = login(s, n)
        assert r.startswith("-ERR [SYS/PERM]"), (n, r)
        c.close()
    r = deliver(s.conf_path, "rae", MSG)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.err)
