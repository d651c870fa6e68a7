/*
 * conn.c - client connections over libevent bufferevents, plain or TLS
 * (implicit, or started by STLS).  Worker processes, loop thread only.
 * The session above sees conn_* calls and one callback per event.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "conn.h"
#include "flow.h"
#include "pop3_limits.h"
#include "xmalloc.h"

/* conn_send_file() writes at once if no more than this is queued. */
#define CONN_STATUS_MAX	512

struct conn {
	struct event_base	*base;
	struct bufferevent	*bev;
	struct event		*kick;		/* deferred work, see kick_cb */
	struct event		*flush;		/* write-through, see flush_cb */
	struct event		*turn;		/* the next loop turn's CONN_LOWAT */
	struct timeval		 turn_tv;	/* the loop turn turn_sent is of */
	size_t			 turn_sent;	/* written through in that turn */
	int			 flush_queued;
	int			 fd;		/* owned while plain */
	int			 tls;		/* TLS bufferevent in use */
	int			 closing;	/* close once output is flushed */
	int			 closed;	/* CONN_CLOSED was reported */
	int			 paused;
	SSL_CTX			*stls_ctx;	/* STLS waits for output flush */
	int			 skipping;	/* in an over-long line */
	size_t			 skipped;
	int			 timeout;
	struct evbuffer_iovec	 resv;		/* conn_reserve() extent */
	conn_cb			 cb;
	void			*arg;
};

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

static void	read_cb(struct bufferevent *, void *);
static void	write_cb(struct bufferevent *, void *);
static void	event_cb(struct bufferevent *, short, void *);

/*
 * Write-through (plain connections): libevent's write event costs two
 * epoll_ctl calls and a loop turn per answer.  Instead, EV_WRITE stays
 * disabled while the socket takes what comes: whatever a callback
 * queued is written once it returns (flush_cb, run from an event made
 * active when output is added, before the loop polls again), and only
 * what the socket does not take is left to libevent, with EV_WRITE on
 * until the output has drained.
 */
static void
out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn	*c = arg;

	(void)buf;
	if (info->n_added > 0 && !c->flush_queued) {
		c->flush_queued = 1;
		event_active(c->flush, 0, 0);
	}
}

/*
 * Writes what the socket takes, at most CONN_TURN_MAX.  Returns 0 when
 * the output was drained here, 1 when it was drained and this loop turn
 * has written CONN_MAX_WRITE or more to this connection, -1 when there
 * was nothing to do (empty, or libevent is at it) or something is left:
 * that goes on with EV_WRITE (socket full, or an error, which
 * libevent's own write then meets and reports).  A loop turn is told by
 * the loop's cached time, which it sets once a turn.
 */
static int
flush_out(struct conn *c)
{
	struct evbuffer	*out;
	struct timeval	 now;
	size_t		 sent = 0;
	int		 n;

	if (c->closed || c->tls || c->bev == NULL)
		return -1;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0 ||
	    (bufferevent_get_enabled(c->bev) & EV_WRITE))
		return -1;
	/* A socket bufferevent keeps its output's start frozen but to write. */
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0 && sent < CONN_TURN_MAX &&
	    (n = evbuffer_write_atmost(out, c->fd, CONN_TURN_MAX - sent)) > 0)
		sent += (size_t)n;
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0) {
		bufferevent_enable(c->bev, EV_WRITE);
		return -1;
	}
	event_base_gettimeofday_cached(c->base, &now);
	if (timercmp(&now, &c->turn_tv, !=)) {
		c->turn_tv = now;
		c->turn_sent = 0;
	}
	c->turn_sent += sent;
	return c->turn_sent >= CONN_MAX_WRITE;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	static const struct timeval zero;

	(void)fd;
	(void)what;
	c->flush_queued = 0;
	switch (flush_out(c)) {
	case 0:
		/* Drained: what libevent's write would have told. */
		write_cb(c->bev, c);
		break;
	case 1:
		/* After the other sessions' events of this turn. */
		event_add(c->turn, &zero);
		break;
	}
}

/* The CONN_LOWAT held back by a big flush, unless output came since. */
static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->closed || c->tls || c->bev == NULL)
		return;
	c->turn_sent = 0;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		write_cb(c->bev, c);
	else
		flush_cb(fd, what, c);
}

int
conn_flush(struct conn *c)
{
	static const struct timeval zero;

	/* The CONN_LOWAT is the loop's to give, as after flush_cb. */
	if (flush_out(c) != 1)
		return 0;
	event_add(c->turn, &zero);
	return 1;
}

