/*
 * mbox_lock.h - the locks pop3fetch holds on an mbox while it reads or
 * writes it: the dotlock PATH.lock, with the takeover of a stale one,
 * and an fcntl write lock on the file itself.
 */
#ifndef FETCH_MBOX_LOCK_H
#define FETCH_MBOX_LOCK_H

#include <sys/stat.h>
#include <sys/types.h>

/* "PID HOST pop3fetch" of our dotlocks. */
#define MBOX_LOCK_TEXT	300

/*
 * The mbox's dotlock, PATH.lock (O_EXCL; procmail, Postfix, liblockfile).
 * It holds "PID HOST pop3fetch\n" (liblockfile reads the PID), and while
 * a message is appended "PID HOST pop3fetch OFFSET\n": where the append
 * began.  A lock whose owner is gone is taken over: its PID does not
 * exist on this host, or (PID not checkable: none, another host) it is
 * older than MBOX_LOCK_STALE, as liblockfile does.  A dead
 * pop3fetch's lock with an OFFSET, still in place, proves that nobody
 * who honours the lock wrote after that offset: what is there is the
 * start of its record, which mbox_repair() (mbox.c) may cut off.
 */
struct mbox_lock {
	char		*path;
	int		 fd;	/* ours, open while held */
	struct stat	 st;	/* of ours: removed only if still ours */
	off_t		 repair;	/* a dead pop3fetch's OFFSET, or -1 */
	int		 notfile;	/* not a file at the path: give up */
	int		 unreplaceable;	/* stale, but rename() failed */
	char		 host[256];	/* ours, without blanks and '/' */
	char		 text[MBOX_LOCK_TEXT];	/* "PID HOST pop3fetch" */
};

/*
 * Takes the dotlock of the mbox at path into l, waiting at most
 * FETCH_LOCK_WAIT seconds for a live owner; l->repair is the OFFSET of
 * the dead pop3fetch whose lock was taken over, or -1.  0, or -1 with
 * *errp allocated.
 */
int	mbox_lock_take(struct mbox_lock *l, const char *mbox, char **errp);
/*
 * 0 if the dotlock is still ours (checked under the fcntl lock before
 * anything is cut or appended), or -1 with *errp allocated.
 */
int	mbox_lock_held(const struct mbox_lock *l, const char *mbox,
	    char **errp);
/* Says in the lock where the append begins (see mbox_lock_take). */
void	mbox_lock_offset(struct mbox_lock *l, off_t off);
/* Drops the dotlock: removed only if the path is still our file. */
void	mbox_lock_drop(struct mbox_lock *l);
/* fcntl write lock on fd, waiting at most FETCH_LOCK_WAIT seconds. */
int	mbox_lock_fcntl(int fd);

#endif
