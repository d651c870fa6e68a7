/*
 * sandbox.c - what the auth process and the workers may still do once
 * they run: no new privileges (PR_SET_NO_NEW_PRIVS), an empty capability
 * bounding set, and a seccomp-bpf allow-list of system calls (libseccomp)
 * fitted to each process.  A call outside the list kills the process
 * (the master logs the signal and starts a new one), so an attacker who
 * takes over a worker through a parser bug cannot exec, fork, ptrace,
 * mount, open network connections or load kernel modules.  The auth
 * process with backend = pgsql is the exception for the network: it may
 * open IPv4 and IPv6 TCP sockets, for libpq's connection to the
 * database, and UDP ones with FIONREAD and sendmmsg, for glibc's
 * resolver when the conninfo names a host (no raw socket, no other
 * protocol; netlink answers EAFNOSUPPORT), and make the socket calls
 * libpq makes - so it can reach any address those protocols reach.
 *
 * The lists are what the code, glibc, libevent and OpenSSL call in those
 * processes on Debian 12 (x86_64 and others through libseccomp's names),
 * found with strace over the whole test suite; tests/integration/
 * test_sandbox.py checks /proc/PID/status and every other test runs under
 * the filters.  Builds with AddressSanitizer skip the filter (its runtime
 * calls more), and "sandbox = no" in pop3d.conf turns it off for
 * valgrind or strace.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <seccomp.h>

#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN	1
#endif
#endif
#ifndef SANDBOX_ASAN
#define SANDBOX_ASAN	0
#endif

/* Both processes: memory, threads, time, signals, logging, exit. */
static const char *const common_calls[] = {
	"read", "write", "readv", "writev", "pread64", "close", "lseek",
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"futex", "set_robust_list", "rseq",
	"sched_yield", "sched_getaffinity",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "tgkill",
	"exit", "exit_group", "restart_syscall",
	/* syslog(3) on /dev/log (socket() itself: AF_UNIX only, below) */
	"connect", "sendto",
	/* getrandom: OpenSSL's and libxcrypt's random */
	"getrandom",
	/* files: the passwd-file, Maildirs, /etc files glibc reads */
	"openat", "newfstatat", "fstat", "statx", "fcntl",
	"recvmsg", "sendmsg", "recvfrom",
	"pipe2", "eventfd2", "dup", "dup3",
};

/* The auth process: a poll loop over the workers' channels. */
static const char *const auth_calls[] = {
	"poll", "ppoll",
};

/* The auth process with backend = pgsql: libpq's connections too. */
static const char *const auth_pgsql_calls[] = {
	"setsockopt", "getsockopt", "getsockname", "getpeername",
	"shutdown", "uname",
	/* glibc's resolver: both queries of a name in one call */
	"sendmmsg",
	/* libkrb5 lists /etc/gss/mech.d if the conninfo asks for GSS */
	"getdents64",
};

/* Workers: the event loop, client sockets, Maildirs, the job threads. */
static const char *const worker_calls[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "epoll_create1",
	"accept4", "accept", "shutdown", "setsockopt", "getsockopt",
	"getsockname", "getpeername",
	"sendfile", "fadvise64", "readahead",
	"getdents64", "mkdirat", "renameat", "renameat2", "rename",
	"unlinkat", "unlink", "linkat", "link", "fsync", "fdatasync",
	"flock", "ftruncate", "utimensat", "fchmod", "fchown", "umask",
	"poll", "ppoll",
};

static int
allow_list(scmp_filter_ctx ctx, const char *const *v, size_t n,
    const char **bad)
{
	size_t	i;
	int	nr;

	for (i = 0; i < n; i++) {
		/* A name this architecture lacks is simply not allowed. */
		if ((nr = seccomp_syscall_resolve_name(v[i])) == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
			*bad = v[i];
			return -1;
		}
	}
	return 0;
}

/*
 * backend = pgsql: IPv4 and IPv6 sockets, stream (libpq: TCP) and
 * datagram (glibc's resolver: UDP; a host name in the conninfo is looked
 * up at each connect, so DNS changes and failover count); the resolver
 * sizes an answer with FIONREAD.  glibc's sorting of a name's several
 * addresses asks netlink which families are configured: that socket is
 * refused with EAFNOSUPPORT, which glibc copes with.  No raw socket, no
 * other protocol (ICMP, UDP-Lite, SCTP), no other ioctl.
 */
static int
allow_inet(scmp_filter_ctx ctx)
{
	static const int	fam[] = { AF_INET, AF_INET6 };
	static const struct {
		int	type, proto;
	} kind[] = {
		{ SOCK_STREAM, 0 }, { SOCK_STREAM, IPPROTO_TCP },
		{ SOCK_DGRAM, 0 }, { SOCK_DGRAM, IPPROTO_UDP },
	};
	size_t		i, j;
	int		rc = 0;

	for (i = 0; i < 2 && rc == 0; i++)
		for (j = 0; j < sizeof(kind) / sizeof(kind[0]) && rc == 0; j++)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(socket), 3, SCMP_A0(SCMP_CMP_EQ, fam[i]),
			    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, kind[j].type),
			    SCMP_A2(SCMP_CMP_EQ, kind[j].proto));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
		    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	return rc;
}

/*
 * The bounding set: capabilities no exec could ever give back.  Needs
 * CAP_SETPCAP, so only while still root; an unprivileged start has an
 * empty permitted set anyway and leaves the bounding set as it got it.
 */
static void
drop_bounding_set(void)
{
	int	cap;

	for (cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno == EINVAL)
			break;
}

void
sandbox_drop_caps(void)
{
	if (geteuid() == 0)
		drop_bounding_set();
}

int
sandbox_enter(enum sandbox_role role, int filter, const char **errstr)
{
	scmp_filter_ctx	 ctx;
	const char	*bad = NULL;
	int		 rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		*errstr = "PR_SET_NO_NEW_PRIVS failed";
		return -1;
	}
	if (!filter || SANDBOX_ASAN)
		return 0;
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		*errstr = "seccomp_init failed";
		return -1;
	}
	/* Threads started before (the job threads) get the filter too. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = allow_list(ctx, common_calls, sizeof(common_calls) /
		    sizeof(common_calls[0]), &bad);
	/* syslog(3) reconnects; nothing may open a network socket. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/*
	 * Threads, never a new process (fork is a clone without
	 * CLONE_THREAD).  clone3 passes its flags in memory a filter cannot
	 * read: ENOSYS, and glibc's pthread_create falls back to clone.
	 */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0);
	if (rc == 0 && (role == SANDBOX_AUTH || role == SANDBOX_AUTH_PGSQL))
		rc = allow_list(ctx, auth_calls, sizeof(auth_calls) /
		    sizeof(auth_calls[0]), &bad);
	/* libpq and the resolver (AF_UNIX: above). */
	if (rc == 0 && role == SANDBOX_AUTH_PGSQL)
		rc = allow_list(ctx, auth_pgsql_calls,
		    sizeof(auth_pgsql_calls) / sizeof(auth_pgsql_calls[0]),
		    &bad);
	if (rc == 0 && role == SANDBOX_AUTH_PGSQL)
		rc = allow_inet(ctx);
	if (rc == 0 && role == SANDBOX_WORKER) {
		rc = allow_list(ctx, worker_calls, sizeof(worker_calls) /
		    sizeof(worker_calls[0]), &bad);
		/* libevent sizes its reads with FIONREAD; no other ioctl. */
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		*errstr = bad != NULL ? bad : strerror(-rc);
		return -1;
	}
	return 0;
}