static void
setup_bev(struct conn *c)
{
	struct timeval	tv;

	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* Stop reading when this much unprocessed input piles up. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, POP3_INPUT_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUT_LOWAT, 0);
	/*
	 * libevent writes at most 16 KiB per loop turn by default: a RETR of
	 * a large message would cost one epoll round per 16 KiB.
	 */
	bufferevent_set_max_single_write(c->bev, CONN_MAX_WRITE);
	if (c->timeout > 0) {
		tv.tv_sec = c->timeout;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
	if (c->tls)
		bufferevent_enable(c->bev, c->paused ? EV_WRITE :
		    EV_READ | EV_WRITE);
	else {
		evbuffer_add_cb(bufferevent_get_output(c->bev), out_cb, c);
		if (!c->paused)
			bufferevent_enable(c->bev, EV_READ);
	}
}

static int
start_tls(struct conn *c, SSL_CTX *ctx)
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
	setup_bev(c);
	return 0;
}

/* Runs the work that must not happen inside the caller's stack. */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	size_t		 olen = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (c->closed)
		return;
	if (c->stls_ctx != NULL && olen == 0) {
		SSL_CTX *ctx = c->stls_ctx;

		c->stls_ctx = NULL;
		bufferevent_free(c->bev);	/* the plain one: fd stays open */
		c->bev = NULL;
		if (start_tls(c, ctx) == -1) {
			c->closed = 1;
			c->cb(c->arg, CONN_ERROR);
		}
		return;
	}
	if (c->closing) {
		if (olen == 0) {
			/*
			 * A TLS close ends with close_notify, so the client
			 * can tell the end from a cut.  The output is flushed,
			 * so the alert follows the last byte of the answer.
			 */
			if (c->tls) {
				(void)SSL_shutdown(
				    bufferevent_openssl_get_ssl(c->bev));
				ERR_clear_error();
			}
			c->closed = 1;
			c->cb(c->arg, CONN_CLOSED);
		}
		return;
	}
	if (!c->paused && conn_input_len(c) > 0)
		c->cb(c->arg, CONN_DATAIN);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing || c->stls_ctx != NULL) {
		/* Nothing read now may count as a command. */
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	c->cb(c->arg, CONN_DATAIN);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	/* Write-through again once libevent has drained the output. */
	if (!c->tls && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
	if (c->closing || c->stls_ctx != NULL) {
		kick_cb(-1, 0, c);
		return;
	}
	c->cb(c->arg, CONN_LOWAT);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->closed)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->tls)
			c->cb(c->arg, CONN_TLSREADY);
		return;
	}
	c->closed = 1;
	if (c->closing)
		c->cb(c->arg, CONN_CLOSED);
	else if (what & BEV_EVENT_TIMEOUT)
		c->cb(c->arg, CONN_TIMEOUT);
	else if (what & BEV_EVENT_EOF)
		c->cb(c->arg, CONN_CLOSED);
	else
		c->cb(c->arg, CONN_ERROR);
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
	c->kick = event_new(base, -1, 0, kick_cb, c);
	c->flush = event_new(base, -1, 0, flush_cb, c);
	c->turn = evtimer_new(base, turn_cb, c);
	if (c->kick == NULL || c->flush == NULL || c->turn == NULL)
		goto fail;
	if (tls != NULL) {
		if (start_tls(c, tls) == -1)
			goto fail;
	} else {
		if ((c->bev = bufferevent_socket_new(base, fd, 0)) == NULL)
			goto fail;
		setup_bev(c);
	}
	return c;
fail:
	if (c->kick != NULL)
		event_free(c->kick);
	if (c->flush != NULL)
		event_free(c->flush);
	if (c->turn != NULL)
		event_free(c->turn);
	free(c);
	close(fd);
	return NULL;
}

void
conn_free(struct conn **cp)
{
	struct conn	*c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->fd != -1)
		close(c->fd);
	event_free(c->kick);
	event_free(c->flush);
	event_free(c->turn);
	free(c);
}

int
conn_readline(struct conn *c, char *out, size_t max, size_t *lenp)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
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
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}

void
conn_drop_input(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	evbuffer_drain(in, evbuffer_get_length(in));
	c->skipping = 0;
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	/* Fails only on out-of-memory, which aborts elsewhere anyway. */
	if (bufferevent_write(c->bev, data, len) == -1)
		abort();
}

