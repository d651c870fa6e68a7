/*
 * test_pop3_resp.c - unit tests for pop3_resp.c (pop3fetch's parsers of
 * server input): status lines, response codes, STAT, UIDL, LIST and CAPA
 * lines, with hostile inputs; each line also fed at every cut length.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pop3fetch/pop3_resp.h"

static void
test_status(void **state)
{
	struct pop3_resp	 r;
	const char		*e;

	assert_int_equal(pop3_resp_parse("+OK hi\r\n", 8, &r, &e), 0);
	assert_int_equal(r.status, POP3_RESP_OK);
	assert_int_equal(r.textlen, 2);
	assert_memory_equal(r.text, "hi", 2);
	assert_int_equal(pop3_resp_parse("+OK\r\n", 5, &r, &e), 0);
	assert_int_equal(r.textlen, 0);
	assert_int_equal(pop3_resp_parse("-ERR [SYS/TEMP] busy\n", 21, &r,
	    &e), 0);
	assert_int_equal(r.status, POP3_RESP_ERR);
	assert_string_equal(r.code, "SYS/TEMP");
	assert_int_equal(r.textlen, 4);
	assert_int_equal(pop3_resp_parse("+ \r\n", 4, &r, &e), 0);
	assert_int_equal(r.status, POP3_RESP_CONT);
	assert_int_equal(pop3_resp_parse("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n",
	    28, &r, &e), 0);
	assert_int_equal(r.status, POP3_RESP_CONT);
	/* Not a code: kept as text. */
	assert_int_equal(pop3_resp_parse("-ERR [no close\r\n", 16, &r, &e), 0);
	assert_string_equal(r.code, "");
	assert_int_equal(r.text[0], '[');
	assert_int_equal(pop3_resp_parse("-ERR [a b] x\r\n", 14, &r, &e), 0);
	assert_string_equal(r.code, "");
}

static void
test_status_hostile(void **state)
{
	static const char *const bad[] = {
		"+OKAY\r\n", "OK\r\n", "-ER\r\n", "-ERROR\r\n", "\r\n", "\n",
		"+OK no end", "+", "*OK\r\n", " +OK\r\n", "+\tx\r\n",
	};
	struct pop3_resp	 r;
	char			 big[1024];
	const char		*e;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_resp_parse(bad[i], strlen(bad[i]), &r,
		    &e), -1);
	assert_int_equal(pop3_resp_parse("+OK a\0b\r\n", 9, &r, &e), -1);
	assert_string_equal(e, "NUL in response line");
	memset(big, 'a', sizeof(big));
	memcpy(big, "+OK ", 4);
	memcpy(big + FETCH_LINE_MAX - 2, "\r\n", 2);
	assert_int_equal(pop3_resp_parse(big, FETCH_LINE_MAX, &r, &e), 0);
	memcpy(big + FETCH_LINE_MAX - 2, "a\r\n", 3);
	assert_int_equal(pop3_resp_parse(big, FETCH_LINE_MAX + 1, &r, &e), -1);
	assert_string_equal(e, "response line too long");
	/* Every cut of a good line but the whole is unterminated. */
	for (i = 0; i < 8; i++)
		assert_int_equal(pop3_resp_parse("+OK hi\r\n", i, &r, &e), -1);
	/* A code longer than we keep stays text. */
	memset(big, 'C', sizeof(big));
	memcpy(big, "-ERR [", 6);
	big[6 + POP3_RESP_CODE_MAX + 1] = ']';
	memcpy(big + 6 + POP3_RESP_CODE_MAX + 2, "\r\n", 2);
	assert_int_equal(pop3_resp_parse(big, 6 + POP3_RESP_CODE_MAX + 4, &r,
	    &e), 0);
	assert_string_equal(r.code, "");
}

