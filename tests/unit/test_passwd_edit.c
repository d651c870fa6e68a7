/*
 * test_passwd_edit.c - unit tests for passwd_edit.c: the line edits as a
 * case table (add, set, del, lock, unlock; CRLF, extra fields, tags,
 * bad files), and the file rewrite: round trip through passwd_db_load,
 * a new inode with the old owner and mode, the writers' lock (busy
 * timeout, no lost update among concurrent writers), and a writer
 * killed in the middle of writing (the old file stays whole).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "buf.h"
#include "passwd.h"
#include "pop3ctl/passwd_edit.h"

#define H1	"$y$j9T$abcdefghijklmnop$0123456789012345678901234567890123456789012"
#define H2	"$y$j9T$ponmlkjihgfedcba$9876543210987654321098765432109876543210987"
#define H6	"$6$saltsalt$hash"

struct edit_case {
	const char		*in;
	enum passwd_edit_op	 op;
	const char		*user;
	const char		*hash;
	enum passwd_edit_status	 st;
	const char		*out;	/* NULL: not checked (not OK) */
};

static const struct edit_case edit_cases[] = {
	/* add */
	{ "", PASSWD_EDIT_ADD, "alice", H1, PASSWD_EDIT_OK, "alice:" H1 "\n" },
	{ "# c\nbob:" H2, PASSWD_EDIT_ADD, "alice", H1, PASSWD_EDIT_OK,
	  "# c\nbob:" H2 "\nalice:" H1 "\n" },
	{ "alice:" H2 "\n", PASSWD_EDIT_ADD, "alice", H1, PASSWD_EDIT_EXISTS,
	  NULL },
	{ "", PASSWD_EDIT_ADD, ".alice", H1, PASSWD_EDIT_BADFILE, NULL },
	{ "", PASSWD_EDIT_ADD, "alice", "a:b", PASSWD_EDIT_BADFILE, NULL },
	{ "", PASSWD_EDIT_ADD, "alice", "!x", PASSWD_EDIT_BADFILE, NULL },
	{ "", PASSWD_EDIT_ADD, "alice", "x\ny", PASSWD_EDIT_BADFILE, NULL },
	{ "", PASSWD_EDIT_ADD, "alice", "", PASSWD_EDIT_BADFILE, NULL },
	/* set: lock, extra fields and CRLF stay */
	{ "a:x\r\nalice:!{SHA512-CRYPT}" H6 ":1000::x\r\nz:y\r\n",
	  PASSWD_EDIT_SET, "alice", H1, PASSWD_EDIT_OK,
	  "a:x\r\nalice:!" H1 ":1000::x\r\nz:y\r\n" },
	{ "alice:" H6, PASSWD_EDIT_SET, "alice", H1, PASSWD_EDIT_OK,
	  "alice:" H1 },
	{ "bob:" H6 "\n", PASSWD_EDIT_SET, "alice", H1, PASSWD_EDIT_NOUSER,
	  NULL },
	/* del */
	{ "a:x\nalice:" H1 "\nb:y\n", PASSWD_EDIT_DEL, "alice", NULL,
	  PASSWD_EDIT_OK, "a:x\nb:y\n" },
	{ "alice:" H1, PASSWD_EDIT_DEL, "alice", NULL, PASSWD_EDIT_OK, "" },
	{ "a:x\n", PASSWD_EDIT_DEL, "alice", NULL, PASSWD_EDIT_NOUSER, NULL },
	/* lock, unlock */
	{ "alice:" H1 ":x\n", PASSWD_EDIT_LOCK, "alice", NULL, PASSWD_EDIT_OK,
	  "alice:!" H1 ":x\n" },
	{ "alice:{SHA512-CRYPT}" H6 "\n", PASSWD_EDIT_LOCK, "alice", NULL,
	  PASSWD_EDIT_OK, "alice:!{SHA512-CRYPT}" H6 "\n" },
	{ "alice:!" H1 "\n", PASSWD_EDIT_LOCK, "alice", NULL,
	  PASSWD_EDIT_UNCHANGED, "alice:!" H1 "\n" },
	{ "alice:!" H1 "\n", PASSWD_EDIT_UNLOCK, "alice", NULL,
	  PASSWD_EDIT_OK, "alice:" H1 "\n" },
	{ "alice:{SHA512-CRYPT}!" H6 "\n", PASSWD_EDIT_UNLOCK, "alice", NULL,
	  PASSWD_EDIT_OK, "alice:{SHA512-CRYPT}" H6 "\n" },
	{ "alice:!{SHA512-CRYPT}!" H6 "\n", PASSWD_EDIT_UNLOCK, "alice", NULL,
	  PASSWD_EDIT_OK, "alice:{SHA512-CRYPT}" H6 "\n" },
	{ "alice:!!" H1 "\n", PASSWD_EDIT_UNLOCK, "alice", NULL,
	  PASSWD_EDIT_OK, "alice:" H1 "\n" },
	/* {PLAIN}: a '!' after the tag is part of the secret */
	{ "alice:{PLAIN}!secret\n", PASSWD_EDIT_UNLOCK, "alice", NULL,
	  PASSWD_EDIT_UNCHANGED, "alice:{PLAIN}!secret\n" },
	{ "alice:" H1 "\n", PASSWD_EDIT_UNLOCK, "alice", NULL,
	  PASSWD_EDIT_UNCHANGED, "alice:" H1 "\n" },
	/* bad files */
	{ "a:x\nnocolon\n", PASSWD_EDIT_ADD, "alice", H1,
	  PASSWD_EDIT_BADFILE, NULL },
	{ "alice:x\nalice:y\n", PASSWD_EDIT_DEL, "alice", NULL,
	  PASSWD_EDIT_BADFILE, NULL },
	{ "a:x\nb:\n", PASSWD_EDIT_LOCK, "a", NULL, PASSWD_EDIT_BADFILE,
	  NULL },
};

