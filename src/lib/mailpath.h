/*
 * mailpath.h - where a user's Maildir is: the mail_path template of
 * pop3d.conf (%u %n %d %h, a leading ~, %L for lower case) expanded for
 * one user, and the walk that opens the result without following a
 * symbolic link below the template's fixed part.  pop3d's workers
 * (maildrop_open) and pop3ctl (deliver, user add, migrate, check) find
 * a Maildir the same way through it.
 */
#ifndef POP3_MAILPATH_H
#define POP3_MAILPATH_H

#include <stddef.h>
#include <sys/types.h>

#define POP3_HOME_MAX	512	/* a home directory from the passwd-file */
#define POP3_PATH_MAX	1024	/* an expanded mail path */

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
 * gives none) into mp.  %n is the part of user before the last '@' (all
 * of it if none), %d the part after it.  0, or -1 with *errstr: a
 * variable with no value (no home, no domain), a home that is not an
 * absolute path, a "." or ".." component, or a path too long.
 */
int	mailpath_expand(const char *tmpl, const char *mail_root,
	    const char *user, const char *home, struct mailpath *mp,
	    const char **errstr);

/*
 * Opens the directory mp names (O_RDONLY | O_DIRECTORY), walking as
 * struct mailpath says.  With create, missing directories from
 * mp->create on are made (mode 0700; chown to uid:gid unless uid is
 * (uid_t)-1).  The descriptor, or -1 with errno: ELOOP or ENOTDIR for a
 * symlink or a file where a directory belongs, ENOENT, EACCES...
 */
int	mailpath_open(const struct mailpath *mp, int create, uid_t uid,
	    gid_t gid);

/*
 * The directory that holds mp's Maildir, into parent (walked the same
 * way, up to where mp's walk began), and the Maildir's name in it into
 * base (baselen bytes).  0, or -1 if mp has no parent or base is short.
 */
int	mailpath_parent(const struct mailpath *mp, struct mailpath *parent,
	    char *base, size_t baselen);

#endif
