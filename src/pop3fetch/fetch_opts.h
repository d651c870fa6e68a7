/*
 * fetch_opts.h - what a run of one account is asked to do (struct
 * fetch_opts) and what it reports (struct fetch_result): main.c's side
 * of fetch_account() (fetch.h), read by every part of the session.
 */
#ifndef FETCH_FETCH_OPTS_H
#define FETCH_FETCH_OPTS_H

#include <stdint.h>

struct account;

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

#endif
