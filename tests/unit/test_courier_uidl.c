/*
 * test_courier_uidl.c - unit tests for pop3d's courier_uidl.c: a list as
 * Courier 1.0.16 wrote it, version 2 lines, versions 0 and 1 as older
 * Courier read them, the headers no Courier reads,
 * the lines it skips (and the ones its sscanf still takes), long and
 * unterminated lines, the three UIDL forms, finding a message under the
 * names pop3d gives it, and loading from a Maildir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "pop3d/courier_uidl.h"

/* Parses s (a C string); the result must be rv. */
static void
parse(const char *s, struct cuidl *c, int rv)
{
	char	*err = NULL;

	assert_int_equal(cuidl_parse(s, strlen(s), c, &err), rv);
	if (rv == -1)
		assert_non_null(err);
	else
		assert_null(err);
	free(err);
}

static const char *
uidl_of(const struct cuidl *c, const char *file, char *out)
{
	const struct cuidl_entry	*e;

	if ((e = cuidl_find(c, file)) == NULL)
		return NULL;
	return cuidl_uidl(e, out, POP3_UIDL_MAX + 1) ? out : NULL;
}

/* The file Courier 1.0.16 (Debian 12) wrote for three messages. */
static void
test_courier_written(void **state)
{
	struct cuidl	c;
	char		u[POP3_UIDL_MAX + 1];

	(void)state;
	parse("/3 4 1796463737\n"
	    "1000000001.M1P1.host:2, 34 1:1796463737:0\n"
	    "1000000002.M1P1.host:2,S 34 2:1796463737:1\n"
	    "1000000003.M1P1.host:2, 34 3:1796463737:0\n", &c, 1);
	assert_int_equal(c.version, 3);
	assert_int_equal(c.nextuid, 4);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.skipped, 0);
	assert_string_equal(c.v[1].name, "1000000002.M1P1.host:2,S");
	/* Courier's match: the name up to ':', flags may change. */
	assert_string_equal(uidl_of(&c, "1000000001.M1P1.host:2,RS", u),
	    "UID1-1796463737");
	assert_string_equal(uidl_of(&c, "1000000002.M1P1.host", u),
	    "UID2-1796463737");
	/* pop3d's size cache and retrieval mark keep the unique part. */
	assert_string_equal(uidl_of(&c, "1000000003.M1P1.host,W=34:2,", u),
	    "UID3-1796463737");
	assert_string_equal(uidl_of(&c,
	    "1000000003.M1P1.host,W=34,R=1700000000:2,S", u),
	    "UID3-1796463737");
	/* By name: pop3d's own fields at the end are looked past... */
	assert_ptr_equal(cuidl_find_name(&c, "1000000003.M1P1.host,W=34:2,"),
	    &c.v[2]);
	assert_ptr_equal(cuidl_find_name(&c,
	    "1000000003.M1P1.host,W=34,R=1700000000"), &c.v[2]);
	/* ...not others, nor malformed ones: only the unique part finds. */
	assert_null(cuidl_find_name(&c, "1000000003.M1P1.host,X=34:2,"));
	assert_null(cuidl_find_name(&c, "1000000003.M1P1.host,W=:2,"));
	assert_null(cuidl_find_name(&c, "1000000003.M1P1.host,W=3x:2,"));
	assert_ptr_equal(cuidl_find(&c, "1000000003.M1P1.host,X=34:2,"),
	    &c.v[2]);
	assert_null(cuidl_find(&c, "1000000004.M1P1.host:2,"));
	assert_null(cuidl_find(&c, "1000000001.M1P1.hos:2,"));
	assert_null(cuidl_find(&c, "1000000001.M1P1.host2:2,"));
	cuidl_free(&c);
	assert_int_equal(c.n, 0);
}

