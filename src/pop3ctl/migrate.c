/*
 * migrate.c - "pop3ctl migrate --check|--commit [USER...]": the switch
 * from Dovecot's POP3 service without a re-download.  --check tells, per
 * user, which messages keep the UIDL Dovecot gave them (its
 * dovecot-uidlist, read by dovecot_uidlist.c) once pop3d serves the
 * Maildir, and why the others get a new one; it writes nothing.
 * --commit folds the old UIDLs into pop3d's own form: each listed
 * message is renamed so that its unique part (pop3d's UIDL,
 * maildir_uidl) is its old UIDL, and when every message's UIDL is then
 * the same with the list and without it, the list becomes
 * dovecot-uidlist.migrated.  Each step is one rename that replaces
 * nothing, under the maildrop lock (maildir_lock), so that a crash
 * anywhere leaves every UIDL as it was and a second run goes on.
 * The per-message work (scan, classification, renames) is
 * migrate_md.c's.  Runs as root (the passwd-file), then as the mail
 * user.  Exit codes: sysexits(3), documented in pop3ctl(8).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "mailpath.h"
#include "migrate.h"
#include "passwd.h"

static const char *const mig_kind_keys[MIG_NKINDS] = {
	[MIG_KEEP_SAVED] = "keep_saved",
	[MIG_KEEP_FORMAT] = "keep_format",
	[MIG_KEEP_FOLDED] = "keep_folded",
	[MIG_KEEP_OWN] = "keep_own",
	[MIG_NEW_NOT_LISTED] = "new_not_listed",
	[MIG_NEW_NO_FORMAT] = "new_no_format",
	[MIG_NEW_DUPLICATE] = "new_duplicate",
	[MIG_NEW_NO_LIST] = "new_no_list",
	[MIG_NEW_BAD_LIST] = "new_bad_list",
	[MIG_NEW_LIST_OFF] = "new_list_off",
};

/* Totals over the users, and the exit code so far. */
struct mig_run {
	const struct config	*cfg;
	int			 commit;
	int			 verbose;
	size_t			 users;
	size_t			 kinds[MIG_NKINDS];
	size_t			 renamed, unfoldable, lists_migrated;
	size_t			 in_use, failed;
	int			 rv;
};

/*
 * Keeps the worse of two exit codes: a configuration or usage error,
 * then an unknown user, then something to try again (in use, I/O),
 * then messages that get a new UIDL.
 */
static void
mig_exit(struct mig_run *run, int rv)
{
	static const int	 order[] = { EX_OK, EX_DATAERR, EX_TEMPFAIL,
	    EX_NOUSER, EX_NOINPUT, EX_CONFIG };
	size_t			 i, a = 0, b = 0;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] == run->rv)
			a = i;
		if (order[i] == rv)
			b = i;
	}
	if (b > a)
		run->rv = rv;
}

/*
 * The Maildir of a user where mail_path puts it (mail_root/USER by
 * default; the home from the user's line), opened as pop3d opens it (no
 * symbolic link below the template's fixed part), with its path in path
 * (pathlen bytes) for messages.  The descriptor, or -1 with errno
 * (ENOENT: none; EINVAL: mail_path gives this user no path).
 */
static int
mig_maildir(const struct config *cfg, const struct passwd_entry *pe,
    char *path, size_t pathlen)
{
	struct mailpath	 mp;
	const char	*err;

	if (mailpath_expand(cfg->mail_path, cfg->mail_root, pe->user,
	    pe->home, &mp, &err) != 0) {
		snprintf(path, pathlen, "mail_path: %s", err);
		errno = EINVAL;
		return -1;
	}
	snprintf(path, pathlen, "%s", mp.path);
	return mailpath_open(&mp, 0, (uid_t)-1, (gid_t)-1, NULL);
}

