/*
 * metrics.c - pop3d's counters (metrics.h): the shared slots, the hooks
 * the workers and the auth process call on their events, and the
 * master's sum of them in the Prometheus text format 0.0.4.  The slot
 * region is mapped by the master before it forks; each child writes
 * only its own slot, the master only reads (and zeroes a dead child's
 * gauge), so relaxed atomic adds are all it takes: no lock anywhere.
 * The master's own numbers (restarts, start time) are plain statics.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"

/* The command names of session.c's table, and then "unknown". */
static const char *const cmd_names[] = {
	"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT",
	"LIST", "UIDL", "RETR", "TOP", "DELE", "NOOP", "RSET", "unknown",
};
#define NCMD	(sizeof(cmd_names) / sizeof(cmd_names[0]))

/*
 * Histogram bounds.  Auth: a yescrypt check takes some 10 ms to 100 ms
 * (more on a loaded box, or queued behind others), a cached pair well
 * under a millisecond.  RETR: mail from a one-line note to a big
 * attachment.  The last bucket (+Inf) is implicit.
 */
static const uint64_t auth_le_us[] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2000000, 5000000,
};
static const char *const auth_le_str[] = {
	"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2", "5",
};
#define NAUTH	(sizeof(auth_le_us) / sizeof(auth_le_us[0]))
static const uint64_t retr_le[] = {
	1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
	67108864,
};
#define NRETR	(sizeof(retr_le) / sizeof(retr_le[0]))
_Static_assert(sizeof(auth_le_str) / sizeof(auth_le_str[0]) == NAUTH,
    "one label per auth bound");

/* Where each number sits in a slot. */
enum {
	M_SESS_OPEN,			/* gauge */
	M_SESS_END,			/* + enum metrics_tls */
	M_LOGIN = M_SESS_END + 3,	/* + enum metrics_login */
	M_CMD = M_LOGIN + 5,		/* + index in cmd_names */
	M_SENT = M_CMD + NCMD,
	M_IN_USE,
	M_COMMIT_FAIL,
	M_AUTH_CACHED,
	M_RETR,				/* buckets, +Inf last, not cumulative */
	M_RETR_SUM = M_RETR + NRETR + 1,
	M_AUTH,				/* buckets as for RETR, microseconds */
	M_AUTH_SUM_US = M_AUTH + NAUTH + 1,
	M_N
};

/* One process's numbers; a cache line of its own start. */
struct slot {
	_Alignas(64) _Atomic uint64_t v[M_N];
};

static struct slot	*slots;		/* shared; NULL: not mapped */
static size_t		 nslots;
static struct slot	*mine;		/* this process's, or NULL */
static uint64_t		 restarts[2];	/* master: enum metrics_proc */
static time_t		 started;

