/*
 * test_fsutil.c - unit tests for fsutil.c's openat_beneath() and
 * dirs_are_real(): symbolic links anywhere on the way are refused, so
 * are "..", empty components and absolute paths; real paths open.  And
 * the rename that never replaces, through its link fallback too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fsutil.h"

static char	 dir[64];
static int	 dfd = -1;

static int
setup(void **state)
{
	int	fd;

	snprintf(dir, sizeof(dir), "/tmp/test_fsutil.XXXXXX");
	if (mkdtemp(dir) == NULL || (dfd = open(dir, O_RDONLY |
	    O_DIRECTORY)) == -1)
		return -1;
	/* a/b/file, other/secret, and links: la -> a, a/lb -> b, a/lf -> b/file */
	if (mkdirat(dfd, "a", 0700) == -1 || mkdirat(dfd, "a/b", 0700) == -1 ||
	    mkdirat(dfd, "other", 0700) == -1)
		return -1;
	if ((fd = openat(dfd, "a/b/file", O_WRONLY | O_CREAT, 0600)) == -1)
		return -1;
	close(fd);
	if ((fd = openat(dfd, "other/secret", O_WRONLY | O_CREAT, 0600)) == -1)
		return -1;
	close(fd);
	if (symlinkat("a", dfd, "la") == -1 || symlinkat("b", dfd, "a/lb") ==
	    -1 || symlinkat("b/file", dfd, "a/lf") == -1 ||
	    symlinkat("../other", dfd, "a/b/up") == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	if (dfd != -1)
		close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
refused(const char *path, int want)
{
	errno = 0;
	assert_int_equal(openat_beneath(dfd, path, O_RDONLY, 0), -1);
	assert_int_equal(errno, want);
}

/* Writes name under dfd with text; asserts it worked. */
static void
put(const char *name, const char *text)
{
	int	fd;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
test_rename_never_replaces(void **state)
{
	int	(*fn[2])(int, const char *, int, const char *) = {
	    rename_noreplace, rename_by_link };
	char	 buf[8];
	int	 i, fd;

	(void)state;
	for (i = 0; i < 2; i++) {
		put("r-from", "new");
		put("r-to", "old");
		errno = 0;
		assert_int_equal(fn[i](dfd, "r-from", dfd, "r-to"), -1);
		assert_int_equal(errno, EEXIST);
		fd = openat(dfd, "r-to", O_RDONLY);
		assert_true(fd != -1);
		assert_int_equal(read(fd, buf, sizeof(buf)), 3);
		close(fd);
		assert_memory_equal(buf, "old", 3);
		assert_int_equal(faccessat(dfd, "r-from", F_OK, 0), 0);
		assert_int_equal(unlinkat(dfd, "r-to", 0), 0);
		assert_int_equal(fn[i](dfd, "r-from", dfd, "r-to"), 0);
		assert_int_equal(faccessat(dfd, "r-from", F_OK, 0), -1);
		assert_int_equal(faccessat(dfd, "r-to", F_OK, 0), 0);
		assert_int_equal(unlinkat(dfd, "r-to", 0), 0);
	}
}

static void
test_real_paths_open(void **state)
{
	int	fd;

	fd = openat_beneath(dfd, "a/b/file", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = openat_beneath(dfd, "a/b", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = openat_beneath(dfd, "a/b/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unlinkat(dfd, "a/b/new", 0), 0);
}

static void
test_links_anywhere_refused(void **state)
{
	refused("la/b/file", ENOTDIR);		/* first component */
	refused("a/lb/file", ENOTDIR);		/* a middle one */
	refused("a/lf", ELOOP);			/* the last one */
	refused("a/b/up/secret", ENOTDIR);	/* a way out */
	/* O_CREAT through a link creates nothing on the other side. */
	assert_int_equal(openat_beneath(dfd, "a/b/up/new", O_WRONLY |
	    O_CREAT | O_EXCL, 0600), -1);
	assert_int_equal(faccessat(dfd, "other/new", F_OK, 0), -1);
}

static void
test_bad_paths_refused(void **state)
{
	refused("/etc/passwd", EINVAL);
	refused("", EINVAL);
	refused("a//b/file", EINVAL);
	refused("a/../other/secret", EINVAL);
	refused("a/b/..", EINVAL);
	refused("a/b/", EINVAL);
}

static void
test_dirs_are_real(void **state)
{
	static const char *const ok[] = { "a", "a/b", "other", NULL };
	static const char *const link[] = { "a", "la", NULL };
	static const char *const file[] = { "a/b/file", NULL };
	static const char *const gone[] = { "nothere", NULL };

	assert_int_equal(dirs_are_real(dfd, ok), 0);
	assert_int_equal(dirs_are_real(dfd, link), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(dirs_are_real(dfd, file), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(dirs_are_real(dfd, gone), -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_paths_open),
		cmocka_unit_test(test_rename_never_replaces),
		cmocka_unit_test(test_links_anywhere_refused),
		cmocka_unit_test(test_bad_paths_refused),
		cmocka_unit_test(test_dirs_are_real),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
