/*
 * maildrop.c - a Maildir as a POP3 maildrop (DESIGN.md "Maildrop").
 * new/ and cur/ are the inbox, tmp/ is never read by Maildir readers
 * (pop3d keeps the directories of its swap commit there).  The lock is
 * an OFD lock on ".pop3d.lock" in the Maildir, so sessions in different
 * workers, and servers sharing the storage, agree.  Worker processes:
 * open, commit and the purge after a commit on job threads, the rest on
 * the loop thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "dot.h"
#include "fsutil.h"
#include "jobs.h"
#include "log.h"
#include "maildir.h"
#include "maildrop.h"
#include "strhash.h"
#include "xmalloc.h"

#define MD_LOCKFILE	".pop3d.lock"
#define MD_READ_CHUNK	(64 * 1024)

/*
 * The swap commit (maildrop_commit): when a session deletes nearly all
 * of new/ or cur/, one exchange of the directory with an empty one
 * replaces an unlink per message, and the old files are removed after
 * QUIT is answered.  Below MD_SWAP_MIN deletions the unlink loop is as
 * cheap as the swap's extra directory fsyncs; above deleted /
 * MD_SWAP_KEEP_DIV kept messages, renaming them back (a rename costs
 * about an unlink) eats the gain.
 */
#define MD_SWAP_MIN		256
#define MD_SWAP_KEEP_DIV	8
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
 * manifest was made).  At most a line per message a maildrop may hold;
 * written MD_MANIFEST_CHUNK bytes at a time.
 */
#define MD_MANIFEST		".pop3d-deleted"
#define MD_MANIFEST_END		"END "
#define MD_MANIFEST_MAX		((off_t)POP3_MAILDROP_MAX * \
				    (POP3_MDNAME_MAX + 1) + 32)
#define MD_MANIFEST_CHUNK	(64 * 1024)
/* Passes over a trash directory whose rmdir finds it not empty: a
   rename that resolved new/ just before the exchange may still land in
   the old directory, until it is removed. */
#define MD_PURGE_PASSES		4
/* Entries a purge job handles before it lets other jobs have the
   thread: some 10 ms of unlinks. */
#define MD_PURGE_SLICE		2048
#define MD_PATH_MAX		128

struct scan_ent {
	char			*name;	/* "new/x" or "cur/x" */
	struct maildir_name	 mn;
	uint64_t		 size;
};

static int
lock_maildrop(int dirfd, int *inuse)
{
	struct flock	fl;
	int		fd;

	fd = openat(dirfd, MD_LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			*inuse = 1;
		close(fd);
		return -1;
	}
	return fd;
}

/* CRLF size by reading the file: for names without ,W=. */
static int
compute_size(int dirfd, const char *name, uint64_t *out)
{
	unsigned char	 buf[MD_READ_CHUNK];
	ssize_t		 n;
	uint64_t	 total = 0;
	int		 fd, st = 0;

	/* O_NONBLOCK: a FIFO put in the maildrop must not stop the thread. */
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += dot_crlf_size(buf, (size_t)n, &st);
	close(fd);
	if (n == -1)
		return -1;
	*out = total;
	return 0;
}

/*
 * Caches a computed size in the name, as our LDA writes it: inserts
 * ",W=<n>" before the ':' info.  The unique part, and so the UIDL, does
 * not change.  Failure is harmless: the size is computed again next time.
 */
static void
cache_size(int dirfd, struct scan_ent *e)
{
	char		 nname[POP3_MDNAME_MAX + 8];
	const char	*colon;
	size_t		 pre;
	int		 n;

	colon = strchr(e->name + 4, ':');
	pre = colon != NULL ? (size_t)(colon - e->name) : strlen(e->name);
	n = snprintf(nname, sizeof(nname), "%.*s,W=%llu%s", (int)pre, e->name,
	    (unsigned long long)e->size, colon != NULL ? colon : "");
	if (n < 0 || (size_t)n >= sizeof(nname) || strlen(nname + 4) >
	    POP3_MDNAME_MAX)
		return;
	if (renameat(dirfd, e->name, dirfd, nname) == 0) {
		free(e->name);
		e->name = xstrdup(nname);
	}
}

/*
 * Reads the names in new/ or cur/ first and only then computes missing
 * sizes: renaming a file to cache its size while readdir() walks the
 * same directory could show it twice.
 */
