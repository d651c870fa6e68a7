/*
 * test_maildir_tx.c - unit tests for maildir.c's streaming delivery
 * (maildir_tx, used by pop3ctl deliver): chunks of any size give the
 * bytes and the ,S= ,W= ,D= of one write; abort and a failed write (file
 * size limit, as a full disk would) leave nothing in tmp/ or new/.
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "maildir.h"

static char	 dir[64];
static int	 dirfd_;

static int
tx_setup(void **state)
{
	char	 p[128];

	snprintf(dir, sizeof(dir), "/tmp/test_maildir_tx.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/new", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/tmp", dir);
	mkdir(p, 0700);
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	return dirfd_ == -1 ? -1 : 0;
}

/* Number of entries in sub (not . and ..); *name gets the last. */
static int
count(const char *sub, char *name, size_t namelen)
{
	char		 p[128];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			n++;
			if (name != NULL)
				snprintf(name, namelen, "%s", de->d_name);
		}
	closedir(d);
	return n;
}

static int
tx_teardown(void **state)
{
	char		 p[512], name[300];
	const char	*subs[] = { "new", "tmp" };
	int		 i;

	for (i = 0; i < 2; i++) {
		while (count(subs[i], name, sizeof(name)) > 0) {
			snprintf(p, sizeof(p), "%s/%s/%s", dir, subs[i], name);
			if (unlink(p) == -1)
				break;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		rmdir(p);
	}
	close(dirfd_);
	return rmdir(dir);
}

static const char msg[] = "Subject: x\n\n.dot\r\nline\nend";

static void
test_tx_chunks(void **state)
{
	struct maildir_tx	 tx;
	struct maildir_name	 mn;
	char			 name[POP3_MDNAME_MAX + 1], p[512], back[64];
	size_t			 step, off, len = strlen(msg);
	ssize_t			 r;
	int			 fd;

	for (step = 1; step <= len; step++) {
		assert_int_equal(maildir_tx_begin(&tx, dirfd_), 0);
		for (off = 0; off < len; off += step)
			assert_int_equal(maildir_tx_write(&tx,
			    (const unsigned char *)msg + off,
			    off + step > len ? len - off : step), 0);
		assert_int_equal(maildir_tx_commit(&tx, name, sizeof(name)), 0);
		assert_int_equal(maildir_name_parse(name, &mn), 0);
		assert_true(mn.has_size && mn.has_wsize);
		/* Bare LFs and no final line end: not wire form. */
		assert_false(mn.has_dots);
		assert_false(maildir_name_is_wire(&mn));
		assert_int_equal(mn.size, len);
		/* Four LFs, one of them after a CR. */
		assert_int_equal(mn.wsize, len + 3);
		snprintf(p, sizeof(p), "%s/new/%s", dir, name);
		fd = open(p, O_RDONLY);
		assert_true(fd != -1);
		r = read(fd, back, sizeof(back));
		close(fd);
		assert_int_equal(r, (ssize_t)len);
		assert_memory_equal(back, msg, len);
		assert_int_equal(unlink(p), 0);
		assert_int_equal(count("tmp", NULL, 0), 0);
	}
}

/*
 * ,D= (wire form) is decided the same for every split of the input,
 * including between a CR and its LF and right after a line end.
 */
static void
test_tx_wire(void **state)
{
	static const struct {
		const char	*msg;
		int		 has_dots;	/* -1: no ,D= */
		int		 wire;
	} cases[] = {
		{ "Subject: x\r\n\r\nbody\r\n", 0, 1 },
		{ ".Subject: x\r\n\r\n..b\r\n.\r\nz\r\n", 3, 0 },
		{ "Subject: x\r\n\r\nno end", -1, 0 },
		{ "Subject: x\r\n\r\nends in CR\r", -1, 0 },
		{ "Subject: x\r\n\nbare\r\n", -1, 0 },
		{ "Subject: x\r\n\r\nlone \r inside\r\n", 0, 1 },
		{ "A: b\r\n\r\r\n", 0, 1 },
	};
	struct maildir_tx	 tx;
	struct maildir_name	 mn;
	char			 name[POP3_MDNAME_MAX + 1], p[512];
	size_t			 c, step, off, len;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		len = strlen(cases[c].msg);
		for (step = 1; step <= len; step++) {
			assert_int_equal(maildir_tx_begin(&tx, dirfd_), 0);
			for (off = 0; off < len; off += step)
				assert_int_equal(maildir_tx_write(&tx,
				    (const unsigned char *)cases[c].msg + off,
				    off + step > len ? len - off : step), 0);
			assert_int_equal(maildir_tx_commit(&tx, name,
			    sizeof(name)), 0);
			assert_int_equal(maildir_name_parse(name, &mn), 0);
			if (cases[c].has_dots == -1)
				assert_false(mn.has_dots);
			else {
				assert_true(mn.has_dots);
				assert_int_equal(mn.dots,
				    (uint64_t)cases[c].has_dots);
			}
			assert_int_equal(maildir_name_is_wire(&mn),
			    cases[c].wire);
			snprintf(p, sizeof(p), "%s/new/%s", dir, name);
			assert_int_equal(unlink(p), 0);
		}
	}
}

static void
test_tx_abort(void **state)
{
	struct maildir_tx	 tx;

	assert_int_equal(maildir_tx_begin(&tx, dirfd_), 0);
	assert_int_equal(maildir_tx_write(&tx, (const unsigned char *)msg,
	    sizeof(msg) - 1), 0);
	assert_int_equal(count("tmp", NULL, 0), 1);
	maildir_tx_abort(&tx);
	maildir_tx_abort(&tx);	/* twice is harmless */
	assert_int_equal(count("tmp", NULL, 0), 0);
	assert_int_equal(count("new", NULL, 0), 0);
	/* Finished: further calls fail. */
	assert_int_equal(maildir_tx_commit(&tx, NULL, 0), -1);
}

/* A write that fails (EFBIG here, ENOSPC on a full disk) cleans up. */
static void
test_tx_write_fails(void **state)
{
	static unsigned char	 big[65536];
	struct maildir_tx	 tx;
	struct rlimit		 rl;
	pid_t			 pid;
	int			 status, rv;

	memset(big, 'a', sizeof(big));
	if ((pid = fork()) == 0) {
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = 1000;
		setrlimit(RLIMIT_FSIZE, &rl);
		if (maildir_tx_begin(&tx, dirfd_) == -1)
			_exit(2);
		rv = maildir_tx_write(&tx, big, sizeof(big));
		_exit(rv == -1 && errno == EFBIG ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count("tmp", NULL, 0), 0);
	assert_int_equal(count("new", NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_chunks, tx_setup,
		    tx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_wire, tx_setup,
		    tx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_abort, tx_setup,
		    tx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_write_fails, tx_setup,
		    tx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
