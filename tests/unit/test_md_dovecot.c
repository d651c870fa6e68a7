/*
 * test_md_dovecot.c - unit tests for pop3d's md_dovecot.c: the order of
 * a maildrop with a dovecot-uidlist (listed messages first in Dovecot's
 * POP3 order, then the rest as given), each entry to one file, an old
 * UIDL that cannot be given, and distinct UIDLs however many files share
 * one (in bounded time).
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

#include <fcntl.h>
#include <unistd.h>

#include "dovecot_uidlist.h"
#include "uidlist_dir.h"
#include "maildir.h"
#include "pop3d/md_dovecot.h"

static void
put_str(const char *data)
{
	put(data, strlen(data));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_all(size_t *perm, char **uidls, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(uidls[i]);
	free(uidls);
	free(perm);
}

static void
test_no_list(void **state)
{
	const char	*names[] = { "a" };
	size_t		*perm = NULL;
	char		**uidls = NULL;

	assert_int_equal(md_dovecot_uidls(dirfd, names, 1, "%u", "t", &perm,
	    &uidls), 0);
	assert_null(perm);
	assert_null(uidls);
	put_str("3 V1 N5\n1 :a\n1 :b\n");
	assert_int_equal(md_dovecot_uidls(dirfd, names, 1, "%u", "t", &perm,
	    &uidls), -1);
	assert_null(perm);
}

static void
test_order(void **state)
{
	/* pop3d's order: by delivery time. */
	const char	*names[] = { "0.new", "1.a:2,", "2.b,W=9:2,S", "3.c",
	    "4.d", "5.e,S=1", "6.f" };
	static const size_t want_perm[] = { 3, 1, 2, 5, 4, 0, 6 };
	static const char *want[] = { "c-saved", "5.1", "5.2", "5.9", "5.12",
	    NULL, NULL };
	size_t		*perm, i;
	char		**uidls;

	/* O first, then UID; 9.gone is not on disk; 6.f's saved UIDL is
	   not a valid one (a control octet): pop3d's own, after the rest. */
	put_str("3 V5 N20\n"
	    "1 :1.a\n"
	    "2 :2.b\n"
	    "3 O1 Pc-saved :3.c\n"
	    "4 :9.gone\n"
	    "9 :5.e,S=1\n"
	    "10 P\x01 :6.f\n"
	    "12 :4.d\n");
	assert_int_equal(md_dovecot_uidls(dirfd, names, 7, "%v.%u", "t",
	    &perm, &uidls), 1);
	for (i = 0; i < 7; i++) {
		assert_int_equal(perm[i], want_perm[i]);
		if (want[i] == NULL)
			assert_null(uidls[i]);
		else
			assert_string_equal(uidls[i], want[i]);
	}
	free_all(perm, uidls, 7);
}

static void
test_one_entry_one_file(void **state)
{
	/* A and A,W=5 both match entry 1: the exact name takes it, even
	   when the other comes first. */
	const char	*names[] = { "A,W=5:2,", "A:2,S" };
	size_t		*perm;
	char		**uidls;

	put_str("3 V5 N20\n1 :A\n");
	assert_int_equal(md_dovecot_uidls(dirfd, names, 2, "%08Xu%08Xv", "t",
	    &perm, &uidls), 1);
	assert_int_equal(perm[0], 1);
	assert_string_equal(uidls[0], "0000000100000005");
	assert_int_equal(perm[1], 0);
	assert_null(uidls[1]);			/* maildir_uidl: "A" */
	free_all(perm, uidls, 2);
}

#define MANY	20000

static void
test_many_duplicates(void **state)
{
	const char	**names;
	char		**uidls, *buf, own[POP3_UIDL_MAX + 1];
	size_t		*perm, i, j;
	clock_t		 t0;

	/* Courier's %f: A's old UIDL is "A", and so is pop3d's own of each
	   A,W=k; also a file whose own UIDL is "A-2". */
	names = calloc(MANY + 2, sizeof(*names));
	buf = calloc(MANY + 2, 32);
	assert_non_null(names);
	assert_non_null(buf);
	names[0] = "A";
	for (i = 1; i <= MANY; i++) {
		snprintf(buf + 32 * i, 32, "A,W=%zu", i);
		names[i] = buf + 32 * i;
	}
	names[MANY + 1] = "A-2";
	put_str("3 V5 N20\n1 :A\n");
	t0 = clock();
	assert_int_equal(md_dovecot_uidls(dirfd, names, MANY + 2, "%f", "t",
	    &perm, &uidls), 1);
	/* Linear, not quadratic: far below a second. */
	assert_true(clock() - t0 < 2 * CLOCKS_PER_SEC);
	assert_string_equal(uidls[0], "A");
	assert_string_equal(uidls[1], "A-2");
	assert_string_equal(uidls[MANY], "A-20001");
	assert_string_equal(uidls[MANY + 1], "A-2-2");
	/* All distinct: sorted, no neighbours alike. */
	for (i = 0; i < MANY + 2; i++)
		if (uidls[i] == NULL) {
			maildir_uidl(names[perm[i]], own);
			uidls[i] = strdup(own);
		}
	qsort(uidls, MANY + 2, sizeof(*uidls), cmp_str);
	for (j = 1; j < MANY + 2; j++)
		assert_string_not_equal(uidls[j - 1], uidls[j]);
	free_all(perm, uidls, MANY + 2);
	free(names);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_entry_one_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_duplicates, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
