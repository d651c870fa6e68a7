/*
 * test_addrlimit.c - unit tests for addrlimit.c: address keys (IPv4,
 * IPv4-mapped, IPv6 grouped by prefix), the shared count table against
 * a simple model under random admits and releases (deletion in a linear
 * probing table is where such tables break), limits summed over slots,
 * a cleared slot, a count seen across fork(), and two slots admitting
 * at once never passing the limit together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <sys/wait.h>

#include "pop3d/addrlimit.h"

static struct addrkey
key(const char *s, int prefix)
{
	struct addrkey	k;

	assert_int_equal(addrkey_from_str(&k, s, prefix), 0);
	return k;
}

static void
test_keys(void **state)
{
	struct addrkey	a, b;
	char		buf[64];

	a = key("192.0.2.1", 64);
	b = key("::ffff:192.0.2.1", 64);
	assert_int_equal(a.fam, 4);
	assert_true(addrkey_eq(&a, &b));
	assert_string_equal(addrkey_str(&a, 64, buf, sizeof(buf)),
	    "192.0.2.1");

	/* One /64 is one client; the next /64 is another. */
	a = key("2001:db8:1:2::1", 64);
	b = key("2001:db8:1:2:ffff:ffff:ffff:ffff", 64);
	assert_true(addrkey_eq(&a, &b));
	b = key("2001:db8:1:3::1", 64);
	assert_false(addrkey_eq(&a, &b));
	assert_string_equal(addrkey_str(&a, 64, buf, sizeof(buf)),
	    "2001:db8:1:2::/64");

	/* Other prefixes, including ones not on a byte boundary. */
	a = key("2001:db8:1:2::1", 128);
	b = key("2001:db8:1:2::2", 128);
	assert_false(addrkey_eq(&a, &b));
	a = key("2001:db8:abcd::1", 36);
	b = key("2001:db8:afff::1", 36);
	assert_true(addrkey_eq(&a, &b));
	b = key("2001:db8:bfff::1", 36);
	assert_false(addrkey_eq(&a, &b));

	/* An IPv4 key never equals an IPv6 one with the same bytes. */
	a = key("1.2.3.4", 128);
	b = key("102:304::", 128);
	assert_false(addrkey_eq(&a, &b));

	assert_int_equal(addrkey_from_str(&a, "not an address", 64), -1);
	assert_int_equal(addrkey_from_str(&a, "192.0.2.1/24", 64), -1);
}

static void
test_limit_over_slots(void **state)
{
	struct addrtab	*t = addrtab_new(3, 10);
	struct addrkey	 a = key("192.0.2.7", 64), b = key("192.0.2.8", 64);

	assert_non_null(t);
	/* Limit 4 over all slots, whichever worker takes the connection. */
	assert_int_equal(addrtab_admit(t, 0, &a, 4), 1);
	assert_int_equal(addrtab_admit(t, 1, &a, 4), 1);
	assert_int_equal(addrtab_admit(t, 2, &a, 4), 1);
	assert_int_equal(addrtab_admit(t, 2, &a, 4), 1);
	assert_int_equal(addrtab_count(t, &a), 4);
	assert_int_equal(addrtab_admit(t, 0, &a, 4), 0);
	assert_int_equal(addrtab_admit(t, 1, &a, 4), 0);
	/* Another address is not affected. */
	assert_int_equal(addrtab_admit(t, 0, &b, 4), 1);
	/* One leaves: one may come. */
	addrtab_release(t, 2, &a);
	assert_int_equal(addrtab_count(t, &a), 3);
	assert_int_equal(addrtab_admit(t, 1, &a, 4), 1);
	/* A dead worker's connections stop counting. */
	addrtab_clear_slot(t, 2);
	assert_int_equal(addrtab_count(t, &a), 3);
	assert_int_equal(addrtab_count(t, &b), 1);
	addrtab_clear_slot(t, 0);
	assert_int_equal(addrtab_count(t, &a), 2);
	assert_int_equal(addrtab_count(t, &b), 0);
	/* Limit 0: none. */
	assert_int_equal(addrtab_admit(t, 1, &a, 0), 1);
	addrtab_free(t);
}

