/*
 * uidlist_dir.h - for the unit tests of dovecot_uidlist.c and pop3d's
 * md_dovecot.c: a temporary directory standing for a Maildir (dirfd)
 * and writing its dovecot-uidlist.  Header only, cmocka setup/teardown.
 */
#ifndef TEST_UIDLIST_DIR_H
#define TEST_UIDLIST_DIR_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovecot_uidlist.h"

static char	tmpdir[64];
static int	dirfd = -1;

static int
setup(void **state)
{
	strcpy(tmpdir, "/tmp/test-duidl.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	return dirfd == -1 ? -1 : 0;
}

static int
teardown(void **state)
{
	unlinkat(dirfd, DUIDL_FILE, 0);
	close(dirfd);
	rmdir(tmpdir);
	return 0;
}

/* Writes the list: len octets of data, replacing what was there. */
static void
put(const char *data, size_t len)
{
	int	fd;

	unlinkat(dirfd, DUIDL_FILE, 0);
	fd = openat(dirfd, DUIDL_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

#endif
