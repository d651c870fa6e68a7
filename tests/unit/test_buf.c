/*
 * test_buf.c - unit tests for buf.c and xmalloc.c: the maximum is
 * enforced by every append, content stays NUL-terminated, consume/take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "xmalloc.h"

static void
test_max(void **state)
{
	struct buf	 b;
	char		 big[100];

	buf_init(&b, 10);
	assert_null(b.data);
	assert_int_equal(buf_add(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_addc(&b, 'x'), -1);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "0123456789");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	assert_int_equal(buf_addstr(&b, "01234"), 0);
	/* All or nothing. */
	assert_int_equal(buf_addstr(&b, "567890"), -1);
	assert_int_equal(b.len, 5);
	assert_int_equal(buf_printf(&b, "%d", 123456), -1);
	assert_int_equal(b.len, 5);
	assert_int_equal(buf_printf(&b, "%d", 12345), 0);
	assert_string_equal((char *)b.data, "0123412345");
	/* Huge sizes cannot wrap the check. */
	assert_int_equal(buf_add(&b, big, SIZE_MAX), -1);
	assert_int_equal(buf_add(&b, big, SIZE_MAX - 4), -1);
	assert_true(b.cap <= 11);
	buf_clear(&b);
	assert_null(b.data);

	/* A long printf goes through the heap path. */
	buf_init(&b, 1000);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "%s%s%s", big, big, big), 0);
	assert_int_equal(b.len, 297);
	assert_int_equal(buf_printf(&b, "%s%s%s%s%s%s%s%s", big, big, big,
	    big, big, big, big, big), -1);
	assert_int_equal(b.len, 297);
	buf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_consume_take(void **state)
{
	struct buf	 b;
	unsigned char	*p;
	size_t		 n;

	buf_init(&b, 64);
	assert_int_equal(buf_addstr(&b, "hello world"), 0);
	buf_consume(&b, 6);
	assert_int_equal(b.len, 5);
	assert_string_equal((char *)b.data, "world");
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	assert_int_equal(buf_addstr(&b, "abc"), 0);
	p = buf_take(&b, &n);
	assert_int_equal(n, 3);
	assert_string_equal((char *)p, "abc");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
	/* Take from an empty buffer gives an allocated "". */
	p = buf_take(&b, NULL);
	assert_non_null(p);
	assert_string_equal((char *)p, "");
	free(p);
	/* The buffer is still usable with its max. */
	assert_int_equal(buf_addc(&b, 0), 0);
	assert_int_equal(b.len, 1);
	buf_clear(&b);
}

static void
test_growth(void **state)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 100000);
	for (i = 0; i < 100000; i++)
		assert_int_equal(buf_addc(&b, (unsigned char)('a' + i % 26)),
		    0);
	assert_int_equal(buf_addc(&b, 'x'), -1);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[99999], 'a' + 99999 % 26);
	assert_int_equal(b.data[100000], '\0');
	assert_true(b.cap <= 100001);
	buf_clear(&b);
}

static void
test_xmalloc(void **state)
{
	char	*s;
	int	*v;

	s = xstrdup("abc");
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	assert_int_equal(xasprintf(&s, "%d-%s", 5, "x"), 3);
	assert_string_equal(s, "5-x");
	free(s);
	v = xcalloc(4, sizeof(*v));
	assert_int_equal(v[3], 0);
	v = xreallocarray(v, 8, sizeof(*v));
	free(v);
	free(xmalloc(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_consume_take),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_xmalloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