/*
 * The fast case of conn_send_file(): nothing but the status line waits
 * in the output, so it goes now, corked together with the file (by
 * sendfile) and the trailer, and the client gets full segments instead
 * of a status line, the file and a trailer apart.  *off is how much of
 * the file went; returns how much of the trailer went.
 */
static size_t
send_file_now(struct conn *c, int fd, uint64_t len, off_t *off,
    const char *trailer, size_t tlen)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	int		 sock = c->fd, on = 1, off_ = 0;
	size_t		 done = 0;
	ssize_t		 n;

	*off = 0;
	if (evbuffer_get_length(out) > CONN_STATUS_MAX)
		return 0;
	(void)setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	/* A socket bufferevent keeps its output's start frozen but to write. */
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, sock) > 0)
		;
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) == 0) {
		/* At most a loop turn's worth: other sessions wait meanwhile. */
		while ((uint64_t)*off < len && *off < CONN_MAX_WRITE &&
		    (n = sendfile(sock, fd, off, (size_t)(len -
		    (uint64_t)*off))) > 0)
			;
		if ((uint64_t)*off == len && (n = write(sock, trailer,
		    tlen)) > 0)
			done = (size_t)n;
	}
	/* Errors (EAGAIN, a reset) are left for libevent to meet. */
	(void)setsockopt(sock, IPPROTO_TCP, TCP_CORK, &off_, sizeof(off_));
	return done;
}

int
conn_send_file(struct conn *c, int fd, uint64_t len, const char *trailer,
    size_t tlen)
{
	struct evbuffer_file_segment	*seg;
	off_t				 off;
	size_t				 tsent;
	int				 r;

	if (c->tls || len > (uint64_t)INT64_MAX) {
		close(fd);
		return -1;
	}
	tsent = send_file_now(c, fd, len, &off, trailer, tlen);
	if ((uint64_t)off < len || tsent < tlen) {
		/*
		 * The socket may be full now, but a write event activated
		 * before (EPOLLOUT seen with this command's EPOLLIN) may still
		 * run in this loop turn; libevent takes the EAGAIN of its
		 * sendfile for an end of file and closes.  Deleting and adding
		 * the event drops that activation: it waits for a real
		 * EPOLLOUT.
		 */
		bufferevent_disable(c->bev, EV_WRITE);
		bufferevent_enable(c->bev, EV_WRITE);
	}
	/*
	 * The rest through libevent: the output buffer of a socket
	 * bufferevent drains to its fd, so a file segment goes out with
	 * sendfile(2); the segment owns fd from here on and closes it when
	 * it is freed.
	 */
	if ((uint64_t)off < len) {
		seg = evbuffer_file_segment_new(fd, off,
		    (ev_off_t)(len - (uint64_t)off), EVBUF_FS_CLOSE_ON_FREE);
		if (seg == NULL) {
			close(fd);
			return -1;
		}
		r = evbuffer_add_file_segment(bufferevent_get_output(c->bev),
		    seg, 0, (ev_off_t)(len - (uint64_t)off));
		/* Drops our reference; the buffer holds its own until sent. */
		evbuffer_file_segment_free(seg);
		if (r == -1)
			return -1;
	} else
		close(fd);
	if (tsent < tlen)
		conn_write(c, trailer + tsent, tlen - tsent);
	return 0;
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap) < 0)
		abort();
	va_end(ap);
}

unsigned char *
conn_reserve(struct conn *c, size_t n)
{
	if (evbuffer_reserve_space(bufferevent_get_output(c->bev), n,
	    &c->resv, 1) != 1)
		abort();
	return c->resv.iov_base;
}

void
conn_commit(struct conn *c, size_t used)
{
	c->resv.iov_len = used;
	if (evbuffer_commit_space(bufferevent_get_output(c->bev), &c->resv,
	    1) == -1)
		abort();
}

size_t
conn_output_len(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
conn_pause(struct conn *c)
{
	c->paused = 1;
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
	bufferevent_enable(c->bev, EV_READ);
	/* Lines already buffered get no read event of their own. */
	if (conn_input_len(c) > 0)
		event_active(c->kick, 0, 0);
}

void
conn_set_timeout(struct conn *c, int secs)
{
	struct timeval	tv;

	c->timeout = secs;
	tv.tv_sec = secs;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

void
conn_starttls(struct conn *c, SSL_CTX *ctx)
{
	bufferevent_disable(c->bev, EV_READ);
	conn_drop_input(c);
	c->stls_ctx = ctx;
	event_active(c->kick, 0, 0);
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
	bufferevent_disable(c->bev, EV_READ);
	event_active(c->kick, 0, 0);
}
