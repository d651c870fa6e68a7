/*
 * metrics_http.c - the master's Prometheus endpoint (metrics_http.h):
 * binds metrics_listen, accepts scrapers, reads one bounded request per
 * connection, answers GET /metrics with metrics_render()'s text (404
 * for another path, 405 for another method, 400 for a malformed line,
 * 431 for a request over METRICS_REQ_MAX) and closes.  Everything is
 * non-blocking and polled by the master's loop; a scraper that is slow
 * to send or to read loses its connection at its deadline, and past
 * METRICS_CONN_MAX connections new ones are closed at once, so the
 * master's supervision never waits on a client.  Runs in pop3d's master.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "addrlimit.h"
#include "buf.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "xmalloc.h"

/* A scrape request is one line and a few headers (Prometheus sends
   some 300 octets); anything longer is not a scraper. */
#define METRICS_REQ_MAX		4096
/* Seconds for the whole request to arrive (slowloris), and for the
   answer to be read: Prometheus' default scrape_timeout is 10 s. */
#define METRICS_READ_TIMEOUT	5
#define METRICS_CONN_TIMEOUT	15
/* The text is some 8 KB; a ceiling far above it. */
#define METRICS_BODY_MAX	(256 * 1024)
/* Accepts per listener per loop turn. */
#define METRICS_ACCEPT_BURST	16

struct mconn {
	int		 fd;		/* -1: free */
	time_t		 born;		/* CLOCK_MONOTONIC seconds */
	size_t		 rlen;
	char		 req[METRICS_REQ_MAX + 1];
	unsigned char	*out;		/* the answer, once the request is in */
	size_t		 olen, off;
};

static struct listener	 mls[METRICS_LISTEN_MAX];
static size_t		 nmls;
static time_t		 accept_paused;	/* until then: accept failed */
static struct mconn	 conns[METRICS_CONN_MAX];
static int		 inited;
static const char	*version = "";	/* metrics_http_run's */

static void	close_listeners(void);

static time_t
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
conns_init(void)
{
	size_t	i;

	if (inited)
		return;
	for (i = 0; i < METRICS_CONN_MAX; i++)
		conns[i].fd = -1;
	inited = 1;
}

int
metrics_http_listen(const struct config *c)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;
	size_t			i;

	conns_init();
	for (i = 0; i < c->metrics_listen.n; i++) {
		if (c->metrics_listen.v[i][0] == '\0')
			continue;
		if (listener_bind(c->metrics_listen.v[i], &mls[nmls]) == -1) {
			log_err("metrics_listen %s: cannot bind",
			    c->metrics_listen.v[i]);
			close_listeners();
			return -1;
		}
		log_info("metrics listen addr=%s", mls[nmls].addr);
		sl = sizeof(ss);
		if (getsockname(mls[nmls].fd, (struct sockaddr *)&ss,
		    &sl) == 0 && !sockaddr_is_loopback((struct sockaddr *)&ss))
			log_warn("metrics_listen %s is not a loopback address: "
			    "anyone who reaches it sees the server's activity; "
			    "firewall it to the Prometheus server",
			    mls[nmls].addr);
		nmls++;
	}
	return 0;
}

static void
close_listeners(void)
{
	size_t	i;

	for (i = 0; i < nmls; i++) {
		close(mls[i].fd);
		free(mls[i].spec);
	}
	nmls = 0;
}

static void
conn_close(struct mconn *m)
{
	close(m->fd);
	free(m->out);
	m->fd = -1;
	m->out = NULL;
	m->rlen = m->olen = m->off = 0;
}

void
metrics_http_close_all(void)
{
	size_t	i;

	close_listeners();
	for (i = 0; inited && i < METRICS_CONN_MAX; i++)
		if (conns[i].fd != -1)
			conn_close(&conns[i]);
}

