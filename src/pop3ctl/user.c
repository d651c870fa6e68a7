/*
 * user.c - "pop3ctl user": add, passwd, del, list, lock, unlock on the
 * passwd-file named in pop3d's config, and the users' Maildirs where
 * mail_path puts them (mail_root/NAME by default).  File edits go through passwd_edit_file (locked, atomic);
 * pop3d notices them by itself.  With backend = pgsql the same commands
 * run the [pgsql] statements instead (user_pgsql.c), with the same
 * password policy and hashing.  Runs as root.  A user's Maildir is what
 * "pop3ctl deliver" (running as the mail user, who cannot read the
 * passwd-file) takes as proof that the user exists: add creates it, del
 * moves it out of the way (or removes it with --purge).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "mailpath.h"
#include "passwd.h"
#include "passwd_edit.h"
#include "user_pgsql.h"
#include "xmalloc.h"

/* Directory levels --purge descends: a Maildir++ tree is three deep. */
#define USER_PURGE_DEPTH	8
/* Mode of a passwd-file that user add creates (root:auth_user). */
#define USER_PASSWD_MODE	0640

struct user_cmd {
	const char	*name;
	int		 need_user;	/* takes NAME */
	int		 (*fn)(struct config *, const char *, int, int);
	const char	*help;
};

static int	user_add(struct config *, const char *, int, int);
/* --home of user add: written into the new line, used by mail_path. */
static const char *user_home;
static int	user_passwd(struct config *, const char *, int, int);
static int	user_del(struct config *, const char *, int, int);
static int	user_list(struct config *, const char *, int, int);
static int	user_lock(struct config *, const char *, int, int);
static int	user_unlock(struct config *, const char *, int, int);

static const struct user_cmd user_cmds[] = {
	{ "add", 1, user_add, "user add NAME [--password-stdin] [--home DIR]\n"
	  "  Adds NAME with a new password (asked twice on the terminal, or\n"
	  "  one line from stdin) and creates its Maildir (mail_path;\n"
	  "  mail_root/NAME by default).  --home writes DIR as the home\n"
	  "  (Dovecot's sixth field), which a mail_path with ~ or %h needs.\n" },
	{ "passwd", 1, user_passwd, "user passwd NAME [--password-stdin]\n"
	  "  Sets a new password (a locked user stays locked).\n" },
	{ "del", 1, user_del, "user del NAME [--purge]\n"
	  "  Removes NAME.  Its Maildir is moved to .deleted.DIR.TIME beside it\n"
	  "  (mail is no longer delivered), or removed with --purge.\n" },
	{ "list", 0, user_list, "user list\n"
	  "  Lists users with their hash scheme and state (active, locked).\n" },
	{ "lock", 1, user_lock, "user lock NAME\n"
	  "  Refuses NAME's logins (answered like a wrong password).\n" },
	{ "unlock", 1, user_unlock, "user unlock NAME\n"
	  "  Allows NAME's logins again.\n" },
};
#define NCMDS	(sizeof(user_cmds) / sizeof(user_cmds[0]))

static void
user_usage(FILE *f, const struct user_cmd *only)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (only == NULL || only == &user_cmds[i])
			fprintf(f, "usage: pop3ctl [-c file] %s",
			    user_cmds[i].help);
}

/* Exit code for a passwd_edit status. */
static int
user_edit_exit(enum passwd_edit_status st)
{
	switch (st) {
	case PASSWD_EDIT_OK:
	case PASSWD_EDIT_UNCHANGED:
		return EX_OK;
	case PASSWD_EDIT_NOUSER:
		return EX_NOUSER;
	case PASSWD_EDIT_EXISTS:
		return EX_CANTCREAT;
	case PASSWD_EDIT_BADFILE:
		return EX_DATAERR;
	case PASSWD_EDIT_BUSY:
		return EX_TEMPFAIL;
	case PASSWD_EDIT_IOERR:
		return EX_IOERR;
	}
	return EX_SOFTWARE;
}

/*
 * Runs one edit and reports it (done: what to print, with the user
 * name, when the file changed); returns the exit code.
 */
