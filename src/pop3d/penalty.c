/*
 * penalty.c - the auth process's failure table: one entry per client
 * address ("ip:ADDR") and per user name ("user:NAME") with its failures,
 * ban and last login, in a hash table of at most PENALTY_MAX entries
 * (expired ones are pruned when it is full).  From it come the bans, the
 * growing delay of a failure's answer and the LOGIN-DELAY refusal.  Runs
 * on the auth threads, under plock.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <openssl/rand.h>

#include "log.h"
#include "penalty.h"
#include "pop3_limits.h"
#include "strhash.h"
#include "xmalloc.h"

#define PENALTY_BUCKETS		4096
#define PENALTY_MAX		100000	/* tracked addresses and users */

struct penalty {
	char		 key[POP3_USER_MAX + 8];
	uint32_t	 fails;
	time_t		 last_fail;
	time_t		 banned_until;
	time_t		 last_login;
	struct penalty	*next;
};

static pthread_mutex_t	 plock = PTHREAD_MUTEX_INITIALIZER;	/* all below */
static struct penalty_conf pconf;
static struct penalty	*ptab[PENALTY_BUCKETS];
static size_t		 npenalty;

void
penalty_configure(const struct penalty_conf *c)
{
	pthread_mutex_lock(&plock);
	pconf = *c;
	pthread_mutex_unlock(&plock);
}

/* Drops entries whose failures and bans have expired.  plock held. */
static void
penalty_prune(time_t now)
{
	struct penalty	**pp, *p;
	size_t		  i;
	time_t		  window = (time_t)pconf.ban_time;

	if (window < (time_t)pconf.login_delay)
		window = (time_t)pconf.login_delay;
	for (i = 0; i < PENALTY_BUCKETS; i++)
		for (pp = &ptab[i]; (p = *pp) != NULL; ) {
			if (now - p->last_fail > window &&
			    now >= p->banned_until &&
			    now - p->last_login > window) {
				*pp = p->next;
				free(p);
				npenalty--;
			} else
				pp = &p->next;
		}
}

/* Finds or (if create) adds the entry for key.  plock held.  May be NULL. */
static struct penalty *
penalty_get(const char *kind, const char *name, int create, time_t now)
{
	char		 key[sizeof(((struct penalty *)0)->key)];
	struct penalty	*p;
	uint32_t	 b;

	snprintf(key, sizeof(key), "%s:%s", kind, name);
	b = strhash(key) % PENALTY_BUCKETS;
	for (p = ptab[b]; p != NULL; p = p->next)
		if (strcmp(p->key, key) == 0)
			break;
	if (p != NULL) {
		/* Failures older than the window are forgiven. */
		if (p->fails > 0 && now - p->last_fail > (time_t)pconf.ban_time)
			p->fails = 0;
		return p;
	}
	if (!create)
		return NULL;
	if (npenalty >= PENALTY_MAX)
		penalty_prune(now);
	if (npenalty >= PENALTY_MAX)
		return NULL;	/* a flood of names: keep tracking the old ones */
	p = xcalloc(1, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->next = ptab[b];
	ptab[b] = p;
	npenalty++;
	return p;
}

enum penalty_state
penalty_check(const char *rip, const char *user, time_t now)
{
	struct penalty		*pi;
	enum penalty_state	 st = PENALTY_PASS;

	pthread_mutex_lock(&plock);
	pi = penalty_get("ip", rip, 0, now);
	if (pi != NULL && pi->banned_until > now)
		st = PENALTY_BANNED;
	pthread_mutex_unlock(&plock);
	return st;
}

int
penalty_record_success(const char *rip, const char *user, time_t now)
{
	struct penalty	*pu;
	int		 rv = 0;

	pthread_mutex_lock(&plock);
	/*
	 * The address keeps its failures: one valid account must not let
	 * an attacker reset the count between guesses.  (The look-up
	 * forgives its expired failures, as every look-up does.)
	 */
	(void)penalty_get("ip", rip, 0, now);
	if ((pu = penalty_get("user", user, 1, now)) != NULL) {
		pu->fails = 0;
		if (pconf.login_delay > 0 && pu->last_login != 0 &&
		    now - pu->last_login < (time_t)pconf.login_delay)
			rv = -1;
		else
			pu->last_login = now;
	}
	pthread_mutex_unlock(&plock);
	return rv;
}

uint32_t
penalty_record_failure(const char *rip, const char *user, time_t now)
{
	struct penalty	*pi, *pu;
	uint32_t	 fails = 0;

	pthread_mutex_lock(&plock);
	pi = penalty_get("ip", rip, 1, now);
	pu = penalty_get("user", user, 1, now);
	if (pi != NULL) {
		pi->fails++;
		pi->last_fail = now;
		fails = pi->fails;
		if (pconf.ban_threshold > 0 &&
		    pi->fails >= pconf.ban_threshold) {
			pi->banned_until = now + (time_t)pconf.ban_time;
			log_warn("auth ban rip=%s fails=%u for=%llus", rip,
			    pi->fails, (unsigned long long)pconf.ban_time);
		}
	}
	if (pu != NULL) {
		pu->fails++;
		pu->last_fail = now;
		if (pu->fails > fails)
			fails = pu->fails;
	}
	pthread_mutex_unlock(&plock);
	return fails;
}

uint32_t
penalty_delay(uint32_t fails)
{
	uint64_t	d;
	uint32_t	i, jitter = 0;

	pthread_mutex_lock(&plock);
	d = pconf.fail_delay_ms;
	for (i = 1; i < fails && i < 20 && d < pconf.fail_delay_max_ms; i++)
		d *= 2;
	if (d > pconf.fail_delay_max_ms)
		d = pconf.fail_delay_max_ms;
	/* Jitter, so the answer time does not tell what was checked. */
	if (pconf.fail_delay_ms > 0) {
		RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
		d += jitter % (pconf.fail_delay_ms / 2 + 1);
	}
	pthread_mutex_unlock(&plock);
	return (uint32_t)d;
}
