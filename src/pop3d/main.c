/*
 * main.c - the pop3d master (root): reads the config, binds the
 * listeners (listener.c), loads the TLS keys, starts the auth process
 * and the workers, and supervises them.  SIGHUP reloads config and certificates
 * into a new generation of workers while the old one finishes its
 * sessions; SIGTERM drains.  Its poll loop also serves the metrics
 * endpoint (metrics_http.c).  Nothing here touches client data.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "auth_req.h"
#include "buf.h"
#include "pop3d_config.h"
#include "ipc.h"
#include "addrlimit.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "msg.h"
#include "passwd.h"
#include "pgsql.h"
#include "penalty.h"
#include "tls.h"
#include "worker.h"
#include "xmalloc.h"

#define POP3D_VERSION	"0.1"
#define RESTART_PAUSE	1	/* seconds before restarting a process that died young */

struct wproc {
	pid_t		 pid;
	int		 gen;
	int		 slot;
	time_t		 started;
	struct addrtab	*conns;		/* the table it counts in */
};

static struct config	 cfg;
static SSL_CTX		*tls;
static struct listener	*ls;
static size_t		 nls;
static pid_t		 auth_pid = -1;
static int		 auth_ctl = -1;
static time_t		 auth_started, auth_restart_at;
static struct wproc	 procs[WORKERS_MAX * 4];
#define AUTH_SLOT	(sizeof(procs) / sizeof(procs[0]))	/* metrics.h */
/* Connections per client address, one region per procs[] entry. */
static struct addrtab	*conns;
static int		 gen;
static int		 nworkers;
static time_t		 slot_restart_at[WORKERS_MAX];
static int		 stopping;
static time_t		 stop_deadline;
static char		*log_path;	/* log = file: as started */
static char		*log_setting;	/* log as started: a reload keeps it */
static int		 sigfd = -1;	/* the blocked signals, as a descriptor */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pop3d [-dhtV] [-c file]\n"
	    "  -c file  configuration file (default " POP3D_CONF_DEFAULT ")\n"
	    "  -t       check the configuration, keys and passwd-file, "
	    "then exit\n"
	    "  -d       log debug lines\n"
	    "  -h       this help, and every configuration key\n"
	    "  -V       version\n"
	    "pop3d runs in the foreground; SIGHUP reloads, SIGTERM stops.\n");
}

/* Logs each line of text on its own (config errors, one per line). */
static void
log_lines(enum log_level lvl, char *text)
{
	char	*line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		log_msg(lvl, "%s", line);
}

/* Refuse a key file others could read (OpenSMTPD check_file_secrecy). */
static int
check_secrecy(const char *path, struct buf *errs)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		buf_printf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		buf_printf(errs, "%s: must be owned by root or by the user "
		    "running pop3d\n", path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		buf_printf(errs, "%s: must not be accessible by group or "
		    "others (chmod 600)\n", path);
		return -1;
	}
	return 0;
}

