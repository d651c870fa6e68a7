/*
 * worker.c - a worker process: drops to the mail user, accepts on the
 * listeners it inherited (a PROXY listener's connections go through
 * proxy_conn.c first), and runs all its sessions in one libevent loop
 * (job threads do the blocking maildrop work).  Reads the auth
 * process's answers and hands them to the sessions (session.c keeps
 * the registry that finds them), drains and stops on signals.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/listener.h>

#include "ipc.h"
#include "jobs.h"
#include "log.h"
#include "msg.h"
#include "privsep.h"
#include "sandbox.h"
#include "addrlimit.h"
#include "cpus.h"
#include "proxy_conn.h"
#include "registry.h"
#include "session.h"
#include "worker.h"
#include "xmalloc.h"

#define WORKER_JOB_THREADS 2
/*
 * A session holds up to 4 descriptors (socket, maildrop directory, lock,
 * message file).  The overhead covers the rest of a worker (epoll,
 * libevent's signal and thread pipes, the job threads, the auth channel,
 * stdio, the log pipe: about 30) and the purges that outlive their
 * sessions, queued behind the job threads while new sessions take the
 * freed slots: up to 5 each (the Maildir and the swapped directories),
 * so about 90 of them at once.
 */
#define FDS_PER_SESSION	4
#define FDS_OVERHEAD	512

static size_t		  nslots;
static struct event	 *ev_auth, *ev_term, *ev_usr2, *ev_stop;
static struct evconnlistener **lev;
static size_t		  nlev;
static time_t		  last_full_log;

int
worker_count(const struct config *cfg)
{
	if (cfg->workers > 0)
		return (int)cfg->workers;
	return cpus_usable(WORKERS_MAX);
}

size_t
worker_sessions_max(const struct config *cfg)
{
	long long	nw = worker_count(cfg), n;

	n = (cfg->max_connections + nw - 1) / nw;
	return n > SESSION_SLOTS_MAX ? SESSION_SLOTS_MAX : (size_t)n;
}

unsigned long long
worker_fds_needed(const struct config *cfg, size_t nl)
{
	unsigned long long	n = worker_sessions_max(cfg);

	/* Behind a balancer, as many again may await their header. */
	return n * FDS_PER_SESSION + (cfg->listen_proxy.n > 0 ||
	    cfg->listen_tls_proxy.n > 0 ? n : 0) + nl + FDS_OVERHEAD;
}

static void
auth_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msg	 m;
	long		 n;
	int		 k;

	for (k = 0; k < 64; k++) {
		n = msg_recv(fd, &m);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		if (session_auth_answer(&m) == -1)
			fatalx("malformed message from the auth process");
	}
	if (k == 64)
		return;		/* more next time round the loop */
	/* The auth process is gone; the master starts another generation. */
	log_err("auth process channel closed");
	event_del(ev_auth);
	close(wenv.authfd);
	wenv.authfd = -1;
	session_auth_lost();
}

static const char full_msg[] = "-ERR [SYS/TEMP] too many connections; "
    "try again later\r\n";

/*
 * The worker is full (a session or a connection awaiting its PROXY
 * header per slot): fd is refused, with a line a second at most.
 */
static void
refuse_full(int fd, int tls)
{
	if (time(NULL) != last_full_log) {
		last_full_log = time(NULL);
		log_warn("connection refused reason=max_connections "
		    "limit=%zu", nslots);
	}
	/* Plain text would only break a TLS client's handshake. */
	if (!tls)
		(void)write(fd, full_msg, sizeof(full_msg) - 1);
	close(fd);
}

/*
 * A new client connection (fd, from sa) becomes a session, unless the
 * worker is full or sa's address is at its limit: then it is refused.
 * For a PROXY listener, sa is the client the header names, and
 * loopback_ok says whether the balancer's own connection came from
 * loopback with a header naming a client (not LOCAL or UNKNOWN): only
 * then may a loopback client count as loopback (allow_plaintext_auth).
 * Returns the session's id, or 0.
 */
static uint64_t
worker_take(int fd, const struct sockaddr *sa, socklen_t salen, int tls,
    int loopback_ok)
{
	struct session	*s;
	struct addrkey	 k;
	int		 one = 1, shed = 0;

	/*
	 * Full: a session that has not logged in makes room, if any; but
	 * not for a connection its address limit refuses anyway.
	 */
	if (session_count() >= nslots) {
		addrkey_from_sockaddr(&k, sa, (int)wenv.cfg->ipv6_prefix);
		if (!addrlimit_room(&k, wenv.cfg->max_connections_per_ip))
			shed = -1;
		else
			shed = session_shed();
	}
	if (session_count() >= nslots && shed == -1) {
		refuse_full(fd, tls);
		return 0;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((s = session_new(fd, sa, salen, tls)) == NULL)
		return 0;
	/* Behind a balancer, "loopback" needs the balancer's hop too. */
	if (!loopback_ok)
		s->loopback = 0;
	return s->id;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener	*li = arg;

	if (!li->proxy)
		(void)worker_take(fd, sa, (socklen_t)salen, li->tls, 1);
	else
		proxy_conn_start(fd, sa, (socklen_t)salen, li->tls, nslots,
		    worker_take);
}

/*
 * accept() failed (EMFILE, ENFILE, ENOBUFS): stop accepting for a moment
 * instead of spinning on a listener that stays readable.
 */
static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	size_t	i;

	for (i = 0; i < nlev; i++)
		if (lev[i] != NULL)
			evconnlistener_enable(lev[i]);
}

