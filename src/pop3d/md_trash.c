/*
 * md_trash.c - the directories the swap commit (md_commit.c) keeps in
 * the Maildir's tmp/, and what becomes of them: the set and the
 * manifest of the deleted names, emptying a trash directory (the purge
 * after QUIT, or the recovery), undoing a swap that did not reach its
 * commit point, and the recovery at login of what a commit that died
 * left there.  Worker processes, job threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "log.h"
#include "maildir.h"
#include "md_trash.h"
#include "pop3_limits.h"
#include "strhash.h"
#include "xmalloc.h"

/* The manifest's end line, "END <count>".  At most a line per message
   a maildrop may hold; written MD_MANIFEST_CHUNK bytes at a time. */
#define MD_MANIFEST_END		"END "
#define MD_MANIFEST_MAX		((off_t)POP3_MAILDROP_MAX * \
				    (POP3_MDNAME_MAX + 1) + 32)
#define MD_MANIFEST_CHUNK	(64 * 1024)

void
md_nameset_init(struct md_nameset *s, size_t n)
{
	size_t	cap = 16;

	while (cap < n * 2)
		cap *= 2;
	s->slot = xcalloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
}

void
md_nameset_add(struct md_nameset *s, const char *name)
{
	size_t	i;

	for (i = strhash(name) & s->mask; s->slot[i] != NULL;
	    i = (i + 1) & s->mask)
		if (strcmp(s->slot[i], name) == 0)
			return;
	s->slot[i] = name;
}

/* s NULL or empty: nothing is in it. */
int
md_nameset_has(const struct md_nameset *s, const char *name)
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

void
md_nameset_clear(struct md_nameset *s)
{
	free(s->slot);
	s->slot = NULL;
}

int
md_open_subdir(int dirfd, const char *path)
{
	return openat_beneath(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
}

DIR *
md_opendir_fd(int fd)
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

int
md_move_back(int fromfd, int tofd, const struct md_nameset *del, size_t *moved)
{
	struct dirent	*de;
	DIR		*d;
	int		 e;

	if ((d = md_opendir_fd(fromfd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (is_dot(de->d_name) || md_nameset_has(del, de->d_name))
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

void
md_trash_init(struct md_trash *t, int basefd, const char *path, int fd,
    int backfd, const struct md_nameset *del, const char *who)
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
trash_unswap(struct md_trash *t)
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

int
md_trash_step(struct md_trash *t, size_t budget)
{
	struct dirent	*de;
	int		 err = 0;

	for (;;) {
		if (t->d == NULL) {
			if (t->pass == MD_PURGE_PASSES) {
				err = ENOTEMPTY;
				break;
			}
			if ((t->d = md_opendir_fd(t->fd)) == NULL) {
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
			if (t->backfd != -1 && !md_nameset_has(t->del,
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

int
md_manifest_write(int fd, const struct md_nameset *del)
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
 * make it, or not as md_manifest_write() left it: a line that is not a
 * message name, more lines than POP3_MAILDROP_MAX, no end line
 * "END <count>" last, or a count that is off.
 */
int
md_manifest_load(int fd, struct md_nameset *del, char **names)
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
		md_nameset_init(del, n);
		for (q = arena, k = 0; k < n; k++, q += strlen(q) + 1)
			md_nameset_add(del, q);
	}
	return ok;
}

int
md_unswap(int basefd, const char *name, int fd, int backfd, size_t *moved)
{
	int	pass;

	/* A rename that resolved the old path may still arrive: passes. */
	for (pass = 0; pass < MD_PURGE_PASSES; pass++) {
		if (md_move_back(fd, backfd, NULL, moved) == -1 ||
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
	if ((fd = md_open_subdir(tmpfd, name)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return -1;
	}
	if (sub != NULL && (*backfd = md_open_subdir(dirfd, sub)) == -1) {
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
	if (md_unswap(tmpfd, name, fd, backfd, &moved) == -1)
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
	struct md_nameset	 del;
	struct md_trash	 t;
	const char	*sub;
	char		*names = NULL;
	int		 fd, backfd = -1, listed = 0;

	memset(&del, 0, sizeof(del));
	sub = tmp_sub(name, MD_TRASH_PFX);
	if ((fd = recover_open(dirfd, tmpfd, name, sub, path, &backfd)) == -1)
		return;
	if (sub != NULL && md_manifest_load(fd, &del, &names) == 0)
		listed = 1;
	else if (sub != NULL)
		log_warn("maildrop %s: recovery: no complete manifest in "
		    "tmp/%s: all of it goes back to %s/", path, name, sub);
	md_trash_init(&t, tmpfd, name, fd, backfd, listed ? &del : NULL, path);
	while (md_trash_step(&t, SIZE_MAX))
		;
	log_info("maildrop %s: recovery: %zu deleted file%s removed, %zu "
	    "moved back", path, t.removed, t.removed == 1 ? "" : "s",
	    t.moved);
	md_nameset_clear(&del);
	free(names);
	if (backfd != -1)
		close(backfd);
	close(fd);
}

void
md_recover(int dirfd, const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 tmpfd;

	if ((tmpfd = md_open_subdir(dirfd, "tmp")) == -1)
		return;
	if ((d = md_opendir_fd(tmpfd)) == NULL) {
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
