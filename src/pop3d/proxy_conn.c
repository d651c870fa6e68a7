/*
 * proxy_conn.c - a connection on a PROXY listener until its header is
 * in: the trust check on the peer, the header read without reading one
 * octet past it (MSG_PEEK, then exactly what proxy_take() allows: what
 * follows is the client's, perhaps its TLS ClientHello), the
 * proxy_timeout deadline, and the hand-over to the worker with the
 * client's address (or the peer's, for PROXY UNKNOWN and v2 LOCAL).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "addrlimit.h"
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
	time_t			 born;
	size_t			 have;
	unsigned char		 buf[PROXY_HDR_MAX];
};

static size_t	pending;	/* headers awaited */

static void
pc_free(struct proxy_conn *pc, int close_fd)
{
	if (close_fd)
		close(pc->fd);
	event_free(pc->ev);
	free(pc);
	pending--;
}

static void
pc_refuse(struct proxy_conn *pc, const char *reason, const char *err)
{
	log_warn("connection refused pip=%s reason=%s%s%s", pc->pip, reason,
	    *err != '\0' ? " error=" : "", err);
	pc_free(pc, 1);
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

	/* A read restarts the timeout; a trickle does not outlive this. */
	if ((what & EV_TIMEOUT) ||
	    time(NULL) - pc->born > (time_t)wenv.cfg->proxy_timeout) {
		pc_refuse(pc, "proxy_timeout", "");
		return;
	}
	n = recv(fd, pc->buf + pc->have, sizeof(pc->buf) - pc->have,
	    MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pc_refuse(pc, "proxy_closed", n == 0 ? "" : strerror(errno));
		return;
	}
	take = proxy_take(pc->buf, pc->have, (size_t)n);
	/* The octets peeked are there: this read returns them all. */
	if (take > 0 && recv(fd, pc->buf + pc->have, take, 0) != (ssize_t)take) {
		pc_refuse(pc, "proxy_closed", strerror(errno));
		return;
	}
	pc->have += take;
	if ((r = proxy_parse(pc->buf, pc->have, &h, &err)) == 0 && take > 0)
		return;		/* more to come */
	if (r != 1) {
		pc_refuse(pc, "proxy_header", r == 0 ? "too long" : err);
		return;
	}
	log_debug("proxy header pip=%s version=%d local=%s", pc->pip,
	    h.version, h.local ? "yes" : "no");
	if (h.local) {
		memcpy(&h.src, &pc->peer, sizeof(h.src));
		h.srclen = pc->peerlen;
	}
	/* Our event goes before the session adds its own on fd. */
	tls = pc->tls;
	take_fn = pc->take;
	lo_ok = !h.local && sockaddr_is_loopback((struct sockaddr *)&pc->peer);
	pc_free(pc, 0);
	take_fn(fd, (struct sockaddr *)&h.src, h.srclen, tls, lo_ok);
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
	pending++;
	pc->fd = fd;
	pc->tls = tls;
	pc->take = take;
	pc->born = time(NULL);
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
		pc_refuse(pc, "proxy_untrusted", "");
		return;
	}
	if (pending > max || wenv.draining) {
		pc_refuse(pc, "max_connections", "");
		return;
	}
	event_add(pc->ev, &tv);
}
