/*
 * fsutil.h - durability and rename helpers shared by the writers of
 * files that are renamed into place (Maildir delivery in pop3d, pop3fetch and pop3ctl's
 * LDA; pop3ctl's passwd-file rewrite).  Blocking I/O: call off any event
 * loop.
 */
#ifndef POP3_FSUTIL_H
#define POP3_FSUTIL_H

/*
 * fsync(2) of the directory sub under dirfd: dirfd may be AT_FDCWD (sub
 * a path) and sub may be "." (dirfd itself).  Makes a create, rename or
 * unlink in that directory durable.  0, or -1 with errno (from openat or
 * fsync; ENOTDIR if sub is not a directory).
 */
int	fsync_dirat(int dirfd, const char *sub);
/*
 * fsync_dirat() of the directory that holds path: "." for a bare name,
 * "/" for "/name".  0, or -1 with errno.
 */
int	fsync_parent(const char *path);
/*
 * renameat(2) of from (under fromfd) to to (under tofd) that never
 * replaces a file there: RENAME_NOREPLACE, or, on file systems without
 * it, a plain rename (the callers' names are unique).  0, or -1 with
 * errno (EEXIST when to exists).
 */
int	rename_noreplace(int fromfd, const char *from, int tofd,
	    const char *to);

#endif
