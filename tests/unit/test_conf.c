/*
 * test_conf.c - unit tests for conf.c: every value type, defaults,
 * quotes and comments, and errors (with line numbers, several at once,
 * unknown sections and keys, keys given twice).
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

#include "conf.h"
#include "pop3_limits.h"

struct tconf {
	char		*name;
	char		*empty;
	long long	 count;
	long long	 neg;
	int		 flag;
	int		 mode;
	struct conf_list listen;
	long long	 size;
	long long	 timeout;
	long long	 days;
	char		*top;
};

static const char *const modes[] = { "no", "loopback", "yes", NULL };
static const char *const never[] = { "never", "always", NULL };

#define OFF(f)	offsetof(struct tconf, f)
static const struct conf_def defs[] = {
	{ "", "top", CONF_STR, 0, 0, "t", NULL, OFF(top), "before sections" },
	{ "main", "name", CONF_STR, 0, 0, "default", NULL, OFF(name), "a" },
	{ "main", "empty", CONF_STR, 0, 0, NULL, NULL, OFF(empty), "b" },
	{ "main", "count", CONF_INT, 1, 100, "10", NULL, OFF(count), "c" },
	{ "main", "neg", CONF_INT, -5, 5, "-1", NULL, OFF(neg), "d" },
	{ "main", "flag", CONF_BOOL, 0, 0, "no", NULL, OFF(flag), "e" },
	{ "main", "mode", CONF_ENUM, 0, 0, "loopback", modes, OFF(mode), "f" },
	{ "net", "listen", CONF_LIST, 0, 0, "a:1 b:2", NULL, OFF(listen),
	  "g" },
	{ "net", "size", CONF_SIZE, 0, 1LL << 40, "1k", NULL, OFF(size), "h" },
	{ "net", "timeout", CONF_TIME, 1, 86400, "10m", NULL, OFF(timeout),
	  "i" },
	{ "net", "days", CONF_INT, 0, 365, "never", never, OFF(days), "j" },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, NULL }
};

static int
parse(struct tconf *c, const char *text, struct buf *errs)
{
	memset(c, 0, sizeof(*c));
	conf_defaults(defs, c);
	buf_init(errs, 64 * 1024);
	return conf_parse(defs, c, "t.conf", text, strlen(text), errs);
}

static const char *
errtext(struct buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

static void
test_defaults(void **state)
{
	struct tconf	 c;

	memset(&c, 0, sizeof(c));
	conf_defaults(defs, &c);
	assert_string_equal(c.top, "t");
	assert_string_equal(c.name, "default");
	assert_null(c.empty);
	assert_true(c.count == 10);
	assert_true(c.neg == -1);
	assert_int_equal(c.flag, 0);
	assert_int_equal(c.mode, 1);
	assert_int_equal(c.listen.n, 2);
	assert_string_equal(c.listen.v[0], "a:1");
	assert_string_equal(c.listen.v[1], "b:2");
	assert_true(c.size == 1024);
	assert_true(c.timeout == 600);
	assert_true(c.days == -1);
	conf_free(defs, &c);
	assert_null(c.name);
	assert_int_equal(c.listen.n, 0);
}

static void
test_all_types(void **state)
{
	struct tconf	 c;
	struct buf	 errs;
	const char	*text =
	    "# comment\n"
	    "; another comment\n"
	    "top = before\n"
	    "\n"
	    "[main]\n"
	    "  name   =   \"  spaced value  \"  \n"
	    "empty =\n"
	    "count=100\n"
	    "neg = -5\n"
	    "flag = On\n"
	    "mode = YES\n"
	    "\t# indented comment\n"
	    "[ net ]\r\n"
	    "listen = 127.0.0.1:110\r\n"
	    "listen = [::1]:110\n"
	    "size = 2M\n"
	    "timeout = 2h";

	assert_int_equal(parse(&c, text, &errs), 0);
	assert_string_equal(errtext(&errs), "");
	assert_string_equal(c.top, "before");
	assert_string_equal(c.name, "  spaced value  ");
	assert_string_equal(c.empty, "");
	assert_true(c.count == 100);
	assert_true(c.neg == -5);
	assert_int_equal(c.flag, 1);
	assert_int_equal(c.mode, 2);
	/* The file's values replace the default list. */
	assert_int_equal(c.listen.n, 2);
	assert_string_equal(c.listen.v[0], "127.0.0.1:110");
	assert_string_equal(c.listen.v[1], "[::1]:110");
	assert_true(c.size == 2 * 1024 * 1024);
	assert_true(c.timeout == 7200);
	conf_free(defs, &c);
	buf_clear(&errs);
}

