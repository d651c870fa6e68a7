/*
 * test_sandbox.c - unit tests for sandbox.c against the real kernel: a
 * forked child enters a role's sandbox and then makes one call; what is
 * allowed returns, what is not kills the child with SIGSYS (the auth
 * process with backend = pgsql: stream sockets to the database and
 * datagram ones for the resolver too; threads but no new process).  Builds with
 * AddressSanitizer load no filter (sandbox.c), so the filter tests skip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "pop3d/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define NO_FILTER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_FILTER	1
#endif
#endif
#ifndef NO_FILTER
#define NO_FILTER	0
#endif

enum probe {
	P_NOTHING,	/* just exit 0 */
	P_EXEC,		/* execve /bin/true */
	P_INET,		/* socket(AF_INET) */
	P_UNIX,		/* socket(AF_UNIX) */
	P_INET6,	/* socket(AF_INET6, SOCK_STREAM) */
	P_INET_DGRAM,	/* socket(AF_INET, SOCK_DGRAM) */
	P_INET6_DGRAM,	/* socket(AF_INET6, SOCK_DGRAM | flags) */
	P_INET_RAW,	/* socket(AF_INET, SOCK_RAW) */
	P_NETLINK,	/* socket(AF_NETLINK, SOCK_DGRAM): EAFNOSUPPORT? */
	P_UDP_PROTO,	/* socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) */
	P_EPOLL,	/* epoll_create1 */
	P_IOCTL_OTHER,	/* ioctl(TIOCGWINSZ) */
	P_IOCTL_FIONREAD,
	P_STATUS,	/* exit 0 if /proc says NoNewPrivs 1, Seccomp 2 */
	P_STATUS_NNP,	/* exit 0 if NoNewPrivs 1, Seccomp 0 */
	P_FORK,		/* fork(): a new process */
	P_THREAD,	/* pthread_create and join */
};

static void *
thread_main(void *arg)
{
	return arg;
}

/* "Key:\tN" from /proc/self/status; -1 if absent.  Only read/openat. */
static long
status_field(const char *key)
{
	static char	 buf[8192];
	char		*p;
	ssize_t		 n;
	int		 fd;

	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, strlen(key)) == 0 && p[strlen(key)] == ':')
			return strtol(p + strlen(key) + 1, NULL, 10);
	}
	return -1;
}

static int
probe(enum probe what)
{
	char		*argv[] = { "true", NULL }, *envp[] = { NULL };
	int		 fd, n;
	pid_t		 pid;
	pthread_t	 t;
	void		*ret;

	switch (what) {
	case P_NOTHING:
		return 0;
	case P_EXEC:
		execve("/bin/true", argv, envp);
		return 3;
	case P_INET:
		return socket(AF_INET, SOCK_STREAM, 0) == -1 ? 3 : 0;
	case P_UNIX:
		return socket(AF_UNIX, SOCK_DGRAM, 0) == -1 ? 3 : 0;
	case P_INET6:
		/* EAFNOSUPPORT without IPv6 is an answer, not a kill. */
		return socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) == -1 &&
		    errno != EAFNOSUPPORT ? 3 : 0;
	case P_INET_DGRAM:
		return socket(AF_INET, SOCK_DGRAM, 0) == -1 ? 3 : 0;
	case P_INET6_DGRAM:
		/* as glibc's resolver opens it */
		return socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0) == -1 && errno != EAFNOSUPPORT ? 3 : 0;
	case P_INET_RAW:
		(void)socket(AF_INET, SOCK_RAW, 1);
		return 0;
	case P_NETLINK:
		/* Refused with an error glibc's address sorting copes with. */
		return socket(AF_NETLINK, SOCK_DGRAM, 0) == -1 &&
		    errno == EAFNOSUPPORT ? 0 : 3;
	case P_UDP_PROTO:
		(void)socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
		return 0;
	case P_EPOLL:
		return epoll_create1(0) == -1 ? 3 : 0;
	case P_IOCTL_OTHER:
		(void)ioctl(0, TIOCGWINSZ, &n);
		return 0;
	case P_IOCTL_FIONREAD:
		fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		return ioctl(fd, FIONREAD, &n) == -1 ? 3 : 0;
	case P_STATUS:
		return status_field("NoNewPrivs") == 1 &&
		    status_field("Seccomp") == 2 ? 0 : 4;
	case P_STATUS_NNP:
		return status_field("NoNewPrivs") == 1 &&
		    status_field("Seccomp") == 0 ? 0 : 4;
	case P_FORK:
		/* Not waited for: wait4 is not on any list either. */
		if ((pid = fork()) == 0)
			_exit(0);
		return pid == -1 ? 3 : 0;
	case P_THREAD:
		if (pthread_create(&t, NULL, thread_main, &n) != 0 ||
		    pthread_join(t, &ret) != 0 || ret != &n)
			return 3;
		return 0;
	}
	return 5;
}

