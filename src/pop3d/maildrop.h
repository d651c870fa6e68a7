/*
 * maildrop.h - one user's Maildir as a POP3 maildrop for one session:
 * the exclusive lock, the message list fixed at login, the marks of
 * DELE, and the commit of QUIT.  maildrop_open() and maildrop_commit()
 * block on the disk and run on the worker's job threads; the rest is
 * cheap and runs on the loop thread.  maildrop.c implements it, with
 * the commit in md_commit.c and md_trash.c, and RFC 2449 EXPIRE (the
 * retrieval marks, the expiry at login) in md_expire.c (md_priv.h).
 */
#ifndef POP3D_MAILDROP_H
#define POP3D_MAILDROP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pop3_limits.h"

/* The inbox: a message is in new/ or cur/ of the Maildir. */
enum md_sub {
	MD_SUB_NEW,
	MD_SUB_CUR,
};

/*
 * A message, as its name was parsed at login (maildir_name_parse): what
 * the commands need of the parse, kept small, as a maildrop may hold
 * POP3_MAILDROP_MAX of them.  The name is untrusted (whoever can
 * deliver chooses it).
 */
struct md_msg {
	char		*file;		/* the file name in sub, owned */
	uint64_t	 size;		/* CRLF size, what LIST says */
	uint32_t	 dots;		/* lines starting with '.' (,D=), if wire */
	uint8_t		 sub;		/* enum md_sub */
	uint8_t		 wire;		/* the name says the file is wire form
					   (,S= equal to ,W=, and a ,D= that
					   fits dots): its bytes are RETR's
					   answer, but for the dots to stuff,
					   if it still has that size */
	uint8_t		 deleted;
	uint8_t		 retrieved;	/* MD_RETR_* bits */
};
/* md_msg.retrieved */
#define MD_RETR_MARKED	0x01	/* the name carries a retrieval mark (,R=) */
#define MD_RETR_SESSION	0x02	/* this session's RETR sent it */
/* As many as POP3_MAILDROP_MAX in memory: a field more costs that many. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct md_msg) <= 24,
    "struct md_msg grew");

/* One session's maildrop; the fields are the maildrop files' (md_priv.h). */
struct maildrop;

enum md_fail {
	MD_FAIL_TEMP,	/* may work later: I/O error, out of fds, no space */
	MD_FAIL_PERM,	/* will not work until an admin acts: permissions,
			   a file or a symlink where a directory should be */
	MD_FAIL_INUSE,	/* another session holds the lock */
};

struct mailpath;
/*
 * Opens the Maildir mp names for user (creating what mailpath_open may
 * create, and new/ cur/ tmp/, if it does not exist; refusing one that
 * is not owned by the mail user, pop3d's euid), takes the lock, finishes what a commit that died left in tmp/
 * (a swap directory goes back into new/ or cur/, an abandoned trash
 * directory is emptied as its manifest says), and reads the message
 * list, in delivery order.  uidl_format not NULL (pop3_uidl_format):
 * where the Maildir holds Dovecot's dovecot-uidlist, the messages it
 * lists come first, in Dovecot's POP3 order, with the UIDLs Dovecot gave
 * (md_dovecot.h); a list that cannot be read fails the open
 * (MD_FAIL_TEMP, logged with its line).
 * Otherwise Courier's courierpop3dsizelist, if the Maildir has one, gives
 * the UIDLs Courier gave (md_courier.h; one it cannot read fails the
 * open, MD_FAIL_TEMP, rather than give its messages new UIDLs).
 * Returns the maildrop, or NULL with *errstr and *why.  Blocking.
 */
struct maildrop	*maildrop_open(const struct mailpath *mp, const char *user,
		    const char **errstr, enum md_fail *why,
		    const char *uidl_format);
