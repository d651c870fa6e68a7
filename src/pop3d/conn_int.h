/*
 * conn_int.h - struct conn, inside the connection module only: conn.c
 * (the API the session calls, and the TLS side, which is libevent's)
 * and conn_plain.c (the plain socket, which is ours).  The session
 * includes conn.h, never this.  Worker processes, loop thread.
 */
#ifndef POP3D_CONN_INT_H
#define POP3D_CONN_INT_H

#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "conn.h"

struct conn {
	struct event_base	*base;
	/*
	 * Plain: the socket's one event (edge-triggered read, write and
	 * peer close, added once) and its kick; TLS: the kick.
	 */
	struct event		*ev;
	struct event		*tm;		/* plain: timeouts, next turn */
	struct bufferevent	*bev;		/* TLS only */
	struct evbuffer		*in;		/* plain: ours; TLS: bev's */
	struct evbuffer		*out;
	int			 fd;		/* owned while plain */
	int			 tls;		/* TLS bufferevent in use */
	int			 implicit;	/* ... from the start (POP3S) */
	int			 timeout;	/* idle timeout, seconds */
	int			 paused;
	int			 closing;	/* close once output is flushed */
	int			 closed;	/* a final event was reported */
	SSL_CTX			*stls_ctx;	/* STLS waits for output flush */
	int			 skipping;	/* in an over-long line */
	size_t			 skipped;
	struct evbuffer_iovec	 resv;		/* conn_reserve() extent */
	conn_cb			 cb;
	void			*arg;

	/* Plain connections only (conn_plain.c). */
	int			 in_io;		/* in its event's callback */
	int			 dead;		/* freed meanwhile: free after */
	int			 rd_ready;	/* the socket may hold input */
	int			 rd_hup;	/* the peer closed its side */
	enum conn_event		 rd_end;	/* EOF or error read, untold */
	enum conn_event		 wr_end;	/* write error, untold */
	int			 wr_blocked;	/* socket full: wait EPOLLOUT */
	int			 datain_due;	/* input to tell the session */
	int			 lowat_due;	/* CONN_LOWAT to tell */
	struct timeval		 rd_since;	/* read timeout runs from */
	struct timeval		 wr_since;	/* write timeout runs from */
	struct timeval		 turn_tv;	/* the loop turn turn_sent is of */
	size_t			 turn_sent;	/* written in that turn */
};

/* rd_end and wr_end: nothing to tell (CONN_DATAIN is never one). */
#define CONN_NONE	CONN_DATAIN

/* conn.c */
/* A final event (CONN_CLOSED if the session asked to close). */
void	conn_report(struct conn *, enum conn_event);
/* Frees everything; the fd is closed. */
void	conn_destroy(struct conn *);
/* Hands the socket to a TLS bufferevent (server side). */
int	conn_tls_start(struct conn *, SSL_CTX *);
/* The TLS connection's kick: work that must not run in the caller. */
void	conn_tls_kick(evutil_socket_t, short, void *);

/* conn_plain.c */
/* Buffers and the event for a plain socket. */
int	conn_plain_init(struct conn *);
/* Output queued, a resume or a close outside the event's callback. */
void	conn_kick(struct conn *);
/* The loop's time of this turn. */
struct timeval conn_now(struct conn *);

#endif
