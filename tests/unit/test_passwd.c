/*
 * test_passwd.c - unit tests for passwd.c: line parsing and schemes,
 * locked entries, verification against passwd_hash() output and crypt(3)
 * hashes with $6$ and $2b$ salts, passwd-file loading errors, and
 * entries made from a database row's fields (passwd_entry_fields).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <crypt.h>
#include <unistd.h>

#include "passwd.h"

struct line_case {
	const char		*line;
	int			 ret;		/* 0, 1 (skip) or -1 */
	const char		*err;
	const char		*user, *hash;
	enum passwd_scheme	 scheme;
	int			 locked;
};

static const struct line_case line_cases[] = {
	{ "alice:$y$j9T$abc$def", 0, NULL, "alice", "$y$j9T$abc$def",
	  PASSWD_SCHEME_YESCRYPT, 0 },
	{ "bob:{SHA512-CRYPT}$6$salt$hash:1000:1000::/home/bob::extra", 0,
	  NULL, "bob", "$6$salt$hash", PASSWD_SCHEME_SHA512_CRYPT, 0 },
	{ "bob:{sha512-crypt}$6$salt$hash", 0, NULL, "bob", "$6$salt$hash",
	  PASSWD_SCHEME_SHA512_CRYPT, 0 },
	{ "c:{SHA256-CRYPT}$5$s$h", 0, NULL, "c", "$5$s$h",
	  PASSWD_SCHEME_SHA256_CRYPT, 0 },
	{ "c:$5$s$h", 0, NULL, "c", "$5$s$h", PASSWD_SCHEME_SHA256_CRYPT, 0 },
	{ "d:{BLF-CRYPT}$2y$05$abc", 0, NULL, "d", "$2y$05$abc",
	  PASSWD_SCHEME_BCRYPT, 0 },
	{ "d:$2a$05$abc", 0, NULL, "d", "$2a$05$abc", PASSWD_SCHEME_BCRYPT, 0 },
	{ "d:$2b$05$abc", 0, NULL, "d", "$2b$05$abc", PASSWD_SCHEME_BCRYPT, 0 },
	{ "e:{CRYPT}$6$s$h", 0, NULL, "e", "$6$s$h",
	  PASSWD_SCHEME_SHA512_CRYPT, 0 },
	{ "e:{YESCRYPT}$y$x", 0, NULL, "e", "$y$x", PASSWD_SCHEME_YESCRYPT, 0 },
	{ "f:{PLAIN}secret", 0, NULL, "f", "secret", PASSWD_SCHEME_PLAIN, 0 },
	{ "f:{CLEARTEXT}s e c", 0, NULL, "f", "s e c", PASSWD_SCHEME_PLAIN, 0 },
	{ "f:{PLAIN}!bang", 0, NULL, "f", "!bang", PASSWD_SCHEME_PLAIN, 0 },
	{ "g:{MD5-CRYPT}$1$s$h", 0, NULL, "g", "$1$s$h",
	  PASSWD_SCHEME_UNKNOWN, 0 },
	{ "g:{SHA512-CRYPT}$y$mismatch", 0, NULL, "g", "$y$mismatch",
	  PASSWD_SCHEME_UNKNOWN, 0 },
	{ "g:abDES1234567", 0, NULL, "g", "abDES1234567",
	  PASSWD_SCHEME_UNKNOWN, 0 },
	{ "g:{NOCLOSE$6$x", 0, NULL, "g", "{NOCLOSE$6$x",
	  PASSWD_SCHEME_UNKNOWN, 0 },
	{ "h:!$6$s$h", 0, NULL, "h", "$6$s$h", PASSWD_SCHEME_SHA512_CRYPT, 1 },
	{ "h:!{SHA512-CRYPT}$6$s$h", 0, NULL, "h", "$6$s$h",
	  PASSWD_SCHEME_SHA512_CRYPT, 1 },
	{ "h:{SHA512-CRYPT}!$6$s$h", 0, NULL, "h", "$6$s$h",
	  PASSWD_SCHEME_SHA512_CRYPT, 1 },
	{ "h:!{PLAIN}pw", 0, NULL, "h", "pw", PASSWD_SCHEME_PLAIN, 1 },
	{ "a.b-c_d+e@example.org:$6$s$h", 0, NULL, "a.b-c_d+e@example.org",
	  "$6$s$h", PASSWD_SCHEME_SHA512_CRYPT, 0 },

	{ "", 1, NULL, NULL, NULL, 0, 0 },
	{ "   \t", 1, NULL, NULL, NULL, 0, 0 },
	{ "# comment:with:colons", 1, NULL, NULL, NULL, 0, 0 },
	{ "  # indented comment", 1, NULL, NULL, NULL, 0, 0 },

	{ "alice", -1, "missing ':'", NULL, NULL, 0, 0 },
	{ ":$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ ".alice:$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ "-alice:$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ "al/ice:$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ "al ice:$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ " alice:$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ "al\xc3\xa9:$6$s$h", -1, "invalid user name", NULL, NULL, 0, 0 },
	{ "alice:", -1, "empty hash", NULL, NULL, 0, 0 },
	{ "alice::1000", -1, "empty hash", NULL, NULL, 0, 0 },
	{ "alice:!", -1, "empty hash", NULL, NULL, 0, 0 },
	{ "alice:{PLAIN}", -1, "empty hash", NULL, NULL, 0, 0 },
};

