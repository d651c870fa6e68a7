/*
 * test_log.c - unit tests for log.c: log_escape() of untrusted bytes and
 * the stderr line format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "log.h"

static void
test_escape(void **state)
{
	char	 out[64];

	assert_string_equal(log_escape("alice", 5, out, sizeof(out)), "alice");
	assert_string_equal(log_escape("a\"b\\c", 5, out, sizeof(out)),
	    "a\\x22b\\x5cc");
	assert_string_equal(log_escape("\r\n\0\x7f\xff", 5, out, sizeof(out)),
	    "\\x0d\\x0a\\x00\\x7f\\xff");
	assert_string_equal(log_escape("", 0, out, sizeof(out)), "");
	/* Truncation keeps room for "...". */
	assert_string_equal(log_escape("abcdefghij", 10, out, 11),
	    "abcdefghij");
	assert_string_equal(log_escape("abcdefghijk", 11, out, 11),
	    "abcdefg...");
	assert_string_equal(log_escape("abcdef\x01", 7, out, 11),
	    "abcdef\\x01");
	assert_string_equal(log_escape("abcdefg\x01", 8, out, 11),
	    "abcdefg...");
	assert_string_equal(log_escape("\x01\x02\x03", 3, out, 8),
	    "\\x01...");
	assert_string_equal(log_escape("abcdef", 6, out, 3), "..");
	assert_string_equal(log_escape("abcdef", 6, out, 1), "");
	out[0] = 'z';
	log_escape("abc", 3, out, 0);
	assert_int_equal(out[0], 'z');
}

static void
test_stderr_format(void **state)
{
	char	 path[] = "/tmp/test_log.XXXXXX", buf[512];
	int	 fd, saved;
	ssize_t	 n;

	assert_true((fd = mkstemp(path)) != -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_init("pop3d", 0, 0);
	log_info("no role");
	log_role("worker");
	log_info("x=%d user=%s", 1, "bob");
	log_debug("hidden");
	log_init("pop3d", 0, 1);
	log_debug("shown\nsecond");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	snprintf(path, sizeof(path), "%ld", (long)getpid());
	{
		char want[512];

		snprintf(want, sizeof(want), "pop3d[%s]: no role\n"
		    "pop3d[%s]: worker: x=1 user=bob\n"
		    "pop3d[%s]: worker: shown?second\n", path, path, path);
		assert_string_equal(buf, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_stderr_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