static void
test_stat(void **state)
{
	static const char *const bad[] = {
		"", "1", "1 ", " 1 2", "a 2", "1 b", "-1 2", "+1 2", "1 -2",
		"1 2x", "18446744073709551616 1", "1 18446744073709551616",
		"1000001 5",
	};
	uint64_t	 c, s;
	const char	*e;
	size_t		 i;

	assert_int_equal(pop3_resp_stat("2 320", 5, &c, &s, &e), 0);
	assert_int_equal(c, 2);
	assert_int_equal(s, 320);
	assert_int_equal(pop3_resp_stat("0 0 extra", 9, &c, &s, &e), 0);
	assert_int_equal(pop3_resp_stat("1000000 18446744073709551615", 28, &c,
	    &s, &e), 0);
	assert_int_equal(s, UINT64_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_resp_stat(bad[i], strlen(bad[i]), &c, &s,
		    &e), -1);
}

static void
test_uidl(void **state)
{
	static const char *const bad[] = {
		"1\r\n", "1 \r\n", "0 abc\r\n", "x abc\r\n", "-1 abc\r\n",
		"1000001 abc\r\n", "99999999999999999999 a\r\n", " 1 a\r\n",
		"1 a b\r\n", "1 a\x01\r\n", "1 \xff\r\n", "1 abc", "1abc\r\n",
		"1 " "0123456789012345678901234567890123456789"
		"0123456789012345678901234567890\r\n",	/* 71 chars */
	};
	char		 uid[FETCH_UID_MAX + 1];
	uint64_t	 n;
	const char	*e;
	size_t		 i;

	assert_int_equal(pop3_resp_uidl("3 whqtswO00WBw418f9t5JxYwZ\r\n", 28,
	    &n, uid, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(uid, "whqtswO00WBw418f9t5JxYwZ");
	assert_int_equal(pop3_resp_uidl("1 x \n", 5, &n, uid, &e), 0);
	assert_string_equal(uid, "x");
	assert_int_equal(pop3_resp_uidl("1 " "012345678901234567890123456789"
	    "0123456789012345678901234567890123456789\r\n", 74, &n, uid, &e),
	    0);
	assert_int_equal(strlen(uid), 70);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_resp_uidl(bad[i], strlen(bad[i]), &n, uid,
		    &e), -1);
	assert_int_equal(pop3_resp_uidl("1 a\0b\r\n", 7, &n, uid, &e), -1);
}

static void
test_list(void **state)
{
	static const char *const bad[] = {
		"1\r\n", "0 5\r\n", "1 x\r\n", "1 5x\r\n", "x 5\r\n",
		"1 18446744073709551616\r\n", "1 -5\r\n", "1 5",
	};
	uint64_t	 n, s;
	const char	*e;
	size_t		 i;

	assert_int_equal(pop3_resp_list("7 1234\r\n", 8, &n, &s, &e), 0);
	assert_int_equal(n, 7);
	assert_int_equal(s, 1234);
	assert_int_equal(pop3_resp_list("7 1234 more\r\n", 13, &n, &s, &e), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_resp_list(bad[i], strlen(bad[i]), &n, &s,
		    &e), -1);
}

static void
test_capa(void **state)
{
	static const char *const lines[] = {
		"TOP\r\n", "user\r\n", "UIDL\r\n", "PIPELINING\r\n",
		"STLS\r\n", "SASL PLAIN XOAUTH2 oauthbearer SCRAM-SHA-1\r\n",
		"IMPLEMENTATION x y\r\n", "\r\n", "SASLX PLAIN\r\n",
	};
	struct pop3_capa	 c;
	const char		*e;
	size_t			 i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(pop3_resp_capa(lines[i], strlen(lines[i]), &c,
		    &e), 0);
	assert_true(c.top && c.user && c.uidl && c.pipelining && c.stls);
	assert_int_equal(c.sasl, POP3_SASL_PLAIN | POP3_SASL_XOAUTH2 |
	    POP3_SASL_OAUTHBEARER);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pop3_resp_capa("STLSX\r\n", 7, &c, &e), 0);
	assert_int_equal(c.stls, 0);
	assert_int_equal(pop3_resp_capa("SASL PLAINX\r\n", 13, &c, &e), 0);
	assert_int_equal(c.sasl, 0);
	assert_int_equal(pop3_resp_capa("STLS\x01\r\n", 7, &c, &e), -1);
	assert_int_equal(pop3_resp_capa("STLS", 4, &c, &e), -1);
	assert_int_equal(pop3_resp_capa("ST\0LS\r\n", 7, &c, &e), -1);
	assert_int_equal(c.stls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_hostile),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_uidl),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_capa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