/* Random admits and releases in a small, crowded table, against a model. */
static void
test_against_model(void **state)
{
	enum { NKEYS = 200, PER_SLOT = 100, ROUNDS = 20000 };
	struct addrtab	*t = addrtab_new(2, PER_SLOT);
	struct addrkey	 k[NKEYS];
	long		 model[2][NKEYS];
	long		 live[2] = { 0, 0 };
	char		 s[32];
	int		 i, slot, r;

	assert_non_null(t);
	memset(model, 0, sizeof(model));
	for (i = 0; i < NKEYS; i++) {
		snprintf(s, sizeof(s), "10.0.%d.%d", i / 3, i % 250);
		k[i] = key(s, 64);
	}
	srandom(12345);
	for (r = 0; r < ROUNDS; r++) {
		slot = (int)(random() % 2);
		i = (int)(random() % NKEYS);
		if (random() % 2 && live[slot] < PER_SLOT) {
			assert_int_equal(addrtab_admit(t, (size_t)slot, &k[i],
			    0), 1);
			model[slot][i]++;
			live[slot]++;
		} else if (model[slot][i] > 0) {
			addrtab_release(t, (size_t)slot, &k[i]);
			model[slot][i]--;
			live[slot]--;
		}
		for (i = 0; i < NKEYS; i++)
			assert_int_equal(addrtab_count(t, &k[i]),
			    model[0][i] + model[1][i]);
	}
	addrtab_free(t);
}

/*
 * Two workers (two threads, a slot each) admit one address with a limit
 * of 1 as fast as they can: at no moment may both hold an admission.
 */
#define RACE_ROUNDS	4000000
static struct addrtab	*race_tab;
static atomic_int	 race_live, race_over;

static void *
race_run(void *arg)
{
	size_t		slot = (size_t)(uintptr_t)arg;
	struct addrkey	a = key("192.0.2.200", 64);
	int		i, j;

	for (i = 0; i < RACE_ROUNDS; i++) {
		if (!addrtab_admit(race_tab, slot, &a, 1))
			continue;
		/* Held a moment, as a session holds it. */
		atomic_fetch_add(&race_live, 1);
		for (j = 0; j < 64; j++)
			if (atomic_load(&race_live) > 1) {
				atomic_fetch_add(&race_over, 1);
				break;
			}
		atomic_fetch_sub(&race_live, 1);
		addrtab_release(race_tab, slot, &a);
	}
	return NULL;
}

static void
test_admit_race(void **state)
{
	pthread_t	t[2];
	struct addrkey	a;
	size_t		i;
	int		r;

	race_tab = addrtab_new(2, 4);
	assert_non_null(race_tab);
	/* A few times: the two must overlap in the window that matters. */
	for (r = 0; r < 5 && atomic_load(&race_over) == 0; r++) {
		for (i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, race_run,
			    (void *)(uintptr_t)i), 0);
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	}
	assert_int_equal(atomic_load(&race_over), 0);
	a = key("192.0.2.200", 64);
	assert_int_equal(addrtab_count(race_tab, &a), 0);
	addrtab_free(race_tab);
}

/*
 * Many addresses at once in one slot (more than a tiny table's worth):
 * each is admitted and counted, and a cleared neighbour slot changes
 * nothing in this one.
 */
static void
test_many_addresses(void **state)
{
	enum { N = 300 };
	struct addrtab	*t = addrtab_new(3, N);
	struct addrkey	 k[N];
	char		 s[32];
	int		 i;

	assert_non_null(t);
	assert_int_equal(addrtab_slot_cells(t) & (addrtab_slot_cells(t) - 1),
	    0);
	for (i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "10.1.%d.%d", i / 250, i % 250);
		k[i] = key(s, 64);
		assert_int_equal(addrtab_admit(t, 1, &k[i], 5), 1);
	}
	addrtab_clear_slot(t, 0);
	addrtab_clear_slot(t, 2);
	for (i = 0; i < N; i++)
		assert_int_equal(addrtab_count(t, &k[i]), 1);
	for (i = 0; i < N; i += 2)
		addrtab_release(t, 1, &k[i]);
	for (i = 0; i < N; i++)
		assert_int_equal(addrtab_count(t, &k[i]), i % 2);
	addrtab_free(t);
}

/* The table is shared: what a forked worker counts, the parent sees. */
static void
test_shared_across_fork(void **state)
{
	struct addrtab	*t = addrtab_new(2, 4);
	struct addrkey	 a = key("198.51.100.9", 64);
	pid_t		 pid;
	int		 st;

	assert_non_null(t);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(addrtab_admit(t, 1, &a, 5) == 1 &&
		    addrtab_admit(t, 1, &a, 5) == 1 ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(addrtab_count(t, &a), 2);
	addrtab_clear_slot(t, 1);
	assert_int_equal(addrtab_count(t, &a), 0);
	addrtab_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_limit_over_slots),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_admit_race),
		cmocka_unit_test(test_shared_across_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
