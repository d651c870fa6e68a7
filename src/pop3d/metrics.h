/*
 * metrics.h - pop3d's counters for Prometheus: one shared memory region
 * that the master maps before it forks, one slot in it per process
 * (each worker's procs[] entry, and the auth process).  A process adds
 * to its own slot only, with relaxed atomics: no lock, no message, an
 * add per event.  The master sums the slots when scraped
 * (metrics_render, for metrics_http.c).  A slot outlives its process,
 * so a restarted worker's counters go on from where the dead one's
 * stopped; only the gauge of current sessions is zeroed at its death.
 * Every hook is a no-op in a process that has no slot (tests, fuzzers).
 */
#ifndef POP3D_METRICS_H
#define POP3D_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* How a session ended up encrypted: the label tls="none|stls|implicit". */
enum metrics_tls { METRICS_TLS_NONE, METRICS_TLS_STLS, METRICS_TLS_IMPLICIT };

/* What the auth process answered: the label result="...". */
enum metrics_login {
	METRICS_LOGIN_OK,
	METRICS_LOGIN_FAILED,
	METRICS_LOGIN_BANNED,
	METRICS_LOGIN_DELAY,
	METRICS_LOGIN_TEMPFAIL,
};

/* Which kind of child the master restarted: the label process="...". */
enum metrics_proc { METRICS_PROC_WORKER, METRICS_PROC_AUTH };

/*
 * Master, before any fork: maps nslots slots (shared, anonymous) and
 * notes the start time.  0, or -1 (errno set; the hooks stay no-ops and
 * the endpoint serves only the master's own numbers).
 */
int	metrics_init(size_t nslots);
/* In a child after fork: the slot it writes (ignored if out of range). */
void	metrics_attach(size_t slot);
/* Master, when the child of that slot died: its sessions are gone. */
void	metrics_slot_died(size_t slot);
/* Master: a child that died is restarted. */
void	metrics_restart(enum metrics_proc);

/* Workers (loop thread): a session starts, or ends as tls. */
void	metrics_session_start(void);
void	metrics_session_end(enum metrics_tls);
/* Bytes of POP3 answers queued for a client (before TLS). */
void	metrics_sent(uint64_t bytes);
/* A command line the dispatcher looked up: its table name, or NULL
   (no such command).  Names outside metrics.c's list count as NULL. */
void	metrics_command(const char *name);
/* A RETR starts: the message's size in octets (as LIST says). */
void	metrics_retr(uint64_t size);
/* A login refused with [IN-USE]; an UPDATE that failed to remove. */
void	metrics_in_use(void);
void	metrics_commit_failed(void);

/* Auth process (any thread): a login the credential cache answered. */
void	metrics_auth_cached(void);
/* Auth process (any thread): an answer, and when its request came
   (CLOCK_MONOTONIC). */
void	metrics_login(enum metrics_login, const struct timespec *since);

/*
 * Master: the Prometheus text format 0.0.4 of every metric into out,
 * HELP and TYPE lines first.  0, or -1 when out's maximum is too small.
 */
int	metrics_render(struct buf *out, const char *version);

#endif
