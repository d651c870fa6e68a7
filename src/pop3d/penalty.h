/*
 * penalty.h - the auth process's memory of logins, for every worker at
 * once: failure counts per client address and per user, bans of an
 * address, the delay before a failure is answered, and the RFC 2449
 * LOGIN-DELAY between two logins of a user.  Limits on how much is
 * remembered, and on what one address or user may try, belong here.
 * Thread-safe (one lock of its own).
 */
#ifndef POP3D_PENALTY_H
#define POP3D_PENALTY_H

#include <stdint.h>
#include <time.h>

/* The [auth] settings it follows (pop3d.conf(5)). */
struct penalty_conf {
	uint64_t	 fail_delay_ms;
	uint64_t	 fail_delay_max_ms;
	uint64_t	 ban_threshold;
	uint64_t	 ban_time;
	uint64_t	 login_delay;
	uint64_t	 user_fail_limit;	/* 0: none */
	uint64_t	 table_max;		/* entries remembered */
	int		 ipv6_prefix;		/* bits of an IPv6 client */
};

/* What penalty_check() says of an attempt before its secret is checked. */
enum penalty_state {
	PENALTY_PASS,		/* go on and verify */
	PENALTY_BANNED,		/* the address is banned: refuse */
};

/* Takes new settings (start, SIGHUP); what is remembered stays. */
void	penalty_configure(const struct penalty_conf *);

/* Whether a login of user from address rip may be tried at now. */
enum penalty_state penalty_check(const char *rip, const char *user,
	    time_t now);

/*
 * A verified secret of user from rip: the user's failures are forgiven
 * (the address keeps its own).  Returns 0, or -1 when the user's last
 * login is less than login_delay ago (the login is refused, and does not
 * count as one).
 */
int	penalty_record_success(const char *rip, const char *user, time_t now);

/*
 * A failed login of user from rip: counts it for both and bans rip at
 * ban_threshold (logged).  Returns the larger of the two counts, and in
 * *delay_ms the wait before the answer: penalty_delay() of that count,
 * or fail_delay_max_ms once the user has failed user_fail_limit times
 * in the window from any address.
 */
uint32_t penalty_record_failure(const char *rip, const char *user,
	    time_t now, uint32_t *delay_ms);

/*
 * Milliseconds to wait before answering the fails-th failure:
 * fail_delay_ms doubled per failure up to fail_delay_max_ms, plus a
 * random jitter.
 */
uint32_t penalty_delay(uint32_t fails);

/*
 * Bans that outlive the auth process: the master maps a table once,
 * before it starts the first auth process (-1 if it cannot); every ban
 * is also written there, and each new auth process takes back the live
 * ones (returns how many).
 */
int	penalty_bans_init(void);
size_t	penalty_bans_restore(time_t now);

#endif