static void
test_set_values(void **state)
{
	static const struct {
		int		 def;	/* index into defs */
		const char	*v;
		int		 ok;
		long long	 want;
	} cases[] = {
		{ 3, "1", 1, 1 }, { 3, "0", 0, 0 }, { 3, "101", 0, 0 },
		{ 3, "", 0, 0 }, { 3, "1x", 0, 0 }, { 3, " 1", 0, 0 },
		{ 3, "+1", 0, 0 }, { 3, "0x10", 0, 0 }, { 3, "-0", 0, 0 },
		{ 3, "99999999999999999999999", 0, 0 },
		{ 4, "-5", 1, -5 }, { 4, "5", 1, 5 }, { 4, "-6", 0, 0 },
		{ 4, "-", 0, 0 }, { 4, "--1", 0, 0 },
		{ 5, "yes", 1, 1 }, { 5, "TRUE", 1, 1 }, { 5, "on", 1, 1 },
		{ 5, "1", 1, 1 }, { 5, "no", 1, 0 }, { 5, "False", 1, 0 },
		{ 5, "off", 1, 0 }, { 5, "0", 1, 0 }, { 5, "y", 0, 0 },
		{ 5, "", 0, 0 }, { 5, "2", 0, 0 },
		{ 6, "no", 1, 0 }, { 6, "Loopback", 1, 1 }, { 6, "yes", 1, 2 },
		{ 6, "maybe", 0, 0 }, { 6, "", 0, 0 },
		{ 8, "0", 1, 0 }, { 8, "512", 1, 512 }, { 8, "4k", 1, 4096 },
		{ 8, "4K", 1, 4096 }, { 8, "3m", 1, 3 << 20 },
		{ 8, "1g", 1, 1 << 30 }, { 8, "1024g", 1, 1LL << 40 },
		{ 8, "1025g", 0, 0 }, { 8, "1t", 0, 0 }, { 8, "1kb", 0, 0 },
		{ 8, "k", 0, 0 }, { 8, "-1", 0, 0 },
		{ 8, "99999999999999999g", 0, 0 },
		{ 9, "30", 1, 30 }, { 9, "30s", 1, 30 }, { 9, "5m", 1, 300 },
		{ 9, "2h", 1, 7200 }, { 9, "1d", 1, 86400 }, { 9, "2d", 0, 0 },
		{ 9, "0", 0, 0 }, { 9, "1w", 0, 0 }, { 9, "1 m", 0, 0 },
		/* An INT with words: choices[i] is -1 - i. */
		{ 10, "0", 1, 0 }, { 10, "365", 1, 365 }, { 10, "NEVER", 1, -1 },
		{ 10, "always", 1, -2 }, { 10, "-1", 0, 0 }, { 10, "366", 0, 0 },
		{ 10, "nev", 0, 0 }, { 10, "never1", 0, 0 }, { 10, "", 0, 0 },
	};
	struct tconf	 c;
	const char	*err;
	size_t		 i;
	long long	 got;
	int		 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct conf_def *d = &defs[cases[i].def];

		memset(&c, 0, sizeof(c));
		conf_defaults(defs, &c);
		err = NULL;
		r = conf_set(d, &c, cases[i].v, &err);
		if (!cases[i].ok) {
			if (r != -1 || err == NULL)
				fail_msg("%s = \"%s\": accepted", d->key,
				    cases[i].v);
			conf_free(defs, &c);
			continue;
		}
		if (r != 0)
			fail_msg("%s = \"%s\": %s", d->key, cases[i].v, err);
		if (d->type == CONF_BOOL || d->type == CONF_ENUM)
			got = *(int *)((char *)&c + d->off);
		else
			got = *(long long *)((char *)&c + d->off);
		if (got != cases[i].want)
			fail_msg("%s = \"%s\": got %lld", d->key, cases[i].v,
			    got);
		conf_free(defs, &c);
	}
}

