/*
 * worker.h - a worker process: runs as the mail user, accepts
 * connections on the inherited listeners, and runs every session in one
 * libevent loop, with job threads for the maildrop.
 */
#ifndef POP3D_WORKER_H
#define POP3D_WORKER_H

#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "pop3d_config.h"

/* At most this many workers; "workers = 0" means one per core, up to it. */
#define WORKERS_MAX	64

struct listener {
	int	 fd;
	int	 tls;		/* implicit TLS */
	char	*spec;		/* as written in the config */
	char	 addr[80];	/* as bound, printable */
};

struct session;
struct msg;

/* What sessions need from their worker. */
struct worker_env {
	const struct config	*cfg;
	SSL_CTX			*tls;
	struct event_base	*base;
	char			 hostname[256];
	int			 draining;
};
extern struct worker_env	 wenv;

/* Runs a worker; never returns.  authfd is its channel to auth. */
void	worker_main(const struct config *, struct listener *, size_t nl,
	    SSL_CTX *, int authfd) __attribute__((noreturn));

/* Worker processes the master runs for cfg (workers, or one per core). */
int	worker_count(const struct config *);
/* Sessions one worker takes: its share of max_connections. */
size_t	worker_sessions_max(const struct config *);
/* File descriptors a worker may need with nl listeners (RLIMIT_NOFILE). */
unsigned long long	worker_fds_needed(const struct config *, size_t nl);

/* Registry: a session gets its id here; lookups check the whole id. */
uint64_t	 worker_register(struct session *);
void		 worker_unregister(struct session *);
struct session	*worker_find(uint64_t id);
/* Counts a connection from ip; 0 if over the per-address cap. */
int		 worker_ip_admit(const char *ip);
void		 worker_ip_release(const char *ip);
/* Sends a request to the auth process; -1 if the channel is down. */
int		 worker_auth_send(const struct msg *);

#endif
