/*
 * net.h - pop3fetch's connection: a TCP socket waited on with poll(2)
 * timeouts, optionally TLS (implicit or after STLS), with bounded line
 * reads.  One per account session; pop3fetch only.
 */
#ifndef FETCH_NET_H
#define FETCH_NET_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "buf.h"

struct net {
	int		 fd;
	SSL		*ssl;
	int		 timeout_ms;
	unsigned char	 rbuf[65536];	/* read-ahead */
	size_t		 rpos, rlen;
	struct buf	 wbuf;		/* commands queued by net_queue() */
};

/*
 * Connects to host:port (every address getaddrinfo gives, in order).
 * 0, or -1 with *errp allocated (caller frees).
 */
int	net_connect(struct net *, const char *host, int port, int timeout_s,
	    char **errp);
/*
 * TLS handshake over the connection (implicit TLS, or after +OK to
 * STLS: read-ahead must be empty, else the server injected data).
 * Verifies the chain and host unless pin (32 bytes) is given, in which
 * case the certificate's SHA-256 must equal it.  0 or -1 with *errp.
 */
int	net_starttls(struct net *, SSL_CTX *, const char *host,
	    const unsigned char *pin, char **errp);
/* Appends a command for the next net_flush(). */
int	net_queue(struct net *, const char *data, size_t len);
/* Writes everything queued; 0 or -1 with *errstr (static). */
int	net_flush(struct net *, const char **errstr);
/*
 * Reads one line (up to and including '\n') into line (reset first).
 * -1 with *errstr: "line too long" (over max), "connection closed",
 * "timeout", or an I/O error.
 */
int	net_readline(struct net *, struct buf *line, size_t max,
	    const char **errstr);
int	net_is_tls(const struct net *);
void	net_close(struct net *);

#endif
