/*
 * metrics_http.h - the master's Prometheus endpoint: a minimal HTTP/1.0
 * and 1.1 server for "GET /metrics" on the metrics_listen addresses,
 * driven by the master's poll loop (main.c next_signal), never
 * blocking it: non-blocking sockets, a few connections at most, one
 * request each, a bounded request and a deadline per connection.
 */
#ifndef POP3D_METRICS_HTTP_H
#define POP3D_METRICS_HTTP_H

#include <poll.h>
#include <stddef.h>

#include "pop3d_config.h"

/* Connections served at once; more are closed at accept. */
#define METRICS_CONN_MAX	8
/* Descriptors metrics_http_pollfds() may fill in. */
#define METRICS_POLL_MAX	(METRICS_LISTEN_MAX + METRICS_CONN_MAX)

/*
 * Binds every address of c->metrics_listen (none: the endpoint is off),
 * logging each; warns loudly about one that is not loopback.  0, or -1
 * with the reason logged and nothing bound.
 */
int	metrics_http_listen(const struct config *c);
/*
 * A reload: when metrics_listen changed from old to c, closes the
 * listeners and binds c's (a failure is logged and leaves the endpoint
 * off until the next reload); connections being served carry on.
 */
void	metrics_http_reload(const struct config *old, const struct config *c);
/* The descriptors to poll now, into pfd (METRICS_POLL_MAX room). */
size_t	metrics_http_pollfds(struct pollfd *pfd);
/* After the poll (even one that timed out): serves what is ready on
   the n descriptors pollfds gave, closes what is past its deadline. */
void	metrics_http_run(const struct pollfd *pfd, size_t n,
	    const char *version);
/* In a child after fork: closes the endpoint's descriptors. */
void	metrics_http_close_all(void);

#endif