static SSL_CTX *
load_tls(const struct config *c, struct buf *errs)
{
	SSL_CTX	*ctx;
	char	*err = NULL;

	if (check_secrecy(c->tls_key, errs) == -1)
		return NULL;
	if ((ctx = tls_server_ctx(c->tls_cert, c->tls_key, &err)) == NULL) {
		buf_printf(errs, "%s\n", err);
		free(err);
		return NULL;
	}
	if (c->tls_min_version == TLS_MIN_13)
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (c->tls_ciphers[0] != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1) {
		buf_printf(errs, "%s: ciphers: no usable cipher in \"%s\"\n",
		    c->path, c->tls_ciphers);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The user setting key names must exist and must not be root (who runs). */
static int
check_run_user(struct buf *errs, const char *path, const char *key,
    const char *name, const char *who)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL) {
		buf_printf(errs, "%s: %s: no such user \"%s\"\n", path, key,
		    name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		buf_printf(errs, "%s: %s: %s must not run as root\n", path, key,
		    who);
		return -1;
	}
	return 0;
}

/* Everything -t checks, and a reload must pass before it takes effect. */
static int
load_all(const char *path, struct config *c, SSL_CTX **ctxp, int check_db)
{
	struct buf		 errs;
	struct passwd_db	 db;
	char			*err = NULL;
	int			 rv = 0;

	buf_init(&errs, 64 * 1024);
	*ctxp = NULL;
	if (config_load(c, path, &errs) == -1 ||
	    pgsql_config_check(c, &errs) > 0)
		rv = -1;
	else {
		if (geteuid() == 0) {
			if (check_run_user(&errs, path, "user", c->user,
			    "sessions") == -1)
				rv = -1;
			if (check_run_user(&errs, path, "auth_user",
			    c->auth_user, "the auth process") == -1)
				rv = -1;
		}
		if ((*ctxp = load_tls(c, &errs)) == NULL)
			rv = -1;
		if (check_db && c->auth_backend == AUTH_BACKEND_PASSWD_FILE) {
			memset(&db, 0, sizeof(db));
			if (passwd_db_load(&db, c->passwd_file, &err) == -1) {
				buf_printf(&errs, "%s\n", err);
				free(err);
				rv = -1;
			}
			passwd_db_free(&db);
			/*
			 * Give the freed pages back: every process forked
			 * from here would carry them (some 125 MB for a
			 * million accounts; docs/scaling.md).
			 */
			malloc_trim(0);
		}
	}
	if (errs.len > 0)
		log_lines(LOG_LVL_ERR, (char *)errs.data);
	buf_clear(&errs);
	if (rv == -1) {
		if (*ctxp != NULL)
			SSL_CTX_free(*ctxp);
		*ctxp = NULL;
	}
	return rv;
}

static void
signal_proc(pid_t pid, int sig)
{
	/* EPERM: under systemd, CapabilityBoundingSet lacks CAP_KILL. */
	if (kill(pid, sig) == -1 && errno != ESRCH)
		log_err("cannot send signal %d to pid %d: %s", sig, (int)pid,
		    strerror(errno));
}

/* The kernel's ceiling for RLIMIT_NOFILE (fs.nr_open); 0 if unknown. */
static rlim_t
nr_open(void)
{
	FILE			*f;
	unsigned long long	 v = 0;

	if ((f = fopen("/proc/sys/fs/nr_open", "re")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return (rlim_t)v;
}

/*
 * Raises RLIMIT_NOFILE to what one worker needs for its share of
 * max_connections; the workers inherit it at fork.  As root the hard
 * limit goes up too (up to fs.nr_open), so that a default start needs
 * no "ulimit -n" or LimitNOFILE.  Warns only when it cannot.
 */
static void
raise_fd_limit(const struct config *c, size_t nl)
{
	struct rlimit	rl, up;
	rlim_t		want = (rlim_t)worker_fds_needed(c, nl), top;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want && geteuid() == 0) {
		top = nr_open();
		up.rlim_max = top != 0 && top < want ? top : want;
		up.rlim_cur = rl.rlim_cur;
		/* EPERM without CAP_SYS_RESOURCE (systemd: LimitNOFILE). */
		if (up.rlim_max > rl.rlim_max &&
		    setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_max = up.rlim_max;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_warn("open files limited to %llu; max_connections=%lld "
		    "needs about %llu per worker (workers=%d)",
		    (unsigned long long)rl.rlim_cur, c->max_connections,
		    (unsigned long long)want, worker_count(c));
}

/* In a child: signals back to default and unblocked. */
static void
child_signals(void)
{
	sigset_t	set;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	/* "systemctl kill -s USR1" reaches every process: only the master
	 * reopens the log. */
	signal(SIGUSR1, SIG_IGN);
	close(sigfd);
	sigfd = -1;
	metrics_http_close_all();
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static int
spawn_auth(void)
{
	int	sp[2];
	pid_t	pid;
	size_t	i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_err("socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		child_signals();
		close(sp[0]);
		for (i = 0; i < nls; i++)
			close(ls[i].fd);
		/* The auth process never holds the TLS key. */
		SSL_CTX_free(tls);
		tls = NULL;
		metrics_attach(AUTH_SLOT);
		auth_main(&cfg, sp[1]);
	}
	close(sp[1]);
	if (auth_ctl != -1)
		close(auth_ctl);
	auth_ctl = sp[0];
	auth_pid = pid;
	auth_started = time(NULL);
	log_debug("auth process pid=%d", (int)pid);
	return 0;
}

static struct wproc *
free_proc(void)
{
	size_t	i;

	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (procs[i].pid == 0)
			return &procs[i];
	return NULL;
}

static int
spawn_worker(int slot)
{
	struct wproc	*w;
	struct msg	 m;
	int		 sp[2];
	pid_t		 pid;

	if ((w = free_proc()) == NULL) {
		log_err("too many worker processes; not starting another");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_err("socketpair: %s", strerror(errno));
		return -1;
	}
	/* The auth process gets its end of the worker's channel. */
	msg_init(&m, IPC_CHAN, 0);
	if (msg_send_fd(auth_ctl, &m, sp[1]) == -1) {
		log_err("passing a channel to auth: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	close(sp[1]);
	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		close(sp[0]);
		return -1;
	}
	if (pid == 0) {
		child_signals();
		close(auth_ctl);
		(void)fcntl(sp[0], F_SETFL, O_NONBLOCK);
		addrlimit_attach(conns, (size_t)(w - procs));
		metrics_attach((size_t)(w - procs));
		worker_main(&cfg, ls, nls, tls, sp[0]);
	}
	close(sp[0]);
	w->conns = conns;
	w->pid = pid;
	w->gen = gen;
	w->slot = slot;
	w->started = time(NULL);
	log_debug("worker pid=%d slot=%d gen=%d", (int)pid, slot, gen);
	return 0;
}

/*
 * The shared per-address counts, big enough for a worker's share of
 * max_connections.  A reload that raises the share makes a new table:
 * the draining workers keep counting in the old one, which then no
 * longer limits the new ones.
 */
static void
conns_table(void)
{
	size_t	 per = worker_sessions_max(&cfg);
	struct addrtab *t;

	if (conns != NULL && addrtab_slot_cells(conns) >= per * 2)
		return;
	if ((t = addrtab_new(sizeof(procs) / sizeof(procs[0]), per)) ==
	    NULL) {
		log_err("cannot map the per-address connection table: %s%s",
		    strerror(errno), conns != NULL ? "; keeping the old one" :
		    "");
		if (conns == NULL)
			fatalx("max_connections_per_ip cannot be counted");
		return;
	}
	if (conns != NULL) {
		log_info("per-address counts start afresh: max_connections "
		    "per worker grew to %zu", per);
		addrtab_free(conns);	/* old workers keep their mapping */
	}
	conns = t;
}

/* Starts a new generation of workers; the old ones drain (SIGUSR2). */
static void
new_generation(void)
{
	size_t	i;
	int	k;

	gen++;
	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (procs[i].pid > 0 && procs[i].gen != gen)
			signal_proc(procs[i].pid, SIGUSR2);
	nworkers = worker_count(&cfg);
	conns_table();
	for (k = 0; k < nworkers; k++) {
		slot_restart_at[k] = 0;
		if (spawn_worker(k) == -1)
			slot_restart_at[k] = time(NULL) + RESTART_PAUSE;
	}
}

static void
reload(void)
{
	struct config	 ncfg, ocfg;
	struct listener	*nls_v, *ols;
	size_t		 nn, on;
	SSL_CTX		*nctx;
	const char	*what;

	log_info("reload config=%s", cfg.path);
	if (load_all(cfg.path, &ncfg, &nctx, 0) == -1) {
		log_err("reload failed; keeping the running configuration");
		config_free(&ncfg);
		return;
	}
	if (listener_bind_all(&ncfg, ls, nls, &nls_v, &nn) == -1) {
		log_err("reload failed; keeping the running configuration");
		config_free(&ncfg);
		SSL_CTX_free(nctx);
		return;
	}
	ols = ls;
	on = nls;
	ls = nls_v;
	nls = nn;
	listener_free_all(ols, on);	/* those not moved into the new set */
	if (strcmp(ncfg.log, log_setting) != 0)
		log_warn("log: changed to \"%s\"; a restart applies it",
		    ncfg.log);
	if ((what = config_keep_backend(&ncfg, &cfg)) != NULL)
		log_warn("%s: changed to \"%s\"; a restart applies it", what,
		    strcmp(what, "backend") == 0 ? (ncfg.auth_backend ==
		    AUTH_BACKEND_PGSQL ? "passwd-file" : "pgsql") :
		    "new database settings");
	ocfg = cfg;
	cfg = ncfg;
	metrics_http_reload(&ocfg, &cfg);
	config_free(&ocfg);
	SSL_CTX_free(tls);
	tls = nctx;
	raise_fd_limit(&cfg, nls);
	if (auth_send_conf(auth_ctl, &cfg) == -1)
		log_err("sending settings to auth: %s", strerror(errno));
	new_generation();
	log_info("ready workers=%d", nworkers);
}

/* SIGUSR1: logrotate renamed the log file; write to a new one. */
static void
reopen_log(void)
{
	if (log_path == NULL)
		return;
	if (log_reopen() == -1)
		log_err("log reopen path=%s: %s; still writing to the old "
		    "file", log_path, log_open_strerror(errno));
	else
		log_info("log reopened path=%s", log_path);
}

/*
 * Waits up to a second for a signal, writing the children's log lines
 * to the log file meanwhile.  Returns the signal, or -1 after a second
 * without one.
 */
static int
next_signal(void)
{
	struct signalfd_siginfo	 ssi;
	struct pollfd		 pfd[2 + METRICS_POLL_MAX];
	struct timespec		 t0, now;
	long			 left = 1000;
	size_t			 n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (read(sigfd, &ssi, sizeof(ssi)) == (ssize_t)sizeof(ssi))
			return (int)ssi.ssi_signo;
		if (left <= 0)
			return -1;
		pfd[0].fd = sigfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = log_pipe_fd();	/* -1: poll skips it */
		pfd[1].events = POLLIN;
		n = metrics_http_pollfds(pfd + 2);	/* the scrapers too */
		if (poll(pfd, 2 + n, (int)left) > 0 && pfd[1].revents != 0)
			(void)log_drain();
		metrics_http_run(pfd + 2, n, POP3D_VERSION);
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = 1000 - ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000);
	}
}

/* The auth process ends when its control channel closes. */
static void
stop_auth(void)
{
	int	i;

	if (auth_pid <= 0)
		return;
	close(auth_ctl);
	auth_ctl = -1;
	for (i = 0; i < 30; i++) {
		if (waitpid(auth_pid, NULL, WNOHANG) == auth_pid)
			return;
		usleep(100 * 1000);
	}
	signal_proc(auth_pid, SIGKILL);
	(void)waitpid(auth_pid, NULL, 0);
}

/*
 * "status N" or "signal N"; a SIGSYS is the seccomp filter's kill
 * (sandbox.c), so the log says where to look.
 */
static const char *
death_str(int status, char *buf, size_t len)
{
	if (!WIFSIGNALED(status))
		snprintf(buf, len, "status %d", WEXITSTATUS(status));
	else if (WTERMSIG(status) == SIGSYS)
		snprintf(buf, len, "signal %d: a system call outside its "
		    "sandbox; the kernel log names it", WTERMSIG(status));
	else
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	return buf;
}

static void
reap(void)
{
	struct wproc	*w;
	pid_t		 pid;
	char		 why[128];
	int		 status;
	size_t		 i;
	time_t		 now = time(NULL);

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == auth_pid) {
			auth_pid = -1;
			if (stopping)
				continue;
			log_err("auth process died (%s); restarting",
			    death_str(status, why, sizeof(why)));
			metrics_restart(METRICS_PROC_AUTH);
			auth_restart_at = now - auth_started < RESTART_PAUSE ?
			    now + RESTART_PAUSE : now;
			continue;
		}
		for (w = NULL, i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
			if (procs[i].pid == pid) {
				w = &procs[i];
				break;
			}
		if (w == NULL)
			continue;
		if (w->gen == gen && !stopping) {
			log_err("worker pid=%d died (%s); restarting",
			    (int)pid, death_str(status, why, sizeof(why)));
			slot_restart_at[w->slot] = now - w->started <
			    RESTART_PAUSE ? now + RESTART_PAUSE : now;
			metrics_restart(METRICS_PROC_WORKER);
		}
		metrics_slot_died((size_t)(w - procs));	/* its sessions too */
		/* Its connections died with it. */
		if (w->conns == conns)
			addrtab_clear_slot(conns, (size_t)(w - procs));
		w->pid = 0;
	}
}

static int
children_left(void)
{
	size_t	i;

	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (procs[i].pid > 0)
			return 1;
	return 0;
}

static void
signal_workers(int sig)
{
	size_t	i;

	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (procs[i].pid > 0)
			signal_proc(procs[i].pid, sig);
}

/* Restarts what died, when its pause is over. */
static void
tick(void)
{
	time_t	now = time(NULL);
	int	k;
	size_t	i;
	int	alive;

	if (stopping)
		return;
	if (auth_pid == -1 && now >= auth_restart_at) {
		if (spawn_auth() == 0) {
			(void)auth_send_conf(auth_ctl, &cfg);
			new_generation();
		}
		return;
	}
	for (k = 0; k < nworkers; k++) {
		if (slot_restart_at[k] == 0 || now < slot_restart_at[k])
			continue;
		for (alive = 0, i = 0; i < sizeof(procs) / sizeof(procs[0]);
		    i++)
			if (procs[i].pid > 0 && procs[i].gen == gen &&
			    procs[i].slot == k)
				alive = 1;
		slot_restart_at[k] = 0;
		if (!alive && spawn_worker(k) == -1)
			slot_restart_at[k] = now + RESTART_PAUSE;
	}
}

int
main(int argc, char *argv[])
{
	const char	*path = POP3D_CONF_DEFAULT;
	sigset_t	 set;
	int		 ch, check = 0, debug = 0, sig;

	while ((ch = getopt(argc, argv, "c:dhtV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 't':
			check = 1;
			break;
		case 'h':
			usage();
			printf("\nConfiguration keys (pop3d.conf(5)):\n");
			config_print_help();
			return 0;
		case 'V':
			printf("pop3d " POP3D_VERSION "\n");
			return 0;
		default:
			usage();
			return 64;	/* EX_USAGE */
		}
	}
	if (optind != argc) {
		usage();
		return 64;
	}
	log_init("pop3d", 0, debug);
	log_role("master");
	if (load_all(path, &cfg, &tls, 1) == -1)
		return 1;
	if (check) {
		printf("pop3d: %s: configuration ok\n", path);
		return 0;
	}
	log_init("pop3d", cfg.log_target == LOG_TARGET_SYSLOG,
	    debug || cfg.verbose);
	log_role("master");
	/* Opened as root; the children inherit the way to it. */
	if (cfg.log_target == LOG_TARGET_FILE) {
		if (log_open_file(cfg.log_file) == -1)
			fatalx("log file %s: %s", cfg.log_file,
			    log_open_strerror(errno));
		log_path = xstrdup(cfg.log_file);
	}
	log_setting = xstrdup(cfg.log);

	/* Signals arrive through a signalfd, never as handlers. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");

	if (listener_bind_all(&cfg, NULL, 0, &ls, &nls) == -1)
		return 1;
	raise_fd_limit(&cfg, nls);
	if (metrics_http_listen(&cfg) == -1)
		return 1;
	if (metrics_init(AUTH_SLOT + 1) == -1)
		log_err("cannot map the metrics slots: only the master counts");
	/* Bans outlive an auth process that dies. */
	if (penalty_bans_init() == -1)
		log_err("cannot map the ban table: bans end with the auth "
		    "process");
	if (auth_shared_init() == -1)
		log_err("cannot map the auth page: CAPA says no EXPIRE USER");
	if (spawn_auth() == -1 || auth_send_conf(auth_ctl, &cfg) == -1)
		fatalx("cannot start the auth process");
	new_generation();
	log_info("ready workers=%d", nworkers);

	for (;;) {
		sig = next_signal();
		if (sig == SIGCHLD || sig == -1)
			reap();
		if (sig == SIGHUP && !stopping)
			reload();
		if (sig == SIGUSR1)
			reopen_log();
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			stop_deadline = time(NULL) + cfg.shutdown_timeout + 5;
			log_info("stopping: sessions get %llds to finish",
			    cfg.shutdown_timeout);
			signal_workers(SIGTERM);
			/* New connections are refused from now on. */
			listener_free_all(ls, nls);
			ls = NULL;
			nls = 0;
		}
		if (stopping) {
			reap();
			if (!children_left()) {
				stop_auth();
				log_info("stopped");
				log_close();
				return 0;
			}
			if (time(NULL) > stop_deadline) {
				signal_workers(SIGKILL);
				stop_deadline = time(NULL) + 5;
			}
			continue;
		}
		tick();
	}
}
