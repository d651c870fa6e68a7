/*
 * ctl.c - the helpers pop3ctl's sub-commands share: loading pop3d's
 * config with every error on stderr, the "pop3ctl: " warning, a system
 * user's ids, becoming the mail user, and where a user's Maildir is
 * (mail_path; the home from the passwd-file or, with backend = pgsql,
 * the database).  Runs in pop3ctl, as root or as the mail user.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "mailpath.h"
#include "passwd.h"
#include "pgsql.h"
#include "user_pgsql.h"

void
ctl_warnx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("pop3ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ctl_config(const char *path, struct config *cfg)
{
	struct buf	 errs;
	int		 rv = 0;

	buf_init(&errs, 64 * 1024);
	if (config_load(cfg, path, &errs) == -1 ||
	    pgsql_config_check(cfg, &errs) > 0) {
		fprintf(stderr, "%s", errs.len > 0 ? (char *)errs.data :
		    "config not loaded\n");
		config_free(cfg);
		rv = -1;
	}
	buf_clear(&errs);
	return rv;
}

int
ctl_user_ids(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
ctl_mailpath(const struct config *cfg, const char *user, struct mailpath *mp,
    int *nouser)
{
	const struct passwd_entry	*e;
	struct passwd_entry		 pe;
	struct passwd_db		 db;
	const char			*err;
	char				*perr = NULL, home[POP3_HOME_MAX] = "";
	int				 rv;

	*nouser = 0;
	if (mailpath_uses_home(cfg->mail_path) &&
	    cfg->auth_backend == AUTH_BACKEND_PGSQL) {
		if ((rv = upg_find(cfg, user, &pe, &perr)) != 1) {
			if (rv == 0)
				ctl_warnx("no such user %s in the database",
				    user);
			else {
				ctl_warnx("mail_path needs the home: %s", perr);
				free(perr);
			}
			*nouser = rv == 0;
			return -1;
		}
		if (pe.home != NULL)
			snprintf(home, sizeof(home), "%s", pe.home);
		passwd_entry_clear(&pe);
	} else if (mailpath_uses_home(cfg->mail_path)) {
		if (passwd_db_load(&db, cfg->passwd_file, &perr) == -1) {
			ctl_warnx("mail_path needs the home: %s%s", perr,
			    geteuid() != 0 ? " (the mail user may not read "
			    "it: run pop3ctl as root)" : "");
			free(perr);
			return -1;
		}
		if ((e = passwd_db_find(&db, user)) == NULL) {
			ctl_warnx("no such user %s in %s", user,
			    cfg->passwd_file);
			passwd_db_free(&db);
			*nouser = 1;
			return -1;
		}
		if (e->home != NULL && strlen(e->home) >= sizeof(home)) {
			ctl_warnx("the home of %s in %s is too long", user,
			    cfg->passwd_file);
			passwd_db_free(&db);
			return -1;
		}
		if (e->home != NULL)
			snprintf(home, sizeof(home), "%s", e->home);
		passwd_db_free(&db);
	}
	if ((rv = mailpath_expand(cfg->mail_path, cfg->mail_root, user, home,
	    mp, &err)) != 0) {
		ctl_warnx("Maildir of %s: %s", user, err);
		*nouser = rv == -2;	/* the name cannot have a Maildir */
		return -1;
	}
	return 0;
}

int
ctl_become_mail_user(const struct config *cfg, const char *cmd)
{
	uid_t	 uid;
	gid_t	 gid;

	if (ctl_user_ids(cfg->user, &uid, &gid) == -1) {
		ctl_warnx("%s: %s: user: no such user \"%s\"", cmd, cfg->path,
		    cfg->user);
		return -1;
	}
	if (uid == 0) {
		ctl_warnx("%s: %s: user: the mail user must not be root", cmd,
		    cfg->path);
		return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		ctl_warnx("%s: becoming %s: %s", cmd, cfg->user,
		    strerror(errno));
		return -1;
	}
	return 0;
}
