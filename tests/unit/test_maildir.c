/*
 * test_maildir.c - unit tests for maildir.c: file name parsing (,S= ,W=
 * ,R= and :2,flags, malformed sizes), UIDLs, delivery order, unique names
 * and delivery into a temporary Maildir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "dot.h"
#include "maildir.h"

struct name_case {
	const char	*name;
	int		 ok;
	size_t		 base_len;
	int		 has_size;
	uint64_t	 size;
	int		 has_wsize;
	uint64_t	 wsize;
	uint64_t	 sec, usec;
};

static const struct name_case name_cases[] = {
	{ "1700000000.M123P45Q6.host", 1, 25, 0, 0, 0, 0, 1700000000, 123 },
	{ "1700000000.M123P45.host,S=1024,W=1050:2,S", 1, 23, 1, 1024, 1,
	  1050, 1700000000, 123 },
	{ "1700000000.M5P1.h,W=7,S=6", 1, 17, 1, 6, 1, 7, 1700000000, 5 },
	{ "1700000000.P1Q2M99.h,S=6", 1, 20, 1, 6, 0, 0, 1700000000, 99 },
	{ "1.2.h:2,S=5", 1, 5, 0, 0, 0, 0, 1, 0 },	/* S= in the info */
	{ "1.2.h:2,", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S=:2,", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S=12a", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S=-1", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S=+1", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S= 1", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S=18446744073709551615", 1, 5, 1, UINT64_MAX, 0, 0, 1, 0 },
	{ "1.2.h,S=18446744073709551616,W=3", 1, 5, 0, 0, 1, 3, 1, 0 },
	{ "1.2.h,S=99999999999999999999999", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "1.2.h,S=1,S=2", 1, 5, 1, 1, 0, 0, 1, 0 },
	{ "1.2.h,,S=4,", 1, 5, 1, 4, 0, 0, 1, 0 },
	{ "1.2.h,X=1,s=2,S", 1, 5, 0, 0, 0, 0, 1, 0 },
	{ "noseconds", 1, 9, 0, 0, 0, 0, 0, 0 },
	{ "99999999999999999999999.M1.h", 1, 28, 0, 0, 0, 0, 0, 1 },
	{ ",S=5", 1, 0, 1, 5, 0, 0, 0, 0 },
	{ ":2,S", 1, 0, 0, 0, 0, 0, 0, 0 },
	{ "", 0, 0, 0, 0, 0, 0, 0, 0 },
	{ ".", 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "..", 0, 0, 0, 0, 0, 0, 0, 0 },
	{ ".hidden", 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "a/b", 0, 0, 0, 0, 0, 0, 0, 0 },
};

static void
test_name_table(void **state)
{
	struct maildir_name	 n;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];

		r = maildir_name_parse(c->name, &n);
		if (!c->ok) {
			if (r != -1)
				fail_msg("case %zu \"%s\": accepted", i,
				    c->name);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu \"%s\": rejected", i, c->name);
		if (n.base_len != c->base_len || n.has_size != c->has_size ||
		    n.size != c->size || n.has_wsize != c->has_wsize ||
		    n.wsize != c->wsize || n.sort_sec != c->sec ||
		    n.sort_usec != c->usec)
			fail_msg("case %zu \"%s\": base %zu S %d/%ju W %d/%ju "
			    "sec %ju usec %ju", i, c->name, n.base_len,
			    n.has_size, (uintmax_t)n.size, n.has_wsize,
			    (uintmax_t)n.wsize, (uintmax_t)n.sort_sec,
			    (uintmax_t)n.sort_usec);
	}
}

/* ,R=<unix time>: the retrieval mark of RFC 2449 EXPIRE (pop3d's md_expire.c). */
static void
test_name_rtime(void **state)
{
	static const struct {
		const char	*name;
		int		 has;
		uint64_t	 t;
	} cases[] = {
		{ "1.M1P1.h,S=5,W=6,R=1700000000", 1, 1700000000 },
		{ "1.M1P1.h,R=0:2,S", 1, 0 },
		{ "1.M1P1.h,R=5,R=7", 1, 5 },		/* the first counts */
		{ "1.M1P1.h,R=x,R=7", 1, 7 },		/* the first valid */
		{ "1.M1P1.h,R=", 0, 0 },
		{ "1.M1P1.h,R=-5", 0, 0 },
		{ "1.M1P1.h,R=18446744073709551616", 0, 0 },
		{ "1.M1P1.h:2,R=5", 0, 0 },		/* in the info */
		{ "1.M1P1.h,r=5", 0, 0 },
		{ "1.M1P1.h", 0, 0 },
	};
	struct maildir_name	 n;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(maildir_name_parse(cases[i].name, &n), 0);
		if (n.has_rtime != cases[i].has || n.rtime != cases[i].t)
			fail_msg("\"%s\": R %d/%ju", cases[i].name,
			    n.has_rtime, (uintmax_t)n.rtime);
		/* The mark is not part of the unique part: UIDL unchanged. */
		assert_int_equal(n.base_len, 8);
	}
}

