/*
 * conn.h - one client connection: socket, optional TLS, input and output
 * buffers, timeouts.  libevent stays behind this file (conn.c, and
 * conn_plain.c for plain sockets); the session sees one callback with
 * the events below (OpenSMTPD ioev, Redis ae).
 * Runs in worker processes, on the loop thread.
 */
#ifndef POP3D_CONN_H
#define POP3D_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

enum conn_event {
	CONN_DATAIN,	/* input arrived */
	CONN_LOWAT,	/* output drained below the low-water mark */
	CONN_TLSREADY,	/* TLS handshake finished */
	CONN_CLOSED,	/* peer closed; the connection is unusable */
	CONN_TIMEOUT,	/* idle timeout (read or write) */
	CONN_ERROR,	/* socket or TLS error; unusable */
};
const char *conn_event_str(enum conn_event);

typedef void (*conn_cb)(void *arg, enum conn_event);

struct conn;

/*
 * Wraps an accepted, non-blocking socket.  With tls != NULL, a TLS
 * server handshake starts at once (implicit TLS).  Takes the fd.
 */
struct conn	*conn_new(struct event_base *, int fd, SSL_CTX *tls,
		    conn_cb cb, void *arg);
/* Frees everything and closes the socket; NULLs the caller's pointer. */
void		 conn_free(struct conn **);

/*
 * Next input line.  Returns 1 with the line (CRLF or LF stripped, not
 * NUL-terminated; may contain NUL) copied into out (size max), *lenp set;
 * 0 if no complete line is buffered; -1 if a line is longer than max
 * (the first max bytes are dropped and the rest is skipped up to the
 * next LF, which conn_readline reports as a further -1 only once).
 */
int		 conn_readline(struct conn *, char *out, size_t max,
		    size_t *lenp);
/* Bytes of input buffered. */
size_t		 conn_input_len(const struct conn *);
/* Drops all buffered input (STLS: nothing typed before TLS counts). */
void		 conn_drop_input(struct conn *);

void		 conn_write(struct conn *, const void *, size_t);
void		 conn_printf(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * Space for n bytes at the end of the output, to fill in place; commit
 * what was used.  The pointer is valid until conn_commit().
 */
unsigned char	*conn_reserve(struct conn *, size_t n);
void		 conn_commit(struct conn *, size_t used);
size_t		 conn_output_len(const struct conn *);
/*
 * Sends len bytes of the file fd from offset 0 as they are, then
 * trailer, with sendfile(2) on a plain connection: the bytes go from the
 * page cache to the socket without passing through the process.  When
 * nothing but a short status line is queued, all of it is written at
 * once under TCP_CORK; what the socket does not take now is queued.
 * Takes fd (closed once sent, or at once on failure).  -1 on a TLS
 * connection (the caller reads and writes instead) or out of memory.
 */
int		 conn_send_file(struct conn *, int fd, uint64_t len,
		    const char *trailer, size_t tlen);

/* Input events on or off (off while a command is being answered). */
void		 conn_pause(struct conn *);
void		 conn_resume(struct conn *);
int		 conn_is_paused(const struct conn *);
/*
 * Writes queued output now, as far as the socket takes it (plain
 * connections; TLS ones write from the loop).  No callback runs.
 * Returns 1 when that was a loop turn's worth: the caller should wait
 * for CONN_LOWAT, which comes in the next turn.
 */
int		 conn_flush(struct conn *);
/* Idle timeout for reads and writes, seconds. */
void		 conn_set_timeout(struct conn *, int secs);
/*
 * STLS: drops buffered input and, once the output is flushed, starts a
 * TLS server handshake on the socket.  CONN_TLSREADY follows.
 */
void		 conn_starttls(struct conn *, SSL_CTX *);
int		 conn_is_tls(const struct conn *);
/* TLS version and cipher, for logs ("" if none). */
const char	*conn_tls_info(const struct conn *, char *, size_t);
/* Flush the output, then CONN_CLOSED.  Input is ignored meanwhile. */
void		 conn_close_after_flush(struct conn *);

#endif