/*
 * A value of a key=value line: file names and errors are untrusted, so
 * a byte outside 0x21..0x7e (a space too, unless quoted), '"' and '\\'
 * become "\\xHH": one line stays one line, a value one field.
 */
static void
mig_put(const char *s, int quoted)
{
	const unsigned char	*p = (const unsigned char *)s;

	for (; *p != '\0'; p++)
		if ((*p > 0x20 || (quoted && *p == ' ')) && *p < 0x7f &&
		    *p != '"' && *p != '\\')
			putchar(*p);
		else
			printf("\\x%02X", *p);
}

/* A message's UIDL changes: the why on stdout (--verbose). */
static void
mig_verbose(const struct mig_user *u, const char *user)
{
	size_t	 i;

	for (i = 0; i < u->n; i++) {
		const struct mig_msg	*m = &u->msgs[i];

		if (m->kind < MIG_NEW_NOT_LISTED && m->unfoldable == NULL)
			continue;
		printf("message user=%s file=%s/", user, MIG_SUB_NAME(m->sub));
		mig_put(m->file, 0);
		fputs(" uidl=", stdout);
		mig_put(m->served, 0);
		printf(" %s%s%s\n", mig_kind_keys[m->kind],
		    m->unfoldable != NULL ? " unfoldable=" : "",
		    m->unfoldable != NULL ? m->unfoldable : "");
	}
}

/* The user's line: list state, counts by kind, and what commit did. */
static void
mig_report(struct mig_run *run, const char *user, const struct mig_user *u)
{
	size_t	 keep = 0, new = 0, k;

	for (k = 0; k < MIG_NKINDS; k++) {
		if (k < MIG_NEW_NOT_LISTED)
			keep += u->kinds[k];
		else
			new += u->kinds[k];
		run->kinds[k] += u->kinds[k];
	}
	printf("user=%s list=%s messages=%zu keep=%zu new=%zu", user,
	    mig_list_str(u->list), u->n, keep, new);
	for (k = 0; k < MIG_NKINDS; k++)
		printf(" %s=%zu", mig_kind_keys[k], u->kinds[k]);
	if (run->commit)
		printf(" renamed=%zu unfoldable=%zu", u->renamed,
		    u->unfoldable);
	if (u->error[0] != '\0') {
		fputs(" error=\"", stdout);
		mig_put(u->error, 1);
		putchar('"');
	}
	putchar('\n');
	if (run->verbose)
		mig_verbose(u, user);
	run->users++;
	run->renamed += u->renamed;
	run->unfoldable += u->unfoldable;
	if (u->list == MIG_LIST_MIGRATED && run->commit && u->renamed_list)
		run->lists_migrated++;
	/* --check: a UIDL changes; --commit: a list stays. */
	if (u->list == MIG_LIST_BAD || (run->commit ?
	    u->list == MIG_LIST_DOVECOT : new > 0))
		mig_exit(run, EX_DATAERR);
	if (u->list == MIG_LIST_IN_USE) {
		run->in_use++;
		mig_exit(run, EX_TEMPFAIL);
	}
	if (u->list == MIG_LIST_ERROR || u->failed) {
		run->failed++;
		mig_exit(run, EX_TEMPFAIL);
	}
}

static void
mig_user(struct mig_run *run, const struct passwd_entry *pe)
{
	struct mig_user	 u;
	char		 path[MIG_PATH_MAX];
	int		 dirfd;

	mig_user_init(&u);
	if ((dirfd = mig_maildir(run->cfg, pe, path, sizeof(path))) == -1) {
		if (errno == ENOENT)
			u.list = MIG_LIST_NO_MAILDIR;
		else {
			u.list = MIG_LIST_ERROR;
			mig_fail(&u, path, NULL);
		}
	} else {
		mig_user_run(&u, run->cfg, dirfd, path, run->commit);
		close(dirfd);
	}
	mig_report(run, pe->user, &u);
	mig_user_clear(&u);
}