static int
scan_dir(int dirfd, const char *sub, struct scan_ent **v, size_t *n,
    size_t *cap, size_t *sized)
{
	DIR		*d;
	struct dirent	*de;
	struct scan_ent	 e;
	char		 path[POP3_MDNAME_MAX + 8];
	size_t		 first = *n, i, k;
	int		 fd;

	if ((fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (maildir_name_parse(de->d_name, &e.mn) == -1)
			continue;
		if (*n >= POP3_MAILDROP_MAX) {
			log_warn("maildrop holds more than %d messages; "
			    "serving the first", POP3_MAILDROP_MAX);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
		e.name = xstrdup(path);
		e.size = e.mn.wsize;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = xreallocarray(*v, *cap, sizeof(**v));
		}
		(*v)[(*n)++] = e;
	}
	closedir(d);

	for (i = k = first; i < *n; i++) {
		e = (*v)[i];
		if (!e.mn.has_wsize) {
			if (compute_size(dirfd, e.name, &e.size) == -1) {
				/* Gone meanwhile, or a directory: not a message. */
				free(e.name);
				continue;
			}
			(*sized)++;
			cache_size(dirfd, &e);
		}
		(*v)[k++] = e;
	}
	*n = k;
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct scan_ent *x = a, *y = b;

	return maildir_name_cmp(x->name + 4, &x->mn, y->name + 4, &y->mn);
}

/* ------------------------------------------------------------ swap commit */

/*
 * The deleted names of one subdirectory, for the swap commit: open
 * addressing over borrowed keys (the file part of md_msg.name), at most
 * half full, so every probe sequence ends at an empty slot.
 */
struct nameset {
	const char	**slot;
	size_t		  mask;
};

static void
nameset_init(struct nameset *s, size_t n)
{
	size_t	cap = 16;

	while (cap < n * 2)
		cap *= 2;
	s->slot = xcalloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
}

static void
nameset_add(struct nameset *s, const char *name)
{
	size_t	i;

	for (i = strhash(name) & s->mask; s->slot[i] != NULL;
	    i = (i + 1) & s->mask)
		if (strcmp(s->slot[i], name) == 0)
			return;
	s->slot[i] = name;
}

/* s NULL or empty: nothing is in it. */
static int
nameset_has(const struct nameset *s, const char *name)
{
	size_t	i;

	if (s == NULL || s->slot == NULL)
		return 0;
	for (i = strhash(name) & s->mask; s->slot[i] != NULL;
	    i = (i + 1) & s->mask)
		if (strcmp(s->slot[i], name) == 0)
			return 1;
	return 0;
}

static void
nameset_clear(struct nameset *s)
{
	free(s->slot);
	s->slot = NULL;
}

static int
open_subdir(int dirfd, const char *path)
{
	return openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
}

/* A DIR on a copy of fd, from the start; fd stays the caller's. */
static DIR *
opendir_fd(int fd)
{
	DIR	*d;
	int	 fd2;

	if ((fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return NULL;
	if ((d = fdopendir(fd2)) == NULL) {
		close(fd2);
		return NULL;
	}
	rewinddir(d);
	return d;
}

static int
is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' ||
	    (name[1] == '.' && name[2] == '\0'));
}

/*
 * Renames every entry of the directory fromfd that is not in del into
 * tofd, counting them in *moved.  del NULL: every entry, undoing a swap,
 * whose manifest is unlinked instead.  Stops at the first that cannot
 * be moved and returns -1 (errno set, the entry and the rest stay where
 * they are); an entry gone meanwhile is skipped.  The loop ends:
 * entries only leave fromfd, except the few renames into it that
 * resolved its path before it moved.
 */
static int
move_back(int fromfd, int tofd, const struct nameset *del, size_t *moved)
{
	struct dirent	*de;
	DIR		*d;
	int		 e;

	if ((d = opendir_fd(fromfd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (is_dot(de->d_name) || nameset_has(del, de->d_name))
			continue;
		if (del == NULL && strcmp(de->d_name, MD_MANIFEST) == 0 &&
		    unlinkat(fromfd, de->d_name, 0) == 0)
			continue;
		if (rename_noreplace(fromfd, de->d_name, tofd, de->d_name) == 0)
			(*moved)++;
		else if (errno != ENOENT) {
			e = errno;
			log_warn("maildrop commit: cannot move %s back: %s",
			    de->d_name, strerror(e));
			closedir(d);
			errno = e;
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/*
 * Emptying a trash directory: fd (at path under basefd), on which the
 * owner holds flock(LOCK_EX), telling a recovering login that someone
 * is at it.  backfd != -1: entries not in del (NULL: every entry; mail
 * that reached the old directory after the commit had read it) are
 * renamed into backfd, the subdirectory named in path, instead of
 * unlinked; if one cannot be, the trash is renamed back to a swap
 * directory of it, which the next login's recovery moves back.  The
 * manifest goes last, after a pass that left nothing it could not
 * remove: a purge that dies or gives up before leaves it for the next
 * login's recovery.  Bounded:
 * MD_PURGE_PASSES readdir passes at most.  who names the maildrop in
 * the log.
 */
struct trash {
	int			 basefd;
	const char		*path;
	int			 fd;
	int			 backfd;
	const struct nameset	*del;
	const char		*who;
	DIR			*d;	/* the pass under way */
	int			 pass;
	int			 stuck;
	int			 left;	/* an unlink failed in this pass */
	size_t			 removed;
	size_t			 moved;
};

static void
trash_init(struct trash *t, int basefd, const char *path, int fd,
    int backfd, const struct nameset *del, const char *who)
{
	memset(t, 0, sizeof(*t));
	t->basefd = basefd;
	t->path = path;
	t->fd = fd;
	t->backfd = backfd;
	t->del = del;
	t->who = who;
}

/*
 * The subdirectory a directory of tmp/ named "<pfx><sub>.<unique>"
 * belongs to: "new" or "cur"; NULL for any other name (an old-style
 * trash directory "<pfx><unique>" among them).
 */
static const char *
tmp_sub(const char *name, const char *pfx)
{
	if (strncmp(name, pfx, strlen(pfx)) != 0)
		return NULL;
	name += strlen(pfx);
	if (strncmp(name, "new.", 4) == 0)
		return "new";
	if (strncmp(name, "cur.", 4) == 0)
		return "cur";
	return NULL;
}

/* Renames the trash "<trash pfx><sub>.<u>" back to "<swap pfx><sub>.<u>". */
static void
trash_unswap(struct trash *t)
{
	char		 swap[MD_PATH_MAX];
	const char	*base;

	base = strrchr(t->path, '/') != NULL ? strrchr(t->path, '/') + 1 :
	    t->path;
	if (tmp_sub(base, MD_TRASH_PFX) != NULL &&
	    snprintf(swap, sizeof(swap), "%.*s%s%s", (int)(base - t->path),
	    t->path, MD_SWAP_PFX, base + strlen(MD_TRASH_PFX)) <
	    (int)sizeof(swap))
		(void)renameat(t->basefd, t->path, t->basefd, swap);
}

/*
 * Handles up to budget entries.  Returns 1 while there is more to do,
 * 0 when finished: the directory removed, or given up (logged).
 */
static int
trash_step(struct trash *t, size_t budget)
{
	struct dirent	*de;
	int		 err = 0;

	for (;;) {
		if (t->d == NULL) {
			if (t->pass == MD_PURGE_PASSES) {
				err = ENOTEMPTY;
				break;
			}
			if ((t->d = opendir_fd(t->fd)) == NULL) {
				err = errno;
				break;
			}
			t->left = 0;
		}
		for (;;) {
			if (budget == 0)
				return 1;
			if ((de = readdir(t->d)) == NULL)
				break;
			budget--;
			if (is_dot(de->d_name) ||
			    strcmp(de->d_name, MD_MANIFEST) == 0)
				continue;
			if (t->backfd != -1 && !nameset_has(t->del,
			    de->d_name)) {
				if (rename_noreplace(t->fd, de->d_name,
				    t->backfd, de->d_name) == 0)
					t->moved++;
				else if (errno != ENOENT) {
					log_warn("maildrop %s: purge: cannot "
					    "move %s back: %s", t->who,
					    de->d_name, strerror(errno));
					t->stuck = 1;
				}
				continue;
			}
			if (unlinkat(t->fd, de->d_name, 0) == 0)
				t->removed++;
			else if (errno == EISDIR)
				/* Not a message; removed if empty. */
				(void)unlinkat(t->fd, de->d_name,
				    AT_REMOVEDIR);
			else if (errno != ENOENT)
				t->left = 1;
		}
		closedir(t->d);
		t->d = NULL;
		t->pass++;
		if (t->stuck)
			break;
		if (!t->left)
			(void)unlinkat(t->fd, MD_MANIFEST, 0);
		if (unlinkat(t->basefd, t->path, AT_REMOVEDIR) == 0 ||
		    errno == ENOENT)
			break;
		if ((err = errno) != ENOTEMPTY && err != EEXIST)
			break;
		err = 0;
	}
	if (t->d != NULL) {
		closedir(t->d);
		t->d = NULL;
	}
	if (t->moved > 0)
		(void)fsync(t->backfd);
	if (t->stuck)
		trash_unswap(t);
	else if (err != 0)
		log_warn("maildrop %s: purge: cannot remove %s: %s", t->who,
		    t->path, strerror(err));
	return 0;
}

/* Writes out buf[0..*len) and empties it. */
static int
write_out(int fd, const char *buf, size_t *len)
{
	if (write_all(fd, buf, *len) == -1)
		return -1;
	*len = 0;
	return 0;
}

/*
 * Writes the names of del into the directory fd as the manifest, and
 * syncs it.  -1 with errno (ENOSPC...): then it may be partly written.
 */
static int
manifest_write(int fd, const struct nameset *del)
{
	char	 buf[MD_MANIFEST_CHUNK];
	size_t	 i, k, len = 0, count = 0;
	int	 mfd, e;

	if ((mfd = openat(fd, MD_MANIFEST, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return -1;
	for (i = 0; i <= del->mask; i++) {
		if (del->slot[i] == NULL)
			continue;
		/* A name is at most NAME_MAX: the buffer holds any. */
		k = strlen(del->slot[i]);
		if (sizeof(buf) - len < k + 1 &&
		    write_out(mfd, buf, &len) == -1)
			goto fail;
		memcpy(buf + len, del->slot[i], k);
		buf[len + k] = '\n';
		len += k + 1;
		count++;
	}
	if (sizeof(buf) - len < 32 && write_out(mfd, buf, &len) == -1)
		goto fail;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%zu\n",
	    MD_MANIFEST_END, count);
	if (write_out(mfd, buf, &len) == -1 || fsync(mfd) == -1)
		goto fail;
	return close(mfd);
fail:
	e = errno;
	close(mfd);
	errno = e;
	return -1;
}

/*
 * Reads the manifest of the trash directory fd into *del, whose names
 * point into *names (both the caller's to free, also on failure).  It
 * is streamed a chunk at a time, and only lines that are message names
 * are kept, so a file that is not a manifest (a sparse one, say, made
 * by the maildrop's owner) costs no more than what of it was valid.
 * -1 when it is missing, not a regular file, larger than a maildrop can
 * make it, or not as manifest_write() left it: a line that is not a
 * message name, more lines than POP3_MAILDROP_MAX, no end line
 * "END <count>" last, or a count that is off.
 */
static int
manifest_load(int fd, struct nameset *del, char **names)
{
	char			 buf[MD_MANIFEST_CHUNK + POP3_MDNAME_MAX + 2];
	struct maildir_name	 mn;
	struct stat		 st;
	char			*arena = NULL, *p, *nl, *q;
	size_t			 len, alen = 0, acap = 0, have = 0, off = 0;
	size_t			 n = 0, k, want;
	ssize_t			 r;
	int			 mfd, ok = -1;

	memset(del, 0, sizeof(*del));
	*names = NULL;
	if ((mfd = openat(fd, MD_MANIFEST, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(mfd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)strlen(MD_MANIFEST_END) + 2 ||
	    st.st_size > MD_MANIFEST_MAX)
		goto done;
	len = (size_t)st.st_size;
	while (off < len) {
		want = len - off < MD_MANIFEST_CHUNK ? len - off :
		    MD_MANIFEST_CHUNK;
		if ((r = pread(mfd, buf + have, want, (off_t)off)) <= 0)
			goto done;
		off += (size_t)r;
		have += (size_t)r;
		for (p = buf; (nl = memchr(p, '\n', have -
		    (size_t)(p - buf))) != NULL; p = nl + 1) {
			*nl = '\0';
			k = (size_t)(nl - p);
			if (strlen(p) != k)
				goto done;
			if (off == len && nl == buf + have - 1) {
				/* The last line: "END <count>". */
				if (strncmp(p, MD_MANIFEST_END,
				    strlen(MD_MANIFEST_END)) != 0)
					goto done;
				q = p + strlen(MD_MANIFEST_END);
				if (*q == '\0' || strspn(q, "0123456789") !=
				    strlen(q) || strlen(q) > 9 ||
				    strtoul(q, NULL, 10) != n)
					goto done;
				ok = 0;
				goto done;
			}
			if (++n > POP3_MAILDROP_MAX ||
			    maildir_name_parse(p, &mn) == -1)
				goto done;
			while (acap - alen < k + 1)
				arena = xreallocarray(arena, acap = acap > 0 ?
				    acap * 2 : MD_MANIFEST_CHUNK, 1);
			memcpy(arena + alen, p, k + 1);
			alen += k + 1;
		}
		/* The start of a line, carried to the next chunk. */
		if ((k = have - (size_t)(p - buf)) > POP3_MDNAME_MAX + 1)
			goto done;
		memmove(buf, p, k);
		have = k;
	}
done:
	close(mfd);
	*names = arena;
	if (ok == 0) {
		/* At most n names: the set stays half empty. */
		nameset_init(del, n);
		for (q = arena, k = 0; k < n; k++, q += strlen(q) + 1)
			nameset_add(del, q);
	}
	return ok;
}

/*
 * Undoes a swap that did not reach its commit point: everything in its
 * directory fd, at name under basefd, goes back into backfd, counted in
 * *moved, and the directory is removed.  -1 with errno when something
 * stays (for the next login's recovery).
 */
static int
unswap(int basefd, const char *name, int fd, int backfd, size_t *moved)
{
	int	pass;

	/* A rename that resolved the old path may still arrive: passes. */
	for (pass = 0; pass < MD_PURGE_PASSES; pass++) {
		if (move_back(fd, backfd, NULL, moved) == -1 ||
		    (*moved > 0 && fsync(backfd) == -1))
			return -1;
		if (unlinkat(basefd, name, AT_REMOVEDIR) == 0)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return -1;
	}
	return -1;
}

/*
 * Opens tmp/name, a directory of sub, for its recovery: returns it
 * flocked, with sub (if not NULL; else -1) at *backfd; -1 when it is
 * gone, someone holds it (a purge under way), or sub cannot be opened
 * (logged).
 */
static int
recover_open(int dirfd, int tmpfd, const char *name, const char *sub,
    const char *path, int *backfd)
{
	int	fd;

	*backfd = -1;
	if ((fd = open_subdir(tmpfd, name)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return -1;
	}
	if (sub != NULL && (*backfd = open_subdir(dirfd, sub)) == -1) {
		log_warn("maildrop %s: recovery: open %s: %s", path, sub,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A swap directory left by a commit that never reached its commit
   point: everything in it goes back into its subdirectory. */
static void
recover_swap(int dirfd, int tmpfd, const char *name, const char *path)
{
	const char	*sub;
	size_t		 moved = 0;
	int		 fd, backfd;

	if ((sub = tmp_sub(name, MD_SWAP_PFX)) == NULL ||
	    (fd = recover_open(dirfd, tmpfd, name, sub, path, &backfd)) == -1)
		return;
	if (unswap(tmpfd, name, fd, backfd, &moved) == -1)
		log_warn("maildrop %s: recovery: tmp/%s stays: %s", path,
		    name, strerror(errno));
	log_info("maildrop %s: recovery: %zu file%s of an unfinished commit "
	    "back in %s/", path, moved, moved == 1 ? "" : "s", sub);
	close(backfd);
	close(fd);
}

/*
 * A trash directory nobody is purging (its purge died with its
 * process).  Its manifest tells the deleted files, which are removed,
 * from mail that reached the old directory as it was swapped out, which
 * goes back; a trash without a complete manifest (damaged: it is
 * complete before the commit point) goes back whole, deleting nothing.
 * A trash named without its subdirectory comes from a pop3d before the
 * manifest: there is no telling, and it is emptied whole as then.
 */
static void
recover_trash(int dirfd, int tmpfd, const char *name, const char *path)
{
	struct nameset	 del;
	struct trash	 t;
	const char	*sub;
	char		*names = NULL;
	int		 fd, backfd = -1, listed = 0;

	memset(&del, 0, sizeof(del));
	sub = tmp_sub(name, MD_TRASH_PFX);
	if ((fd = recover_open(dirfd, tmpfd, name, sub, path, &backfd)) == -1)
		return;
	if (sub != NULL && manifest_load(fd, &del, &names) == 0)
		listed = 1;
	else if (sub != NULL)
		log_warn("maildrop %s: recovery: no complete manifest in "
		    "tmp/%s: all of it goes back to %s/", path, name, sub);
	trash_init(&t, tmpfd, name, fd, backfd, listed ? &del : NULL, path);
	while (trash_step(&t, SIZE_MAX))
		;
	log_info("maildrop %s: recovery: %zu deleted file%s removed, %zu "
	    "moved back", path, t.removed, t.removed == 1 ? "" : "s",
	    t.moved);
	nameset_clear(&del);
	free(names);
	if (backfd != -1)
		close(backfd);
	close(fd);
}

/*
 * Finishes what a commit that died left in tmp/ (maildrop_open(), under
 * the lock, before the scan).  Normally a single readdir of a tiny tmp/.
 * Errors leave things as they are for the next login.
 */
static void
recover(int dirfd, const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 tmpfd;

	if ((tmpfd = open_subdir(dirfd, "tmp")) == -1)
		return;
	if ((d = opendir_fd(tmpfd)) == NULL) {
		close(tmpfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, MD_TMP_PFX, strlen(MD_TMP_PFX)) != 0)
			continue;
		if (strncmp(de->d_name, MD_SWAP_PFX,
		    strlen(MD_SWAP_PFX)) == 0)
			recover_swap(dirfd, tmpfd, de->d_name, path);
		else if (strncmp(de->d_name, MD_TRASH_PFX,
		    strlen(MD_TRASH_PFX)) == 0)
			recover_trash(dirfd, tmpfd, de->d_name, path);
	}
	closedir(d);
	close(tmpfd);
}

static int
ensure_maildir(const char *mail_root, const char *user)
{
	int	rootfd, fd;

	if ((rootfd = open(mail_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (mkdirat(rootfd, user, 0700) == -1 && errno != EEXIST) {
		close(rootfd);
		return -1;
	}
	fd = openat(rootfd, user, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
	close(rootfd);
	if (fd == -1)
		return -1;
	if ((mkdirat(fd, "new", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(fd, "cur", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(fd, "tmp", 0700) == -1 && errno != EEXIST)) {
		close(fd);
		return -1;
	}
	return fd;
}

static enum md_fail
fail_kind(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		return MD_FAIL_PERM;
	}
	return MD_FAIL_TEMP;
}

struct maildrop *
maildrop_open(const char *mail_root, const char *user, const char **errstr,
    enum md_fail *why)
{
	struct maildrop	*md;
	struct scan_ent	*v = NULL;
	size_t		 n = 0, cap = 0, sized = 0, i;
	int		 dirfd, lockfd, inuse = 0;

	if ((dirfd = ensure_maildir(mail_root, user)) == -1) {
		*why = fail_kind(errno);
		*errstr = "cannot open the maildrop";
		return NULL;
	}
	if ((lockfd = lock_maildrop(dirfd, &inuse)) == -1) {
		*why = inuse ? MD_FAIL_INUSE : fail_kind(errno);
		*errstr = inuse ? "maildrop in use by another session" :
		    "cannot lock the maildrop";
		close(dirfd);
		return NULL;
	}
	recover(dirfd, user);
	if (scan_dir(dirfd, "new", &v, &n, &cap, &sized) == -1 ||
	    scan_dir(dirfd, "cur", &v, &n, &cap, &sized) == -1) {
		*why = fail_kind(errno);
		for (i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		close(lockfd);
		close(dirfd);
		*errstr = "cannot read the maildrop";
		return NULL;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), ent_cmp);

	close(dirfd);
	md = xcalloc(1, sizeof(*md));
	if (xasprintf(&md->path, "%s/%s", mail_root, user) == -1)
		abort();
	md->lockfd = lockfd;
	md->dirfd = -1;
	md->n = n;
	md->sized = sized;
	md->msgs = xcalloc(n > 0 ? n : 1, sizeof(*md->msgs));
	for (i = 0; i < n; i++) {
		md->msgs[i].name = v[i].name;
		md->msgs[i].size = v[i].size;
		md->size += v[i].size;
	}
	free(v);
	return md;
}

static int
open_dir(const struct maildrop *md)
{
	return open(md->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* One subdirectory in maildrop_commit(). */
struct md_swap {
	const char	*sub;		/* "new" or "cur" */
	size_t		 nscan;		/* messages of the session in it */
	size_t		 ndel;		/* of those, deleted */
	enum {
		SW_NONE,		/* not swapped: the unlink loop */
		SW_DONE,		/* swapped, the old one in trash */
		SW_FAILED,		/* undone, or left in tmp/ for the
					   recovery */
	}		 state;
	int		 oldfd;		/* the old directory, flocked */
	int		 newfd;		/* the new one, now at sub */
	struct nameset	 del;		/* names deleted in sub */
	int		 unlisted;	/* a deleted name has a newline */
	char		 trash[MD_PATH_MAX];	/* "tmp/<trash pfx><sub>.<u>" */
};

/*
 * After a commit: removes the trash on job threads, MD_PURGE_SLICE
 * entries per run, then queues itself again, so that the logins and
 * commits of other sessions get the threads in between.
 */
struct md_purge {
	struct job	 job;
	int		 dirfd;		/* the Maildir */
	char		*path;
	struct md_swap	 sw[2];
	struct md_msg	*msgs;		/* the names sw[].del points into */
	size_t		 n;
	size_t		 cur;		/* sw[] being purged */
	int		 started;	/* t is set up for sw[cur] */
	int		 finished;
	struct trash	 t;
	struct timespec	 t0;		/* when QUIT could be answered */
	size_t		 removed;
	size_t		 moved;
};

static void
swap_clear(struct md_swap *sw)
{
	if (sw->oldfd != -1)
		close(sw->oldfd);	/* releases the flock */
	if (sw->newfd != -1)
		close(sw->newfd);
	sw->oldfd = sw->newfd = -1;
	nameset_clear(&sw->del);
}

/* Unique within the host (time, pid, counter) and, for shared storage,
   across hosts (random). */
static void
swap_unique(char *out, size_t len)
{
	static unsigned long	 counter;
	struct timespec		 ts;
	uint32_t		 rnd = 0;
	unsigned long		 q;

	clock_gettime(CLOCK_REALTIME, &ts);
	q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	(void)getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
	snprintf(out, len, "%lld.%09ld.P%ldQ%luR%08x", (long long)ts.tv_sec,
	    ts.tv_nsec, (long)getpid(), q, rnd);
}

/* The directory fd, just made, gets the owner and mode of st. */
static int
same_owner_mode(int fd, const struct stat *st)
{
	struct stat	now;

	if (fstat(fd, &now) == -1)
		return -1;
	if ((now.st_uid != st->st_uid || now.st_gid != st->st_gid) &&
	    fchown(fd, st->st_uid, st->st_gid) == -1)
		return -1;
	if ((now.st_mode & 07777) != (st->st_mode & 07777) &&
	    fchmod(fd, st->st_mode & 07777) == -1)
		return -1;
	return 0;
}

/*
 * Undoes what swap_sub() did before its commit point, with the old
 * directory (deleted files, perhaps the manifest) at swap and the new
 * one at sw->sub: a second exchange puts the old one back in place, and
 * what was renamed into the new one (the kept messages, mail delivered
 * since) goes back into it.  No deleted file moves, and the old
 * directory has room for the names that left it: this works on a full
 * disk, where a new directory may not grow.  If that exchange fails,
 * everything goes back into the new directory, as the recovery does.
 * -1 with errno when something stays in tmp/ for the next login.
 */
static int
swap_undo(int dirfd, const char *swap, struct md_swap *sw, size_t *moved)
{
	if ((unlinkat(sw->oldfd, MD_MANIFEST, 0) == 0 || errno == ENOENT) &&
	    renameat2(dirfd, swap, dirfd, sw->sub, RENAME_EXCHANGE) == 0)
		return unswap(dirfd, swap, sw->newfd, sw->oldfd, moved);
	return unswap(dirfd, swap, sw->oldfd, sw->newfd, moved);
}

/*
 * Steps 1-5 of the swap for sw->sub (pop3d(8), UPDATE): an empty
 * directory takes its place in one renameat2(RENAME_EXCHANGE), what
 * the session did not delete is renamed back, the manifest of the
 * deleted names is written into the old directory, and that becomes
 * tmp/<MD_TRASH_PFX><sub>.<u>: the commit point (durable once the
 * caller has synced tmp/ and the Maildir).  Returns the new state:
 * SW_NONE when nothing changed (no RENAME_EXCHANGE here, say: the
 * caller unlinks), or when a later step found no room (ENOSPC, EDQUOT:
 * the manifest, say) and the swap was undone, since deleting is what
 * frees room; SW_FAILED when a later step failed otherwise (undone at
 * once by swap_undo(); what cannot be stays in the swap directory for
 * the next login's recovery), SW_DONE with oldfd, newfd and del kept
 * for the purge.
 */
static int
swap_sub(int dirfd, const char *path, struct md_swap *sw)
{
	char		 uniq[64], swap[MD_PATH_MAX];
	struct stat	 st;
	size_t		 moved = 0;
	int		 e, undone;

	swap_unique(uniq, sizeof(uniq));
	if (snprintf(swap, sizeof(swap), "tmp/%s%s.%s", MD_SWAP_PFX, sw->sub,
	    uniq) >= (int)sizeof(swap) || snprintf(sw->trash,
	    sizeof(sw->trash), "tmp/%s%s.%s", MD_TRASH_PFX, sw->sub, uniq) >=
	    (int)sizeof(sw->trash))
		goto none;
	if ((sw->oldfd = open_subdir(dirfd, sw->sub)) == -1 ||
	    fstat(sw->oldfd, &st) == -1 ||
	    flock(sw->oldfd, LOCK_EX | LOCK_NB) == -1 ||
	    mkdirat(dirfd, swap, st.st_mode & 07777) == -1)
		goto none;
	if ((sw->newfd = open_subdir(dirfd, swap)) == -1 ||
	    same_owner_mode(sw->newfd, &st) == -1 ||
	    renameat2(dirfd, swap, dirfd, sw->sub, RENAME_EXCHANGE) == -1) {
		log_debug("maildrop %s: no swap of %s/ (%s): unlinking",
		    path, sw->sub, strerror(errno));
		(void)unlinkat(dirfd, swap, AT_REMOVEDIR);
		goto none;
	}
	/* sub is the empty directory now, the old one is at swap. */
	if (move_back(sw->oldfd, sw->newfd, &sw->del, &moved) == -1 ||
	    (moved > 0 && fsync(sw->newfd) == -1) ||
	    manifest_write(sw->oldfd, &sw->del) == -1 ||
	    renameat(dirfd, swap, dirfd, sw->trash) == -1) {
		e = errno;
		moved = 0;
		undone = swap_undo(dirfd, swap, sw, &moved) == 0;
		if (undone && (e == ENOSPC || e == EDQUOT)) {
			log_info("maildrop %s: no room for the swap of %s/ "
			    "(%s); undone (%zu file%s back), unlinking", path,
			    sw->sub, strerror(e), moved, moved == 1 ? "" : "s");
			goto none;
		}
		if (undone)
			log_warn("maildrop %s: commit of %s/ failed (%s); "
			    "undone, %zu file%s back", path, sw->sub,
			    strerror(e), moved, moved == 1 ? "" : "s");
		else
			log_warn("maildrop %s: commit of %s/ failed (%s), and "
			    "undoing it (%s); %s is left for the next login",
			    path, sw->sub, strerror(e), strerror(errno), swap);
		swap_clear(sw);
		return SW_FAILED;
	}
	log_debug("maildrop %s: %s/ swapped, %zu kept moved back", path,
	    sw->sub, moved);
	return SW_DONE;
none:
	swap_clear(sw);
	return SW_NONE;
}

static void
purge_run(struct job *j)
{
	struct md_purge	*p = (struct md_purge *)j;
	struct md_swap	*sw;
	struct timespec	 now;
	size_t		 i;

	for (; p->cur < 2; p->cur++, p->started = 0) {
		sw = &p->sw[p->cur];
		if (sw->state != SW_DONE)
			continue;
		if (!p->started) {
			trash_init(&p->t, p->dirfd, sw->trash, sw->oldfd,
			    sw->newfd, &sw->del, p->path);
			p->started = 1;
		}
		if (trash_step(&p->t, MD_PURGE_SLICE))
			return;
		p->removed += p->t.removed;
		p->moved += p->t.moved;
		swap_clear(sw);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_info("maildrop %s: purge removed=%zu moved_back=%zu ms=%.1f",
	    p->path, p->removed, p->moved, (now.tv_sec - p->t0.tv_sec) * 1e3 +
	    (now.tv_nsec - p->t0.tv_nsec) / 1e6);
	close(p->dirfd);
	/* Here, not on the loop thread: up to POP3_MAILDROP_MAX names. */
	for (i = 0; i < p->n; i++)
		free(p->msgs[i].name);
	free(p->msgs);
	free(p->path);
	p->msgs = NULL;
	p->finished = 1;
}

static void
purge_done(struct job *j)
{
	struct md_purge	*p = (struct md_purge *)j;

	if (!p->finished)
		jobs_submit(j);
	else
		free(p);
}

/* 0 for "new/...", 1 for "cur/...". */
static size_t
sub_index(const char *name)
{
	return name[0] == 'n' ? 0 : 1;
}

size_t
maildrop_commit(struct maildrop *md, size_t *failed)
{
	struct md_swap	 sw[2];
	struct md_purge	*p;
	size_t		 i, k, removed = 0, unlinked[2] = { 0, 0 };
	int		 dirfd, swapped = 0;

	*failed = 0;
	if ((dirfd = open_dir(md)) == -1) {
		log_warn("open %s: %s", md->path, strerror(errno));
		*failed = md->ndel;
		return 0;
	}
	memset(sw, 0, sizeof(sw));
	sw[0].sub = "new";
	sw[1].sub = "cur";
	for (k = 0; k < 2; k++)
		sw[k].oldfd = sw[k].newfd = -1;
	/* One pass over the names (each a cache miss in a large maildrop):
	   the sets are filled before it is known which will be used. */
	if (md->ndel >= MD_SWAP_MIN)
		for (k = 0; k < 2; k++)
			nameset_init(&sw[k].del, md->ndel);
	for (i = 0; i < md->n; i++) {
		k = sub_index(md->msgs[i].name);
		sw[k].nscan++;
		if (!md->msgs[i].deleted)
			continue;
		sw[k].ndel++;
		if (sw[k].del.slot == NULL)
			continue;
		nameset_add(&sw[k].del, md->msgs[i].name + 4);
		/* The manifest has a line a name: this one gets unlinked. */
		if (strchr(md->msgs[i].name + 4, '\n') != NULL)
			sw[k].unlisted = 1;
	}
	for (k = 0; k < 2; k++) {
		if (sw[k].ndel < MD_SWAP_MIN || sw[k].nscan - sw[k].ndel >
		    sw[k].ndel / MD_SWAP_KEEP_DIV || sw[k].unlisted) {
			nameset_clear(&sw[k].del);
			continue;
		}
		sw[k].state = swap_sub(dirfd, md->path, &sw[k]);
		if (sw[k].state == SW_DONE) {
			removed += sw[k].ndel;
			swapped++;
		} else if (sw[k].state == SW_FAILED)
			*failed += sw[k].ndel;
	}
	/* The renames into tmp/ are durable before QUIT is answered. */
	if (swapped > 0 && (maildir_sync_dir(dirfd, "tmp") == -1 ||
	    fsync(dirfd) == -1))
		log_warn("maildrop %s: fsync: %s", md->path, strerror(errno));

	for (i = 0; i < md->n; i++) {
		if (!md->msgs[i].deleted)
			continue;
		k = sub_index(md->msgs[i].name);
		if (sw[k].state != SW_NONE)
			continue;
		unlinked[k]++;
		if (unlinkat(dirfd, md->msgs[i].name, 0) == 0 ||
		    errno == ENOENT)
			removed++;
		else {
			log_warn("unlink %s: %s", md->msgs[i].name,
			    strerror(errno));
			(*failed)++;
		}
	}
	/* The removal is durable before QUIT is answered. */
	for (k = 0; k < 2; k++)
		if (unlinked[k] > 0)
			(void)maildir_sync_dir(dirfd, sw[k].sub);

	if (swapped == 0) {
		close(dirfd);
		return removed;
	}
	/* The old files go after the answer, on another job.  It takes the
	   message list, which the name sets point into. */
	p = xcalloc(1, sizeof(*p));
	p->job.run = purge_run;
	p->job.done = purge_done;
	p->dirfd = dirfd;
	p->path = xstrdup(md->path);
	memcpy(p->sw, sw, sizeof(sw));
	p->msgs = md->msgs;
	p->n = md->n;
	md->msgs = NULL;
	md->n = md->ndel = 0;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	jobs_submit(&p->job);
	return removed;
}

void
maildrop_free(struct maildrop **mdp)
{
	struct maildrop	*md = *mdp;
	size_t		 i;

	if (md == NULL)
		return;
	*mdp = NULL;
	for (i = 0; i < md->n; i++)
		free(md->msgs[i].name);
	free(md->msgs);
	free(md->path);
	close(md->lockfd);
	if (md->dirfd != -1)
		close(md->dirfd);
	free(md);
}

int
maildrop_open_msg(struct maildrop *md, size_t i)
{
	if (md->dirfd == -1 && (md->dirfd = open_dir(md)) == -1)
		return -1;
	/* O_NONBLOCK: a FIFO renamed over a message must not stop the
	   loop; on a regular file it changes nothing. */
	return openat(md->dirfd, md->msgs[i].name, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK);
}

void
maildrop_uidl(const struct maildrop *md, size_t i, char *out)
{
	maildir_uidl(md->msgs[i].name + 4, out);
}
