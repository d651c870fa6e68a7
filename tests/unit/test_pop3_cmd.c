/*
 * test_pop3_cmd.c - unit tests for pop3_cmd.c: command line parsing
 * (lenient, strict, the raw rest of a PASS line, the verb looked up
 * first, the strict checks after a lenient parse) and message numbers,
 * as case tables of hostile inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pop3d/pop3_cmd.h"

struct parse_case {
	const char	*line;
	size_t		 len;		/* 0: strlen(line) */
	size_t		 argmax;	/* 0: lenient */
	const char	*err;		/* NULL: must parse */
	const char	*verb;
	int		 argc;
	const char	*a0, *a1;
	const char	*rest;
};

#define L(s)	s, sizeof(s) - 1
#define A	POP3_ARG_MAX
#define U	POP3_USER_MAX

static const struct parse_case parse_cases[] = {
	{ "STAT", 0, A, NULL, "STAT", 0, NULL, NULL, "" },
	{ "stat", 0, A, NULL, "STAT", 0, NULL, NULL, "" },
	{ "sTaT", 0, A, NULL, "STAT", 0, NULL, NULL, "" },
	{ "TOP", 0, A, NULL, "TOP", 0, NULL, NULL, "" },
	{ "LIST 1", 0, A, NULL, "LIST", 1, "1", NULL, "1" },
	{ "top 1 10", 0, A, NULL, "TOP", 2, "1", "10", "1 10" },
	{ "LIST 4294967297", 0, A, NULL, "LIST", 1, "4294967297", NULL,
	  "4294967297" },
	{ "LIST 18446744073709551616", 0, A, NULL, "LIST", 1,
	  "18446744073709551616", NULL, "18446744073709551616" },
	{ "PASS my secret pw", 0, 0, NULL, "PASS", 2, "my", "secret",
	  "my secret pw" },
	/* Trailing SPs are dropped, lenient parse included. */
	{ "PASS  two  spaces ", 0, 0, NULL, "PASS", 2, "", "two",
	  " two  spaces" },
	{ "PASS ", 0, 0, NULL, "PASS", 0, NULL, NULL, "" },
	{ "PASS p\xc3\xa4ss", 0, 0, NULL, "PASS", 1, "p\xc3\xa4ss", NULL,
	  "p\xc3\xa4ss" },
	{ "USER \xff\x80", 0, A, NULL, "USER", 1, "\xff\x80", NULL,
	  "\xff\x80" },
	{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, 0, NULL, "AUTH", 2, "PLAIN",
	  "AGFsaWNlAHNlY3JldA==", "PLAIN AGFsaWNlAHNlY3JldA==" },
	/* 40 characters is the RFC 1939 maximum. */
	{ "USER 0123456789012345678901234567890123456789", 0, A, NULL, "USER",
	  1, "0123456789012345678901234567890123456789", NULL,
	  "0123456789012345678901234567890123456789" },
	/* User names: up to POP3_USER_MAX (64), as the passwd-file. */
	{ "USER marie-anne.de-la-tour-d-auvergne+mail@bibliotheque-nationale"
	  ".org", 0, U, NULL, "USER", 1,
	  "marie-anne.de-la-tour-d-auvergne+mail@bibliotheque-nationale.org",
	  NULL,
	  "marie-anne.de-la-tour-d-auvergne+mail@bibliotheque-nationale.org" },
	/* Clients' habit: spaces after the last argument. */
	{ "LIST 1 ", 0, A, NULL, "LIST", 1, "1", NULL, "1" },
	{ "TOP 1 10   ", 0, A, NULL, "TOP", 2, "1", "10", "1 10" },
	{ "USER alice ", 0, U, NULL, "USER", 1, "alice", NULL, "alice" },
	{ "LIST ", 0, A, NULL, "LIST", 0, NULL, NULL, "" },
	{ "STAT  ", 0, A, NULL, "STAT", 0, NULL, NULL, "" },
	{ "AUTH PLAIN ", 0, 0, NULL, "AUTH", 1, "PLAIN", NULL, "PLAIN" },

	{ "", 0, A, "empty command", NULL, 0, NULL, NULL, NULL },
	{ L("LIST\0001"), A, "line contains NUL", NULL, 0, NULL, NULL, NULL },
	{ L("\0"), A, "line contains NUL", NULL, 0, NULL, NULL, NULL },
	{ L("PASS a\0b"), 0, "line contains NUL", NULL, 0, NULL, NULL, NULL },
	{ "LIST\t1", 0, A, "command contains a control character", NULL, 0,
	  NULL, NULL, NULL },
	{ "LIST 1\r", 0, A, "command contains a control character", NULL, 0,
	  NULL, NULL, NULL },
	{ "PASS a\x7f", 0, 0, "command contains a control character", NULL,
	  0, NULL, NULL, NULL },
	{ "PASS \x1b[2J", 0, 0, "command contains a control character",
	  NULL, 0, NULL, NULL, NULL },
	{ "QUITS", 0, A, "unknown command", NULL, 0, NULL, NULL, NULL },
	{ "QUITS now", 0, A, "unknown command", NULL, 0, NULL, NULL, NULL },
	{ "QU", 0, A, "unknown command", NULL, 0, NULL, NULL, NULL },
	{ "US3R a", 0, A, "unknown command", NULL, 0, NULL, NULL, NULL },
	{ "USR1", 0, A, "unknown command", NULL, 0, NULL, NULL, NULL },
	{ " USER a", 0, A, "unknown command", NULL, 0, NULL, NULL, NULL },
	{ "\xc3\x9cSER a", 0, A, "unknown command", NULL, 0, NULL, NULL,
	  NULL },
	{ "   ", 0, A, "empty command", NULL, 0, NULL, NULL, NULL },
	{ "LIST  1", 0, A, "empty argument", NULL, 0, NULL, NULL, NULL },
	{ "TOP 1  2 ", 0, A, "empty argument", NULL, 0, NULL, NULL, NULL },
	{ "TOP 1 2 3", 0, A, "too many arguments", NULL, 0, NULL, NULL, NULL },
	{ "USER 01234567890123456789012345678901234567890", 0, A,
	  "argument too long (at most 40 octets)", NULL, 0, NULL, NULL, NULL },
	{ "USER marie-anne.de-la-tour-d-auvergne+mail@bibliotheque-nationale"
	  ".orgx", 0, U, "argument too long (at most 64 octets)", NULL, 0,
	  NULL, NULL, NULL },
	/* Lenient (argmax 0): extra arguments stay in rest. */
	{ "APOP a b c", 0, 0, NULL, "APOP", 2, "a", "b", "a b c" },
};