/* Version 2 (before Courier's UTF-8 flag), and the header's variants. */
static void
test_version2_and_headers(void **state)
{
	struct cuidl	c;
	char		u[POP3_UIDL_MAX + 1];

	(void)state;
	parse("/2 9 77\nA.x.h,S=100:2, 100 5:77\nB.y.h 7 6:0\n", &c, 1);
	assert_int_equal(c.version, 2);
	assert_int_equal(c.n, 2);
	assert_string_equal(uidl_of(&c, "A.x.h,S=100,W=103:2,", u),
	    "UID5-77");
	assert_string_equal(uidl_of(&c, "B.y.h", u), "UID6");	/* uidv 0 */
	cuidl_free(&c);

	/* Two numbers suffice (Courier's sscanf needs two). */
	parse("/3 7\nA 1 2:3:0\n", &c, 1);
	assert_int_equal(c.n, 1);
	cuidl_free(&c);
	/* A header without LF: Courier's fgets takes it; no entries. */
	parse("/3 7 9", &c, 1);
	assert_int_equal(c.n, 0);
	cuidl_free(&c);

	/* What no Courier reads: every message was numbered anew. */
	parse("/4 5 9\nA 1 2:3:0\n", &c, 0);
	parse("/3\nA 1 2:3:0\n", &c, 0);
	parse("/3x 5\nA 1 2:3:0\n", &c, 0);
	parse("/-1 5 9\nA 1 2:3:0\n", &c, 0);
	parse("/3 5 9\n", &c, 1);	/* fine, and empty */
	assert_int_equal(c.n, 0);
	assert_null(c.v);
	cuidl_free(&c);
}

/*
 * Versions 0 (no header: "<name> <size>", uid 0, so the UIDL is the
 * name) and 1 ("<size> <uid>[:<uidv>]"), as Courier up to 2018 read
 * them; it wrote version 2, and uid 0 for what a version 0 list had.
 */
static void
test_old_versions(void **state)
{
	struct cuidl	c;
	char		u[POP3_UIDL_MAX + 1];

	(void)state;
	parse("1000000001.A.h:2, 14\nB b+.h:2,S 20\nbad\n\nlast 3", &c, 1);
	assert_int_equal(c.version, 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.skipped, 2);
	assert_string_equal(uidl_of(&c, "1000000001.A.h:2,S", u),
	    "1000000001.A.h");
	assert_string_equal(uidl_of(&c, "B b+.h", u), "B+20b+2B.h");
	assert_null(cuidl_find(&c, "last"));
	cuidl_free(&c);
	/* A '/' line that is no header: version 0 from the start. */
	parse("/x\nA 4\n", &c, 1);
	assert_int_equal(c.version, 0);
	assert_int_equal(c.n, 1);	/* "/x 0": one space, no entry */
	assert_string_equal(uidl_of(&c, "A", u), "A");
	cuidl_free(&c);
	parse("/0 5 9\nA 4\n", &c, 1);
	assert_int_equal(c.n, 2);	/* "/0 5" of size 9 is one */
	assert_string_equal(uidl_of(&c, "/0 5", u), "/0+205");
	cuidl_free(&c);
	/* Empty, or one unterminated non-header line: an empty list. */
	parse("", &c, 1);
	assert_int_equal(c.n, 0);
	cuidl_free(&c);
	parse("A 4", &c, 1);
	assert_int_equal(c.n, 0);
	cuidl_free(&c);

	parse("/1 9 77\nA 1 5\nB 1 6:77\nC 1 7:\nD 1 8x\nE 1\n", &c, 1);
	assert_int_equal(c.version, 1);
	assert_int_equal(c.n, 4);
	assert_string_equal(uidl_of(&c, "A", u), "UID5");
	assert_string_equal(uidl_of(&c, "B", u), "UID6-77");
	assert_string_equal(uidl_of(&c, "C", u), "UID7");
	assert_string_equal(uidl_of(&c, "D", u), "UID8");
	assert_null(cuidl_find(&c, "E"));
	cuidl_free(&c);
	/* Version 2 as Courier since 2018 reads it: uid:uidv needed. */
	parse("/2 9 77\nA 1 5\nB 1 6:77\n", &c, 1);
	assert_int_equal(c.n, 1);
	assert_null(cuidl_find(&c, "A"));
	cuidl_free(&c);
}