static void
test_parse_table(void **state)
{
	struct passwd_entry	 e;
	const char		*err;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];

		err = NULL;
		r = passwd_parse_line(c->line, strlen(c->line), &e, &err);
		if (r != c->ret)
			fail_msg("case %zu \"%s\": ret %d, want %d (%s)", i,
			    c->line, r, c->ret, err ? err : "");
		if (r == -1) {
			assert_string_equal(err, c->err);
			continue;
		}
		if (r == 1)
			continue;
		assert_string_equal(e.user, c->user);
		assert_string_equal(e.hash, c->hash);
		if (e.scheme != c->scheme || e.locked != c->locked)
			fail_msg("case %zu \"%s\": scheme %s locked %d", i,
			    c->line, passwd_scheme_str(e.scheme), e.locked);
		passwd_entry_clear(&e);
	}
}

static void
test_parse_limits(void **state)
{
	struct passwd_entry	 e;
	const char		*err;
	char			 line[PASSWD_LINE_MAX + 2];
	char			 user[POP3_USER_MAX + 2];

	memset(line, 'a', sizeof(line));
	line[0] = 'u';
	line[1] = ':';
	assert_int_equal(passwd_parse_line(line, PASSWD_LINE_MAX, &e, &err),
	    0);
	passwd_entry_clear(&e);
	assert_int_equal(passwd_parse_line(line, PASSWD_LINE_MAX + 1, &e,
	    &err), -1);
	assert_string_equal(err, "line too long");

	memset(user, 'u', sizeof(user));
	assert_int_equal(passwd_valid_user(user, POP3_USER_MAX), 1);
	assert_int_equal(passwd_valid_user(user, POP3_USER_MAX + 1), 0);
	assert_int_equal(passwd_valid_user(user, 0), 0);

	assert_int_equal(passwd_parse_line("a:b\0c", 5, &e, &err), -1);
	assert_string_equal(err, "line contains NUL");
}

/* Builds an entry from pre hash post, failing the test if it does not parse. */
static void
entry3(struct passwd_entry *e, const char *pre, const char *hash,
    const char *post)
{
	char		 line[512];
	const char	*err;

	snprintf(line, sizeof(line), "%s%s%s", pre, hash, post);
	if (passwd_parse_line(line, strlen(line), e, &err) != 0)
		fail_msg("\"%s\": %s", line, err);
}

