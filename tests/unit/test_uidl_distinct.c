/*
 * test_uidl_distinct.c - unit tests for uidl_distinct.c (the "-k" rule
 * pop3d and pop3ctl migrate share): two listed messages with one UIDL,
 * a "-k" handed out that another message has as its own, the last k
 * remembered (20,000 equal UIDLs in well under a second), a long UIDL
 * cut to fit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "uidl_distinct.h"
#include "xmalloc.h"

static void
free_v(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **
dup_v(const char *const *s, size_t n)
{
	char	**v = xcalloc(n, sizeof(*v));
	size_t	  i;

	for (i = 0; i < n; i++)
		v[i] = s[i] != NULL ? xstrdup(s[i]) : NULL;
	return v;
}

/* Two listed messages with the same UIDL: the later one gets "-2". */
static void
test_two_listed_same(void **state)
{
	const char	*in[] = { "UID3-77", "UID3-77", NULL };
	const char	*names[] = { "A:2,S", "B:2,S", "C:2,S" };
	char		**v = dup_v(in, 3);

	assert_int_equal(uidl_distinct_v(v, names, 3), 1);
	assert_string_equal(v[0], "UID3-77");
	assert_string_equal(v[1], "UID3-77-2");
	assert_null(v[2]);		/* "C": its own, kept */
	free_v(v, 3);
}

/*
 * A "-2" handed out is itself taken: an own UIDL "C-2" (listed or not)
 * after it gets "C-2-2", and a third "C" goes on with "-3".
 */
static void
test_handed_out_reserved(void **state)
{
	const char	*in[] = { "C", NULL, NULL, "C" };
	const char	*names[] = { "C:2,S", "C,W=5:2,S", "C-2:2,S",
			    "x:2,S" };
	char		**v = dup_v(in, 4);

	assert_int_equal(uidl_distinct_v(v, names, 4), 3);
	assert_string_equal(v[0], "C");
	assert_string_equal(v[1], "C-2");
	assert_string_equal(v[2], "C-2-2");
	assert_string_equal(v[3], "C-3");
	free_v(v, 4);
}

/* A "-k" taken before by an own UIDL is skipped; later copies go on. */
static void
test_skips_taken(void **state)
{
	const char	*in[] = { "A", "A-2", "A", "A", "A-3" };
	const char	*names[] = { "1", "2", "3", "4", "5" };
	char		**v = dup_v(in, 5);

	assert_int_equal(uidl_distinct_v(v, names, 5), 3);
	assert_string_equal(v[1], "A-2");
	assert_string_equal(v[2], "A-3");
	assert_string_equal(v[3], "A-4");
	assert_string_equal(v[4], "A-3-2");
	free_v(v, 5);
}

/* 70 octets and "-2": cut to 68 so that it fits, as a UIDL must. */
static void
test_long_cut(void **state)
{
	char		 u[POP3_UIDL_MAX + 1], want[POP3_UIDL_MAX + 1];
	const char	*names[] = { "1", "2" };
	char		**v = xcalloc(2, sizeof(*v));

	memset(u, 'u', POP3_UIDL_MAX);
	u[POP3_UIDL_MAX] = '\0';
	v[0] = xstrdup(u);
	v[1] = xstrdup(u);
	assert_int_equal(uidl_distinct_v(v, names, 2), 1);
	snprintf(want, sizeof(want), "%.68s-2", u);
	assert_string_equal(v[1], want);
	assert_int_equal(strlen(v[1]), POP3_UIDL_MAX);
	free_v(v, 2);
}

#define MANY	20000

/* 20,000 copies of one UIDL: "-2" to "-20000", in linear time. */
static void
test_many_equal_fast(void **state)
{
	char		**v = xcalloc(MANY, sizeof(*v));
	const char	**names = xcalloc(MANY, sizeof(*names));
	char		 want[32];
	struct timespec	 t0, t1;
	double		 secs;
	size_t		 i;

	for (i = 0; i < MANY; i++) {
		v[i] = xstrdup("P");
		names[i] = "n";
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(uidl_distinct_v(v, names, MANY), MANY - 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 0.5);
	assert_string_equal(v[0], "P");
	for (i = 1; i < MANY; i++) {
		snprintf(want, sizeof(want), "P-%zu", i + 1);
		assert_string_equal(v[i], want);
	}
	free(names);
	free_v(v, MANY);
}

static void
test_same_name(void **state)
{
	assert_true(uidl_same_name("C:2,S", "C"));
	assert_true(uidl_same_name("C", "C:2,RS"));
	assert_false(uidl_same_name("C", "C,W=5:2,S"));
	assert_false(uidl_same_name("C:2,S", "CD:2,S"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_listed_same),
		cmocka_unit_test(test_handed_out_reserved),
		cmocka_unit_test(test_skips_taken),
		cmocka_unit_test(test_long_cut),
		cmocka_unit_test(test_many_equal_fast),
		cmocka_unit_test(test_same_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
