/*
 * fetch_io.h - one account's POP3 client session as each of its steps
 * sees it (struct fetch: the connection, what the server offers, the
 * message list, the commands in flight, the batch awaiting its commit,
 * the first error), its states, and the command and reply I/O every
 * step uses.  fetch.c drives the session; the steps before the transfer
 * are fetch_login.c's and fetch_list.c's.
 */
#ifndef FETCH_FETCH_IO_H
#define FETCH_FETCH_IO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dot.h"
#include "fetch_config.h"
#include "fetch_opts.h"
#include "net.h"
#include "pop3_resp.h"

struct deliver;
struct uidlcache;

enum fetch_state {
	FETCH_CONNECT,
	FETCH_GREETING,
	FETCH_CAPA,
	FETCH_STLS,
	FETCH_AUTH,
	FETCH_USER,
	FETCH_PASS,
	FETCH_STAT,
	FETCH_UIDL,
	FETCH_LIST,
	FETCH_RETR,
	FETCH_DELE,
	FETCH_QUIT,
	FETCH_DONE,
};

struct fetch_msg {
	uint64_t	 size;		/* from LIST, 0 if unknown */
	char		 uid[FETCH_UID_MAX + 1];	/* "" if none */
};

/* A command in flight: replies come in command order. */
struct fetch_inflight {
	enum fetch_state st;
	size_t		 m;		/* message index */
};

struct fetch {
	const struct account	*a;
	const struct fetch_opts	*o;
	struct fetch_result	*res;
	enum fetch_state	 state;
	struct net		 net;
	SSL_CTX			*ctx;
	struct uidlcache	*uc;
	struct deliver		*dv;
	struct pop3_capa	 capa;
	int			 capa_known;
	struct buf		 line;	/* the last line read */
	struct buf		 msg;	/* the message being received */
	struct fetch_msg	*msgs;
	size_t			 nmsgs;
	size_t			*retr, nretr, retr_next;
	size_t			*dele, ndele, dele_next;
	struct fetch_inflight	 q[FETCH_PIPELINE_MAX];
	size_t			 qhead, qlen;
	size_t			 qretr;	/* RETRs among them */
	/* Delivered, not yet synced and recorded "done": fetch_commit(). */
	size_t			 batch[FETCH_BATCH_MAX];
	size_t			 nbatch;
	uint64_t		 batch_bytes;
	size_t			 nbody;	/* lines read by fetch_body() */
	int			 stop;	/* delivery failed: drain, QUIT */
	int			 code;	/* sysexits of the first error */
	char			*err;
};

/* The only writer of f->state; traces it with --verbose. */
void	fetch_enter_state(struct fetch *, enum fetch_state);
/* Records the first error (its sysexits code and text); returns -1. */
int	fetch_fail(struct fetch *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Queues a command; shown (secret masked) with --verbose. */
int	fetch_send(struct fetch *, const char *shown, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Writes the queued commands.  0, or -1 (error recorded). */
int	fetch_flush(struct fetch *);
/* Flushes, then reads and parses a status line into r. */
int	fetch_reply(struct fetch *, struct pop3_resp *r);
/* Escaped server text of the last reply, for error messages. */
const char *fetch_text(const struct pop3_resp *r, char *out, size_t outlen);
/*
 * Next line of a multi-line body, decoded, into *p and *len (valid until
 * the next read).  1 at the terminator, 0 for a line, -1 on error.
 */
int	fetch_body_line(struct fetch *, struct dot_dec *, size_t max,
	    const unsigned char **p, size_t *len);
/*
 * Reads a multi-line body of short lines (CAPA, UIDL, LIST) to its
 * terminator, handing each decoded line (CRLF included, valid during the
 * call) to each(); counts them in f->nbody.  0, or -1 (error recorded).
 */
int	fetch_body(struct fetch *, int (*each)(struct fetch *, const char *,
	    size_t));

#endif