static int
user_edit(struct config *cfg, enum passwd_edit_op op, const char *user,
    const char *hash, const char *done)
{
	struct passwd_edit_create	 cr;
	enum passwd_edit_status		 st;
	char				*err = NULL;
	uid_t				 auid;

	cr.uid = geteuid();
	cr.gid = getegid();
	cr.mode = USER_PASSWD_MODE;
	/* A new file is for the auth process to read. */
	if (ctl_user_ids(cfg->auth_user, &auid, &cr.gid) == -1)
		cr.gid = getegid();
	if (cfg->auth_backend == AUTH_BACKEND_PGSQL)
		st = upg_edit(cfg, op, user, hash, user_home, &err);
	else
		st = passwd_edit_file(cfg->passwd_file, op, user, hash,
		    user_home, &cr, PASSWD_LOCK_TIMEOUT_MS, &err);
	if (err != NULL) {
		if (st == PASSWD_EDIT_UNCHANGED)
			printf("%s\n", err);
		else
			ctl_warnx("%s", err);
		free(err);
	}
	if (st == PASSWD_EDIT_OK && done != NULL)
		printf("user %s %s\n", user, done);
	return user_edit_exit(st);
}

/*
 * Whether user is there (a line in the passwd-file, or a row, also one
 * without a usable password: said so): 1 with *locked, 0 if not, -1
 * after a message, -2 after one if the database did not answer.
 */
static int
user_exists(const struct config *cfg, const char *user, int *locked)
{
	const struct passwd_entry	*e;
	struct passwd_entry		 pe;
	struct passwd_db		 db;
	char				*err = NULL;
	int				 rv;

	*locked = 0;
	if (cfg->auth_backend == AUTH_BACKEND_PGSQL) {
		if ((rv = upg_find(cfg, user, &pe, &err)) >= 1) {
			*locked = pe.locked;
			passwd_entry_clear(&pe);
		}
		if (err != NULL) {
			ctl_warnx("%s", err);
			free(err);
		}
		return rv == 2 ? 1 : rv;
	}
	if (passwd_db_load(&db, cfg->passwd_file, &err) == -1) {
		if (access(cfg->passwd_file, F_OK) == -1 && errno == ENOENT) {
			free(err);
			return 0;
		}
		ctl_warnx("%s", err);
		free(err);
		return -1;
	}
	e = passwd_db_find(&db, user);
	rv = e != NULL;
	*locked = e != NULL && e->locked;
	passwd_db_free(&db);
	return rv;
}

/*
 * Creates dir name under fd (if absent) owned by uid:gid, mode 0700,
 * without following symlinks.  Returns its fd, or -1 (errno).
 * *created tells whether it was made now.
 */