static void
test_edit_table(void **state)
{
	struct buf	 out;
	char		*err;
	size_t		 i;

	buf_init(&out, PASSWD_FILE_MAX);
	for (i = 0; i < sizeof(edit_cases) / sizeof(edit_cases[0]); i++) {
		const struct edit_case	*c = &edit_cases[i];
		enum passwd_edit_status	 st;

		st = passwd_edit_text("f", c->in, strlen(c->in), c->op,
		    c->user, c->hash, NULL, &out, &err);
		if (st != c->st)
			fail_msg("case %zu: status %s, expected %s (%s)", i,
			    passwd_edit_status_str(st),
			    passwd_edit_status_str(c->st), err ? err : "");
		if (st == PASSWD_EDIT_OK)
			assert_null(err);
		else
			assert_non_null(err);
		if (c->out != NULL && (out.len != strlen(c->out) ||
		    memcmp(out.data, c->out, out.len) != 0))
			fail_msg("case %zu: got \"%s\", expected \"%s\"", i,
			    (char *)out.data, c->out);
		free(err);
	}
	buf_clear(&out);
}

/* A line longer than PASSWD_LINE_MAX after SET is refused. */
static void
test_edit_line_too_long(void **state)
{
	char		 in[PASSWD_LINE_MAX + 64];
	struct buf	 out;
	char		*err;
	size_t		 n;

	n = (size_t)snprintf(in, sizeof(in), "alice:x:");
	memset(in + n, 'e', PASSWD_LINE_MAX - n - 2);
	in[PASSWD_LINE_MAX - 2] = '\0';
	buf_init(&out, PASSWD_FILE_MAX);
	assert_int_equal(passwd_edit_text("f", in, strlen(in),
	    PASSWD_EDIT_SET, "alice", H1, NULL, &out, &err),
	    PASSWD_EDIT_BADFILE);
	assert_non_null(strstr(err, "longer than"));
	free(err);
	buf_clear(&out);
}