static void
test_parse_table(void **state)
{
	struct pop3_cmd	 cmd;
	const char	*err;
	size_t		 i, len;
	int		 r;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		len = c->len != 0 ? c->len : strlen(c->line);
		err = NULL;
		r = pop3_cmd_parse(&cmd, c->line, len, c->argmax, &err);
		if (c->err != NULL) {
			if (r != -1 || err == NULL || strcmp(err, c->err) != 0)
				fail_msg("case %zu \"%s\": want error \"%s\", "
				    "got %d \"%s\"", i, c->line, c->err, r,
				    err ? err : "");
			continue;
		}
		if (r != 0)
			fail_msg("case %zu \"%s\": error \"%s\"", i, c->line,
			    err);
		assert_string_equal(cmd.verb, c->verb);
		assert_int_equal(cmd.argc, c->argc);
		if (c->argc > 0)
			assert_string_equal(cmd.argv[0], c->a0);
		if (c->argc > 1)
			assert_string_equal(cmd.argv[1], c->a1);
		assert_string_equal(cmd.rest, c->rest);
	}
}

static void
test_long_lines(void **state)
{
	static char	 line[POP3_SASL_LINE_MAX + 100];
	struct pop3_cmd	 cmd;
	const char	*err;

	memset(line, 'A', sizeof(line));
	memcpy(line, "AUTH ", 5);
	/* An AUTH initial response may pass 255 octets (RFC 5034). */
	assert_int_equal(pop3_cmd_parse(&cmd, line, POP3_SASL_LINE_MAX, 0,
	    &err), 0);
	assert_int_equal(strlen(cmd.rest), POP3_SASL_LINE_MAX - 5);
	assert_int_equal(pop3_cmd_parse(&cmd, line, POP3_SASL_LINE_MAX + 1,
	    0, &err), -1);
	assert_string_equal(err, "line too long");
	assert_int_equal(pop3_cmd_parse(&cmd, line, sizeof(line),
	    POP3_ARG_MAX, &err), -1);
	assert_string_equal(err, "line too long");
	/* 300 octets with strict: one argument over 40. */
	assert_int_equal(pop3_cmd_parse(&cmd, line, 300, POP3_ARG_MAX, &err),
	    -1);
	assert_string_equal(err, "argument too long (at most 40 octets)");
}

