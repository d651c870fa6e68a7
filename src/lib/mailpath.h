/*
 * mailpath.h - where a user's Maildir is: the mail_path template of
 * pop3d.conf (%u %n %d %h, a leading ~, %L for lower case) expanded for
 * one user, and the walk that opens the result without following a
 * symbolic link below the template's fixed part.  pop3d's workers
 * (maildrop_open) and pop3ctl (deliver, user add/del, migrate) find a
 * Maildir the same way through it.
 */
#ifndef POP3_MAILPATH_H
#define POP3_MAILPATH_H

#include <stddef.h>
#include <sys/types.h>

#include "pop3_limits.h"


/*
 * An expanded mail path.  path[0..walk) is the template's fixed part
 * (what the administrator wrote before the first variable, e.g.
 * "/var/vmail"), opened as it is, symlinks included, like mail_root.
 * Every component from path + walk on (the user's part, and a home from
 * the passwd-file, which is walked from "/") is opened with O_NOFOLLOW:
 * a symlink there fails.  Components from path + create on may be
 * created when missing (never a home itself: it must exist).
 */
struct mailpath {
	char	path[POP3_PATH_MAX];
	size_t	walk;
	size_t	create;
};

/*
 * Checks a template: known variables only (%u %n %d %h %%, each with an
 * optional L), ~ only at the start and followed by '/' or nothing, an
 * absolute path once expanded.  An empty template means mail_root/%u.
 * 0, or -1 with *errstr.
 */
int	mailpath_check(const char *tmpl, const char **errstr);
/* Whether the template uses the home (%h or ~): 1 or 0. */
int	mailpath_uses_home(const char *tmpl);

/*
 * Expands tmpl (empty: mail_root/%u) for the login user (a valid user
 * name, see passwd_valid_user) with home (NULL or "" if the passwd-file
 * gives none; trailing '/' dropped) into mp.  %n is the part of user
 * before the last '@' (all of it if none), %d the part after it.  0; -1
 * with *errstr for what the passwd-file or the config got wrong (no
 * home, a home that is not an absolute path or has a "." or ".."
 * component, a path too long); -2 with *errstr when the user name
 * cannot name a Maildir (no domain for %d, a "." or ".." component).
 */
int	mailpath_expand(const char *tmpl, const char *mail_root,
	    const char *user, const char *home, struct mailpath *mp,
	    const char **errstr);

/*
 * Opens the directory mp names (O_RDONLY | O_DIRECTORY), walking as
 * struct mailpath says.  With create, missing directories from
 * mp->create on are made (mode 0700; handed to uid:gid through the
 * descriptor unless uid is (uid_t)-1).  The descriptor, or -1 with
 * errno: ELOOP or ENOTDIR for a symlink or a file where a directory
 * belongs, ENOENT, EACCES...; then *userpart (if not NULL) says whether
 * the failure was at a component from mp->create on (the user's own
 * part) rather than at the fixed part or the home.
 */
int	mailpath_open(const struct mailpath *mp, int create, uid_t uid,
	    gid_t gid, int *userpart);

/*
 * The directory that holds mp's Maildir, into parent (walked the same
 * way, up to where mp's walk began), and the Maildir's name in it into
 * base (baselen bytes).  0, or -1 if mp has no parent or base is short.
 */
int	mailpath_parent(const struct mailpath *mp, struct mailpath *parent,
	    char *base, size_t baselen);

#endif
