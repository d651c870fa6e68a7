/*
 * conn.c - client connections: what the session calls (conn.h), and
 * the TLS side.  Each kind of connection has one owner:
 * - a plain connection is ours: conn_plain.c drives its socket with one
 *   edge-triggered event (and a timer) and writes output through as
 *   soon as the callback that queued it returns (see there why not a
 *   bufferevent);
 * - a TLS connection (implicit, or after STLS) is libevent's: a
 *   bufferevent_openssl used the way libevent intends, plus one event
 *   as the kick.  OpenSSL decides when a record is read or written
 *   (the handshake, close_notify, a record split over reads are its
 *   business): owning that too would mean a state machine around
 *   SSL_read and SSL_write, to save an epoll_ctl or two per answer
 *   next to a record's encryption.
 * The buffers, lines, pause and close below serve both; they count
 * sessions and bytes sent (metrics.h).  The pacing numbers are in
 * flow.h.  Worker processes, loop thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "conn_int.h"
#include "flow.h"
#include "metrics.h"
#include "pop3_limits.h"
#include "xmalloc.h"

const char *
conn_event_str(enum conn_event ev)
{
	switch (ev) {
	case CONN_DATAIN:
		return "datain";
	case CONN_LOWAT:
		return "lowat";
	case CONN_TLSREADY:
		return "tlsready";
	case CONN_CLOSED:
		return "closed";
	case CONN_TIMEOUT:
		return "timeout";
	case CONN_ERROR:
		return "error";
	}
	return "?";
}

void
conn_report(struct conn *c, enum conn_event ev)
{
	c->closed = 1;
	/* What goes wrong while closing is the close the session asked. */
	c->cb(c->arg, c->closing ? CONN_CLOSED : ev);
}

void
conn_destroy(struct conn *c)
{
	metrics_session_end(!c->tls ? METRICS_TLS_NONE : c->implicit ?
	    METRICS_TLS_IMPLICIT : METRICS_TLS_STLS);
	if (c->bev != NULL)
		bufferevent_free(c->bev);	/* closes the fd */
	if (!c->tls && c->in != NULL)
		evbuffer_free(c->in);
	if (!c->tls && c->out != NULL)
		evbuffer_free(c->out);
	event_free(c->ev);
	if (c->tm != NULL)
		event_free(c->tm);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

/* TLS: runs the work that must not happen inside the caller's stack. */
void
conn_tls_kick(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->closed)
		return;
	if (c->closing) {
		if (evbuffer_get_length(c->out) == 0) {
			/*
			 * A TLS close ends with close_notify, so the client
			 * can tell the end from a cut.  The output is flushed,
			 * so the alert follows the last byte of the answer.
			 */
			(void)SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
			ERR_clear_error();
			conn_report(c, CONN_CLOSED);
		}
		return;
	}
	if (!c->paused && conn_input_len(c) > 0)
		c->cb(c->arg, CONN_DATAIN);
}

static void
tls_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing) {
		/* Nothing read now may count as a command. */
		evbuffer_drain(c->in, evbuffer_get_length(c->in));
		return;
	}
	c->cb(c->arg, CONN_DATAIN);
}

static void
tls_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing) {
		conn_tls_kick(-1, 0, c);
		return;
	}
	c->cb(c->arg, CONN_LOWAT);
}

static void
tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->closed)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		c->cb(c->arg, CONN_TLSREADY);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn_report(c, CONN_TIMEOUT);
	else if (what & BEV_EVENT_EOF)
		conn_report(c, CONN_CLOSED);
	else
		conn_report(c, CONN_ERROR);
}

static void
tls_set_timeouts(struct conn *c)
{
	struct timeval	tv;

	if (c->timeout <= 0)
		return;
	tv.tv_sec = c->timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

int
conn_tls_start(struct conn *c, SSL_CTX *ctx)
{
	SSL	*ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return -1;
	/* Closes the socket and frees ssl when freed. */
	c->bev = bufferevent_openssl_socket_new(c->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	/* A client that drops TCP without close_notify has just left. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	c->fd = -1;
	c->tls = 1;
	c->in = bufferevent_get_input(c->bev);
	c->out = bufferevent_get_output(c->bev);
	bufferevent_setcb(c->bev, tls_read_cb, tls_write_cb, tls_event_cb, c);
	/* Stop reading when this much unprocessed input piles up. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, POP3_INPUT_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUT_LOWAT, 0);
	/*
	 * libevent writes at most 16 KiB per loop turn by default: a RETR of
	 * a large message would cost one epoll round per 16 KiB.
	 */
	bufferevent_set_max_single_write(c->bev, CONN_MAX_WRITE);
	tls_set_timeouts(c);
	bufferevent_enable(c->bev, c->paused ? EV_WRITE : EV_READ | EV_WRITE);
	return 0;
}

struct conn *
conn_new(struct event_base *base, int fd, SSL_CTX *tls, conn_cb cb,
    void *arg)
{
	struct conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->fd = fd;
	c->cb = cb;
	c->arg = arg;
	c->rd_end = c->wr_end = CONN_NONE;
	if (tls != NULL) {
		c->ev = event_new(base, -1, 0, conn_tls_kick, c);
		if (c->ev == NULL || conn_tls_start(c, tls) == -1)
			goto fail;
		c->implicit = 1;
		metrics_session_start();
		return c;
	}
	if (conn_plain_init(c) == -1)
		goto fail;
	metrics_session_start();
	return c;
fail:
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else
		close(fd);
	if (!c->tls && c->in != NULL)
		evbuffer_free(c->in);
	if (!c->tls && c->out != NULL)
		evbuffer_free(c->out);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->tm != NULL)
		event_free(c->tm);
	free(c);
	return NULL;
}

void
conn_free(struct conn **cp)
{
	struct conn	*c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->in_io) {
		/* io_cb is below us in the stack: it frees c on return. */
		c->dead = 1;
		c->closed = 1;
		return;
	}
	conn_destroy(c);
}