/*
 * rest is unchanged by the argument split (secrets with spaces), but for
 * the trailing SPs dropped before it.
 */
static void
test_pass_rest(void **state)
{
	struct pop3_cmd	 cmd;
	const char	*err, *l = "PASS  a b  c ";

	assert_int_equal(pop3_cmd_parse(&cmd, l, strlen(l), 0, &err), 0);
	assert_string_equal(cmd.rest, " a b  c");
	assert_int_equal(pop3_cmd_parse(&cmd, l, strlen(l), POP3_ARG_MAX,
	    &err), -1);
}

/*
 * POP3_CMD_RAW: the rest of the line as sent, for PASS.  Nothing is
 * trimmed or refused but NUL.
 */
static void
test_raw_rest(void **state)
{
	static const struct {
		const char	*line;
		size_t		 len;
		const char	*err;
		const char	*rest;
		int		 argc;
	} cases[] = {
		{ L("PASS  two  spaces\t "), NULL, " two  spaces\t ", 1 },
		{ L("pass p\x7f\x1b[2J\r"), NULL, "p\x7f\x1b[2J\r", 1 },
		{ L("PASS   "), NULL, "  ", 1 },
		{ L("PASS "), NULL, "", 0 },
		{ L("PASS"), NULL, "", 0 },
		{ L("PASS a\0b"), "line contains NUL", NULL, 0 },
		{ L("PASSX y"), "unknown command", NULL, 0 },
		{ L(""), "empty command", NULL, 0 },
	};
	struct pop3_cmd	 cmd;
	const char	*err;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		r = pop3_cmd_parse(&cmd, cases[i].line, cases[i].len,
		    POP3_CMD_RAW, &err);
		if (cases[i].err != NULL) {
			assert_int_equal(r, -1);
			assert_string_equal(err, cases[i].err);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(cmd.verb, "PASS");
		assert_string_equal(cmd.rest, cases[i].rest);
		assert_int_equal(cmd.argc, cases[i].argc);
		if (cmd.argc == 1)
			assert_ptr_equal(cmd.argv[0], cmd.rest);
	}
	memset(&cmd, 0, sizeof(cmd));
	{
		static char	 line[POP3_SASL_LINE_MAX + 1];

		memset(line, 'x', sizeof(line));
		memcpy(line, "PASS ", 5);
		assert_int_equal(pop3_cmd_parse(&cmd, line, sizeof(line),
		    POP3_CMD_RAW, &err), -1);
		assert_string_equal(err, "line too long");
	}
}

static void
test_verb(void **state)
{
	static const struct {
		const char	*line;
		const char	*verb;	/* NULL: none */
	} cases[] = {
		{ "list 1", "LIST" }, { "TOP", "TOP" }, { "Pass  x ", "PASS" },
		{ "QUITS", NULL }, { "QU", NULL }, { "LIST\t1", NULL },
		{ " USER a", NULL }, { "US3R", NULL }, { "", NULL },
	};
	char	verb[5];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].verb == NULL) {
			assert_int_equal(pop3_cmd_verb(cases[i].line,
			    strlen(cases[i].line), verb), -1);
			assert_string_equal(verb, "");
		} else {
			assert_int_equal(pop3_cmd_verb(cases[i].line,
			    strlen(cases[i].line), verb), 0);
			assert_string_equal(verb, cases[i].verb);
		}
	}
}

/*
 * A lenient parse and pop3_cmd_check() afterwards say what a strict
 * parse says, for every case of the table and each bound.
 */
static void
test_check_after_lenient(void **state)
{
	static const size_t bounds[] = { POP3_ARG_MAX, POP3_USER_MAX, 1 };
	struct pop3_cmd	 strict, cmd;
	const char	*e1, *e2;
	size_t		 i, b, len;
	int		 r1, r2;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		len = c->len != 0 ? c->len : strlen(c->line);
		for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
			e1 = e2 = NULL;
			r1 = pop3_cmd_parse(&strict, c->line, len, bounds[b],
			    &e1);
			r2 = pop3_cmd_parse(&cmd, c->line, len, 0, &e2);
			if (r2 == 0)
				r2 = pop3_cmd_check(&cmd, bounds[b], &e2);
			if (r1 != r2 || (r1 == -1 && strcmp(e1, e2) != 0))
				fail_msg("case %zu \"%s\" bound %zu: strict %d "
				    "\"%s\", lenient+check %d \"%s\"", i,
				    c->line, bounds[b], r1, e1 ? e1 : "", r2,
				    e2 ? e2 : "");
		}
	}
	/* Past argv[]: an empty third argument, then a fourth. */
	assert_int_equal(pop3_cmd_parse(&cmd, "TOP 1 2  3", 10, 0, &e2), 0);
	assert_int_equal(pop3_cmd_check(&cmd, POP3_ARG_MAX, &e2), -1);
	assert_string_equal(e2, "empty argument");
}