static void
test_verify_own_hash(void **state)
{
	struct passwd_entry	 e;
	char			 h[128];

	assert_int_equal(passwd_hash("correct horse", h, sizeof(h)), 0);
	assert_true(strncmp(h, "$y$", 3) == 0);
	entry3(&e, "alice:", h, "");
	assert_int_equal(e.scheme, PASSWD_SCHEME_YESCRYPT);
	assert_int_equal(passwd_verify(&e, "correct horse"), 1);
	assert_int_equal(passwd_verify(&e, "correct horse "), 0);
	assert_int_equal(passwd_verify(&e, ""), 0);
	passwd_entry_clear(&e);

	entry3(&e, "alice:{YESCRYPT}", h, "");
	assert_int_equal(passwd_verify(&e, "correct horse"), 1);
	passwd_entry_clear(&e);

	entry3(&e, "alice:!", h, "");
	assert_int_equal(passwd_verify(&e, "correct horse"), 0);
	passwd_entry_clear(&e);

	/* Two hashes of one secret differ (random salt). */
	{
		char h2[128];

		assert_int_equal(passwd_hash("correct horse", h2, sizeof(h2)),
		    0);
		assert_string_not_equal(h, h2);
	}
	/* Too small an output buffer. */
	assert_int_equal(passwd_hash("x", h, 10), -1);
}

/* A crypt(3) hash with a fresh salt of the given prefix. */
static void
crypt_hash(const char *prefix, const char *secret, char *out, size_t outlen)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;
	const char		*h;

	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
	    sizeof(salt)));
	cd = calloc(1, sizeof(*cd));
	assert_non_null(cd);
	h = crypt_rn(secret, salt, cd, (int)sizeof(*cd));
	assert_non_null(h);
	assert_true(strlen(h) < outlen);
	strcpy(out, h);
	free(cd);
}