/*
 * RFC 2449 EXPIRE (md_expire.c), right after maildrop_open(), before
 * the list is shown: sets the session's policy, days (0 to
 * EXPIRE_DAYS_MAX, or EXPIRE_NEVER, the default), and removes, from
 * the disk and from the list, every message whose retrieval mark is
 * at least days * 86400 seconds before now (unlinked, then new/ and
 * cur/ fsynced).  An unmarked message never goes.  Returns how many;
 * *failed counts those that could not be removed (they stay listed).
 * Blocking; worker job threads.
 */
size_t		 maildrop_expire(struct maildrop *, int days, time_t now,
		    size_t *failed);
/* The policy maildrop_expire() set: days, or EXPIRE_NEVER. */
int		 maildrop_expire_days(const struct maildrop *);
/* RETR of message i (0-based, exists) is answered: MD_RETR_SESSION. */
void		 maildrop_retr(struct maildrop *, size_t i);
/*
 * QUIT has something to write: deletions, or, under a policy, messages
 * retrieved (marks to record, or EXPIRE 0's implicit DELEs).  Cheap.
 */
int		 maildrop_dirty(const struct maildrop *);
/*
 * Removes the messages marked deleted, durably: on return QUIT may be
 * answered.  Under EXPIRE 0 the messages the session retrieved are
 * marked deleted first (RFC 2449: an implicit DELE at UPDATE); under a
 * policy of days > 0, after the deletions, each message the session
 * retrieved that has no retrieval mark gets one (md_expire.c).  Where the session deleted nearly all of new/ or cur/, the
 * directory is swapped for an empty one (pop3d(8), UPDATE) and the old
 * files are unlinked afterwards by a job it queues (jobs_submit), which
 * takes over the message list; otherwise, or when the swap finds no
 * room (a full disk), one unlink per message.
 * Returns the number removed; *failed counts those that could not be
 * (a file already gone counts as removed).  Blocking; worker job
 * threads only.  Afterwards only maildrop_free() may be called.
 */
size_t		 maildrop_commit(struct maildrop *, size_t *failed);
/* Closes everything, releasing the lock; NULLs the caller's pointer. */
void		 maildrop_free(struct maildrop **);

/*
 * The session's view: message numbers are 0-based indexes here, into
 * the list fixed at login, deleted messages included.  Cheap, no I/O,
 * the loop thread.  Message pointers stay valid until maildrop_commit()
 * or maildrop_free().
 */
enum md_msg_state {
	MD_MSG_OK,
	MD_MSG_NONE,		/* no such message */
	MD_MSG_DELETED,		/* marked deleted */
};
/* All messages, deleted ones included: the indexes are 0..this-1. */
size_t		 maildrop_count(const struct maildrop *);
/* The messages not marked deleted and their size in octets (STAT). */
void		 maildrop_stat(const struct maildrop *, size_t *count,
		    uint64_t *size);
/* Messages marked deleted: none, and QUIT has nothing to commit. */
size_t		 maildrop_ndeleted(const struct maildrop *);
/* Sizes the open had to compute by reading (names without ,W=). */
size_t		 maildrop_sized(const struct maildrop *);
/* Message i, into *mp (if not NULL) unless MD_MSG_NONE. */
enum md_msg_state maildrop_msg(const struct maildrop *, size_t i,
		    const struct md_msg **mp);
/* The whole list, *n entries (LIST and UIDL walk it). */
const struct md_msg *maildrop_msgs(const struct maildrop *, size_t *n);
/* Marks message i deleted: MD_MSG_OK, or why not (nothing changed). */
enum md_msg_state maildrop_dele(struct maildrop *, size_t i);
/* Unmarks every message (RSET). */
void		 maildrop_rset(struct maildrop *);

/* Opens message i (0-based) for reading; -1 with errno if it is gone.
   The first call opens the Maildir too, kept until maildrop_free(). */
int		 maildrop_open_msg(struct maildrop *, size_t i);
/* UIDL of message i into out (POP3_UIDL_MAX + 1 bytes): Dovecot's or
   Courier's where the open found one, else maildir_uidl()'s. */
void		 maildrop_uidl(const struct maildrop *, size_t i, char *out);

#endif