/* ADD with a home writes Dovecot's fields; a bad home is refused. */
static void
test_add_home(void **state)
{
	static const char *const bad[] = { "rel/home", "/a:b", "/a\nb", NULL };
	char		 longhome[POP3_HOME_MAX + 2];
	struct buf	 out;
	char		*err = NULL;
	size_t		 i;

	(void)state;
	buf_init(&out, PASSWD_FILE_MAX);
	assert_int_equal(passwd_edit_text("f", "a:x\n", 4, PASSWD_EDIT_ADD,
	    "bob", H1, "/home/bob", &out, &err), PASSWD_EDIT_OK);
	assert_int_equal(out.len, strlen("a:x\nbob:" H1 "::::/home/bob::\n"));
	assert_memory_equal(out.data, "a:x\nbob:" H1 "::::/home/bob::\n",
	    out.len);
	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(passwd_edit_text("f", "", 0, PASSWD_EDIT_ADD,
		    "bob", H1, bad[i], &out, &err), PASSWD_EDIT_BADFILE);
		assert_non_null(strstr(err, "invalid home"));
		free(err);
		err = NULL;
	}
	memset(longhome, 'h', sizeof(longhome) - 1);
	longhome[0] = '/';
	longhome[sizeof(longhome) - 1] = '\0';
	assert_int_equal(passwd_edit_text("f", "", 0, PASSWD_EDIT_ADD, "bob",
	    H1, longhome, &out, &err), PASSWD_EDIT_BADFILE);
	free(err);
	buf_clear(&out);
}

static char	 dir[64];
static char	 path[128];

static int
fs_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_passwd_edit.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/passwd", dir);
	return 0;
}

static int
fs_teardown(void **state)
{
	char	 p[160];

	unlink(path);
	snprintf(p, sizeof(p), "%s.lock", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.tmp", path);
	unlink(p);
	return rmdir(dir);
}

static void
write_file(const char *text, mode_t mode)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static enum passwd_edit_status
edit(enum passwd_edit_op op, const char *user, const char *hash,
    int timeout)
{
	struct passwd_edit_create	 cr = { getuid(), getgid(), 0640 };
	enum passwd_edit_status		 st;
	char				*err = NULL;

	st = passwd_edit_file(path, op, user, hash, NULL, &cr, timeout, &err);
	free(err);
	return st;
}

static void
test_file_round_trip(void **state)
{
	struct passwd_db		 db;
	const struct passwd_entry	*e;
	struct stat			 st1, st2;
	char				*err, tmp[160];

	/* Created with the given mode. */
	assert_int_equal(edit(PASSWD_EDIT_ADD, "alice", H1, 1000),
	    PASSWD_EDIT_OK);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0640);
	assert_int_equal(edit(PASSWD_EDIT_ADD, "bob", H2, 1000),
	    PASSWD_EDIT_OK);
	assert_int_equal(edit(PASSWD_EDIT_LOCK, "bob", NULL, 1000),
	    PASSWD_EDIT_OK);
	assert_int_equal(edit(PASSWD_EDIT_LOCK, "bob", NULL, 1000),
	    PASSWD_EDIT_UNCHANGED);
	assert_int_equal(edit(PASSWD_EDIT_DEL, "carol", NULL, 1000),
	    PASSWD_EDIT_NOUSER);
	assert_int_equal(passwd_db_load(&db, path, &err), 0);
	assert_int_equal(db.n, 2);
	e = passwd_db_find(&db, "alice");
	assert_non_null(e);
	assert_string_equal(e->hash, H1);
	assert_false(e->locked);
	e = passwd_db_find(&db, "bob");
	assert_non_null(e);
	assert_true(e->locked);
	passwd_db_free(&db);

	/* A kept mode, a new inode (pop3d's stat check), no tmp file. */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(edit(PASSWD_EDIT_DEL, "alice", NULL, 1000),
	    PASSWD_EDIT_OK);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_true(st1.st_ino != st2.st_ino);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(passwd_db_load(&db, path, &err), 0);
	assert_int_equal(db.n, 1);
	assert_null(passwd_db_find(&db, "alice"));
	passwd_db_free(&db);
}