static void
test_verify_crypt(void **state)
{
	struct passwd_entry	 e;
	char			 h[256];

	crypt_hash("$6$", "s3cret", h, sizeof(h));
	entry3(&e, "bob:", h, "");
	assert_int_equal(e.scheme, PASSWD_SCHEME_SHA512_CRYPT);
	assert_int_equal(passwd_verify(&e, "s3cret"), 1);
	assert_int_equal(passwd_verify(&e, "s3cre"), 0);
	passwd_entry_clear(&e);
	entry3(&e, "bob:{SHA512-CRYPT}", h, "::::::");
	assert_int_equal(passwd_verify(&e, "s3cret"), 1);
	passwd_entry_clear(&e);
	entry3(&e, "bob:{SHA512-CRYPT}!", h, "");
	assert_int_equal(passwd_verify(&e, "s3cret"), 0);
	passwd_entry_clear(&e);

	crypt_hash("$2b$", "s3cret", h, sizeof(h));
	entry3(&e, "carol:{BLF-CRYPT}", h, "");
	assert_int_equal(e.scheme, PASSWD_SCHEME_BCRYPT);
	assert_int_equal(passwd_verify(&e, "s3cret"), 1);
	assert_int_equal(passwd_verify(&e, "S3cret"), 0);
	passwd_entry_clear(&e);

	crypt_hash("$5$", "pw", h, sizeof(h));
	entry3(&e, "dave:", h, "");
	assert_int_equal(passwd_verify(&e, "pw"), 1);
	passwd_entry_clear(&e);

	/* A known SHA-512-crypt vector (Ulrich Drepper's specification). */
	entry3(&e, "erin:", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMH"
	    "Wjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "");
	assert_int_equal(passwd_verify(&e, "Hello world!"), 1);
	assert_int_equal(passwd_verify(&e, "Hello world"), 0);
	passwd_entry_clear(&e);
}

static void
test_verify_plain_unknown(void **state)
{
	struct passwd_entry	 e;

	entry3(&e, "f:{PLAIN}", "open sesame", "");
	assert_int_equal(passwd_verify(&e, "open sesame"), 1);
	assert_int_equal(passwd_verify(&e, "open sesam"), 0);
	assert_int_equal(passwd_verify(&e, "open sesame!"), 0);
	assert_int_equal(passwd_verify(&e, ""), 0);
	passwd_entry_clear(&e);
	entry3(&e, "f:!{PLAIN}", "open sesame", "");
	assert_int_equal(passwd_verify(&e, "open sesame"), 0);
	passwd_entry_clear(&e);

	/* Unknown scheme: never verifies, even against its literal text. */
	entry3(&e, "g:{MD5}", "secret", "");
	assert_int_equal(e.scheme, PASSWD_SCHEME_UNKNOWN);
	assert_int_equal(passwd_verify(&e, "secret"), 0);
	passwd_entry_clear(&e);
	entry3(&e, "g:", "secret", "");
	assert_int_equal(passwd_verify(&e, "secret"), 0);
	passwd_entry_clear(&e);
}

static char	 path[64];

static void
write_file(const char *text)
{
	FILE	*f;

	strcpy(path, "/tmp/test_passwd.XXXXXX");
	{
		int fd = mkstemp(path);

		assert_true(fd != -1);
		f = fdopen(fd, "w");
	}
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
load_err(const char *text, int line, const char *msg)
{
	struct passwd_db	 db;
	char			*err = NULL, want[256];

	write_file(text);
	assert_int_equal(passwd_db_load(&db, path, &err), -1);
	assert_non_null(err);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	assert_string_equal(err, want);
	free(err);
	unlink(path);
}

static void
test_db_load(void **state)
{
	struct passwd_db		 db;
	const struct passwd_entry	*e;
	char				*err = NULL, *big;
	size_t				 i;

	write_file("# users\n\nzed:{PLAIN}z\r\nalice:$6$s$h:1:1\n"
	    "  \nbob:!$2b$05$x\nmia:{PLAIN}m");
	assert_int_equal(passwd_db_load(&db, path, &err), 0);
	assert_null(err);
	assert_int_equal(db.n, 4);
	for (i = 1; i < db.n; i++)
		assert_true(strcmp(db.v[i - 1].user, db.v[i].user) < 0);
	assert_non_null(e = passwd_db_find(&db, "alice"));
	assert_string_equal(e->hash, "$6$s$h");
	assert_non_null(e = passwd_db_find(&db, "bob"));
	assert_true(e->locked);
	assert_non_null(e = passwd_db_find(&db, "zed"));
	assert_string_equal(e->hash, "z");	/* CR stripped */
	assert_non_null(e = passwd_db_find(&db, "mia"));
	assert_string_equal(e->hash, "m");	/* no final newline */
	assert_null(passwd_db_find(&db, "ALICE"));
	assert_null(passwd_db_find(&db, "alic"));
	assert_null(passwd_db_find(&db, ""));
	passwd_db_free(&db);
	assert_int_equal(db.n, 0);
	unlink(path);

	write_file("");
	assert_int_equal(passwd_db_load(&db, path, &err), 0);
	assert_int_equal(db.n, 0);
	assert_null(passwd_db_find(&db, "alice"));
	passwd_db_free(&db);
	unlink(path);

	load_err("alice:$6$s$h\nbob\n", 2, "missing ':'");
	load_err("# x\n\nbad user:$6$s$h\n", 3, "invalid user name");
	load_err("alice:$6$s$h\nbob:$6$s$h\nalice:$6$t$h\n", 3,
	    "duplicate user alice (first on line 1)");
	load_err("a:x\nb:\n", 2, "empty hash");

	big = malloc(PASSWD_LINE_MAX + 16);
	assert_non_null(big);
	memset(big, 'x', PASSWD_LINE_MAX + 15);
	memcpy(big, "ok:$6$\nu:", 9);
	big[PASSWD_LINE_MAX + 15] = '\0';
	load_err(big, 2, "line too long");
	free(big);

	assert_int_equal(passwd_db_load(&db, "/nonexistent/passwd", &err), -1);
	assert_string_equal(err, "/nonexistent/passwd: No such file or "
	    "directory");
	free(err);
}

static void
test_scheme_str(void **state)
{
	assert_string_equal(passwd_scheme_str(PASSWD_SCHEME_YESCRYPT),
	    "YESCRYPT");
	assert_string_equal(passwd_scheme_str(PASSWD_SCHEME_BCRYPT),
	    "BLF-CRYPT");
	assert_string_equal(passwd_scheme_str(PASSWD_SCHEME_UNKNOWN),
	    "unknown");
}

/* A database row's fields give what the same passwd-file line gives. */
static void
test_entry_fields(void **state)
{
	struct passwd_entry	 e;
	const char		*err = NULL;

	(void)state;
	assert_int_equal(passwd_entry_fields(&e, "alice", "!$y$j9T$a$b",
	    "/home/alice", "30", &err), 0);
	assert_string_equal(e.user, "alice");
	assert_string_equal(e.hash, "$y$j9T$a$b");
	assert_int_equal(e.scheme, PASSWD_SCHEME_YESCRYPT);
	assert_int_equal(e.locked, 1);
	assert_string_equal(e.home, "/home/alice");
	assert_int_equal(e.expire_days, 30);
	assert_null(e.warn);
	passwd_entry_clear(&e);

	/* {SCHEME}!hash is locked too; "never"; no home. */
	assert_int_equal(passwd_entry_fields(&e, "b", "{SHA512-CRYPT}!$6$s$h",
	    NULL, "never", &err), 0);
	assert_int_equal(e.locked, 1);
	assert_int_equal(e.scheme, PASSWD_SCHEME_SHA512_CRYPT);
	assert_null(e.home);
	assert_int_equal(e.expire_days, -2);
	passwd_entry_clear(&e);

	/* NULL columns: no home, no expire_days; a '!' in PLAIN is its own. */
	assert_int_equal(passwd_entry_fields(&e, "c", "{PLAIN}!secret", "",
	    NULL, &err), 0);
	assert_int_equal(e.locked, 0);
	assert_string_equal(e.hash, "!secret");
	assert_int_equal(e.expire_days, -1);
	passwd_entry_clear(&e);

	/* A bad home or expire_days is left out and named; the rest stays. */
	assert_int_equal(passwd_entry_fields(&e, "d", "$5$s$h", "relative",
	    NULL, &err), 0);
	assert_null(e.home);
	assert_non_null(e.warn);
	passwd_entry_clear(&e);
	assert_int_equal(passwd_entry_fields(&e, "d", "$5$s$h", NULL, "36501",
	    &err), 0);
	assert_int_equal(e.expire_days, -1);
	assert_non_null(e.warn);
	passwd_entry_clear(&e);
	assert_int_equal(passwd_entry_fields(&e, "d", "$5$s$h", NULL, "-3",
	    &err), 0);
	assert_int_equal(e.expire_days, -1);
	assert_non_null(e.warn);
	passwd_entry_clear(&e);

	/* What no line could hold is refused, nothing allocated. */
	assert_int_equal(passwd_entry_fields(&e, "bad/name", "$5$s$h", NULL,
	    NULL, &err), -1);
	assert_string_equal(err, "invalid user name");
	assert_int_equal(passwd_entry_fields(&e, "e", "!", NULL, NULL, &err),
	    -1);
	assert_string_equal(err, "empty hash");
	assert_null(e.hash);
	assert_null(e.user);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_verify_own_hash),
		cmocka_unit_test(test_verify_crypt),
		cmocka_unit_test(test_verify_plain_unknown),
		cmocka_unit_test(test_db_load),
		cmocka_unit_test(test_scheme_str),
		cmocka_unit_test(test_entry_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
