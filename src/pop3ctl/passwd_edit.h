/*
 * passwd_edit.h - changing the passwd-file (see passwd.h for its format):
 * pure line edits, and the atomic rewrite under a lock that pop3ctl
 * uses.  pop3d never writes the file; its auth process re-reads it when
 * its stat changes, and the rename below always gives a new inode.
 *
 * Crash safety by construction: the new content goes to "<file>.tmp",
 * is fsynced, renamed over "<file>" (atomic on POSIX file systems), and
 * the directory is fsynced.  A crash at any point leaves the old or the
 * new file, never a mix; a stale "<file>.tmp" is ignored by readers and
 * replaced by the next edit.  Writers serialise on an OFD lock on
 * "<file>.lock" (not on the file itself, whose inode the rename
 * replaces).
 */
#ifndef POP3_PASSWD_EDIT_H
#define POP3_PASSWD_EDIT_H

#include <sys/types.h>

#include "buf.h"

enum passwd_edit_op {
	PASSWD_EDIT_ADD,	/* append "user:hash", or with a home
				   "user:hash::::home::" (Dovecot's fields);
				   the user must be new */
	PASSWD_EDIT_SET,	/* replace the hash, keep lock and extra fields */
	PASSWD_EDIT_DEL,	/* remove the user's line */
	PASSWD_EDIT_LOCK,	/* prefix the hash field with '!' */
	PASSWD_EDIT_UNLOCK,	/* remove the '!' */
};

enum passwd_edit_status {
	PASSWD_EDIT_OK,		/* changed (written, for the file functions) */
	PASSWD_EDIT_UNCHANGED,	/* LOCK/UNLOCK of a user already in that state */
	PASSWD_EDIT_NOUSER,	/* SET/DEL/LOCK/UNLOCK of an absent user */
	PASSWD_EDIT_EXISTS,	/* ADD of a present user */
	PASSWD_EDIT_BADFILE,	/* a line does not parse, or a duplicate */
	PASSWD_EDIT_BUSY,	/* the lock was not free within the timeout */
	PASSWD_EDIT_IOERR,	/* reading or writing failed (errno in msg) */
};
const char *passwd_edit_status_str(enum passwd_edit_status);

/*
 * Applies op to text (len bytes, the whole file, called name in
 * messages) and puts the new file
 * into out (which the caller inits, with a max of at least
 * PASSWD_FILE_MAX).  Lines other than the user's are copied byte for
 * byte; a last line without '\n' gets one if a line is appended.  hash
 * is the new hash field without '!' (ADD, SET; ignored otherwise), e.g.
 * "$y$...".  Every line is parsed (passwd_parse_line): a bad one gives
 * BADFILE ("name:line: message"), as does a second line for the user;
 * ADD when the file holds PASSWD_USERS_MAX users already is BADFILE too.
 * *errp is an allocated message (caller frees) for every status but OK.
 * No I/O.
 */
enum passwd_edit_status passwd_edit_text(const char *name,
	    const char *text, size_t len, enum passwd_edit_op op,
	    const char *user, const char *hash, const char *home,
	    struct buf *out, char **errp);

/* Owner and mode of a passwd-file that does not exist yet. */
struct passwd_edit_create {
	uid_t	 uid;
	gid_t	 gid;
	mode_t	 mode;
};

/*
 * Locks "<path>.lock" (waiting up to timeout_ms), reads path (absent:
 * empty, then created with *create's owner and mode; else the old
 * owner and mode are kept), applies passwd_edit_text, and replaces the
 * file as described above.  UNCHANGED writes nothing.  Returns the
 * status; *errp as for passwd_edit_text, naming the file.  Blocks: for
 * command-line tools only.
 */
enum passwd_edit_status passwd_edit_file(const char *path,
	    enum passwd_edit_op op, const char *user, const char *hash,
	    const char *home, const struct passwd_edit_create *create,
	    int timeout_ms, char **errp);

/*
 * Takes the writers' lock on "<path>.lock" (created 0600 if absent),
 * polling for up to timeout_ms.  Returns the lock's fd (closing it
 * releases the lock), or -1 with errno (EWOULDBLOCK: still held by
 * someone else).  passwd_edit_file calls it; tests use it to hold the
 * lock.
 */
int	passwd_edit_lock(const char *path, int timeout_ms);

#endif