static void
mig_usage(FILE *f)
{
	fprintf(f, "usage: pop3ctl [-c file] migrate --check|--commit "
	    "[--verbose] [USER...]\n"
	    "  --check   per user (all of the passwd-file if none named): "
	    "how many\n"
	    "            messages keep the UIDL Dovecot gave them "
	    "(dovecot-uidlist)\n"
	    "            and why the others get a new one; writes "
	    "nothing\n"
	    "  --commit  renames each listed message so that its name "
	    "carries its old\n"
	    "            UIDL, then dovecot-uidlist to "
	    "dovecot-uidlist.migrated\n"
	    "  --verbose also one line per message whose UIDL changes\n"
	    "  Exit: 0 every message keeps its UIDL (--commit: and every "
	    "list is\n  folded), 65 some do not, 67 unknown user, 75 a "
	    "maildrop in use or\n  unreadable (run again), 66 passwd-file "
	    "unreadable, 78 config.\n");
}

int
migrate_main(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'k' },
		{ "commit", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct passwd_db		 db;
	const struct passwd_entry	*pe;
	struct mig_run			 run;
	struct config			 cfg;
	char				*err = NULL;
	size_t				 i;
	int				 ch, mode = 0;

	memset(&run, 0, sizeof(run));
	while ((ch = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
		case 'C':
			if (mode != 0 && mode != ch) {
				mig_usage(stderr);
				return EX_USAGE;
			}
			mode = ch;
			break;
		case 'v':
			run.verbose = 1;
			break;
		case 'h':
			mig_usage(stdout);
			return EX_OK;
		default:
			mig_usage(stderr);
			return EX_USAGE;
		}
	}
	if (mode == 0) {
		mig_usage(stderr);
		return EX_USAGE;
	}
	run.commit = mode == 'C';
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (!passwd_valid_user(argv[i], strlen(argv[i]))) {
			ctl_warnx("migrate: invalid user name \"%s\"", argv[i]);
			return EX_USAGE;
		}
	if (ctl_config(conf, &cfg) == -1)
		return EX_CONFIG;
	run.cfg = &cfg;
	if (cfg.passwd_file == NULL) {
		/* backend = pgsql: the Dovecot passwd-file is still the list. */
		ctl_warnx("migrate: %s: passwd_file is not set: migrate reads "
		    "the users and homes from it (with backend = pgsql too)",
		    cfg.path);
		config_free(&cfg);
		return EX_CONFIG;
	}
	/* The passwd-file is root's: read it before becoming the mail user. */
	if (passwd_db_load(&db, cfg.passwd_file, &err) == -1) {
		ctl_warnx("migrate: %s", err);
		free(err);
		config_free(&cfg);
		return EX_NOINPUT;
	}
	if (geteuid() == 0 && ctl_become_mail_user(&cfg, "migrate") == -1) {
		passwd_db_free(&db);
		config_free(&cfg);
		return EX_CONFIG;
	}
	umask(077);
	if (optind == argc)
		for (i = 0; i < db.n; i++)
			mig_user(&run, &db.v[i]);
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if ((pe = passwd_db_find(&db, argv[i])) == NULL) {
			ctl_warnx("migrate: no such user %s in %s", argv[i],
			    cfg.passwd_file);
			mig_exit(&run, EX_NOUSER);
			continue;
		}
		mig_user(&run, pe);
	}
	printf("total users=%zu", run.users);
	for (i = 0; i < MIG_NKINDS; i++)
		printf(" %s=%zu", mig_kind_keys[i], run.kinds[i]);
	if (run.commit)
		printf(" renamed=%zu unfoldable=%zu lists_migrated=%zu",
		    run.renamed, run.unfoldable, run.lists_migrated);
	printf(" in_use=%zu failed=%zu exit=%d\n", run.in_use, run.failed,
	    run.rv);
	passwd_db_free(&db);
	config_free(&cfg);
	return run.rv;
}