/* Lines Courier skips, and those its sscanf still takes. */
static void
test_lines(void **state)
{
	struct cuidl	c;
	char		u[POP3_UIDL_MAX + 1];

	(void)state;
	{
		static const char	 text[] = "/3 50 9\n\nnospace\none 12\n"
		    " 12 1:2:0\nx  1:2:0\nn1 x 1:2:0\nn2 12 1\nn3 12 1:\n"
		    "n4 12 1:2:x\nn5 12 1:2\r\nn6 12 1:2 \nn7\0x 12 1:2:0\n"
		    "my name 12 10:9:0\ntrail 12 11:9:1junk\n"
		    "cr 12 12:9:0\r\nws 12  13:9:0\nlast 12 14:9:0";
		char			*err = NULL;

		assert_int_equal(cuidl_parse(text, sizeof(text) - 1, &c,
		    &err), 1);
		assert_null(err);
	}
	assert_int_equal(c.n, 3);
	assert_int_equal(c.skipped, 13);
	assert_string_equal(c.v[0].name, "my name");
	assert_string_equal(uidl_of(&c, "my name:2,", u), "UID10-9");
	assert_string_equal(uidl_of(&c, "trail", u), "UID11-9");
	assert_string_equal(uidl_of(&c, "cr", u), "UID12-9");
	/* Two spaces: the size field is " 13:9:0", the uid field empty. */
	assert_null(cuidl_find(&c, "ws"));
	assert_null(cuidl_find(&c, "ws 12"));
	assert_null(cuidl_find(&c, "last"));	/* no LF: dropped */
	assert_null(cuidl_find(&c, "n5"));
	cuidl_free(&c);
}

/* A line keeps CUIDL_LINE_KEEP octets; a name no file can have is out. */
static void
test_long_lines(void **state)
{
	struct cuidl	 c;
	char		*text, u[POP3_UIDL_MAX + 1];
	size_t		 len;

	(void)state;
	text = calloc(1, 3 * CUIDL_LINE_KEEP + 200);
	assert_non_null(text);
	/* Fields first, then junk past the kept part: Courier takes it. */
	strcpy(text, "/3 5 9\nkept 1 2:3:0");
	len = strlen(text);
	memset(text + len, 'z', 2 * CUIDL_LINE_KEEP);
	len += 2 * CUIDL_LINE_KEEP;
	/* A name of POP3_MDNAME_MAX + 1 octets, then a good line. */
	text[len++] = '\n';
	memset(text + len, 'n', POP3_MDNAME_MAX + 1);
	len += POP3_MDNAME_MAX + 1;
	strcpy(text + len, " 1 4:5:0\nok 1 6:7:0\n");
	len += strlen(text + len);

	parse(text, &c, 1);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.skipped, 1);
	assert_string_equal(uidl_of(&c, "kept", u), "UID2-3");
	assert_string_equal(uidl_of(&c, "ok", u), "UID6-7");
	cuidl_free(&c);

	/* The fields past the kept part: the line does not parse. */
	strcpy(text, "/3 5 9\n");
	len = strlen(text);
	memset(text + len, 'y', CUIDL_LINE_KEEP);
	strcpy(text + len + CUIDL_LINE_KEEP, " 1 2:3:0\n");
	parse(text, &c, 1);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.skipped, 1);
	cuidl_free(&c);
	free(text);
}

/* uid 0: Courier's oldest UIDL, the name up to ':' with +XX escapes. */
static void
test_name_uidl(void **state)
{
	struct cuidl_entry	e;
	char			u[POP3_UIDL_MAX + 1], name[128];

	(void)state;
	e.uid = 0;
	e.uidv = 5;
	e.name = (char *)"a b'+\"c\x7f\xe9z:2,S";
	assert_int_equal(cuidl_uidl(&e, u, sizeof(u)), 1);
	assert_string_equal(u, "a+20b+27+2B+22c+7F+E9z");
	e.name = (char *)":2,";
	assert_int_equal(cuidl_uidl(&e, u, sizeof(u)), 0);
	/* 70 octets fit, 71 do not (RFC 1939). */
	memset(name, 'q', 70);
	name[70] = '\0';
	e.name = name;
	assert_int_equal(cuidl_uidl(&e, u, sizeof(u)), 1);
	assert_int_equal(strlen(u), 70);
	name[69] = '+';
	assert_int_equal(cuidl_uidl(&e, u, sizeof(u)), 0);
	/* The largest numbers fit. */
	e.uid = e.uidv = UINT64_MAX;
	assert_int_equal(cuidl_uidl(&e, u, sizeof(u)), 1);
	assert_string_equal(u, "UID18446744073709551615-18446744073709551615");
}

