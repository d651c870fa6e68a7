/*
 * proxy_conn.h - a worker's connections on a PROXY listener before they
 * are sessions: the peer must be a proxy_trusted load balancer, and its
 * PROXY protocol header (proxy.c) must arrive within proxy_timeout as
 * the first octets, before pop3d's greeting and before a TLS
 * handshake.  The client address it names then stands for the peer's
 * everywhere (the worker's take function: limits, logs, penalties,
 * LOGIN-DELAY).
 */
#ifndef POP3D_PROXY_CONN_H
#define POP3D_PROXY_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Makes fd, from the client sa, a session (or refuses it); loopback_ok:
 * the balancer connected from loopback and the header names the client
 * (not LOCAL or UNKNOWN), so a loopback sa may count as loopback.
 * Returns the new session's id, or 0 if it refused fd.
 */
typedef uint64_t	proxy_take_fn(int fd, const struct sockaddr *sa,
			    socklen_t salen, int tls, int loopback_ok);

/*
 * fd was accepted from sa on a PROXY listener (tls: implicit TLS).
 * Refuses it (closed, logged) if sa is not trusted, or if max headers
 * are awaited already (their descriptors are budgeted apart from the
 * sessions': worker_fds_needed); else waits for the header until
 * proxy_timeout after now, then hands fd to take with the client's
 * address, which makes room if the worker is full.  A draining worker
 * keeps serving those awaited (session_drain_check counts them).
 * Worker loop thread.
 */
void	proxy_conn_start(int fd, const struct sockaddr *sa, socklen_t salen,
	    int tls, size_t max, proxy_take_fn *take);

#endif