static void
test_errors(void **state)
{
	struct tconf	 c;
	struct buf	 errs;
	const char	*text =
	    "[main]\n"				/* 1 */
	    "count = 0\n"			/* 2 */
	    "mode = maybe\n"			/* 3 */
	    "flag = sure\n"			/* 4 */
	    "name = a\n"			/* 5 */
	    "name = b\n"			/* 6 */
	    "nokey = 1\n"			/* 7 */
	    "just text\n"			/* 8 */
	    "= 5\n"				/* 9 */
	    "[bogus]\n"				/* 10 */
	    "whatever = 1\n"			/* 11 */
	    "[net\n"				/* 12 */
	    "[net]\n"				/* 13 */
	    "size = 12q\n"			/* 14 */
	    "timeout = \"5m\n"			/* 15 */
	    "listen = x\n"			/* 16 */
	    "listen = y\n"			/* 17 */
	    "top = 1\n";			/* 18 */
	const char	*want =
	    "t.conf:2: count: out of range \"0\", expected an integer in "
	    "1..100\n"
	    "t.conf:3: mode: invalid value \"maybe\", expected one of: no, "
	    "loopback, yes\n"
	    "t.conf:4: flag: invalid value \"sure\", expected one of: yes, "
	    "no, true, false, on, off, 1, 0\n"
	    "t.conf:6: name: given twice (first on line 5)\n"
	    "t.conf:7: nokey: unknown key in section [main]\n"
	    "t.conf:8: missing '=' (expected key = value)\n"
	    "t.conf:9: missing key before '='\n"
	    "t.conf:10: unknown section [bogus]\n"
	    "t.conf:12: missing ']' after section name\n"
	    "t.conf:14: size: invalid value \"12q\", expected a size in "
	    "0..1099511627776 bytes (suffix k, m or g)\n"
	    "t.conf:15: timeout: missing closing '\"'\n"
	    "t.conf:18: top: unknown key in section [net]\n";

	assert_int_equal(parse(&c, text, &errs), 12);
	assert_string_equal(errtext(&errs), want);
	/* Good lines still took effect; lists repeat without error. */
	assert_string_equal(c.name, "a");
	assert_int_equal(c.listen.n, 2);
	conf_free(defs, &c);
	buf_clear(&errs);
}

static void
test_line_errors(void **state)
{
	struct tconf	 c;
	struct buf	 errs;
	char		*text;
	size_t		 n = CONF_LINE_MAX + 64;

	/* A NUL byte, and a line over CONF_LINE_MAX. */
	memset(&c, 0, sizeof(c));
	conf_defaults(defs, &c);
	buf_init(&errs, 4096);
	assert_int_equal(conf_parse(defs, &c, "n", "[main]\nname = a\0b\n",
	    17, &errs), 1);
	assert_string_equal(errtext(&errs), "n:2: line contains NUL\n");
	conf_free(defs, &c);
	buf_clear(&errs);

	text = malloc(n + 32);
	assert_non_null(text);
	strcpy(text, "[main]\nname = ");
	memset(text + 14, 'x', n);
	strcpy(text + 14 + n, "\ncount = 5\n");
	assert_int_equal(parse(&c, text, &errs), 1);
	assert_string_equal(errtext(&errs), "t.conf:2: line too long\n");
	assert_true(c.count == 5);
	conf_free(defs, &c);
	buf_clear(&errs);
	free(text);

	/* Unknown key before any section; keys in "" are found. */
	assert_int_equal(parse(&c, "nope = 1\ntop = x\n", &errs), 1);
	assert_string_equal(errtext(&errs), "t.conf:1: nope: unknown key\n");
	assert_string_equal(c.top, "x");
	conf_free(defs, &c);
	buf_clear(&errs);

	/* Control characters in a value are escaped in the message. */
	assert_int_equal(parse(&c, "[main]\nmode = \x1b[31m\n", &errs), 1);
	assert_string_equal(errtext(&errs), "t.conf:2: mode: invalid value "
	    "\"\\x1b[31m\", expected one of: no, loopback, yes\n");
	conf_free(defs, &c);
	buf_clear(&errs);

	/* An INT with words names them among what it expects. */
	assert_int_equal(parse(&c, "[net]\ndays = soon\n", &errs), 1);
	assert_string_equal(errtext(&errs), "t.conf:2: days: invalid value "
	    "\"soon\", expected an integer in 0..365 or never or always\n");
	conf_free(defs, &c);
	buf_clear(&errs);
}

static void
test_load(void **state)
{
	struct tconf	 c;
	struct buf	 errs;
	char		 path[] = "/tmp/test_conf.XXXXXX";
	int		 fd;

	assert_true((fd = mkstemp(path)) != -1);
	assert_true(write(fd, "[main]\ncount = 7\n", 17) == 17);
	close(fd);
	memset(&c, 0, sizeof(c));
	conf_defaults(defs, &c);
	buf_init(&errs, 4096);
	assert_int_equal(conf_load(defs, &c, path, &errs), 0);
	assert_true(c.count == 7);
	unlink(path);
	assert_int_equal(conf_load(defs, &c, path, &errs), 1);
	assert_non_null(strstr(errtext(&errs), "No such file or directory"));
	conf_free(defs, &c);
	buf_clear(&errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_types),
		cmocka_unit_test(test_set_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
