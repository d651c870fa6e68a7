/*
 * conn_plain.c - the plain socket of a connection, which is ours (as
 * OpenSMTPD's io.c owns its socket): an input and an output evbuffer
 * and one event, edge-triggered for reading, writing and the peer's
 * close, added once for the connection's life, that is also its kick
 * (event_active: "run once the current callback returns"); and a timer
 * (idle timeouts, and "go on in the next loop turn").  Pausing, resuming
 * and a full socket are flags here, never epoll_ctl.
 * Output is written when the callback that queued it returns (write-
 * through): an answer costs one write(2), and only what the socket does
 * not take waits for EPOLLOUT.  (A socket bufferevent cost two epoll_ctl
 * and a loop turn per answer; writing around it meant unfreezing its
 * output buffer and dropping its stale write activations by hand.)
 * Also the sendfile path of RETR.  Worker processes, loop thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>

#include <event2/event.h>

#include "conn_int.h"
#include "metrics.h"
#include "flow.h"
#include "pop3_limits.h"

/* conn_send_file() writes at once if no more than this is queued. */
#define CONN_STATUS_MAX	512
/* Bytes per read(2) (libevent reads as much). */
#define CONN_READ_MAX	(16 * 1024)

struct timeval
conn_now(struct conn *c)
{
	struct timeval	now;

	event_base_gettimeofday_cached(c->base, &now);
	return now;
}

/*
 * Counts n bytes written in this loop turn and returns the turn's total.
 * A turn is told by the loop's cached time, which it sets once a turn.
 */
static size_t
turn_count(struct conn *c, size_t n)
{
	struct timeval	now = conn_now(c);

	if (timercmp(&now, &c->turn_tv, !=)) {
		c->turn_tv = now;
		c->turn_sent = 0;
	}
	c->turn_sent += n;
	return c->turn_sent;
}

/* Does the session take input now? */
static int
want_read(const struct conn *c)
{
	return !c->paused && !c->closing && c->stls_ctx == NULL;
}

void
conn_kick(struct conn *c)
{
	/* In the event's callback, run() is going on anyway. */
	if (!c->tls && !c->in_io && !c->closed)
		event_active(c->ev, 0, 0);
}

/*
 * Writes queued output until it is gone, the socket is full (wr_blocked:
 * EPOLLOUT goes on) or CONN_TURN_MAX is written (the rest goes on in the
 * next turn).  Returns the bytes written, or -1 on an error, kept in
 * wr_end.  A file segment goes with sendfile(2), which says EAGAIN with
 * 0, and a file that got shorter with 0 as well.
 */
static ssize_t
flush_out(struct conn *c)
{
	size_t	sent = 0;
	int	n;

	if (c->wr_end != CONN_NONE)
		return -1;
	while (!c->wr_blocked && evbuffer_get_length(c->out) > 0 &&
	    sent < CONN_TURN_MAX) {
		errno = 0;
		n = evbuffer_write_atmost(c->out, c->fd,
		    (ev_ssize_t)(CONN_TURN_MAX - sent));
		if (n > 0)
			sent += (size_t)n;
		else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->wr_blocked = 1;
			c->wr_since = conn_now(c);
		} else if (errno != EINTR) {
			/* As libevent: a write of 0 is an end of file. */
			c->wr_end = n == 0 ? CONN_CLOSED : CONN_ERROR;
			return -1;
		}
	}
	if (sent > 0) {
		turn_count(c, sent);
		c->wr_since = conn_now(c);
	}
	return (ssize_t)sent;
}

/*
 * Reads what the socket holds, up to POP3_INPUT_MAX buffered.  The event
 * is edge-triggered: the socket is read until it says EAGAIN or gives
 * less than asked (the next byte brings a new edge) or the input is
 * full (rd_ready stays).  Once the peer has closed (EV_CLOSED), it is
 * read to its end.  An end or an error is kept in rd_end, to be told
 * after the input before it.  Returns the bytes read.
 */
