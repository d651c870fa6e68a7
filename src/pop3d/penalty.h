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
 * ban_threshold (logged).  Returns the larger of the two counts, which
 * sets the delay; 0 if neither could be tracked.
 */
uint32_t penalty_record_failure(const char *rip, const char *user,
	    time_t now);

/*
 * Milliseconds to wait before answering the fails-th failure:
 * fail_delay_ms doubled per failure up to fail_delay_max_ms, plus a
 * random jitter.
 */
uint32_t penalty_delay(uint32_t fails);

#endif
