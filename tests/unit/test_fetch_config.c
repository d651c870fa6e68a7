/*
 * test_fetch_config.c - unit tests for fetch_config.c and the "*"
 * sections of conf.c: accounts with arbitrary names, defaults, derived
 * fields, and errors that name file, line and key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pop3fetch/fetch_config.h"

static int
parse(const char *text, struct fetch_config *cfg, struct buf *errs)
{
	memset(cfg, 0, sizeof(*cfg));
	buf_init(errs, 65536);
	return fetch_config_parse("c.conf", text, strlen(text), "/home/u",
	    cfg, errs);
}

static void
test_good(void **state)
{
	struct fetch_config	 cfg;
	struct buf		 errs;
	struct account		*a, *b;

	assert_int_equal(parse("# two accounts\n"
	    "[work]\nhost = pop.example.org\nuser = alice\n"
	    "destination = maildir:~/Mail/work\n"
	    "[home-2]\nhost = h\nuser = bob\ntls = starttls\nkeep = no\n"
	    "destination = mda:/usr/bin/procmail -d bob\n"
	    "auth = plain\nauth = user\nsize_limit = 10m\n"
	    "tls_fingerprint = sha256:" "AB:cd:00:11:22:33:44:55:66:77:88:99:"
	    "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd\n",
	    &cfg, &errs), 0);
	assert_int_equal(cfg.n, 2);
	a = fetch_config_find(&cfg, "work");
	b = fetch_config_find(&cfg, "home-2");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->port, 995);
	assert_int_equal(a->tls, FETCH_TLS_IMPLICIT);
	assert_int_equal(a->keep, 1);
	assert_int_equal(a->dest_type, FETCH_DEST_MAILDIR);
	assert_string_equal(a->dest_arg, "/home/u/Mail/work");
	assert_int_equal(a->auth_mask, FETCH_AUTH_PLAIN | FETCH_AUTH_USER);
	assert_int_equal(b->port, 110);
	assert_int_equal(b->keep, 0);
	assert_int_equal(b->dest_type, FETCH_DEST_MDA);
	assert_string_equal(b->dest_arg, "/usr/bin/procmail -d bob");
	assert_int_equal(b->size_limit, 10 * 1024 * 1024);
	assert_int_equal(b->has_pin, 1);
	assert_int_equal(b->pin[0], 0xab);
	assert_int_equal(b->pin[31], 0xdd);
	assert_null(fetch_config_find(&cfg, "nope"));
	fetch_config_free(&cfg);
	buf_clear(&errs);
}

static const struct {
	const char	*text, *want;
} bad[] = {
	{ "[a]\nhost = h\nuser = u\n", "c.conf: [a] destination: missing" },
	{ "[a]\nuser = u\ndestination = mbox:/x\n", "c.conf: [a] host: missing" },
	{ "[a]\nhost = h\nuser = u\ndestination = file:/x\n",
	  "c.conf:4: [a] destination: expected" },
	{ "[a]\nhost = h\nuser = u\ndestination = maildir:\n",
	  "c.conf:4: [a] destination:" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\ntls = maybe\n",
	  "c.conf:5: tls: invalid value \"maybe\"" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\nport = 70000\n",
	  "c.conf:5: port: out of range" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\nauth = cram\n",
	  "c.conf:5: [a] auth: unknown method" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\nauth = xoauth2\n",
	  "c.conf:5: [a] auth: OAuth2 needs oauth_token_command" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\n"
	  "tls_fingerprint = abcd\n", "c.conf:5: [a] tls_fingerprint:" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\n"
	  "delete_after_days = 3\nkeep = no\n",
	  "c.conf:5: [a] delete_after_days: needs keep = yes" },
	{ "[a]\nhost = h\nhost = i\n", "c.conf:3: host: given twice" },
	{ "[a/b]\nhost = h\n", "c.conf:1: [a/b]: bad account name" },
	{ "[.a]\nhost = h\n", "c.conf:1: [.a]: bad account name" },
	{ "[a]\nhost=h\nuser=u\ndestination=mbox:/x\n[a]\nhost = h\n",
	  "c.conf:5: [a]: account given twice" },
	{ "host = h\n", "c.conf:1: host: unknown key" },
	{ "[a]\nbogus = 1\n", "c.conf:2: bogus: unknown key in section [a]" },
	{ "", "c.conf: no account" },
	{ "[a]\nhost = h\nuser = u\ndestination = mbox:/x\ntls = off\n"
	  "tls_ca_file = /x\n", "c.conf:5: [a] tls: off, but TLS" },
};

static void
test_bad(void **state)
{
	struct fetch_config	 cfg;
	struct buf		 errs;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(parse(bad[i].text, &cfg, &errs) > 0);
		if (strstr((char *)errs.data, bad[i].want) == NULL)
			fail_msg("case %zu: \"%s\" not in \"%s\"", i,
			    bad[i].want, (char *)errs.data);
		fetch_config_free(&cfg);
		buf_clear(&errs);
	}
}

/* The same key in two accounts is not "given twice". */
static void
test_same_key_two_accounts(void **state)
{
	struct fetch_config	 cfg;
	struct buf		 errs;

	assert_int_equal(parse("[a]\nhost=h\nuser=u\ndestination=mbox:/a\n"
	    "[b]\nhost=h\nuser=u\ndestination=mbox:/b\n", &cfg, &errs), 0);
	assert_int_equal(cfg.n, 2);
	fetch_config_free(&cfg);
	buf_clear(&errs);
}

/* Hostile bytes: NUL, long lines, odd names never crash, always error. */
static void
test_hostile(void **state)
{
	struct fetch_config	 cfg;
	struct buf		 errs;
	char			 text[4096];

	memset(&cfg, 0, sizeof(cfg));
	buf_init(&errs, 65536);
	assert_true(fetch_config_parse("c", "[a]\nhost = a\0b\n", 15, NULL,
	    &cfg, &errs) > 0);
	fetch_config_free(&cfg);
	buf_clear(&errs);
	memset(text, 'a', sizeof(text));
	text[0] = '[';
	text[sizeof(text) - 2] = ']';
	text[sizeof(text) - 1] = '\n';
	assert_true(parse("[\x01]\n", &cfg, &errs) > 0);
	fetch_config_free(&cfg);
	buf_clear(&errs);
	memset(&cfg, 0, sizeof(cfg));
	buf_init(&errs, 65536);
	assert_true(fetch_config_parse("c", text, sizeof(text), NULL, &cfg,
	    &errs) > 0);
	assert_int_equal(cfg.n, 0);
	fetch_config_free(&cfg);
	buf_clear(&errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_same_key_two_accounts),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
