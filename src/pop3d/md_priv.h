/*
 * md_priv.h - what the maildrop's files share, private to them:
 * maildrop.c (open, scan, lock, the session's view), md_commit.c (the
 * swap commit of QUIT and its purge), md_trash.c (the directories
 * that commit leaves in tmp/: the manifest, emptying a trash, undoing a
 * swap, the recovery at login) and md_expire.c (RFC 2449 EXPIRE).  Worker processes: the commit, trash and
 * recovery on job threads.
 */
#ifndef POP3D_MD_PRIV_H
#define POP3D_MD_PRIV_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "maildrop.h"
#include "pop3_limits.h"

struct maildrop {
	char		*path;		/* the Maildir; opened only when needed,
					   so an idle session holds one fd
					   besides its socket: the lock */
	size_t		 walk;		/* path + walk on is opened without
					   following symlinks (mailpath.h) */
	dev_t		 dev;		/* the Maildir locked at login: a */
	ino_t		 ino;		/* reopen must find the same one */
	int		 lockfd;	/* holds the OFD lock while open */
	int		 dirfd;		/* the Maildir, from the first message
					   read on (-1 before): a RETR then
					   opens its file in one openat */
	struct md_msg	*msgs;
	size_t		 n;
	size_t		 ndel;
	uint64_t	 size;		/* of all messages */
	uint64_t	 delsize;	/* of the deleted ones */
	size_t		 sized;		/* sizes we had to compute (no ,W=) */
	int		 expire_days;	/* the session's EXPIRE policy, or
					   EXPIRE_NEVER */
	size_t		 nretr;		/* messages with MD_RETR_SESSION */
	char		**uidls;	/* nuidls entries: message i's UIDL
					   where it is not maildir_uidl()'s
					   (Dovecot's or Courier's, or made
					   distinct), else NULL; only with a
					   dovecot-uidlist or courierpop3dsizelist */
	size_t		 nuidls;	/* the count at open; commit empties
					   msgs, not this */
};

/* "new" or "cur": the directory of enum md_sub k. */
#define MD_SUB_NAME(k)		((k) == MD_SUB_NEW ? "new" : "cur")
/* A message's path under the Maildir: "<sub>/<file>". */
#define MD_MSG_PATH_MAX		(POP3_MDNAME_MAX + 5)

/* m's path under the Maildir, into buf (MD_MSG_PATH_MAX bytes). */
const char *md_msg_path(const struct md_msg *m, char *buf);
/* The Maildir of md, opened anew: -1 with errno. */
int	md_open_dir(const struct maildrop *md);
/*
 * file with ",<key>=<v>" inserted before its ':' info (at the end if it
 * has none), into out (POP3_MDNAME_MAX + 1 bytes): the unique part, and
 * so the UIDL, stays.  0, or -1 if the name would be too long.
 */
int	md_name_with(const char *file, char key, uint64_t v, char *out);
/* md_expire.c, for maildrop_commit(): before it, EXPIRE 0's implicit
   DELEs; after the deletions, the retrieval marks (dirfd: the Maildir). */
void	md_expire_quit(struct maildrop *md);
void	md_mark_retrieved(struct maildrop *md, int dirfd);
/* What md_trash.c implements. */
#include "md_trash.h"

#endif
