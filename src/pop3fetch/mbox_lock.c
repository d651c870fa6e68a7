/*
 * mbox_lock.c - pop3fetch's locks on an mbox: the dotlock PATH.lock
 * (written whole under a name of its own, then linked; "PID HOST
 * pop3fetch" and, during an append, its OFFSET), judging a held lock
 * stale (its PID gone or another program's, or by its age when the owner
 * cannot be checked), taking a stale one over in one rename(), and the
 * fcntl write lock on the mbox.  What a dead run's OFFSET allows is
 * mbox.c's (mbox_repair).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox_lock.h"
#include "pop3_limits.h"
#include "xmalloc.h"

/*
 * A dotlock whose owner cannot be checked (no PID, another host) is
 * stale after this long (liblockfile: 5 minutes).
 */
#define MBOX_LOCK_STALE	300

/* Our HOST and "PID HOST pop3fetch" into l. */
static void
mbox_lock_text(struct mbox_lock *l)
{
	size_t	 i;

	if (gethostname(l->host, sizeof(l->host)) == -1 ||
	    l->host[0] == '\0')
		strcpy(l->host, "localhost");
	l->host[sizeof(l->host) - 1] = '\0';
	for (i = 0; l->host[i] != '\0'; i++)
		if (l->host[i] <= ' ' || l->host[i] == 0x7f ||
		    l->host[i] == '/')
			l->host[i] = '_';
	snprintf(l->text, sizeof(l->text), "%ld %s pop3fetch",
	    (long)getpid(), l->host);
}

/* 1 if the lock examined as *st is older than the bound (see below). */
static int
mbox_lock_old(const struct mbox_lock *l, const struct stat *st)
{
	return st->st_mtime + MBOX_LOCK_STALE < l->st.st_mtime;
}

/*
 * Whether the live process pid is some other program than pop3fetch (its
 * /proc/PID/comm): then a pop3fetch lock naming it is from before a
 * reboot, its PID reused.  0 when it is a pop3fetch or cannot be told.
 */
static int
mbox_lock_pid_other(pid_t pid)
{
	char	 path[64], comm[32];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "pop3fetch") != 0;
}

/*
 * Whether the lock at l->path, examined as *st, is stale (1) or held (0);
 * -1 if it is gone (try again at once), or with l->notfile set if it
 * is neither a file nor a symbolic link (a FIFO would block a plain open
 * for reading, and nobody can replace a directory).  *off is the OFFSET
 * of a dead pop3fetch's append, or -1.
 *
 * A lock whose owner can be checked (its PID, written on this host or
 * with no host, as liblockfile writes it) is stale only when that PID
 * does not exist, or (a pop3fetch lock) belongs to another program: a
 * pop3fetch killed by a power loss names a PID that another process may
 * have after the reboot.  A live owner keeps it whatever its age (it may be in
 * a long append that does not touch the lock, or the clock stepped), as
 * liblockfile does.  Only a lock whose owner cannot be checked is stale
 * by its age, measured on the file system's clock: against the mtime of
 * the file mbox_lock_try() just created (l->st), not time(), as the lock
 * may live on another machine's disk.  A lock that cannot be read (a
 * symbolic link, another user's file) has no owner we can check either:
 * judged by its age, with no OFFSET.
 */
