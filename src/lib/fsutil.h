/*
 * fsutil.h - durability and rename helpers shared by the writers of
 * files that are renamed into place (Maildir delivery in pop3d, pop3fetch
 * and pop3ctl's LDA; pop3ctl's passwd-file rewrite), and the write of a
 * whole buffer that they and the log file use.  Blocking I/O: call off
 * any event loop (the log file's descriptor is non-blocking).
 */
#ifndef POP3_FSUTIL_H
#define POP3_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

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
 * renameat(2) of a file from (under fromfd) to to (under tofd) that
 * never replaces a file there: RENAME_NOREPLACE, or, on file systems
 * without it (NFS), linkat(2) then unlinkat(2) of from (a crash between
 * them leaves the file under both names, never under neither).  0, or
 * -1 with errno (EEXIST when to exists).
 */
int	rename_noreplace(int fromfd, const char *from, int tofd,
	    const char *to);
/* That fallback alone (a file only: directories cannot be linked). */
int	rename_by_link(int fromfd, const char *from, int tofd,
	    const char *to);
/*
 * write(2) of all len bytes of buf to fd, retrying on EINTR and short
 * writes.  0, or -1 with errno from write (EAGAIN on a non-blocking fd
 * that is full); then a part may have been written.
 */
int	write_all(int fd, const void *buf, size_t len);
/*
 * openat(2) of the relative path under dirfd ("tmp/name"), following no
 * symbolic link on the way: each directory is opened with O_NOFOLLOW,
 * and the last component gets O_NOFOLLOW added to flags.  A symlink
 * anywhere fails with ELOOP (or ENOTDIR), an absolute path, an empty
 * component or ".." with EINVAL.  The descriptor, or -1 with errno.
 */
int	openat_beneath(int dirfd, const char *path, int flags, mode_t mode);
/*
 * Whether each name in subs (NULL-terminated) under dirfd is a real
 * directory, not a symbolic link to one: 0, or -1 with errno ELOOP for a
 * symlink, ENOTDIR for anything else, or fstatat's errno (ENOENT).
 */
int	dirs_are_real(int dirfd, const char *const *subs);

#endif
