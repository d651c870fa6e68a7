/*
 * proxy_conn.c - a connection on a PROXY listener until its header is
 * in: the trust check on the peer, the header read without reading one
 * octet past it (MSG_PEEK, then exactly what proxy_take() allows: what
 * follows is the client's, perhaps its TLS ClientHello), the
 * proxy_timeout deadline (from accept: a trickle does not move it), the
 * hand-over to the worker with the client's address (or the peer's, for
 * PROXY UNKNOWN and v2 LOCAL), and refusal lines a flood cannot multiply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "addrlimit.h"
#include "ipc.h"
#include "log.h"
#include "proxy.h"
#include "proxy_conn.h"
#include "session.h"
#include "xmalloc.h"

struct proxy_conn {
	int			 fd;
	int			 tls;
	proxy_take_fn		*take;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 pip[64];	/* the peer, printable */
	struct event		*ev;		/* readable, or the deadline */
	struct timespec		 deadline;	/* CLOCK_MONOTONIC */
	size_t			 have;
	unsigned char		 buf[PROXY_HDR_MAX];
};

/*
 * Refusal lines, per reason: a burst of RL_BURST, then RL_RATE a second;
 * the next line logged says how many were left out (suppressed=N).
 */
#define RL_BURST	10.0
#define RL_RATE		1.0
enum { RL_UNTRUSTED, RL_HEADER, RL_TIMEOUT, RL_CLOSED, RL_FULL, RL_N };
static struct {
	double		tokens;
	struct timespec	last;
	unsigned long	suppressed;
} rl[RL_N];

/* pc is gone (and its fd, if close_fd); no header awaited for it. */
static void
pc_release(struct proxy_conn *pc, int close_fd)
{
	if (close_fd)
		close(pc->fd);
	event_free(pc->ev);
	free(pc);
	wenv.proxy_pending--;
}

/* A refused one: released, and a draining worker may end now. */
static void
pc_free(struct proxy_conn *pc)
{
	pc_release(pc, 1);
	session_drain_check();
}

static double
ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) +
	    (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

/* Logs a refusal (within the rate of its kind) and closes pc. */
static void
pc_refuse(struct proxy_conn *pc, int kind, const char *reason,
    const char *err)
{
	struct timespec	now;
	char		sup[40] = "";

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rl[kind].last.tv_sec == 0)
		rl[kind].tokens = RL_BURST;
	else
		rl[kind].tokens += ts_diff(&now, &rl[kind].last) * RL_RATE;
	if (rl[kind].tokens > RL_BURST)
		rl[kind].tokens = RL_BURST;
	rl[kind].last = now;
	if (rl[kind].tokens < 1.0)
		rl[kind].suppressed++;
	else {
		rl[kind].tokens -= 1.0;
		if (rl[kind].suppressed > 0)
			snprintf(sup, sizeof(sup), " suppressed=%lu",
			    rl[kind].suppressed);
		rl[kind].suppressed = 0;
		log_warn("connection refused pip=%s reason=%s%s%s%s", pc->pip,
		    reason, sup, *err != '\0' ? " error=" : "", err);
	}
	pc_free(pc);
}

static void
pc_event(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn	*pc = arg;
	struct proxy_hdr	 h;
	const char		*err = "";
	ssize_t			 n;
	size_t			 take;
	int			 r, tls, lo_ok;
	proxy_take_fn		*take_fn;
	struct timespec		 now;
	struct timeval		 left;
	double			 rest;
	char			 pip[sizeof(pc->pip)];
	uint64_t		 id;

	clock_gettime(CLOCK_MONOTONIC, &now);
	rest = ts_diff(&pc->deadline, &now);
	if ((what & EV_TIMEOUT) || rest <= 0) {
		pc_refuse(pc, RL_TIMEOUT, "proxy_timeout", "");
		return;
	}
	n = recv(fd, pc->buf + pc->have, sizeof(pc->buf) - pc->have,
	    MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pc_refuse(pc, RL_CLOSED, "proxy_closed",
		    n == 0 ? "" : strerror(errno));
		return;
	}
	take = proxy_take(pc->buf, pc->have, (size_t)n);
	/* The octets peeked are there: this read returns them all. */
	if (take > 0 && recv(fd, pc->buf + pc->have, take, 0) != (ssize_t)take) {
		pc_refuse(pc, RL_CLOSED, "proxy_closed", strerror(errno));
		return;
	}
	pc->have += take;
	if ((r = proxy_parse(pc->buf, pc->have, &h, &err)) == 0 && take > 0) {
		/* More to come, by the same deadline (a persistent event's
		   timeout would start again at each read). */
		left.tv_sec = (time_t)rest;
		left.tv_usec = (suseconds_t)((rest - (double)left.tv_sec) * 1e6);
		event_add(pc->ev, &left);
		return;
	}
	if (r != 1) {
		pc_refuse(pc, RL_HEADER, "proxy_header",
		    r == 0 ? "too long" : err);
		return;
	}
	if (h.local) {
		memcpy(&h.src, &pc->peer, sizeof(h.src));
		h.srclen = pc->peerlen;
	}
	/* Our event goes before the session adds its own on fd. */
	tls = pc->tls;
	take_fn = pc->take;
	lo_ok = !h.local && sockaddr_is_loopback((struct sockaddr *)&pc->peer);
	memcpy(pip, pc->pip, sizeof(pip));
	/* Released without the drain check: that waits for the session. */
	pc_release(pc, 0);
	if ((id = take_fn(fd, (struct sockaddr *)&h.src, h.srclen, tls,
	    lo_ok)) != 0)
		log_info(SID_FMT " proxy pip=%s version=%d local=%s",
		    SID_ARG(id), pip, h.version, h.local ? "yes" : "no");
	session_drain_check();
}

void
proxy_conn_start(int fd, const struct sockaddr *sa, socklen_t salen,
    int tls, size_t max, proxy_take_fn *take)
{
	const struct config	*cfg = wenv.cfg;
	struct proxy_conn	*pc;
	struct addrkey		 k;
	struct timeval		 tv = { (time_t)cfg->proxy_timeout, 0 };
	size_t			 i;

	pc = xcalloc(1, sizeof(*pc));
	wenv.proxy_pending++;
	pc->fd = fd;
	pc->tls = tls;
	pc->take = take;
	clock_gettime(CLOCK_MONOTONIC, &pc->deadline);
	pc->deadline.tv_sec += (time_t)cfg->proxy_timeout;
	if ((size_t)salen > sizeof(pc->peer))
		salen = sizeof(pc->peer);
	memcpy(&pc->peer, sa, salen);
	pc->peerlen = salen;
	addrkey_from_sockaddr(&k, sa, 128);
	addrkey_str(&k, 128, pc->pip, sizeof(pc->pip));
	pc->ev = event_new(wenv.base, fd, EV_READ | EV_PERSIST, pc_event, pc);
	if (pc->ev == NULL)
		fatalx("event_new failed");
	for (i = 0; i < cfg->ntrusted; i++)
		if (cidr_match(&cfg->trusted[i], k.fam, k.b))
			break;
	if (i == cfg->ntrusted) {
		pc_refuse(pc, RL_UNTRUSTED, "proxy_untrusted", "");
		return;
	}
	/* Their own bound: room is made (shed) once the header names the
	   client, so its address limit applies (worker_take). */
	if (wenv.proxy_pending > max) {
		pc_refuse(pc, RL_FULL, "max_connections", "");
		return;
	}
	event_add(pc->ev, &tv);
}
