/*
 * test_mailpath.c - unit tests for mailpath.c (the mail_path template:
 * check, expansion, where the walk and the creation begin, the parent)
 * and for the Dovecot passwd-file fields passwd.c keeps (home,
 * expire_days).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mailpath.h"
#include "passwd.h"

struct exp_case {
	const char	*tmpl, *user, *home;
	const char	*path;		/* NULL: expansion fails */
	const char	*walk_at;	/* path + walk */
	const char	*create_at;	/* path + create */
};

static const struct exp_case exp_cases[] = {
	{ "", "alice", NULL, "/var/mail/alice", "alice", "alice" },
	{ "~/Maildir", "bob", "/home/bob", "/home/bob/Maildir",
	  "home/bob/Maildir", "Maildir" },
	{ "~", "bob", "/home/bob/", "/home/bob", "home/bob", "" },
	{ "%h/Maildir/", "bob", "/home/bob", "/home/bob/Maildir",
	  "home/bob/Maildir", "Maildir" },
	{ "/vmail/%d/%n/Maildir", "carol@example.org", NULL,
	  "/vmail/example.org/carol/Maildir", "example.org/carol/Maildir",
	  "example.org/carol/Maildir" },
	{ "/vmail/%Ld/%Ln", "Carol@Example.ORG", NULL,
	  "/vmail/example.org/carol", "example.org/carol",
	  "example.org/carol" },
	{ "/srv/mail/user-%u", "dave", NULL, "/srv/mail/user-dave",
	  "user-dave", "user-dave" },
	{ "/srv/100%%/%u", "dave", NULL, "/srv/100%/dave", "dave", "dave" },
	/* no domain for %d, no home for ~, a relative home */
	{ "/vmail/%d/%n", "erin", NULL, NULL, NULL, NULL },
	{ "~/Maildir", "erin", NULL, NULL, NULL, NULL },
	{ "~/Maildir", "erin", "", NULL, NULL, NULL },
	{ "~/Maildir", "erin", "home/erin", NULL, NULL, NULL },
	/* ".." from a domain, or in a home */
	{ "/vmail/%d/%n", "x@..", NULL, NULL, NULL, NULL },
	{ "~/Maildir", "erin", "/home/../etc", NULL, NULL, NULL },
	{ "~/Maildir", "erin", "/home//erin", NULL, NULL, NULL },
	/* a home's trailing '/' goes, as Dovecot takes it */
	{ "~/Maildir", "erin", "/home/erin//", "/home/erin/Maildir",
	  "home/erin/Maildir", "Maildir" },
};

static void
test_expand(void **state)
{
	struct mailpath	 mp;
	const char	*err;
	size_t		 i;
	int		 rv;

	(void)state;
	for (i = 0; i < sizeof(exp_cases) / sizeof(exp_cases[0]); i++) {
		const struct exp_case *c = &exp_cases[i];

		err = NULL;
		rv = mailpath_expand(c->tmpl, "/var/mail", c->user, c->home,
		    &mp, &err);
		if (c->path == NULL) {
			if (rv == 0)
				fail_msg("case %zu (%s): expanded to %s", i,
				    c->tmpl, mp.path);
			assert_non_null(err);
			continue;
		}
		if (rv != 0)
			fail_msg("case %zu (%s): %s", i, c->tmpl, err);
		assert_string_equal(mp.path, c->path);
		assert_string_equal(mp.path + mp.walk, c->walk_at);
		assert_string_equal(mp.path + mp.create, c->create_at);
	}
}

static void
test_check(void **state)
{
	static const char *const good[] = { "", "~", "~/Maildir",
	    "%h/Maildir", "%Lh/x", "/vmail/%d/%n/Maildir", "/m/%Lu",
	    "/m/%n", "/m/%u/", "/m/%%h/%u", "/m/a.b/%u", NULL };
	static const char *const bad[] = { "/m/%x", "/m/shared", "/m/%d",
	    "rel/%u", "~bob/Maildir", "/m/~/%u", "/m/%", "/m/%L", "/m/%L%",
	    "/srv/%h/x", "/m/%u/../x", "/m//%u", "/m/./%u", "~/../x", NULL };
	const char	*err;
	size_t		 i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		if (mailpath_check(good[i], &err) != 0)
			fail_msg("%s: %s", good[i], err);
	for (i = 0; bad[i] != NULL; i++)
		if (mailpath_check(bad[i], &err) != -1)
			fail_msg("%s accepted", bad[i]);
	assert_int_equal(mailpath_uses_home("~/Maildir"), 1);
	assert_int_equal(mailpath_uses_home("/x/%Lh/y"), 1);
	assert_int_equal(mailpath_uses_home("/x/%%h/%u"), 0);
	assert_int_equal(mailpath_uses_home(""), 0);
}

