/*
 * fsutil.c - fsync of a directory, so that a rename into it survives a
 * power loss (rename(2) alone is only atomic, not durable), a rename
 * that never replaces, and a write of a whole buffer.  Library code run
 * by pop3d's maildrop threads and log file, pop3fetch and pop3ctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "xmalloc.h"

int
fsync_dirat(int dirfd, const char *sub)
{
	int	 fd, r, saved;

	if ((fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
fsync_parent(const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;
	int		 r, saved;

	if (slash == NULL)
		return fsync_dirat(AT_FDCWD, ".");
	dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	r = fsync_dirat(AT_FDCWD, dir);
	saved = errno;
	free(dir);
	errno = saved;
	return r;
}

int
rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE (NFS, some FUSE). */
	return rename_by_link(fromfd, from, tofd, to);
}

int
rename_by_link(int fromfd, const char *from, int tofd, const char *to)
{
	int	e;

	/* A hard link fails with EEXIST where a plain rename replaces. */
	if (linkat(fromfd, from, tofd, to, 0) == -1)
		return -1;
	if (unlinkat(fromfd, from, 0) == -1) {
		e = errno;
		(void)unlinkat(tofd, to, 0);
		errno = e;
		return -1;
	}
	return 0;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
openat_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	char		 part[NAME_MAX + 1];
	const char	*p = path, *slash;
	size_t		 n;
	int		 fd = dirfd, next, e;

	if (*path == '/' || *path == '\0') {
		errno = EINVAL;
		return -1;
	}
	while ((slash = strchr(p, '/')) != NULL) {
		n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX || (n == 2 && p[0] == '.' &&
		    p[1] == '.')) {
			e = n > NAME_MAX ? ENAMETOOLONG : EINVAL;
			goto fail;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		e = errno;
		if (fd != dirfd)
			close(fd);
		if ((fd = next) == -1) {
			errno = e;
			return -1;
		}
		p = slash + 1;
	}
	if (*p == '\0' || strcmp(p, "..") == 0) {
		e = EINVAL;
		goto fail;
	}
	next = openat(fd, p, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	e = errno;
	if (fd != dirfd)
		close(fd);
	errno = e;
	return next;
fail:
	if (fd != dirfd)
		close(fd);
	errno = e;
	return -1;
}

int
dirs_are_real(int dirfd, const char *const *subs)
{
	struct stat	st;

	for (; *subs != NULL; subs++) {
		if (fstatat(dirfd, *subs, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			return -1;
		}
	}
	return 0;
}