void
metrics_http_reload(const struct config *old, const struct config *c)
{
	const struct conf_list	*a = &old->metrics_listen, *b = &c->metrics_listen;
	size_t			 i;

	for (i = 0; a->n == b->n && i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			break;
	/* Unchanged and bound (or off): nothing to do; unchanged but not
	   bound (the last try failed): try again. */
	if (a->n == b->n && i == a->n && (a->n == 0 || nmls > 0))
		return;
	close_listeners();
	if (metrics_http_listen(c) == -1)
		log_err("metrics endpoint off until a reload binds it");
}

size_t
metrics_http_pollfds(struct pollfd *pfd)
{
	size_t	i, n = 0;

	/* After an accept failed (out of descriptors), a second without
	   the listeners: they stay readable, and the loop would spin. */
	for (i = 0; i < nmls && mono() >= accept_paused; i++) {
		pfd[n].fd = mls[i].fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	for (i = 0; i < METRICS_CONN_MAX; i++) {
		if (conns[i].fd == -1)
			continue;
		pfd[n].fd = conns[i].fd;
		pfd[n].events = conns[i].out != NULL ? POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/* Queues the answer: status line, headers, and body (may be NULL). */
static void
answer(struct mconn *m, const char *status, const char *extra,
    const struct buf *body, int head_only)
{
	struct buf	b;
	size_t		blen = body != NULL ? body->len : strlen(status) + 1;

	buf_init(&b, METRICS_BODY_MAX + 1024);
	(void)buf_printf(&b, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
	    body != NULL ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", blen, extra);
	if (!head_only) {
		if (body != NULL)
			(void)buf_add(&b, body->data, body->len);
		else
			(void)buf_printf(&b, "%s\n", status);
	}
	m->out = buf_take(&b, &m->olen);
	m->off = 0;
}

/* The request's header is in: what it asks decides the answer. */
static void
handle(struct mconn *m)
{
	struct buf	 body;
	char		*sp1, *sp2, *eol;
	size_t		 plen;
	int		 head;

	eol = m->req + strcspn(m->req, "\r\n");
	*eol = '\0';
	if ((sp1 = strchr(m->req, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' ') ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] == '\0' ||
	    sp2[9] != '\0') {
		answer(m, "400 Bad Request", "", NULL, 0);
		return;
	}
	*sp1 = '\0';
	head = strcmp(m->req, "HEAD") == 0;
	if (!head && strcmp(m->req, "GET") != 0) {
		answer(m, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
		    NULL, 0);
		return;
	}
	plen = (size_t)(sp2 - (sp1 + 1));
	if (strncmp(sp1 + 1, "/metrics", 8) != 0 ||
	    (plen != 8 && sp1[9] != '?')) {
		answer(m, "404 Not Found", "", NULL, head);
		return;
	}
	buf_init(&body, METRICS_BODY_MAX);
	if (metrics_render(&body, version) == -1) {
		buf_clear(&body);
		answer(m, "500 Internal Server Error", "", NULL, head);
		return;
	}
	answer(m, "200 OK", "", &body, head);
	buf_clear(&body);
}

/* Reads what came; -1 when the connection is done with. */
static int
conn_read(struct mconn *m)
{
	ssize_t	n;

	n = read(m->fd, m->req + m->rlen, METRICS_REQ_MAX - m->rlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	m->rlen += (size_t)n;
	m->req[m->rlen] = '\0';
	if (memchr(m->req, '\0', m->rlen) != NULL) {
		answer(m, "400 Bad Request", "", NULL, 0);
		return 0;
	}
	if (strstr(m->req, "\r\n\r\n") != NULL ||
	    strstr(m->req, "\n\n") != NULL)
		handle(m);
	else if (m->rlen == METRICS_REQ_MAX)
		answer(m, "431 Request Header Fields Too Large", "", NULL, 0);
	return 0;
}

/* Writes what the socket takes; -1 when all went, or it failed. */
static int
conn_write(struct mconn *m)
{
	ssize_t	n;

	n = send(m->fd, m->out + m->off, m->olen - m->off, MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	m->off += (size_t)n;
	if (m->off < m->olen)
		return 0;
	/* The client reads to the end; what it still sends is dropped. */
	(void)shutdown(m->fd, SHUT_WR);
	return -1;
}

static void
accept_all(int lfd, time_t now)
{
	struct mconn	*m;
	size_t		 i, k;
	int		 fd;

	for (k = 0; k < METRICS_ACCEPT_BURST; k++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED) {
				log_warn("metrics accept: %s; pausing for a "
				    "second", strerror(errno));
				accept_paused = now + 1;
			}
			return;
		}
		for (m = NULL, i = 0; i < METRICS_CONN_MAX; i++)
			if (conns[i].fd == -1) {
				m = &conns[i];
				break;
			}
		if (m == NULL) {
			/* Full: a scraper retries at its next interval. */
			close(fd);
			continue;
		}
		m->fd = fd;
		m->born = now;
	}
}

void
metrics_http_run(const struct pollfd *pfd, size_t n, const char *ver)
{
	struct mconn	*m;
	time_t		 now = mono();
	size_t		 i, k;

	version = ver;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		for (k = 0; k < nmls; k++)
			if (mls[k].fd == pfd[i].fd)
				break;
		if (k < nmls) {
			accept_all(pfd[i].fd, now);
			continue;
		}
		for (m = NULL, k = 0; k < METRICS_CONN_MAX; k++)
			if (conns[k].fd == pfd[i].fd)
				m = &conns[k];
		if (m == NULL)
			continue;
		if (m->out == NULL ? conn_read(m) == -1 :
		    conn_write(m) == -1)
			conn_close(m);
		else if (m->out != NULL && conn_write(m) == -1)
			conn_close(m);	/* answered: try to send at once */
	}
	for (k = 0; k < METRICS_CONN_MAX; k++) {
		m = &conns[k];
		if (m->fd != -1 && now - m->born >= (m->out == NULL ?
		    METRICS_READ_TIMEOUT : METRICS_CONN_TIMEOUT))
			conn_close(m);
	}
}
