/*
 * fetch.h - pop3fetch's client session for one account: connect, TLS
 * (implicit or STLS, never a silent fallback), CAPA, auth, STAT, UIDL,
 * LIST, then RETR / deliver / DELE, pipelined when the server offers
 * PIPELINING, and QUIT.  Exactly-once: pending before delivery, done
 * before DELE, pending ones resolved by their key on the next run.
 */
#ifndef FETCH_FETCH_H
#define FETCH_FETCH_H

#include "fetch_config.h"
#include "fetch_opts.h"

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
