/*
 * test_cidr.c - unit tests for pop3d_config.c's address blocks (the
 * proxy_trusted setting): parsing IPv4 and IPv6 blocks and single
 * addresses, host bits cleared, malformed blocks refused, and matching
 * at and around the prefix boundary, IPv4-mapped IPv6 peers included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "pop3d_config.h"

static int
match(const char *block, const char *addr)
{
	struct cidr	c;
	uint8_t		a[16];

	assert_int_equal(cidr_parse(block, &c), 0);
	if (inet_pton(AF_INET, addr, a) == 1)
		return cidr_match(&c, 4, a);
	assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	return cidr_match(&c, 6, a);
}

static void
test_parse(void **state)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
		"10.0.0.0/8/8", "10.0.0/8", "10.0.0.0 /8", "10.0.0.0/08x",
		"2001:db8::/129", "2001:db8::/1000", "::/", "host/8",
		"10.0.0.0/+8", "2001:db8::1:2:3:4:5:6:7/64",
		/* IPv4 written mapped, shorter than the mapped prefix */
		"::ffff:10.0.0.0/8", "::ffff:0:0/95",
	};
	struct cidr	c;
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], &c) != -1)
			fail_msg("accepted: \"%s\"", bad[i]);
	assert_int_equal(cidr_parse("10.1.2.3/8", &c), 0);
	assert_int_equal(c.fam, 4);
	assert_int_equal(c.bits, 8);
	assert_int_equal(c.b[0], 10);
	assert_int_equal(c.b[1], 0);	/* host bits cleared */
	assert_int_equal(cidr_parse("192.0.2.9", &c), 0);
	assert_int_equal(c.bits, 32);
	assert_int_equal(cidr_parse("2001:db8::1/127", &c), 0);
	assert_int_equal(c.fam, 6);
	assert_int_equal(c.bits, 127);
	assert_int_equal(c.b[15], 0);
	assert_int_equal(cidr_parse("::/0", &c), 0);
	assert_int_equal(c.bits, 0);
	assert_int_equal(cidr_parse("::ffff:10.1.2.3/104", &c), 0);
	assert_int_equal(c.fam, 4);
	assert_int_equal(c.bits, 8);
	assert_int_equal(c.b[0], 10);
	assert_int_equal(c.b[1], 0);
}

static void
test_match(void **state)
{
	assert_true(match("127.0.0.0/8", "127.0.0.1"));
	assert_true(match("127.0.0.0/8", "127.255.255.255"));
	assert_false(match("127.0.0.0/8", "128.0.0.1"));
	assert_false(match("127.0.0.0/8", "126.255.255.255"));
	assert_true(match("192.0.2.0/25", "192.0.2.127"));
	assert_false(match("192.0.2.0/25", "192.0.2.128"));
	assert_true(match("192.0.2.9", "192.0.2.9"));
	assert_false(match("192.0.2.9", "192.0.2.8"));
	assert_true(match("0.0.0.0/0", "203.0.113.5"));
	assert_false(match("0.0.0.0/0", "2001:db8::1"));
	assert_true(match("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(match("2001:db8::/32", "2001:db9::1"));
	assert_true(match("2001:db8::/127", "2001:db8::1"));
	assert_false(match("2001:db8::/127", "2001:db8::2"));
	assert_false(match("2001:db8::/32", "32.1.13.184"));
	/* A peer on a [::] listener: IPv4 arrives mapped. */
	assert_true(match("127.0.0.0/8", "::ffff:127.0.0.3"));
	assert_false(match("127.0.0.0/8", "::ffff:10.0.0.3"));
	assert_false(match("127.0.0.0/8", "::1"));
	assert_true(match("::1", "::1"));
	/* A block written mapped is the IPv4 block, for either peer form. */
	assert_true(match("::ffff:127.0.0.0/104", "127.0.0.9"));
	assert_true(match("::ffff:127.0.0.0/104", "::ffff:127.0.0.9"));
	assert_false(match("::ffff:127.0.0.0/104", "128.0.0.1"));
	assert_true(match("::ffff:192.0.2.7", "192.0.2.7"));
	assert_false(match("::ffff:192.0.2.7", "192.0.2.8"));

}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