int
metrics_init(size_t n)
{
	void	*p;

	started = time(NULL);
	p = mmap(NULL, n * sizeof(struct slot), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	slots = p;
	nslots = n;
	return 0;
}

void
metrics_attach(size_t slot)
{
	mine = slots != NULL && slot < nslots ? &slots[slot] : NULL;
}

void
metrics_slot_died(size_t slot)
{
	if (slots != NULL && slot < nslots)
		atomic_store_explicit(&slots[slot].v[M_SESS_OPEN], 0,
		    memory_order_relaxed);
}

void
metrics_restart(enum metrics_proc p)
{
	restarts[p]++;
}

static inline void
add(size_t i, uint64_t n)
{
	if (mine != NULL)
		atomic_fetch_add_explicit(&mine->v[i], n, memory_order_relaxed);
}

void
metrics_session_start(void)
{
	add(M_SESS_OPEN, 1);
}

void
metrics_session_end(enum metrics_tls tls)
{
	/* Wraps to the previous value: a gauge going down by one. */
	add(M_SESS_OPEN, UINT64_MAX);
	add(M_SESS_END + tls, 1);
}

void
metrics_sent(uint64_t bytes)
{
	add(M_SENT, bytes);
}

void
metrics_command(const char *name)
{
	size_t	i;

	if (mine == NULL)
		return;
	for (i = 0; name != NULL && i < NCMD - 1; i++)
		if (strcmp(cmd_names[i], name) == 0)
			break;
	add(M_CMD + (name != NULL ? i : NCMD - 1), 1);
}

void
metrics_retr(uint64_t size)
{
	size_t	i;

	for (i = 0; i < NRETR && size > retr_le[i]; i++)
		;
	add(M_RETR + i, 1);
	add(M_RETR_SUM, size);
}

void
metrics_in_use(void)
{
	add(M_IN_USE, 1);
}

void
metrics_commit_failed(void)
{
	add(M_COMMIT_FAIL, 1);
}

void
metrics_auth_cached(void)
{
	add(M_AUTH_CACHED, 1);
}

void
metrics_login(enum metrics_login what, const struct timespec *since)
{
	struct timespec	now;
	int64_t		ns;
	uint64_t	us;
	size_t		i;

	add(M_LOGIN + what, 1);
	if (since == NULL || mine == NULL ||
	    clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return;
	ns = (int64_t)(now.tv_sec - since->tv_sec) * 1000000000 +
	    (now.tv_nsec - since->tv_nsec);
	us = ns > 0 ? (uint64_t)ns / 1000 : 0;
	for (i = 0; i < NAUTH && us > auth_le_us[i]; i++)
		;
	add(M_AUTH + i, 1);
	add(M_AUTH_SUM_US, us);
}

static int	render_err;	/* metrics_render: out was too small */

static void	put(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
put(struct buf *out, const char *fmt, ...)
{
	va_list	ap;
	char	line[512];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    buf_add(out, line, (size_t)n) == -1)
		render_err = 1;
}

/* The sum of number i over every slot. */
static uint64_t
sum(size_t i)
{
	uint64_t	t = 0;
	size_t		k;

	for (k = 0; slots != NULL && k < nslots; k++)
		t += atomic_load_explicit(&slots[k].v[i], memory_order_relaxed);
	return t;
}

static void
head(struct buf *out, const char *name, const char *type, const char *help)
{
	put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter without labels: its HELP and TYPE lines and its sum. */
static void
counter(struct buf *out, const char *name, const char *help, size_t idx)
{
	head(out, name, "counter", help);
	put(out, "%s %llu\n", name, (unsigned long long)sum(idx));
}

/* A histogram from its non-cumulative buckets at first (n bounds). */
static void
histogram(struct buf *out, const char *name, size_t first, size_t n,
    const uint64_t *le, const char *const *le_str, double sum_v)
{
	uint64_t	cum = 0;
	size_t		i;

	for (i = 0; i <= n; i++) {
		cum += sum(first + i);
		if (i == n)
			put(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
		else if (le_str != NULL)
			put(out, "%s_bucket{le=\"%s\"} %llu\n", name,
			    le_str[i], (unsigned long long)cum);
		else
			put(out, "%s_bucket{le=\"%llu\"} %llu\n", name,
			    (unsigned long long)le[i], (unsigned long long)cum);
	}
	put(out, "%s_sum %.6f\n%s_count %llu\n", name, sum_v, name,
	    (unsigned long long)cum);
}

int
metrics_render(struct buf *out, const char *version)
{
	static const char *const tls[] = { "none", "stls", "implicit" };
	static const char *const login[] = { "ok", "failed", "banned",
	    "login_delay", "tempfail" };
	size_t	i;

	render_err = 0;
	head(out, "pop3d_build_info", "gauge", "Always 1; the label says "
	    "which pop3d runs.");
	put(out, "pop3d_build_info{version=\"%s\"} 1\n", version);
	head(out, "pop3d_start_time_seconds", "gauge", "When the master "
	    "started, in seconds since the Unix epoch.");
	put(out, "pop3d_start_time_seconds %lld\n", (long long)started);
	head(out, "pop3d_sessions_open", "gauge", "Client sessions open now, "
	    "in every worker.");
	put(out, "pop3d_sessions_open %lld\n",
	    (long long)(int64_t)sum(M_SESS_OPEN));
	head(out, "pop3d_sessions_total", "counter", "Client sessions that "
	    "ended, by the TLS they had at the end.");
	for (i = 0; i < 3; i++)
		put(out, "pop3d_sessions_total{tls=\"%s\"} %llu\n",
		    tls[i], (unsigned long long)sum(M_SESS_END + i));
	head(out, "pop3d_logins_total", "counter", "Login attempts the auth "
	    "process answered, by result.");
	for (i = 0; i < 5; i++)
		put(out, "pop3d_logins_total{result=\"%s\"} %llu\n",
		    login[i], (unsigned long long)sum(M_LOGIN + i));
	head(out, "pop3d_auth_duration_seconds", "histogram", "Time the auth "
	    "process took from a login request to its answer.");
	histogram(out, "pop3d_auth_duration_seconds", M_AUTH, NAUTH,
	    auth_le_us, auth_le_str, (double)sum(M_AUTH_SUM_US) / 1e6);
	head(out, "pop3d_commands_total", "counter", "Command lines read, by "
	    "command; unknown: no such command.");
	for (i = 0; i < NCMD; i++)
		put(out, "pop3d_commands_total{command=\"%s\"} %llu\n",
		    cmd_names[i], (unsigned long long)sum(M_CMD + i));
	counter(out, "pop3d_sent_bytes_total", "Bytes of POP3 answers and "
	    "messages sent to clients, before TLS.", M_SENT);
	head(out, "pop3d_retr_size_bytes", "histogram", "Sizes of the "
	    "messages RETR sent, in octets.");
	histogram(out, "pop3d_retr_size_bytes", M_RETR, NRETR, retr_le, NULL,
	    (double)sum(M_RETR_SUM));
	counter(out, "pop3d_auth_cache_hits_total", "Logins the credential "
	    "cache answered (cache_ttl): no slow hash.", M_AUTH_CACHED);
	counter(out, "pop3d_in_use_refusals_total", "Logins refused with "
	    "[IN-USE]: another session held the maildrop.", M_IN_USE);
	counter(out, "pop3d_commit_failures_total", "QUITs whose UPDATE could "
	    "not remove every deleted message.", M_COMMIT_FAIL);
	head(out, "pop3d_restarts_total", "counter", "Child processes that "
	    "died and were restarted by the master.");
	put(out, "pop3d_restarts_total{process=\"worker\"} %llu\n"
	    "pop3d_restarts_total{process=\"auth\"} %llu\n",
	    (unsigned long long)restarts[METRICS_PROC_WORKER],
	    (unsigned long long)restarts[METRICS_PROC_AUTH]);
	return render_err ? -1 : 0;
}
