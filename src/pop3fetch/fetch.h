/*
 * fetch.h - pop3fetch's client session for one account: connect, TLS
 * (implicit or STLS, never a silent fallback), CAPA, auth, STAT, UIDL,
 * LIST, then RETR / deliver / DELE, pipelined when the server offers
 * PIPELINING, and QUIT.  Exactly-once: pending before delivery, done
 * before DELE, pending ones resolved by their key on the next run.
 */
#ifndef FETCH_FETCH_H
#define FETCH_FETCH_H

#include <stdint.h>

#include "fetch_config.h"

struct fetch_result {
	uint64_t	 total_msgs;	/* to fetch this run */
	uint64_t	 total_bytes;
	uint64_t	 fetched;	/* delivered this run */
	uint64_t	 bytes;
	uint64_t	 deleted;	/* DELE answered +OK (committed by QUIT) */
	uint64_t	 skipped;	/* over size_limit */
};

struct fetch_opts {
	int		 check;		/* only count new messages */
	int		 verbose;	/* protocol on stderr, secrets masked */
	const char	*state_dir;
	/* Called after each message when set (main's progress bar). */
	void		(*progress)(const struct account *,
			    const struct fetch_result *);
};

/*
 * Fetches (or with opts->check, counts) the new mail of a.  Returns a
 * sysexits code: EX_OK, EX_TEMPFAIL (network, timeout, QUIT failed,
 * account busy), EX_NOPERM (login refused, certificate), EX_PROTOCOL
 * (the server broke the protocol or lacks STLS), EX_UNAVAILABLE (no
 * UIDL, no common auth method), EX_CANTCREAT (delivery failed),
 * EX_IOERR (state store).  *errp is allocated when it is not EX_OK.
 */
int	fetch_account(const struct account *a, const struct fetch_opts *,
	    struct fetch_result *, char **errp);

#endif
