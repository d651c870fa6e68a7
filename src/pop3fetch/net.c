/*
 * net.c - pop3fetch's connection: non-blocking socket, poll(2) timeouts,
 * optional TLS, bounded line reads and batched command writes.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "net.h"
#include "pop3_limits.h"
#include "tls.h"
#include "xmalloc.h"

/* Queued commands: a pipelined window of short commands and AUTH lines. */
#define NET_WBUF_MAX	(FETCH_PIPELINE_MAX * 64 + 4 * FETCH_SECRET_MAX)

static int
net_wait(struct net *n, short ev)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = n->fd;
	pfd.events = ev;
	do
		r = poll(&pfd, 1, n->timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

int
net_connect(struct net *n, const char *host, int port, int timeout_s,
    char **errp)
{
	struct addrinfo	 hints, *res, *ai;
	char		 serv[16];
	socklen_t	 sl;
	int		 fd = -1, r, err = 0;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	n->timeout_ms = timeout_s * 1000;
	buf_init(&n->wbuf, NET_WBUF_MAX);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((r = getaddrinfo(host, serv, &hints, &res)) != 0) {
		xasprintf(errp, "%s: %s", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		n->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && net_wait(n, POLLOUT) == 0)) {
			sl = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &sl) == 0 && err == 0)
				break;
		} else
			err = errno;
		close(fd);
		n->fd = fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		xasprintf(errp, "connect to %s port %d: %s", host, port,
		    strerror(err != 0 ? err : ECONNREFUSED));
		return -1;
	}
	/*
	 * Non-blocking from here on: every wait goes through poll(2) with
	 * the timeout, also inside a TLS record cut short by the network.
	 */
	return 0;
}

int
net_is_tls(const struct net *n)
{
	return n->ssl != NULL;
}

static char *
net_tls_err(const char *what, SSL *ssl)
{
	char	*e, *out;
	long	 v;

	v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK) {
		xasprintf(&out, "%s: certificate verification failed: %s", what,
		    X509_verify_cert_error_string(v));
		ERR_clear_error();
		return out;
	}
	e = tls_errstr();
	xasprintf(&out, "%s: %s", what, e);
	free(e);
	return out;
}

int
net_starttls(struct net *n, SSL_CTX *ctx, const char *host,
    const unsigned char *pin, char **errp)
{
	unsigned char	 fp[32];
	int		 r, e;

	if (n->rpos < n->rlen) {
		xasprintf(errp, "data after the STLS answer (injection?)");
		return -1;
	}
	if ((n->ssl = tls_client_ssl(ctx, host, pin != NULL, errp)) == NULL)
		return -1;
	if (SSL_set_fd(n->ssl, n->fd) != 1) {
		*errp = net_tls_err("TLS", NULL);
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(n->ssl)) == 1)
			break;
		e = SSL_get_error(n->ssl, r);
		if ((e == SSL_ERROR_WANT_READ && net_wait(n, POLLIN) == 0) ||
		    (e == SSL_ERROR_WANT_WRITE && net_wait(n, POLLOUT) == 0))
			continue;
		if (errno == ETIMEDOUT && (e == SSL_ERROR_WANT_READ ||
		    e == SSL_ERROR_WANT_WRITE)) {
			xasprintf(errp, "TLS handshake with %s: timeout", host);
			return -1;
		}
		*errp = net_tls_err("TLS handshake", n->ssl);
		return -1;
	}
	if (pin != NULL) {
		if (tls_peer_fingerprint(n->ssl, fp) == -1 ||
		    memcmp(fp, pin, sizeof(fp)) != 0) {
			xasprintf(errp, "TLS: the certificate of %s does not "
			    "match tls_fingerprint", host);
			return -1;
		}
	}
	return 0;
}

int
net_queue(struct net *n, const char *data, size_t len)
{
	return buf_add(&n->wbuf, data, len);
}

int
net_flush(struct net *n, const char **errstr)
{
	size_t	 off = 0;
	ssize_t	 w;
	int	 e;

	while (off < n->wbuf.len) {
		if (net_wait(n, POLLOUT) == -1) {
			*errstr = errno == ETIMEDOUT ? "timeout" :
			    "poll failed";
			buf_wipe(&n->wbuf);
			return -1;
		}
		if (n->ssl != NULL) {
			ERR_clear_error();
			w = SSL_write(n->ssl, n->wbuf.data + off,
			    (int)(n->wbuf.len - off));
			if (w <= 0) {
				e = SSL_get_error(n->ssl, (int)w);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					continue;
				*errstr = "TLS write failed";
				buf_wipe(&n->wbuf);
				return -1;
			}
		} else if ((w = send(n->fd, n->wbuf.data + off,
		    n->wbuf.len - off, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			*errstr = "write failed";
			buf_wipe(&n->wbuf);
			return -1;
		}
		off += (size_t)w;
	}
	/* AUTH lines carry secrets. */
	buf_wipe(&n->wbuf);
	return 0;
}

/* Refills rbuf; -1 with *errstr at EOF, timeout or error. */
static int
net_fill(struct net *n, const char **errstr)
{
	ssize_t	 r;
	int	 e;

	n->rpos = n->rlen = 0;
	for (;;) {
		if (n->ssl == NULL || SSL_pending(n->ssl) == 0) {
			if (net_wait(n, POLLIN) == -1) {
				*errstr = errno == ETIMEDOUT ? "timeout" :
				    "poll failed";
				return -1;
			}
		}
		if (n->ssl != NULL) {
			ERR_clear_error();
			r = SSL_read(n->ssl, n->rbuf, sizeof(n->rbuf));
			if (r <= 0) {
				e = SSL_get_error(n->ssl, (int)r);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					continue;
				*errstr = e == SSL_ERROR_ZERO_RETURN ?
				    "connection closed" :
				    "connection closed (TLS)";
				return -1;
			}
		} else {
			r = recv(n->fd, n->rbuf, sizeof(n->rbuf), 0);
			if (r == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				*errstr = r == 0 ? "connection closed" :
				    "read failed";
				return -1;
			}
		}
		n->rlen = (size_t)r;
		return 0;
	}
}

int
net_readline(struct net *n, struct buf *line, size_t max,
    const char **errstr)
{
	unsigned char	*nl;
	size_t		 take;

	buf_reset(line);
	for (;;) {
		if (n->rpos == n->rlen && net_fill(n, errstr) == -1)
			return -1;
		nl = memchr(n->rbuf + n->rpos, '\n', n->rlen - n->rpos);
		take = nl != NULL ? (size_t)(nl - (n->rbuf + n->rpos)) + 1 :
		    n->rlen - n->rpos;
		if (line->len + take > max || buf_add(line, n->rbuf + n->rpos,
		    take) == -1) {
			*errstr = "line too long";
			return -1;
		}
		n->rpos += take;
		if (nl != NULL)
			return 0;
	}
}

void
net_close(struct net *n)
{
	if (n->ssl != NULL) {
		(void)SSL_shutdown(n->ssl);
		SSL_free(n->ssl);
		n->ssl = NULL;
	}
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
	buf_wipe(&n->wbuf);
	explicit_bzero(n->rbuf, sizeof(n->rbuf));
}
