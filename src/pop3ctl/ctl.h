/*
 * ctl.h - what pop3ctl's files share: the sub-command entry points
 * (user.c, deliver.c, check.c, migrate.c, stats.c), password input and policy
 * (password.c) and the helpers in ctl.c.  pop3ctl is a command-line tool: its
 * functions print their own messages and return sysexits(3) codes.
 */
#ifndef POP3CTL_CTL_H
#define POP3CTL_CTL_H

#include <sys/types.h>

#include "pop3d_config.h"

/* Each takes the config path and the arguments after the sub-command. */
int	user_main(const char *conf, int argc, char *argv[]);
int	deliver_main(const char *conf, int argc, char *argv[]);
int	check_main(const char *conf, int argc, char *argv[]);
int	migrate_main(const char *conf, int argc, char *argv[]);
int	stats_main(const char *conf, int argc, char *argv[]);

/*
 * Loads pop3d's config, printing every error ("file:line: key: ...") to
 * stderr.  Returns 0, or -1 (cfg freed).
 */
int	ctl_config(const char *path, struct config *cfg);

/* "pop3ctl: " + message on stderr. */
void	ctl_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* The uid and primary gid of a user name; 0, or -1 if unknown. */
int	ctl_user_ids(const char *name, uid_t *uid, gid_t *gid);

struct mailpath;
/*
 * Where user's Maildir is (cfg's mail_path; mailpath.h), reading the
 * passwd-file for the home if the template uses it.  0, or -1 after a
 * message, with *nouser set if the passwd-file has no such user.
 */
int	ctl_mailpath(const struct config *cfg, const char *user,
	    struct mailpath *mp, int *nouser);

/*
 * Becomes the mail user (cfg->user, never root) for good, from root:
 * groups, gid and uid.  0, or -1 after a message naming cmd.
 */
int	ctl_become_mail_user(const struct config *cfg, const char *cmd);

/*
 * A new password for user into pw (POP3_SECRET_MAX + 1 bytes): read from
 * stdin (one line) if from_stdin, else from /dev/tty without echo, asked
 * twice.  Checks it against the [password] policy (libpwquality) and
 * prints the reason of a refusal.  Returns 0, or a sysexits code
 * (EX_DATAERR refused, EX_CONFIG dictionary missing; pw wiped).  The caller explicit_bzero()s pw after use.
 */
int	password_read(const struct config *cfg, const char *user,
	    int from_stdin, char *pw, size_t pwlen);

/*
 * The libpwquality check alone: 0; -1 with the reason in plain words in
 * why (whylen bytes); or -2 when the policy cannot be applied (cracklib's
 * dictionary does not load), why naming the package and the keys.
 */
int	password_check(const struct config *cfg, const char *user,
	    const char *pw, char *why, size_t whylen);

#endif