struct num_case {
	const char	*s;
	uint64_t	 max;
	const char	*err;
	uint64_t	 want;
};

static const struct num_case num_cases[] = {
	{ "1", 10, NULL, 1 },
	{ "10", 10, NULL, 10 },
	{ "007", 10, NULL, 7 },
	{ "11", 10, "no such message", 0 },
	{ "0", 10, "no such message", 0 },
	{ "00", 10, "no such message", 0 },
	{ "4294967297", 10, "no such message", 0 },
	{ "4294967297", UINT64_MAX, NULL, 4294967297ULL },
	{ "18446744073709551615", UINT64_MAX, NULL, UINT64_MAX },
	{ "18446744073709551616", UINT64_MAX, "no such message", 0 },
	{ "99999999999999999999999999", UINT64_MAX, "no such message", 0 },
	{ "", 10, "invalid message number", 0 },
	{ "-1", 10, "invalid message number", 0 },
	{ "+1", 10, "invalid message number", 0 },
	{ "1 ", 10, "invalid message number", 0 },
	{ " 1", 10, "invalid message number", 0 },
	{ "1a", 10, "invalid message number", 0 },
	{ "0x1", 10, "invalid message number", 0 },
	{ "\xd9\xa1", 10, "invalid message number", 0 },
	{ "1", 0, "no such message", 0 },
};

static void
test_msgnum(void **state)
{
	const char	*err;
	uint64_t	 v;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		const struct num_case *c = &num_cases[i];

		v = 12345;
		err = NULL;
		r = pop3_msgnum(c->s, c->max, &v, &err);
		if (c->err == NULL) {
			if (r != 0 || v != c->want)
				fail_msg("case %zu \"%s\": r %d err %s", i,
				    c->s, r, err ? err : "");
		} else if (r != (strcmp(c->err, "no such message") == 0 ?
		    -2 : -1) || err == NULL || strcmp(err, c->err) != 0)
			fail_msg("case %zu \"%s\": want \"%s\", got %d \"%s\"",
			    i, c->s, c->err, r, err ? err : "");
	}
}

static void
test_linecount(void **state)
{
	const char	*err;
	uint64_t	 v;

	assert_int_equal(pop3_linecount("0", &v, &err), 0);
	assert_true(v == 0);
	assert_int_equal(pop3_linecount("25", &v, &err), 0);
	assert_true(v == 25);
	assert_int_equal(pop3_linecount("18446744073709551616", &v, &err), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(pop3_linecount("-1", &v, &err), -1);
	assert_string_equal(err, "invalid line count");
	assert_int_equal(pop3_linecount("", &v, &err), -1);
	assert_int_equal(pop3_linecount("1 ", &v, &err), -1);
}

/* Every single byte value as a one-byte argument: no crash, sane result. */
static void
test_all_bytes(void **state)
{
	struct pop3_cmd	 cmd;
	const char	*err;
	char		 line[8];
	int		 c, r;

	for (c = 0; c < 256; c++) {
		memcpy(line, "LIST x", 6);
		line[5] = (char)c;
		r = pop3_cmd_parse(&cmd, line, 6, POP3_ARG_MAX, &err);
		if (c < 0x20 || c == 0x7f)
			assert_int_equal(r, -1);
		else
			assert_int_equal(r, 0);
		/* A trailing SP is dropped: LIST without an argument. */
		assert_int_equal(cmd.argc, c == ' ' || r == -1 ? 0 : 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_pass_rest),
		cmocka_unit_test(test_raw_rest),
		cmocka_unit_test(test_verb),
		cmocka_unit_test(test_check_after_lenient),
		cmocka_unit_test(test_msgnum),
		cmocka_unit_test(test_linecount),
		cmocka_unit_test(test_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