static void
accept_error(struct evconnlistener *l, void *arg)
{
	static struct event	*ev_resume;
	struct timeval		 tv = { 1, 0 };
	size_t			 i;
	int			 e = EVUTIL_SOCKET_ERROR();

	if (time(NULL) != last_full_log) {
		last_full_log = time(NULL);
		log_err("accept: %s; pausing for a second",
		    evutil_socket_error_to_string(e));
	}
	for (i = 0; i < nlev; i++)
		if (lev[i] != NULL)
			evconnlistener_disable(lev[i]);
	if (ev_resume == NULL)
		ev_resume = evtimer_new(wenv.base, accept_resume, NULL);
	if (ev_resume != NULL)
		evtimer_add(ev_resume, &tv);
}

static void
start_drain(void)
{
	size_t	i;

	if (!wenv.draining)
		log_info("draining sessions=%zu", session_count());
	wenv.draining = 1;
	for (i = 0; i < nlev; i++)
		if (lev[i] != NULL) {
			evconnlistener_free(lev[i]);
			lev[i] = NULL;
		}
	session_drain_check();
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	log_info("shutdown timeout: closing sessions=%zu", session_count());
	session_free_all("shutdown");
	event_base_loopexit(wenv.base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	tv;

	start_drain();
	if (sig == SIGTERM && ev_stop == NULL) {
		/* Sessions get shutdown_timeout seconds to finish. */
		tv.tv_sec = wenv.cfg->shutdown_timeout;
		tv.tv_usec = 0;
		ev_stop = evtimer_new(wenv.base, stop_cb, NULL);
		evtimer_add(ev_stop, &tv);
	}
}

void
worker_main(const struct config *cfg, struct listener *ls, size_t nl,
    SSL_CTX *tls, int afd)
{
	struct event_config	*ecfg;
	const char	*errstr;
	size_t		 i;

	log_role("worker");
	if (privsep_drop(cfg->user, &errstr) == -1)
		fatalx("user %s: %s", cfg->user, errstr);
	privsep_die_with_parent(SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);

	memset(&wenv, 0, sizeof(wenv));
	wenv.cfg = cfg;
	wenv.tls = tls;
	if (cfg->hostname[0] != '\0')
		snprintf(wenv.hostname, sizeof(wenv.hostname), "%s",
		    cfg->hostname);
	else if (gethostname(wenv.hostname, sizeof(wenv.hostname)) == -1)
		snprintf(wenv.hostname, sizeof(wenv.hostname), "localhost");
	/*
	 * The changelist folds the EV_READ/EV_WRITE toggles of one loop turn
	 * (a TLS command read, its answer queued and flushed) into at most
	 * one epoll_ctl per socket, instead of one per toggle.  conn.c's
	 * plain sockets are edge-triggered and see the peer's close (epoll).
	 */
	if ((ecfg = event_config_new()) == NULL ||
	    event_config_set_flag(ecfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1 ||
	    event_config_require_features(ecfg,
	    EV_FEATURE_ET | EV_FEATURE_EARLY_CLOSE) == -1 ||
	    (wenv.base = event_base_new_with_config(ecfg)) == NULL)
		fatalx("event_base_new failed");
	event_config_free(ecfg);
	if (jobs_init(wenv.base, WORKER_JOB_THREADS) == -1)
		fatal("job threads");

	nslots = worker_sessions_max(cfg);
	registry_init(nslots);

	wenv.authfd = afd;
	ev_auth = event_new(wenv.base, wenv.authfd, EV_READ | EV_PERSIST,
	    auth_cb, NULL);
	event_add(ev_auth, NULL);
	ev_term = evsignal_new(wenv.base, SIGTERM, signal_cb, NULL);
	ev_usr2 = evsignal_new(wenv.base, SIGUSR2, signal_cb, NULL);
	event_add(ev_term, NULL);
	event_add(ev_usr2, NULL);

	lev = xcalloc(nl, sizeof(*lev));
	nlev = nl;
	for (i = 0; i < nl; i++) {
		lev[i] = evconnlistener_new(wenv.base, accept_cb, &ls[i],
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
		    ls[i].fd);
		if (lev[i] == NULL)
			fatalx("listener %s", ls[i].addr);
		evconnlistener_set_error_cb(lev[i], accept_error);
	}
	if (sandbox_enter(SANDBOX_WORKER, cfg->sandbox, &errstr) == -1)
		fatalx("sandbox: %s", errstr);
	log_debug("worker started sessions_max=%zu", nslots);
	event_base_dispatch(wenv.base);
	log_debug("worker exits");
	exit(0);
}