static int
user_mkdir(int fd, const char *name, uid_t uid, gid_t gid, int *created)
{
	struct stat	 st;
	int		 dfd, saved;

	*created = 0;
	if (mkdirat(fd, name, 0700) == 0)
		*created = 1;
	else if (errno != EEXIST)
		return -1;
	if ((dfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(dfd, &st) == -1)
		goto fail;
	if (*created || st.st_uid != uid || st.st_gid != gid) {
		if (!*created && st.st_uid != uid) {
			errno = EPERM;	/* someone else's: leave it alone */
			goto fail;
		}
		if (fchown(dfd, uid, gid) == -1 || fchmod(dfd, 0700) == -1)
			goto fail;
	}
	return dfd;
 fail:
	saved = errno;
	close(dfd);
	errno = saved;
	return -1;
}

/*
 * Opens the directory that holds the Maildir mp names, making what
 * mail_path lets be made if create (owned by uid:gid), into *fdp, and
 * the Maildir's name in it into base.  0, or -1 after a message.
 */
static int
user_open_parent(const struct mailpath *mp, int create, uid_t uid, gid_t gid,
    char *base, int *fdp)
{
	struct mailpath	 parent;

	if (mailpath_parent(mp, &parent, base, NAME_MAX + 1) == -1) {
		ctl_warnx("Maildir %s: not a directory in a directory",
		    mp->path);
		return -1;
	}
	if ((*fdp = mailpath_open(&parent, create, uid, gid, NULL)) == -1) {
		ctl_warnx("Maildir %s: %s: %s", mp->path, parent.path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Creates user's Maildir with new, cur and tmp, owned by the mail user,
 * mode 0700.  Returns 0 (*created: the top directory is new), or -1.
 */
static int
user_maildir(const struct config *cfg, const struct mailpath *mp,
    int *created)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	char		 base[NAME_MAX + 1];
	uid_t		 uid;
	gid_t		 gid;
	int		 rootfd, fd, sfd, c, i;

	if (ctl_user_ids(cfg->user, &uid, &gid) == -1) {
		ctl_warnx("%s: user: no such user \"%s\" (the mail user)",
		    cfg->path, cfg->user);
		return -1;
	}
	if (user_open_parent(mp, 1, uid, gid, base, &rootfd) == -1)
		return -1;
	/* A Maildir that is the home itself (mail_path "~") must exist. */
	if (mp->create >= strlen(mp->path) && faccessat(rootfd, base, F_OK,
	    AT_SYMLINK_NOFOLLOW) == -1) {
		ctl_warnx("home %s: %s (it is not made here)", mp->path,
		    strerror(errno));
		close(rootfd);
		return -1;
	}
	if ((fd = user_mkdir(rootfd, base, uid, gid, created)) == -1) {
		ctl_warnx("Maildir %s: %s", mp->path, strerror(errno));
		close(rootfd);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		if ((sfd = user_mkdir(fd, subs[i], uid, gid, &c)) == -1) {
			ctl_warnx("Maildir %s/%s: %s", mp->path, subs[i],
			    strerror(errno));
			close(fd);
			close(rootfd);
			return -1;
		}
		close(sfd);
	}
	if (fsync(fd) == -1 || fsync(rootfd) == -1) {
		ctl_warnx("Maildir %s: fsync: %s", mp->path, strerror(errno));
		close(fd);
		close(rootfd);
		return -1;
	}
	close(fd);
	close(rootfd);
	return 0;
}

/*
 * Removes everything in the directory at dfd (closed here), never
 * following a symlink: files are unlinked, directories emptied first.
 */
static int
user_rmtree_fd(int dfd, int depth)
{
	struct dirent	*de;
	DIR		*d;
	int		 sub, rv = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") ==
		    0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR || depth >= USER_PURGE_DEPTH) {
			rv = -1;
			continue;
		}
		if ((sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    user_rmtree_fd(sub, depth + 1) == -1 ||
		    unlinkat(dfd, de->d_name, AT_REMOVEDIR) == -1)
			rv = -1;
	}
	closedir(d);
	return rv;
}

/*
 * Whether the Maildir mp names (base under rootfd) is one del may move
 * or remove: a directory of the mail user's, and not a whole home
 * (mail_path "~").  1 yes, 0 it does not exist, -1 after a message.
 */
static int
user_maildir_ours(const struct config *cfg, const struct mailpath *mp,
    int rootfd, const char *base)
{
	struct stat	 st;
	uid_t		 uid;
	gid_t		 gid;

	if (fstatat(rootfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		ctl_warnx("Maildir %s: %s", mp->path, strerror(errno));
		return -1;
	}
	if (mp->create >= strlen(mp->path)) {
		ctl_warnx("Maildir %s is the home itself: left as it is",
		    mp->path);
		return -1;
	}
	if (ctl_user_ids(cfg->user, &uid, &gid) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != uid) {
		ctl_warnx("Maildir %s: not a directory of the mail user %s: "
		    "left as it is", mp->path, cfg->user);
		return -1;
	}
	return 1;
}

/* Removes user's Maildir and all in it.  0, or -1 after a message. */
static int
user_purge(const struct config *cfg, const struct mailpath *mp)
{
	char		 base[NAME_MAX + 1];
	int		 rootfd, fd, rv = 0, ours;

	if (user_open_parent(mp, 0, (uid_t)-1, (gid_t)-1, base, &rootfd) == -1)
		return -1;
	if ((ours = user_maildir_ours(cfg, mp, rootfd, base)) != 1)
		rv = ours;
	else if ((fd = openat(rootfd, base, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ENOENT) {
			ctl_warnx("Maildir %s: %s", mp->path, strerror(errno));
			rv = -1;
		}
	} else if (user_rmtree_fd(fd, 0) == -1 ||
	    unlinkat(rootfd, base, AT_REMOVEDIR) == -1) {
		ctl_warnx("Maildir %s: not all removed: %s", mp->path,
		    strerror(errno));
		rv = -1;
	}
	close(rootfd);
	return rv;
}

/*
 * Moves user's Maildir to .deleted.NAME.TIME beside it (NAME its own
 * name: mail_root/USER by default, and user names do not start with
 * '.', so no user can have it), so that deliver refuses mail for the
 * user while the old mail is kept.
 */
static int
user_retire(const struct config *cfg, const struct mailpath *mp,
    const char *user)
{
	char		 base[NAME_MAX + 1], to[NAME_MAX + 64];
	int		 rootfd, rv = 0, ours;

	if (user_open_parent(mp, 0, (uid_t)-1, (gid_t)-1, base, &rootfd) == -1)
		return -1;
	snprintf(to, sizeof(to), ".deleted.%s.%lld", base,
	    (long long)time(NULL));
	if ((ours = user_maildir_ours(cfg, mp, rootfd, base)) != 1)
		rv = ours;
	else if (renameat(rootfd, base, rootfd, to) == -1) {
		if (errno != ENOENT) {
			ctl_warnx("Maildir %s: %s", mp->path, strerror(errno));
			rv = -1;
		}
	} else {
		(void)fsync(rootfd);
		printf("mail of %s kept in %.*s%s\n", user,
		    (int)(strlen(mp->path) - strlen(base)), mp->path, to);
	}
	close(rootfd);
	return rv;
}

/* Reads, checks and hashes a new password into hash. */
static int
user_new_hash(struct config *cfg, const char *user, int from_stdin,
    char *hash, size_t hashlen)
{
	char	 pw[POP3_SECRET_MAX + 1];
	int	 rv;

	if ((rv = password_read(cfg, user, from_stdin, pw, sizeof(pw))) !=
	    EX_OK)
		return rv;
	if (passwd_hash(pw, hash, hashlen) == -1) {
		ctl_warnx("hashing the password: %s", strerror(errno));
		rv = EX_SOFTWARE;
	}
	explicit_bzero(pw, sizeof(pw));
	return rv;
}

static int
user_add(struct config *cfg, const char *user, int from_stdin, int purge)
{
	struct mailpath	 mp;
	const char	*err;
	char		 hash[256];
	int		 rv, created = 0, locked;

	switch (user_exists(cfg, user, &locked)) {
	case 1:
		ctl_warnx("user %s exists", user);
		return EX_CANTCREAT;
	case -1:
		return EX_DATAERR;
	case -2:
		return EX_TEMPFAIL;
	}
	if (mailpath_uses_home(cfg->mail_path) && user_home == NULL) {
		ctl_warnx("mail_path %s uses the home: give it with --home",
		    cfg->mail_path);
		return EX_USAGE;
	}
	if (mailpath_expand(cfg->mail_path, cfg->mail_root, user, user_home,
	    &mp, &err) != 0) {
		ctl_warnx("Maildir of %s: %s", user, err);
		return EX_DATAERR;
	}
	if ((rv = user_new_hash(cfg, user, from_stdin, hash,
	    sizeof(hash))) != EX_OK)
		return rv;
	/* The Maildir first: deliver takes it as the user's existence. */
	if (user_maildir(cfg, &mp, &created) == -1)
		return EX_CANTCREAT;
	if ((rv = user_edit(cfg, PASSWD_EDIT_ADD, user, hash, NULL)) !=
	    EX_OK) {
		if (created)
			(void)user_purge(cfg, &mp);
		return rv;
	}
	printf("user %s added, Maildir %s%s\n", user, mp.path,
	    created ? "" : " (existed already, kept)");
	return EX_OK;
}

static int
user_passwd(struct config *cfg, const char *user, int from_stdin, int purge)
{
	char				 hash[256];
	int				 rv, locked;

	switch (user_exists(cfg, user, &locked)) {
	case -1:
		return EX_DATAERR;
	case -2:
		return EX_TEMPFAIL;
	case 0:
		ctl_warnx("no such user %s", user);
		return EX_NOUSER;
	}
	if ((rv = user_new_hash(cfg, user, from_stdin, hash,
	    sizeof(hash))) != EX_OK)
		return rv;
	if ((rv = user_edit(cfg, PASSWD_EDIT_SET, user, hash, NULL)) != EX_OK)
		return rv;
	printf("password of %s changed%s\n", user,
	    locked ? " (the user is still locked)" : "");
	return EX_OK;
}

static int
user_del(struct config *cfg, const char *user, int from_stdin, int purge)
{
	struct mailpath	 mp;
	int		 rv, nouser;

	/*
	 * Where the Maildir is, while the passwd-file still has the home.
	 * If that cannot be said (a message above), the line still goes
	 * and the Maildir, wherever it is, stays.
	 */
	if (ctl_mailpath(cfg, user, &mp, &nouser) == -1) {
		if ((rv = user_edit(cfg, PASSWD_EDIT_DEL, user, NULL,
		    "deleted")) == EX_OK)
			ctl_warnx("the Maildir of %s is left as it is", user);
		return rv;
	}
	if ((rv = user_edit(cfg, PASSWD_EDIT_DEL, user, NULL, "deleted")) !=
	    EX_OK)
		return rv;
	if ((purge ? user_purge(cfg, &mp) : user_retire(cfg, &mp, user)) ==
	    -1)
		return EX_IOERR;
	return EX_OK;
}

static int
user_list(struct config *cfg, const char *user, int from_stdin, int purge)
{
	struct passwd_db	 db;
	char			*err = NULL;
	size_t			 i;
	int			 rv;

	if (cfg->auth_backend == AUTH_BACKEND_PGSQL) {
		if ((rv = upg_list(cfg, &err)) != EX_OK) {
			ctl_warnx("%s", err);
			free(err);
		}
		return rv;
	}
	if (passwd_db_load(&db, cfg->passwd_file, &err) == -1) {
		ctl_warnx("%s", err);
		free(err);
		return EX_DATAERR;
	}
	printf("%-32s %-13s %s\n", "USER", "SCHEME", "STATE");
	for (i = 0; i < db.n; i++)
		printf("%-32s %-13s %s\n", db.v[i].user,
		    passwd_scheme_str(db.v[i].scheme),
		    db.v[i].locked ? "locked" : "active");
	passwd_db_free(&db);
	return EX_OK;
}

static int
user_lock(struct config *cfg, const char *user, int from_stdin, int purge)
{
	return user_edit(cfg, PASSWD_EDIT_LOCK, user, NULL, "locked");
}

static int
user_unlock(struct config *cfg, const char *user, int from_stdin, int purge)
{
	return user_edit(cfg, PASSWD_EDIT_UNLOCK, user, NULL, "unlocked");
}

int
user_main(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "password-stdin", no_argument, NULL, 's' },
		{ "purge", no_argument, NULL, 'p' },
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct user_cmd	*cmd = NULL;
	struct config		 cfg;
	const char		*user = NULL;
	size_t			 i;
	int			 ch, from_stdin = 0, purge = 0, rv;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		user_usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], user_cmds[i].name) == 0)
			cmd = &user_cmds[i];
	if (cmd == NULL) {
		ctl_warnx("unknown user command \"%s\"", argv[1]);
		user_usage(stderr, NULL);
		return EX_USAGE;
	}
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			from_stdin = 1;
			break;
		case 'p':
			purge = 1;
			break;
		case 'H':
			user_home = optarg;
			break;
		case 'h':
			user_usage(stdout, cmd);
			return EX_OK;
		default:
			user_usage(stderr, cmd);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if ((from_stdin && cmd->fn != user_add && cmd->fn != user_passwd) ||
	    (purge && cmd->fn != user_del) ||
	    (user_home != NULL && cmd->fn != user_add) ||
	    argc != cmd->need_user) {
		user_usage(stderr, cmd);
		return EX_USAGE;
	}
	if (cmd->need_user) {
		user = argv[0];
		if (!passwd_valid_user(user, strlen(user))) {
			ctl_warnx("invalid user name \"%s\" (1 to %d of "
			    "A-Z a-z 0-9 . _ @ + -, not starting with . or -)",
			    user, POP3_USER_MAX);
			return EX_DATAERR;
		}
	}
	if (ctl_config(conf, &cfg) == -1)
		return EX_CONFIG;
	rv = cmd->fn(&cfg, user, from_stdin, purge);
	upg_close();
	config_free(&cfg);
	return rv;
}
