/*
 * md_priv.h - what the maildrop's files share, private to them:
 * maildrop.c (open, scan, lock, the session's view), md_commit.c (the
 * swap commit of QUIT and its purge) and md_trash.c (the directories
 * that commit leaves in tmp/: the manifest, emptying a trash, undoing a
 * swap, the recovery at login).  Worker processes: the commit, trash and
 * recovery on job threads.
 */
#ifndef POP3D_MD_PRIV_H
#define POP3D_MD_PRIV_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

#include "maildrop.h"
#include "pop3_limits.h"

struct maildrop {
	char		*path;		/* the Maildir; opened only when needed,
					   so an idle session holds one fd
					   besides its socket: the lock */
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
};

/* In tmp/: "<pfx><sub>.<unique>", with the swap prefix from the
   exchange until the commit point, then with the trash prefix until the
   purge has emptied it.  A pop3d before the manifest named its trash
   "<trash pfx><unique>". */
#define MD_SWAP_PFX		".pop3d-swap."
#define MD_TRASH_PFX		".pop3d-trash."
#define MD_TMP_PFX		".pop3d-"
/*
 * The manifest, in the old directory from just before the commit point:
 * the names the session deleted there, a line each, then the end line
 * "END <count>".  A dot name, so never a message; a regular file by
 * that name in a swap or trash directory is pop3d's and is removed,
 * never moved back (one that was in new/ or cur/ went back before the
 * manifest was made).  Written and read by md_trash.c.
 */
#define MD_MANIFEST		".pop3d-deleted"
/* Passes over a trash directory whose rmdir finds it not empty: a
   rename that resolved new/ just before the exchange may still land in
   the old directory, until it is removed. */
#define MD_PURGE_PASSES		4
/* "tmp/<pfx><sub>.<unique>" */
#define MD_PATH_MAX		128

/* "new" or "cur": the directory of enum md_sub k. */
#define MD_SUB_NAME(k)		((k) == MD_SUB_NEW ? "new" : "cur")
/* A message's path under the Maildir: "<sub>/<file>". */
#define MD_MSG_PATH_MAX		(POP3_MDNAME_MAX + 5)

/* m's path under the Maildir, into buf (MD_MSG_PATH_MAX bytes). */
const char *md_msg_path(const struct md_msg *m, char *buf);
/* The Maildir of md, opened anew: -1 with errno. */
int	md_open_dir(const struct maildrop *md);
/* What md_trash.c implements. */
#include "md_trash.h"

#endif