/* Who is at fault: -2 for the name (the MTA should bounce), -1 else. */
static void
test_fault(void **state)
{
	struct mailpath	 mp;
	const char	*err;

	(void)state;
	assert_int_equal(mailpath_expand("/v/%d/%n", "/m", "bob", NULL, &mp,
	    &err), -2);
	assert_int_equal(mailpath_expand("/v/%d/%n", "/m", "bob@..", NULL, &mp,
	    &err), -2);
	assert_int_equal(mailpath_expand("~/M", "/m", "bob", NULL, &mp, &err),
	    -1);
	assert_int_equal(mailpath_expand("~/M", "/m", "bob", "rel", &mp, &err),
	    -1);
}

static void
test_parent(void **state)
{
	struct mailpath	 mp, parent;
	const char	*err;
	char		 base[256];

	(void)state;
	assert_int_equal(mailpath_expand("", "/var/mail", "alice", NULL, &mp,
	    &err), 0);
	assert_int_equal(mailpath_parent(&mp, &parent, base, sizeof(base)),
	    0);
	assert_string_equal(parent.path, "/var/mail");
	assert_string_equal(base, "alice");
	assert_int_equal(parent.walk, strlen("/var/mail"));
	assert_int_equal(mailpath_expand("~/Maildir", "/x", "bob",
	    "/home/bob", &mp, &err), 0);
	assert_int_equal(mailpath_parent(&mp, &parent, base, sizeof(base)),
	    0);
	assert_string_equal(parent.path, "/home/bob");
	assert_string_equal(base, "Maildir");
	assert_int_equal(parent.walk, 1);
}

static int
parse(const char *line, struct passwd_entry *e, const char **err)
{
	return passwd_parse_line(line, strlen(line), e, err);
}

static void
test_passwd_fields(void **state)
{
	struct passwd_entry	 e;
	const char		*err;

	(void)state;
	assert_int_equal(parse("a:{PLAIN}x:1:2:gecos:/home/a:/bin/sh:"
	    "userdb_expire_days=30 other=1", &e, &err), 0);
	assert_string_equal(e.home, "/home/a");
	assert_int_equal(e.expire_days, 30);
	passwd_entry_clear(&e);
	assert_int_equal(parse("b:$6$s$h", &e, &err), 0);
	assert_null(e.home);
	assert_int_equal(e.expire_days, -1);
	passwd_entry_clear(&e);
	assert_int_equal(parse("c:$6$s$h::::/h/c", &e, &err), 0);
	assert_string_equal(e.home, "/h/c");
	passwd_entry_clear(&e);
	assert_int_equal(parse("d:$6$s$h::::::expire_days=never", &e, &err),
	    0);
	assert_int_equal(e.expire_days, -2);
	passwd_entry_clear(&e);
	/* An extra field may hold ':'. */
	assert_int_equal(parse("d:$6$s$h::::::mail=maildir:/x expire_days=7",
	    &e, &err), 0);
	assert_int_equal(e.expire_days, 7);
	passwd_entry_clear(&e);
	/* A bad field is left out and named; the line stays valid. */
	assert_int_equal(parse("e:$6$s$h::::home::", &e, &err), 0);
	assert_null(e.home);
	assert_non_null(strstr(e.warn, "home"));
	passwd_entry_clear(&e);
	{
		char	line[700];

		snprintf(line, sizeof(line), "e:$6$s$h::::/%0600d::", 0);
		assert_int_equal(parse(line, &e, &err), 0);
		assert_null(e.home);
		assert_non_null(e.warn);
		passwd_entry_clear(&e);
	}
	assert_int_equal(parse("f:$6$s$h::::::expire_days=x", &e, &err), 0);
	assert_int_equal(e.expire_days, -1);
	assert_non_null(strstr(e.warn, "expire_days"));
	passwd_entry_clear(&e);
	assert_int_equal(parse("f:$6$s$h::::::expire_days=99999999", &e, &err),
	    0);
	assert_int_equal(e.expire_days, -1);
	assert_non_null(e.warn);
	passwd_entry_clear(&e);
	assert_int_equal(parse("f:$6$s$h::::::expire_days=", &e, &err), 0);
	assert_non_null(e.warn);
	passwd_entry_clear(&e);
	assert_int_equal(parse("g:$6$s$h:1:2::/home/g::", &e, &err), 0);
	assert_null(e.warn);
	passwd_entry_clear(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_fault),
		cmocka_unit_test(test_parent),
		cmocka_unit_test(test_passwd_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