int
conn_readline(struct conn *c, char *out, size_t max, size_t *lenp)
{
	struct evbuffer		*in = c->in;
	struct evbuffer_ptr	 p;
	size_t			 len, avail;

	for (;;) {
		avail = evbuffer_get_length(in);
		p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (c->skipping) {
			if (p.pos == -1) {
				c->skipped += avail;
				evbuffer_drain(in, avail);
				/* Endless bytes without LF: not a client. */
				return c->skipped > POP3_SKIP_MAX ? -2 : 0;
			}
			evbuffer_drain(in, (size_t)p.pos + 1);
			c->skipping = 0;
			c->skipped = 0;
			continue;
		}
		if (p.pos == -1) {
			if (avail <= max)
				return 0;
			/* Too long, and its end is not here yet. */
			evbuffer_drain(in, avail);
			c->skipping = 1;
			c->skipped = avail;
			return -1;
		}
		len = (size_t)p.pos;
		if (len > 0) {
			/* The CR of CRLF does not count against max. */
			unsigned char	last;
			struct evbuffer_ptr q;

			evbuffer_ptr_set(in, &q, len - 1, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &q, &last, 1);
			if (last == '\r')
				len--;
		}
		if (len > max) {
			evbuffer_drain(in, (size_t)p.pos + 1);
			return -1;
		}
		evbuffer_remove(in, out, len);
		evbuffer_drain(in, (size_t)p.pos + 1 - len);
		*lenp = len;
		return 1;
	}
}

size_t
conn_input_len(const struct conn *c)
{
	return evbuffer_get_length(c->in);
}

void
conn_drop_input(struct conn *c)
{
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	c->skipping = 0;
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	/* Fails only on out-of-memory, which aborts elsewhere anyway. */
	if (evbuffer_add(c->out, data, len) == -1)
		abort();
	metrics_sent(len);
	conn_kick(c);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	if ((n = evbuffer_add_vprintf(c->out, fmt, ap)) < 0)
		abort();
	va_end(ap);
	metrics_sent((uint64_t)n);
	conn_kick(c);
}

unsigned char *
conn_reserve(struct conn *c, size_t n)
{
	if (evbuffer_reserve_space(c->out, n, &c->resv, 1) != 1)
		abort();
	return c->resv.iov_base;
}

void
conn_commit(struct conn *c, size_t used)
{
	c->resv.iov_len = used;
	if (evbuffer_commit_space(c->out, &c->resv, 1) == -1)
		abort();
	metrics_sent(used);
	conn_kick(c);
}

size_t
conn_output_len(const struct conn *c)
{
	return evbuffer_get_length(c->out);
}

void
conn_pause(struct conn *c)
{
	c->paused = 1;
	if (c->tls)
		bufferevent_disable(c->bev, EV_READ);
}

int
conn_is_paused(const struct conn *c)
{
	return c->paused;
}

void
conn_resume(struct conn *c)
{
	if (c->closing || c->stls_ctx != NULL)
		return;
	c->paused = 0;
	if (c->tls) {
		bufferevent_enable(c->bev, EV_READ);
		/* Lines already buffered get no read event of their own. */
		if (conn_input_len(c) > 0)
			event_active(c->ev, 0, 0);
		return;
	}
	/* As a read event enabled again: its timeout starts now. */
	c->rd_since = conn_now(c);
	if (conn_input_len(c) > 0)
		c->datain_due = 1;
	conn_kick(c);
}

void
conn_set_timeout(struct conn *c, int secs)
{
	c->timeout = secs;
	if (c->tls) {
		tls_set_timeouts(c);
		return;
	}
	c->rd_since = c->wr_since = conn_now(c);
	conn_kick(c);
}

void
conn_starttls(struct conn *c, SSL_CTX *ctx)
{
	conn_drop_input(c);
	c->stls_ctx = ctx;
	conn_kick(c);
}

int
conn_is_tls(const struct conn *c)
{
	return c->tls;
}

const char *
conn_tls_info(const struct conn *c, char *buf, size_t len)
{
	SSL	*ssl;

	buf[0] = '\0';
	if (c->tls && (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL)
		snprintf(buf, len, "%s/%s", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl));
	return buf;
}

void
conn_close_after_flush(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->tls) {
		bufferevent_disable(c->bev, EV_READ);
		event_active(c->ev, 0, 0);
	} else
		conn_kick(c);
}