static size_t
fill_in(struct conn *c)
{
	static unsigned char	 rbuf[CONN_READ_MAX];	/* loop thread */
	size_t			 len, want, got = 0;
	ssize_t			 n;

	while (c->rd_ready && c->rd_end == CONN_NONE &&
	    (len = evbuffer_get_length(c->in)) < POP3_INPUT_MAX) {
		want = POP3_INPUT_MAX - len;
		if (want > sizeof(rbuf))
			want = sizeof(rbuf);
		n = read(c->fd, rbuf, want);
		if (n > 0) {
			if (evbuffer_add(c->in, rbuf, (size_t)n) == -1)
				abort();
			got += (size_t)n;
			if ((size_t)n < want && !c->rd_hup)
				c->rd_ready = 0;
		} else if (n == -1 && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			c->rd_ready = 0;
		else if (n == 0 || errno != EINTR)
			c->rd_end = n == 0 ? CONN_CLOSED : CONN_ERROR;
	}
	if (got > 0)
		c->rd_since = conn_now(c);
	return got;
}

/*
 * The idle timeout ran out, for reading (while the session takes input)
 * or for a full socket?  Else *left is the time to the nearer deadline,
 * tv_sec -1 if none runs.
 */
static int
expired(struct conn *c, struct timeval *left)
{
	struct timeval	now = conn_now(c), t, dl;
	int		have = 0;

	left->tv_sec = -1;
	if (c->timeout <= 0)
		return 0;
	t.tv_sec = c->timeout;
	t.tv_usec = 0;
	if (want_read(c)) {
		timeradd(&c->rd_since, &t, &dl);
		have = 1;
	}
	if (c->wr_blocked && evbuffer_get_length(c->out) > 0) {
		timeradd(&c->wr_since, &t, &t);
		if (!have || timercmp(&t, &dl, <))
			dl = t;
		have = 1;
	}
	if (!have)
		return 0;
	if (!timercmp(&now, &dl, <))
		return 1;
	timersub(&dl, &now, left);
	return 0;
}

/*
 * Sets the timer: zero when work waits for the next loop turn (after
 * the other sessions' events): a held CONN_LOWAT, output left at a
 * flush's budget, input left at the input limit.  Else the nearer idle
 * deadline, or none.
 */
static void
arm(struct conn *c)
{
	static const struct timeval	zero;
	struct timeval			left;

	if ((c->lowat_due && !c->closing && c->stls_ctx == NULL) ||
	    (evbuffer_get_length(c->out) > 0 && !c->wr_blocked) ||
	    (want_read(c) && c->rd_ready &&
	    evbuffer_get_length(c->in) < POP3_INPUT_MAX) ||
	    expired(c, &left))
		evtimer_add(c->tm, &zero);
	else if (left.tv_sec != -1)
		evtimer_add(c->tm, &left);
	else
		evtimer_del(c->tm);
}

/* STLS: the plain machinery goes; the fd stays for the TLS one. */
static void
switch_to_tls(struct conn *c)
{
	SSL_CTX	*ctx = c->stls_ctx;

	c->stls_ctx = NULL;
	event_del(c->ev);
	event_free(c->tm);
	c->tm = NULL;
	event_assign(c->ev, c->base, -1, 0, conn_tls_kick, c);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	c->in = c->out = NULL;
	c->skipping = 0;
	if (conn_tls_start(c, ctx) == -1)
		conn_report(c, CONN_ERROR);
}

/*
 * The engine, after each event on the socket, its timer or its kick:
 * write what is queued, tell the session what it waits for, read what
 * it may, as long as a callback brings more to do.  It ends: each round
 * after the first needs output written (at most a turn's worth before
 * CONN_LOWAT is held) or input read (one pass per run).
 */
static void
run(struct conn *c)
{
	int	read_done = 0;
	ssize_t	n;

	while (!c->closed && !c->dead) {
		if ((n = flush_out(c)) == -1) {
			conn_report(c, c->wr_end);
			return;
		}
		if (evbuffer_get_length(c->out) == 0) {
			if (c->closing) {
				conn_report(c, CONN_CLOSED);
				return;
			}
			if (c->stls_ctx != NULL) {
				switch_to_tls(c);
				return;
			}
		}
		if (n > 0 && evbuffer_get_length(c->out) <= CONN_OUT_LOWAT)
			c->lowat_due = 1;
		if (c->lowat_due && !c->closing && c->stls_ctx == NULL &&
		    turn_count(c, 0) < CONN_MAX_WRITE) {
			c->lowat_due = 0;
			c->cb(c->arg, CONN_LOWAT);
			continue;
		}
		if (!want_read(c))
			break;
		if (c->datain_due) {
			c->datain_due = 0;
			c->cb(c->arg, CONN_DATAIN);
			continue;
		}
		if (c->rd_end != CONN_NONE) {
			conn_report(c, c->rd_end);
			return;
		}
		if (!c->rd_ready || read_done)
			break;
		read_done = 1;
		if (fill_in(c) > 0)
			c->datain_due = 1;
	}
}

/* After an event on the socket (what), its kick (0) or the timer (0). */
static void
service(struct conn *c, short what)
{
	if (c->closed)
		return;
	c->in_io = 1;
	if (what & (EV_READ | EV_CLOSED))
		c->rd_ready = 1;
	if (what & EV_CLOSED)
		c->rd_hup = 1;
	if (what & EV_WRITE)
		c->wr_blocked = 0;
	run(c);
	c->in_io = 0;
	if (c->dead)
		conn_destroy(c);
	else if (!c->closed && !c->tls)
		arm(c);
}

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	service(arg, what);
}

