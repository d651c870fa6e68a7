/*
 * worker.h - a worker process: runs as the mail user, accepts
 * connections on the inherited listeners, and runs every session in one
 * libevent loop, with job threads for the maildrop.  What the sessions
 * need from it (struct worker_env) is in session.h: sessions do not
 * call their worker.
 */
#ifndef POP3D_WORKER_H
#define POP3D_WORKER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "pop3d_config.h"

/* At most this many workers; "workers = 0" means one per core, up to it. */
#define WORKERS_MAX	64

struct listener {
	int	 fd;
	int	 tls;		/* implicit TLS */
	int	 proxy;		/* a PROXY protocol header comes first */
	char	*spec;		/* as written in the config */
	char	 addr[80];	/* as bound, printable */
};

/* Runs a worker; never returns.  authfd is its channel to auth. */
void	worker_main(const struct config *, struct listener *, size_t nl,
	    SSL_CTX *, int authfd) __attribute__((noreturn));

/* Worker processes the master runs for cfg (workers, or one per core). */
int	worker_count(const struct config *);
/* Sessions one worker takes: its share of max_connections. */
size_t	worker_sessions_max(const struct config *);
/* File descriptors a worker may need with nl listeners (RLIMIT_NOFILE). */
unsigned long long	worker_fds_needed(const struct config *, size_t nl);

#endif