/* Runs probe in a child in role's sandbox; its wait status. */
static int
run(enum sandbox_role role, int filter, enum probe what)
{
	const char	*errstr;
	pid_t		 pid;
	int		 st;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (sandbox_enter(role, filter, &errstr) == -1)
			_exit(6);
		_exit(probe(what));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
assert_exit0(int st)
{
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
assert_sigsys(int st)
{
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void
test_worker_allows_its_calls(void **state)
{
	if (NO_FILTER)
		skip();
	assert_exit0(run(SANDBOX_WORKER, 1, P_NOTHING));
	assert_exit0(run(SANDBOX_WORKER, 1, P_STATUS));
	assert_exit0(run(SANDBOX_WORKER, 1, P_UNIX));
	assert_exit0(run(SANDBOX_WORKER, 1, P_EPOLL));
	assert_exit0(run(SANDBOX_WORKER, 1, P_IOCTL_FIONREAD));
	assert_exit0(run(SANDBOX_WORKER, 1, P_THREAD));
}

static void
test_worker_kills_the_rest(void **state)
{
	if (NO_FILTER)
		skip();
	assert_sigsys(run(SANDBOX_WORKER, 1, P_EXEC));
	assert_sigsys(run(SANDBOX_WORKER, 1, P_INET));
	assert_sigsys(run(SANDBOX_WORKER, 1, P_IOCTL_OTHER));
	assert_sigsys(run(SANDBOX_WORKER, 1, P_FORK));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_FORK));
	assert_sigsys(run(SANDBOX_AUTH_PGSQL, 1, P_FORK));
	assert_exit0(run(SANDBOX_AUTH, 1, P_THREAD));
}

static void
test_auth_is_narrower(void **state)
{
	if (NO_FILTER)
		skip();
	assert_exit0(run(SANDBOX_AUTH, 1, P_STATUS));
	assert_exit0(run(SANDBOX_AUTH, 1, P_UNIX));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_EXEC));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_INET));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_EPOLL));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_IOCTL_FIONREAD));
}

/* backend = pgsql: the auth process connects to the database too. */
static void
test_auth_pgsql_connects_and_resolves_only(void **state)
{
	if (NO_FILTER)
		skip();
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_STATUS));
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_UNIX));
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_INET));
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_INET6));
	/* glibc's resolver: a host name in the conninfo */
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_INET_DGRAM));
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_INET6_DGRAM));
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_IOCTL_FIONREAD));
	assert_sigsys(run(SANDBOX_AUTH_PGSQL, 1, P_INET_RAW));
	assert_exit0(run(SANDBOX_AUTH_PGSQL, 1, P_NETLINK));
	assert_sigsys(run(SANDBOX_AUTH_PGSQL, 1, P_UDP_PROTO));
	assert_sigsys(run(SANDBOX_AUTH_PGSQL, 1, P_IOCTL_OTHER));
	assert_sigsys(run(SANDBOX_AUTH_PGSQL, 1, P_EXEC));
	assert_sigsys(run(SANDBOX_AUTH_PGSQL, 1, P_EPOLL));
	/* and the passwd-file's auth process still has no network */
	assert_sigsys(run(SANDBOX_AUTH, 1, P_INET6));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_INET_DGRAM));
	assert_sigsys(run(SANDBOX_AUTH, 1, P_INET6_DGRAM));
}

/*
 * A database host name with two addresses (here "twohosts" in a hosts
 * file of the child's own mount namespace): glibc sorts them, asking
 * the kernel's netlink which families are configured; the pgsql
 * sandbox must let getaddrinfo finish.  Needs root (the namespace).
 */
static void
test_auth_pgsql_resolves_a_name_with_two_addresses(void **state)
{
	static const char	hosts[] = "127.0.0.1 twohosts\n::1 twohosts\n";
	struct addrinfo		hints, *res;
	char			path[] = "/tmp/pop3d-test-hosts-XXXXXX";
	const char		*errstr;
	pid_t			pid;
	int			fd, st, n;

	if (NO_FILTER || geteuid() != 0)
		skip();
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, hosts, sizeof(hosts) - 1),
	    (ssize_t)sizeof(hosts) - 1);
	close(fd);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
		    mount(path, "/etc/hosts", NULL, MS_BIND, NULL) == -1)
			_exit(7);
		if (sandbox_enter(SANDBOX_AUTH_PGSQL, 1, &errstr) == -1)
			_exit(6);
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo("twohosts", "5432", &hints, &res) != 0)
			_exit(3);
		for (n = 0; res != NULL; res = res->ai_next)
			n++;
		_exit(n == 2 ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 7)
		skip();		/* no mount namespace here */
	assert_exit0(st);
}

/* sandbox = no: no filter, but no new privileges all the same. */
static void
test_no_filter_still_no_new_privs(void **state)
{
	assert_exit0(run(SANDBOX_WORKER, 0, P_STATUS_NNP));
	assert_exit0(run(SANDBOX_WORKER, 0, P_EXEC));
	assert_exit0(run(SANDBOX_AUTH, 0, P_INET));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_allows_its_calls),
		cmocka_unit_test(test_worker_kills_the_rest),
		cmocka_unit_test(test_auth_is_narrower),
		cmocka_unit_test(test_auth_pgsql_connects_and_resolves_only),
		cmocka_unit_test(test_auth_pgsql_resolves_a_name_with_two_addresses),
		cmocka_unit_test(test_no_filter_still_no_new_privs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