static void
tm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct timeval	 left;

	(void)fd;
	(void)what;
	if (c->closed)
		return;
	/*
	 * A timer runs in a loop turn of its own.  The loop's cached time
	 * (turn_count) is coarse (a clock tick): it may not have changed.
	 */
	c->turn_sent = 0;
	if (expired(c, &left))
		conn_report(c, CONN_TIMEOUT);
	else
		service(c, 0);
}

int
conn_plain_init(struct conn *c)
{
	/* Edge-triggered: the worker's base is epoll (worker_main). */
	c->ev = event_new(c->base, c->fd, EV_READ | EV_WRITE | EV_CLOSED |
	    EV_ET | EV_PERSIST, io_cb, c);
	c->tm = evtimer_new(c->base, tm_cb, c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (c->ev == NULL || c->tm == NULL || c->in == NULL || c->out == NULL ||
	    event_add(c->ev, NULL) == -1)
		return -1;
	/* File segments leave with sendfile(2). */
	evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD);
	c->rd_since = conn_now(c);
	return 0;
}

int
conn_flush(struct conn *c)
{
	/* The CONN_LOWAT is the loop's to give, in the next turn. */
	if (c->tls || c->closed || flush_out(c) <= 0 ||
	    evbuffer_get_length(c->out) > 0 ||
	    turn_count(c, 0) < CONN_MAX_WRITE) {
		if (!c->tls && c->wr_end != CONN_NONE)
			conn_kick(c);
		return 0;
	}
	c->lowat_due = 1;
	conn_kick(c);
	return 1;
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
	int		 sock = c->fd, on = 1, off_ = 0;
	size_t		 done = 0;
	ssize_t		 n = 0;

	*off = 0;
	if (c->wr_blocked || c->wr_end != CONN_NONE ||
	    evbuffer_get_length(c->out) > CONN_STATUS_MAX)
		return 0;
	(void)setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	while (evbuffer_get_length(c->out) > 0 &&
	    (n = evbuffer_write(c->out, sock)) > 0)
		;
	if (evbuffer_get_length(c->out) == 0) {
		/* At most a loop turn's worth: other sessions wait meanwhile. */
		while ((uint64_t)*off < len && *off < CONN_MAX_WRITE &&
		    (n = sendfile(sock, fd, off, (size_t)(len -
		    (uint64_t)*off))) > 0)
			;
		if ((uint64_t)*off == len && (n = write(sock, trailer,
		    tlen)) > 0)
			done = (size_t)n;
	}
	/* A full socket waits for EPOLLOUT; errors are met by flush_out. */
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->wr_blocked = 1;
		c->wr_since = conn_now(c);
	}
	(void)setsockopt(sock, IPPROTO_TCP, TCP_CORK, &off_, sizeof(off_));
	turn_count(c, (size_t)*off + done);
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
	metrics_sent(len + tsent);	/* the rest of the trailer below */
	/*
	 * The rest through the output buffer, which drains to the socket:
	 * a file segment goes out with sendfile(2); the segment owns fd
	 * from here on and closes it when it is freed.
	 */
	if ((uint64_t)off < len) {
		seg = evbuffer_file_segment_new(fd, off,
		    (ev_off_t)(len - (uint64_t)off), EVBUF_FS_CLOSE_ON_FREE);
		if (seg == NULL) {
			close(fd);
			return -1;
		}
		r = evbuffer_add_file_segment(c->out, seg, 0,
		    (ev_off_t)(len - (uint64_t)off));
		/* Drops our reference; the buffer holds its own until sent. */
		evbuffer_file_segment_free(seg);
		if (r == -1)
			return -1;
		conn_kick(c);
	} else
		close(fd);
	if (tsent < tlen)
		conn_write(c, trailer + tsent, tlen - tsent);
	return 0;
}