static int
mbox_lock_stale(struct mbox_lock *l, struct stat *st, off_t *off)
{
	char		 buf[MBOX_LOCK_TEXT + 32], host[256], tag[16];
	long		 pid;
	long long	 o;
	ssize_t		 n;
	struct stat	 fst;
	int		 fd, k, stale;

	*off = -1;
	if (lstat(l->path, st) == -1)
		return -1;
	if (!S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode)) {
		l->notfile = 1;
		return -1;
	}
	/* O_NONBLOCK: a FIFO put there since the lstat() does not block. */
	if ((fd = open(l->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return -1;
		goto unreadable;
	}
	if (fstat(fd, &fst) == -1 || fst.st_dev != st->st_dev ||
	    fst.st_ino != st->st_ino) {
		close(fd);
		errno = ENOENT;		/* replaced since: look again */
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n == -1)
		goto unreadable;
	buf[n] = '\0';
	k = sscanf(buf, "%ld %255s %15s %lld", &pid, host, tag, &o);
	if (k >= 1 && pid > 0 && (long)(pid_t)pid == pid &&
	    (k == 1 || strcmp(host, l->host) == 0))
		/* Our own PID: a lock from before a reboot (we hold none). */
		stale = (pid_t)pid == getpid() || (kill((pid_t)pid, 0) == -1 &&
		    errno == ESRCH) || (k >= 3 && strcmp(tag, "pop3fetch") ==
		    0 && mbox_lock_pid_other((pid_t)pid));
	else
		stale = mbox_lock_old(l, st);
	/* Only a lock of our user can speak for a run of ours. */
	if (stale && k == 4 && strcmp(tag, "pop3fetch") == 0 && o >= 0 &&
	    st->st_uid == geteuid())
		*off = (off_t)o;
	return stale;
 unreadable:
	return mbox_lock_old(l, st);
}

/*
 * Our lock file, written whole under a name of its own
 * (PATH.lock.HOST.PID, unique on a shared file system too),
 * so the lock never exists without its text: a kill between creating it
 * and writing the PID would leave a lock nobody could judge for 5
 * minutes.  With off >= 0 (a dead run's OFFSET we take over) the text
 * says it at once: killed before our repair, we leave the proof on.
 * Sets l->fd, l->st and *tmp.  0, or -1 with errno.
 */
static int
mbox_lock_tmp(struct mbox_lock *l, char **tmp, off_t off)
{
	int	 saved, n;

	xasprintf(tmp, "%s.%s.%ld", l->path, l->host, (long)getpid());
	l->fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	/* One a killed process of the same PID left. */
	if (l->fd == -1 && errno == EEXIST && unlink(*tmp) == 0)
		l->fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (l->fd == -1)
		goto fail;
	if (off >= 0)
		n = dprintf(l->fd, "%s %lld\n", l->text, (long long)off);
	else
		n = dprintf(l->fd, "%s\n", l->text);
	if (n < 0 || fstat(l->fd, &l->st) == -1) {
		saved = errno;
		close(l->fd);
		l->fd = -1;
		(void)unlink(*tmp);
		errno = saved;
		goto fail;
	}
	return 0;
 fail:
	free(*tmp);
	*tmp = NULL;
	return -1;
}

/*
 * One attempt at the lock: our file linked to PATH.lock (link() fails if
 * it exists; a file system without hard links gets an O_EXCL create
 * and the text written after).  0 taken, -1 with errno (EEXIST: held).
 */
static int
mbox_lock_try(struct mbox_lock *l)
{
	char	*tmp;
	int	 r, saved;

	if (mbox_lock_tmp(l, &tmp, -1) == -1)
		return -1;
	r = link(tmp, l->path);
	saved = errno;
	(void)unlink(tmp);
	free(tmp);
	if (r == 0)
		return 0;
	close(l->fd);
	l->fd = -1;
	if (saved != EPERM && saved != ENOSYS && saved != EOPNOTSUPP) {
		errno = saved;
		return -1;
	}
	l->fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (l->fd == -1)
		return -1;
	if (dprintf(l->fd, "%s\n", l->text) < 0 ||
	    fstat(l->fd, &l->st) == -1) {
		saved = errno;
		close(l->fd);
		l->fd = -1;
		(void)unlink(l->path);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * Replaces the stale lock examined as *st with ours in one rename(), so
 * the path never stops existing and no third process can slip in; only
 * another taker of the same stale lock can race us: the loser finds,
 * under the mbox's fcntl lock, that the dotlock is no longer its own
 * (mbox_lock_ours) and writes nothing.  off: the dead run's OFFSET, or -1.
 * 0, or -1 with errno (EAGAIN: the lock changed since it was examined).
 */
static int
mbox_lock_replace(struct mbox_lock *l, const struct stat *st, off_t off)
{
	struct stat	 now;
	char		*tmp;

	int		 r = -1, saved;

	if (mbox_lock_tmp(l, &tmp, off) == -1)
		return -1;
	if (lstat(l->path, &now) == -1 || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino)
		errno = EAGAIN;
	else
		r = rename(tmp, l->path);
	if (r == -1) {
		saved = errno;
		close(l->fd);
		l->fd = -1;
		(void)unlink(tmp);
		errno = saved;
	}
	free(tmp);
	return r;
}

/*
 * Takes the dotlock of mbox, waiting at most FETCH_LOCK_WAIT seconds (of
 * the monotonic clock) for a live owner.  0, or -1 with errno
 * (EWOULDBLOCK: still held; l->unreplaceable: stale, but rename() failed).
 */
static int
mbox_lock_wait(struct mbox_lock *l, const char *mbox)
{
	struct stat	 st;
	struct timespec	 now;
	time_t		 end;
	off_t		 off;
	int		 r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->repair = -1;
	xasprintf(&l->path, "%s.lock", mbox);
	mbox_lock_text(l);
	clock_gettime(CLOCK_MONOTONIC, &now);
	end = now.tv_sec + FETCH_LOCK_WAIT;
	for (;;) {
		if (mbox_lock_try(l) == 0)
			return 0;
		if (errno != EEXIST)
			break;
		r = mbox_lock_stale(l, &st, &off);
		if (r == -1 && l->notfile)
			break;
		if (r == 1 && mbox_lock_replace(l, &st, off) == 0) {
			l->repair = off;
			if (off == -1)
				log_warn("%s: taking over the stale lock",
				    l->path);
			return 0;
		}
		if (r == 1 && errno != EAGAIN && errno != ENOENT) {
			l->unreplaceable = 1;	/* EPERM: a sticky directory */
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec >= end) {
			errno = EWOULDBLOCK;
			break;
		}
		if (r == -1 && errno == ENOENT)
			continue;	/* just released */
		usleep(100000);
	}
	free(l->path);
	l->path = NULL;
	return -1;
}

int
mbox_lock_take(struct mbox_lock *l, const char *mbox, char **errp)
{
	if (mbox_lock_wait(l, mbox) == 0)
		return 0;
	if (l->notfile)
		xasprintf(errp, "mbox %s: dotlock %s.lock: not a regular file "
		    "(remove it by hand)", mbox, mbox);
	else if (l->unreplaceable)
		xasprintf(errp, "mbox %s: dotlock %s.lock: stale, but cannot "
		    "be replaced: %s", mbox, mbox, strerror(errno));
	else if (errno == EWOULDBLOCK)
		xasprintf(errp, "mbox %s: dotlock %s.lock: held by another "
		    "process (waited %d s)", mbox, mbox, FETCH_LOCK_WAIT);
	else
		xasprintf(errp, "mbox %s: dotlock %s.lock: %s", mbox, mbox,
		    strerror(errno));
	return -1;
}

/* Says in the lock where the append begins (see struct mbox_lock). */
void
mbox_lock_offset(struct mbox_lock *l, off_t off)
{
	char	 buf[MBOX_LOCK_TEXT + 32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%s %lld\n", l->text, (long long)off);
	if (n > 0 && (size_t)n < sizeof(buf) &&
	    pwrite(l->fd, buf, (size_t)n, 0) == n)
		(void)ftruncate(l->fd, n);	/* a shorter OFFSET than before */
}

/*
 * 1 if the dotlock is still our file.  Checked under the mbox's fcntl
 * lock before anything is cut or appended: whoever replaced or removed
 * our lock in the meantime (it was judged stale: we were stopped for
 * minutes, or two takers raced) may have written since, so a dead run's
 * OFFSET proves nothing any more, and we do not hold the lock we would
 * write under.  Our open fd keeps the inode, so its number is not reused.
 */
static int
mbox_lock_ours(const struct mbox_lock *l)
{
	struct stat	 now;

	return lstat(l->path, &now) == 0 && now.st_dev == l->st.st_dev &&
	    now.st_ino == l->st.st_ino;
}

/* The error of a run whose dotlock was taken from it (see mbox_lock_ours). */
int
mbox_lock_held(const struct mbox_lock *l, const char *mbox, char **errp)
{
	if (mbox_lock_ours(l))
		return 0;
	xasprintf(errp, "mbox %s: dotlock %s.lock: no longer ours (another "
	    "process took it over while we waited for the mbox): nothing "
	    "written, the next run tries again", mbox, mbox);
	return -1;
}

/* Drops the dotlock: removed only if the path is still our file. */
void
mbox_lock_drop(struct mbox_lock *l)
{
	if (l->path == NULL)
		return;
	if (mbox_lock_ours(l))
		(void)unlink(l->path);
	close(l->fd);
	free(l->path);
	l->path = NULL;
}

/* fcntl write lock on fd, waiting at most FETCH_LOCK_WAIT seconds. */
int
mbox_lock_fcntl(int fd)
{
	struct flock	 fl;
	int		 i;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (i = 0; i < FETCH_LOCK_WAIT * 10; i++) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES)
			return -1;
		usleep(100000);
	}
	errno = EWOULDBLOCK;
	return -1;
}
