/*
 * test_keyhash.c - unit tests for keyhash.c: SipHash-2-4's published
 * values, and the process key is one key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "keyhash.h"

/* SipHash-2-4's published values (key 00..0f, message 00..len-1). */
static void
test_keyhash_vectors(void **state)
{
	unsigned char	k[16], m[64];
	size_t		i;

	for (i = 0; i < sizeof(k); i++)
		k[i] = (unsigned char)i;
	for (i = 0; i < sizeof(m); i++)
		m[i] = (unsigned char)i;
	assert_true(keyhash_with(k, m, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(keyhash_with(k, m, 15) == 0xa129ca6149be45e5ULL);
	/* The process key: stable within the process. */
	assert_true(keyhash("abc", 3) == keyhash("abc", 3));
	assert_true(keyhash("abc", 3) != keyhash("abd", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyhash_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