static void
test_file_busy(void **state)
{
	int	 up[2], down[2], lfd;
	pid_t	 pid;
	char	 c;

	write_file("a:" H1 "\n", 0640);
	/* One pipe each way: a child reading its own byte back would hang. */
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	if ((pid = fork()) == 0) {
		/* OFD locks belong to the open file: the child's own. */
		lfd = passwd_edit_lock(path, 1000);
		(void)write(up[1], lfd == -1 ? "e" : "k", 1);
		(void)read(down[0], &c, 1);	/* until the parent writes */
		_exit(0);
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(c, 'k');
	assert_int_equal(edit(PASSWD_EDIT_ADD, "b", H2, 200),
	    PASSWD_EDIT_BUSY);
	assert_int_equal(write(down[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* Released by the child's exit. */
	assert_int_equal(edit(PASSWD_EDIT_ADD, "b", H2, 1000),
	    PASSWD_EDIT_OK);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* Concurrent writers: each edit sees the others' (no lost update). */
static void
test_file_concurrent(void **state)
{
	struct passwd_db	 db;
	char			*err, name[32];
	pid_t			 pids[4];
	int			 i, k, status;

	for (i = 0; i < 4; i++) {
		if ((pids[i] = fork()) == 0) {
			for (k = 0; k < 10; k++) {
				snprintf(name, sizeof(name), "u%d_%d", i, k);
				if (edit(PASSWD_EDIT_ADD, name, H1, 10000) !=
				    PASSWD_EDIT_OK)
					_exit(1);
			}
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(passwd_db_load(&db, path, &err), 0);
	assert_int_equal(db.n, 40);
	passwd_db_free(&db);
}

/*
 * A writer killed while writing the temporary file (SIGXFSZ from a file
 * size limit below the new file's size): the passwd-file is untouched,
 * and the next edit replaces the stale temporary file.
 */
static void
test_file_crash(void **state)
{
	struct rlimit	 rl;
	char		 text[8192], back[8192], tmp[160];
	size_t		 n = 0;
	ssize_t		 r;
	pid_t		 pid;
	int		 i, status, fd;

	for (i = 0; n + 200 < sizeof(text); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "user%d:%s\n",
		    i, H1);
	write_file(text, 0640);
	if ((pid = fork()) == 0) {
		signal(SIGXFSZ, SIG_DFL);
		rl.rlim_cur = rl.rlim_max = 4096;
		setrlimit(RLIMIT_FSIZE, &rl);
		(void)edit(PASSWD_EDIT_ADD, "crash", H2, 1000);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGXFSZ);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), 0);	/* the crash's leftover */
	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	r = read(fd, back, sizeof(back));
	close(fd);
	assert_int_equal(r, (ssize_t)n);
	assert_memory_equal(back, text, n);
	assert_int_equal(edit(PASSWD_EDIT_ADD, "after", H2, 1000),
	    PASSWD_EDIT_OK);
	assert_int_equal(access(tmp, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_table),
		cmocka_unit_test(test_edit_line_too_long),
		cmocka_unit_test(test_add_home),
		cmocka_unit_test_setup_teardown(test_file_round_trip,
		    fs_setup, fs_teardown),
		cmocka_unit_test_setup_teardown(test_file_busy, fs_setup,
		    fs_teardown),
		cmocka_unit_test_setup_teardown(test_file_concurrent,
		    fs_setup, fs_teardown),
		cmocka_unit_test_setup_teardown(test_file_crash, fs_setup,
		    fs_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
