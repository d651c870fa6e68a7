/*
 * test_sasl.c - unit tests for sasl.c: base64 (RFC 4648 section 10
 * vectors, malformed input) and SASL PLAIN message parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sasl.h"

static const struct {
	const char	*plain, *b64;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	{ "\xff\xfe\xfd", "//79" },
	{ "\xfb\xff", "+/8=" },
};

static void
test_b64_vectors(void **state)
{
	unsigned char	 dec[64];
	char		 enc[64];
	size_t		 i, n;
	long		 r;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = strlen(vectors[i].plain);
		assert_int_equal(base64_encode((const unsigned char *)
		    vectors[i].plain, n, enc), strlen(vectors[i].b64));
		assert_string_equal(enc, vectors[i].b64);
		r = base64_decode(vectors[i].b64, strlen(vectors[i].b64), dec);
		assert_int_equal(r, (long)n);
		assert_memory_equal(dec, vectors[i].plain, n);
	}
}

static void
test_b64_malformed(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zm9", "Zm9vY",	/* length not 4n */
		"Zg== ", " Zg==", "Zm9v\r\n", "Zm 9v", "Zm9v\n",
		"Z===", "====", "=Zg=", "Zg=a", "Z=g=", "Zm9v====",
		"Zg==Zg==", "Zm8=Zm8=",			/* padding inside */
		"Zh==", "Zm9=",				/* non-zero pad bits */
		"Zm9v!A==", "Zm9-", "Zm9_", "Zm9v\x80\x80\x80\x80",
	};
	unsigned char	 dec[64];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(bad[i], strlen(bad[i]), dec) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	/* An embedded NUL is not in the alphabet. */
	assert_int_equal(base64_decode("Zm\0v", 4, dec), -1);
}

/* Every 0..3-byte value round-trips (exhaustive for 2 bytes). */
static void
test_b64_round_trip(void **state)
{
	unsigned char	 in[3], dec[8];
	char		 enc[8];
	unsigned int	 v;
	size_t		 n;

	for (v = 0; v < 65536; v++) {
		in[0] = (unsigned char)(v >> 8);
		in[1] = (unsigned char)v;
		in[2] = (unsigned char)(v * 7);
		for (n = 1; n <= 3; n++) {
			size_t e = base64_encode(in, n, enc);

			assert_int_equal(base64_decode(enc, e, dec), (long)n);
			assert_memory_equal(dec, in, n);
		}
	}
}

struct plain_case {
	const char	*msg;
	size_t		 len;
	const char	*err;
	const char	*z, *c, *p;
};

#define M(s)	s, sizeof(s) - 1

static void
test_plain(void **state)
{
	static char		 longf[1024];
	static const struct plain_case cases[] = {
		{ M("\0alice\0secret"), NULL, "", "alice", "secret" },
		{ M("admin\0alice\0s e c"), NULL, "admin", "alice", "s e c" },
		{ M("\0alice\0"), NULL, "", "alice", "" },
		{ M("\0\0secret"), "empty user name", NULL, NULL, NULL },
		{ M("alice\0secret"), "malformed PLAIN message", NULL, NULL,
		  NULL },
		{ M("\0alice\0sec\0ret"), "malformed PLAIN message", NULL,
		  NULL, NULL },
		{ M(""), "malformed PLAIN message", NULL, NULL, NULL },
		{ M("\0"), "malformed PLAIN message", NULL, NULL, NULL },
		{ M("\0\0"), "empty user name", NULL, NULL, NULL },
		{ M("\0\0\0"), "malformed PLAIN message", NULL, NULL, NULL },
	};
	struct sasl_plain	 sp;
	const char		*err;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		r = sasl_plain_parse((const unsigned char *)cases[i].msg,
		    cases[i].len, &sp, &err);
		if (cases[i].err != NULL) {
			if (r != -1 || strcmp(err, cases[i].err) != 0)
				fail_msg("case %zu: want \"%s\"", i,
				    cases[i].err);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(sp.authzid, cases[i].z);
		assert_string_equal(sp.authcid, cases[i].c);
		assert_string_equal(sp.passwd, cases[i].p);
		sasl_plain_wipe(&sp);
		assert_int_equal(sp.passwd[0], 0);
	}

	/* 255 octets fit, 256 do not, in each field. */
	memset(longf, 'x', sizeof(longf));
	longf[0] = '\0';
	longf[1 + 255] = '\0';
	assert_int_equal(sasl_plain_parse((unsigned char *)longf, 1 + 255 + 1 +
	    255, &sp, &err), 0);
	assert_int_equal(strlen(sp.authcid), 255);
	assert_int_equal(strlen(sp.passwd), 255);
	assert_int_equal(sasl_plain_parse((unsigned char *)longf, 1 + 255 + 1 +
	    256, &sp, &err), -1);
	assert_string_equal(err, "field too long (at most 255 octets)");
	longf[1 + 255] = 'x';
	longf[1 + 256] = '\0';
	assert_int_equal(sasl_plain_parse((unsigned char *)longf, 1 + 256 + 1 +
	    3, &sp, &err), -1);
	assert_string_equal(err, "field too long (at most 255 octets)");
}

/* The whole AUTH PLAIN path: base64 then PLAIN. */
static void
test_plain_b64(void **state)
{
	const char		*b64 = "AGFsaWNlAHNlY3JldA==";
	unsigned char		 dec[64];
	struct sasl_plain	 sp;
	const char		*err;
	long			 n;

	n = base64_decode(b64, strlen(b64), dec);
	assert_int_equal(n, 13);
	assert_int_equal(sasl_plain_parse(dec, (size_t)n, &sp, &err), 0);
	assert_string_equal(sp.authcid, "alice");
	assert_string_equal(sp.passwd, "secret");
	sasl_plain_wipe(&sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_malformed),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_b64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