static void
test_name_length(void **state)
{
	struct maildir_name	 n;
	char			 name[POP3_MDNAME_MAX + 2];

	memset(name, 'a', sizeof(name));
	name[POP3_MDNAME_MAX] = '\0';
	assert_int_equal(maildir_name_parse(name, &n), 0);
	name[POP3_MDNAME_MAX] = 'a';
	name[POP3_MDNAME_MAX + 1] = '\0';
	assert_int_equal(maildir_name_parse(name, &n), -1);
}

static void
test_uidl(void **state)
{
	char	 out[POP3_UIDL_MAX + 1], name[300];

	maildir_uidl("1700000000.M1P2.host,S=5,W=6:2,S", out);
	assert_string_equal(out, "1700000000.M1P2.host");
	maildir_uidl("1700000000.M1P2.host:2,", out);
	assert_string_equal(out, "1700000000.M1P2.host");
	maildir_uidl("abc", out);
	assert_string_equal(out, "abc");

	/* 70 octets are kept; 71 are hashed. */
	memset(name, 'x', 70);
	name[70] = '\0';
	maildir_uidl(name, out);
	assert_string_equal(out, name);
	name[70] = 'x';
	name[71] = '\0';
	maildir_uidl(name, out);
	assert_int_equal(strlen(out), 64);
	assert_true(strspn(out, "0123456789abcdef") == 64);

	/* Not printable: SHA-256 of the unique part ("a b" here). */
	maildir_uidl("a b,S=3", out);
	assert_string_equal(out, "c8687a08aa5d6ed2044328fa6a697ab8"
	    "e96dc34291e8c2034ae8c38e6fcc6d65");
	maildir_uidl("a\x7f", out);
	assert_int_equal(strlen(out), 64);
	maildir_uidl("\xc3\xa9t\xc3\xa9", out);
	assert_int_equal(strlen(out), 64);
	/* Empty unique part: hashed, never empty. */
	maildir_uidl(",S=1", out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	/* Stable: same name, same UIDL; flags do not matter. */
	maildir_uidl("a b:2,S", name);
	assert_string_equal(name, "c8687a08aa5d6ed2044328fa6a697ab8"
	    "e96dc34291e8c2034ae8c38e6fcc6d65");
}

static int
cmp_names(const void *a, const void *b)
{
	const char *const	*x = a, *const *y = b;
	struct maildir_name	 px, py;

	maildir_name_parse(*x, &px);
	maildir_name_parse(*y, &py);
	return maildir_name_cmp(*x, &px, *y, &py);
}

static void
test_order(void **state)
{
	const char	*v[] = {
		"1700000001.M5P1.h",
		"1700000000.M999999P1.h",
		"999999999.M1P1.h",
		"1700000000.M10P1.h,S=5:2,S",
		"1700000000.M9P1.h",
		"1700000000.M10P0.h",
		"junk",
	};
	const char	*want[] = {
		"junk",
		"999999999.M1P1.h",
		"1700000000.M9P1.h",
		"1700000000.M10P0.h",
		"1700000000.M10P1.h,S=5:2,S",
		"1700000000.M999999P1.h",
		"1700000001.M5P1.h",
	};
	size_t		 i;

	qsort(v, sizeof(v) / sizeof(v[0]), sizeof(v[0]), cmp_names);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(v[i], want[i]);
}

static void
test_unique(void **state)
{
	char			 a[POP3_MDNAME_MAX + 1], b[POP3_MDNAME_MAX + 1];
	struct maildir_name	 n;
	const char		*r;

	maildir_unique(a, sizeof(a));
	maildir_unique(b, sizeof(b));
	assert_string_not_equal(a, b);
	assert_int_equal(maildir_name_parse(a, &n), 0);
	assert_true(n.sort_sec > 1600000000);
	assert_int_equal(n.base_len, strlen(a));
	assert_null(strchr(a, '/'));
	assert_null(strchr(a, ':'));
	assert_null(strchr(a, ','));
	assert_non_null(strstr(a, ".M"));
	assert_non_null(r = strchr(a, 'R'));
	assert_true(strspn(r + 1, "0123456789abcdef") == 16);
	assert_int_equal(r[17], '.');
}

static char	 tmpdir[64];

static int
md_setup(void **state)
{
	char	 p[128];

	strcpy(tmpdir, "/tmp/test_maildir.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/tmp", tmpdir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/new", tmpdir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/cur", tmpdir);
	mkdir(p, 0700);
	return 0;
}

static int
md_teardown(void **state)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
count_dir(const char *sub)
{
	char		 p[128];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_deliver(void **state)
{
	const char		*m = "From: a\nSubject: x\n\n.body\r\nend";
	char			 name[POP3_MDNAME_MAX + 1], p[512], back[64];
	struct maildir_name	 n;
	struct stat		 st;
	int			 dfd, fd, cst = 0;
	uint64_t		 w;

	assert_true((dfd = open(tmpdir, O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(maildir_deliver(dfd, (const unsigned char *)m,
	    strlen(m), name, sizeof(name)), 0);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(count_dir("new"), 1);
	assert_int_equal(maildir_name_parse(name, &n), 0);
	assert_true(n.has_size);
	assert_true(n.size == strlen(m));
	w = dot_crlf_size((const unsigned char *)m, strlen(m), &cst);
	assert_true(n.has_wsize);
	assert_true(n.wsize == w);
	assert_true(w == strlen(m) + 3);

	snprintf(p, sizeof(p), "%s/new/%s", tmpdir, name);
	assert_int_equal(stat(p, &st), 0);
	assert_true((uint64_t)st.st_size == n.size);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true((fd = open(p, O_RDONLY)) != -1);
	assert_int_equal(read(fd, back, sizeof(back)), (ssize_t)strlen(m));
	assert_memory_equal(back, m, strlen(m));
	close(fd);

	/* Empty message. */
	assert_int_equal(maildir_deliver(dfd, (const unsigned char *)"", 0,
	    NULL, 0), 0);
	assert_int_equal(count_dir("new"), 2);

	/* namebuf too small: ENAMETOOLONG and nothing left behind. */
	assert_int_equal(maildir_deliver(dfd, (const unsigned char *)m,
	    strlen(m), name, 10), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(count_dir("new"), 2);
	close(dfd);
}

static void
test_deliver_fail(void **state)
{
	char	 p[128];
	int	 dfd;

	/* No new/: the tmp file must be removed again. */
	snprintf(p, sizeof(p), "rm -rf '%s/new'", tmpdir);
	assert_int_equal(system(p), 0);
	assert_true((dfd = open(tmpdir, O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(maildir_deliver(dfd, (const unsigned char *)"x\n", 2,
	    NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_dir("tmp"), 0);
	close(dfd);

	/* No tmp/ either: not a Maildir at all. */
	snprintf(p, sizeof(p), "rm -rf '%s/tmp'", tmpdir);
	assert_int_equal(system(p), 0);
	assert_true((dfd = open(tmpdir, O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(maildir_deliver(dfd, (const unsigned char *)"x\n", 2,
	    NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
	close(dfd);
}

/* pop3d's own trailing fields come off one at a time, the last first. */
static void
test_strip_ours(void **state)
{
	static const char	*n = "1.M1P1.h,S=5,W=7,R=1700000000:2,S";
	size_t			 k = strcspn(n, ":");

	(void)state;
	k = maildir_strip_ours(n, k);
	assert_int_equal(k, strlen("1.M1P1.h,S=5,W=7"));
	k = maildir_strip_ours(n, k);
	assert_int_equal(k, strlen("1.M1P1.h,S=5"));
	assert_int_equal(maildir_strip_ours(n, k), k);	/* ,S= is not ours */
	assert_int_equal(maildir_strip_ours("a,W=", 4), 4);
	assert_int_equal(maildir_strip_ours("a,X=5", 5), 5);
	assert_int_equal(maildir_strip_ours(",R=1", 4), 0);
	assert_int_equal(maildir_strip_ours("R=1", 3), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_ours),
		cmocka_unit_test(test_name_table),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_name_rtime),
		cmocka_unit_test(test_uidl),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_unique),
		cmocka_unit_test_setup_teardown(test_deliver, md_setup,
		    md_teardown),
		cmocka_unit_test_setup_teardown(test_deliver_fail, md_setup,
		    md_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