/* Many entries, and a name listed twice: the first line keeps it. */
static void
test_index(void **state)
{
	struct cuidl	 c;
	char		*text, u[POP3_UIDL_MAX + 1], name[64], want[64];
	size_t		 len = 0, i;

	(void)state;
	text = malloc(5000 * 64 + 64);
	assert_non_null(text);
	len += (size_t)sprintf(text, "/3 1 2\ndup:2, 1 99:1:0\n");
	for (i = 1; i <= 5000; i++)
		len += (size_t)sprintf(text + len, "%zu.M%zuP1.h,S=9:2, 9 "
		    "%zu:42:0\n", 1700000000 + i, i, i);
	len += (size_t)sprintf(text + len, "dup 1 100:1:0\n");
	parse(text, &c, 1);
	assert_int_equal(c.n, 5002);
	for (i = 1; i <= 5000; i++) {
		snprintf(name, sizeof(name), "%zu.M%zuP1.h,W=10", 1700000000 + i,
		    i);
		snprintf(want, sizeof(want), "UID%zu-42", i);
		assert_string_equal(uidl_of(&c, name, u), want);
	}
	assert_string_equal(uidl_of(&c, "dup:2,T", u), "UID99-1");
	cuidl_free(&c);
	free(text);
}

static void
write_file(int dirfd, const char *name, const char *text)
{
	int	fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
test_load(void **state)
{
	char		 dir[] = "/tmp/test_courier_uidl.XXXXXX";
	struct cuidl	 c;
	char		*err = NULL, u[POP3_UIDL_MAX + 1];
	int		 dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd != -1);

	assert_int_equal(cuidl_load(dfd, &c, &err), 0);	/* none */
	assert_null(err);

	write_file(dfd, CUIDL_FILE, "/3 3 8\nm1:2, 5 1:8:0\nm2:2, 5 2:8:0\n");
	assert_int_equal(cuidl_load(dfd, &c, &err), 1);
	assert_null(err);
	assert_int_equal(c.n, 2);
	assert_string_equal(uidl_of(&c, "m2:2,S", u), "UID2-8");
	cuidl_free(&c);

	write_file(dfd, CUIDL_FILE, "/7 3 8\nm1 5 1\n");
	assert_int_equal(cuidl_load(dfd, &c, &err), 0);
	assert_non_null(strstr(err, "version"));
	free(err);
	err = NULL;
	assert_int_equal(c.n, 0);

	/* Never through a symlink, never a directory. */
	assert_int_equal(unlinkat(dfd, CUIDL_FILE, 0), 0);
	write_file(dfd, "other", "/3 3 8\nm1:2, 5 1:8:0\n");
	assert_int_equal(symlinkat("other", dfd, CUIDL_FILE), 0);
	assert_int_equal(cuidl_load(dfd, &c, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(unlinkat(dfd, CUIDL_FILE, 0), 0);
	assert_int_equal(mkdirat(dfd, CUIDL_FILE, 0700), 0);
	assert_int_equal(cuidl_load(dfd, &c, &err), -1);
	free(err);

	assert_int_equal(unlinkat(dfd, CUIDL_FILE, AT_REMOVEDIR), 0);
	assert_int_equal(unlinkat(dfd, "other", 0), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_courier_written),
		cmocka_unit_test(test_version2_and_headers),
		cmocka_unit_test(test_old_versions),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_name_uidl),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
