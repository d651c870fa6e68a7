/*
 * ctl.c - the helpers pop3ctl's sub-commands share: loading pop3d's
 * config with every error on stderr, the "pop3ctl: " warning, a
 * system user's ids, and becoming the mail user.  Runs in pop3ctl, as
 * root or as the mail user.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"

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
	if (config_load(cfg, path, &errs) == -1) {
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
