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
#include <unistd.h>

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
	return renameat(fromfd, from, tofd, to);
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
