/*
 * privsep.c - dropping root for good in the auth and worker processes
 * (the capability bounding set too: sandbox.c).
 * Runs in the child right after fork (the only root-owned code outside
 * main.c).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "privsep.h"
#include "sandbox.h"

int
privsep_drop(const char *user, const char **errstr)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		*errstr = "no such user";
		return -1;
	}
	if (pw->pw_uid == 0) {
		*errstr = "refusing to run as root (uid 0)";
		return -1;
	}
	/* While CAP_SETPCAP is still ours. */
	sandbox_drop_caps();
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		*errstr = "cannot change user";
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0) {
		*errstr = "root regained after the switch";
		return -1;
	}
	/* No core dumps: they could hold secrets. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	return 0;
}

void
privsep_die_with_parent(int sig)
{
	(void)prctl(PR_SET_PDEATHSIG, sig);
	/* The parent may have died before the prctl took effect. */
	if (getppid() == 1)
		raise(sig);
}
