/*
 * penalty.c - the auth process's failure table: one entry per client
 * address ("ip:ADDR", an IPv6 address cut to ipv6_prefix bits, so one
 * /64 is one client) and per user name ("user:NAME") with its failures,
 * ban and last login.  From it come the bans, the growing delay of a
 * failure's answer, the maximum delay once one user has failed
 * user_fail_limit times from anywhere (password spraying), and the
 * LOGIN-DELAY refusal.  Runs on the auth threads, under plock.
 *
 * Bounded without failing open: at most fail_table_max entries in a hash
 * table, kept in least-recently-seen order; a new entry first drops
 * expired ones from the old end, then, if the table is still full, the
 * least recently seen entry, so a flood of names costs the attacker his
 * own oldest history, never the tracking of new addresses.
 *
 * Bans outlive the auth process: each is also written to a small table
 * in memory the master maps before it starts the auth process
 * (penalty_bans_new), and a new auth process takes the live ones back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include <openssl/rand.h>

#include "addrlimit.h"
#include "log.h"
#include "penalty.h"
#include "pop3_limits.h"
#include "strhash.h"
#include "xmalloc.h"

#define PENALTY_BUCKETS		65536
#define BANS_MAX		4096	/* bans kept across an auth restart */
#define KEY_MAX			(POP3_USER_MAX + 8)
#define BAN_TIME_MAX		604800	/* ban_time's bound in pop3d.conf */

struct penalty {
	char		 key[KEY_MAX];
	uint32_t	 fails;		/* since the last success, in the window */
	uint32_t	 spray;		/* users: all failures in the window */
	time_t		 last_fail;
	time_t		 banned_until;
	time_t		 last_login;
	struct penalty	*next;		/* hash chain */
	struct penalty	*newer, *older;	/* seen order */
};

/* A ban as the next auth process finds it (shared memory). */
struct ban {
	char		 key[KEY_MAX];
	int64_t		 until;		/* 0: free */
};

static pthread_mutex_t	 plock = PTHREAD_MUTEX_INITIALIZER;	/* all below */
static struct penalty_conf pconf;
static struct penalty	*ptab[PENALTY_BUCKETS];
static struct penalty	*newest, *oldest;
static size_t		 npenalty;
static time_t		 last_full_log;
static struct ban	*bans;		/* BANS_MAX, shared (mapped by the
					   master, inherited); NULL: none */

void
penalty_configure(const struct penalty_conf *c)
{
	pthread_mutex_lock(&plock);
	pconf = *c;
	pthread_mutex_unlock(&plock);
}

/* "ip:ADDR" (the address's group) or "user:NAME". */
static void
make_key(char *key, const char *kind, const char *name)
{
	struct addrkey	k;
	char		a[64];

	if (strcmp(kind, "ip") == 0 &&
	    addrkey_from_str(&k, name, pconf.ipv6_prefix) == 0)
		name = addrkey_str(&k, pconf.ipv6_prefix, a, sizeof(a));
	snprintf(key, KEY_MAX, "%s:%s", kind, name);
}

static int
expired(const struct penalty *p, time_t now)
{
	time_t	window = (time_t)pconf.ban_time;

	if (window < (time_t)pconf.login_delay)
		window = (time_t)pconf.login_delay;
	return now - p->last_fail > window && now >= p->banned_until &&
	    now - p->last_login > window;
}

static void
unlink_seen(struct penalty *p)
{
	if (p->newer != NULL)
		p->newer->older = p->older;
	else
		newest = p->older;
	if (p->older != NULL)
		p->older->newer = p->newer;
	else
		oldest = p->newer;
	p->newer = p->older = NULL;
}

static void
touch(struct penalty *p)
{
	if (p == newest)
		return;
	if (p->newer != NULL || p->older != NULL || oldest == p)
		unlink_seen(p);
	p->older = newest;
	if (newest != NULL)
		newest->newer = p;
	newest = p;
	if (oldest == NULL)
		oldest = p;
}

static void
drop(struct penalty *p)
{
	struct penalty	**pp;

	for (pp = &ptab[strhash(p->key) % PENALTY_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	unlink_seen(p);
	free(p);
	npenalty--;
}

/* Room for one more entry: expired ones go first, then the oldest seen. */
static void
make_room(time_t now)
{
	while (oldest != NULL && npenalty >= pconf.table_max &&
	    expired(oldest, now))
		drop(oldest);
	/* A reload may have shrunk the table: one new entry, one drop. */
	if (npenalty < pconf.table_max || oldest == NULL)
		return;
	if (now != last_full_log) {
		last_full_log = now;
		log_warn("auth failure table full (fail_table_max=%llu): "
		    "forgetting the least recently seen, %s",
		    (unsigned long long)pconf.table_max, oldest->key);
	}
	while (oldest != NULL && npenalty >= pconf.table_max)
		drop(oldest);
}

/* Finds or (if create) adds the entry for key.  plock held. */
static struct penalty *
penalty_get(const char *kind, const char *name, int create, time_t now)
{
	char		 key[KEY_MAX];
	struct penalty	*p;
	uint32_t	 b;

	make_key(key, kind, name);
	b = strhash(key) % PENALTY_BUCKETS;
	for (p = ptab[b]; p != NULL; p = p->next)
		if (strcmp(p->key, key) == 0)
			break;
	if (p != NULL) {
		/* Failures older than the window are forgiven. */
		if (now - p->last_fail > (time_t)pconf.ban_time)
			p->fails = p->spray = 0;
		touch(p);
		return p;
	}
	if (!create)
		return NULL;
	make_room(now);
	p = xcalloc(1, sizeof(*p));
	memcpy(p->key, key, sizeof(p->key));
	p->next = ptab[b];
	ptab[b] = p;
	npenalty++;
	touch(p);
	return p;
}

/* Writes a ban where the next auth process will find it.  plock held. */
static void
ban_save(const char *key, time_t until, time_t now)
{
	struct ban	*b, *slot = NULL;
	size_t		 i;

	if (bans == NULL)
		return;
	for (i = 0; i < BANS_MAX; i++) {
		b = &bans[i];
		if (b->until != 0 && strncmp(b->key, key, KEY_MAX) == 0) {
			slot = b;
			break;
		}
		/* A free or lapsed slot, else the ban that ends first. */
		if (slot == NULL || b->until <= (int64_t)now ||
		    (slot->until > (int64_t)now && b->until < slot->until))
			slot = b;
	}
	/* until last: a crash in between leaves a free slot. */
	slot->until = 0;
	memcpy(slot->key, key, KEY_MAX);
	slot->until = (int64_t)until;
}

/*
 * The live ban of an address the failure table no longer holds (a flood
 * of other addresses pushed it out): the shared ban table keeps it.
 * plock held.
 */
static time_t
ban_find(const char *rip, time_t now)
{
	char	key[KEY_MAX];
	size_t	i;

	if (bans == NULL)
		return 0;
	make_key(key, "ip", rip);
	for (i = 0; i < BANS_MAX; i++)
		if (bans[i].until > (int64_t)now &&
		    bans[i].until <= (int64_t)now + BAN_TIME_MAX &&
		    strncmp(bans[i].key, key, KEY_MAX) == 0)
			return (time_t)bans[i].until;
	return 0;
}

enum penalty_state
penalty_check(const char *rip, const char *user, time_t now)
{
	struct penalty		*pi;
	enum penalty_state	 st = PENALTY_PASS;
	time_t			 until;

	pthread_mutex_lock(&plock);
	pi = penalty_get("ip", rip, 0, now);
	if (pi != NULL && pi->banned_until > now)
		st = PENALTY_BANNED;
	else if (pi == NULL && (until = ban_find(rip, now)) != 0) {
		/* Back in the table, banned, as after an auth restart. */
		pi = penalty_get("ip", rip, 1, now);
		pi->banned_until = until;
		pi->last_fail = now;
		st = PENALTY_BANNED;
	}
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
	 * an attacker reset the count between guesses.  The user keeps
	 * its spray count: the owner's client logging in every few minutes
	 * must not reset what a spraying attacker has tried.
	 */
	(void)penalty_get("ip", rip, 0, now);
	pu = penalty_get("user", user, 1, now);
	pu->fails = 0;
	if (pconf.login_delay > 0 && pu->last_login != 0 &&
	    now - pu->last_login < (time_t)pconf.login_delay)
		rv = -1;
	else
		pu->last_login = now;
	pthread_mutex_unlock(&plock);
	return rv;
}

/* The delay for the fails-th failure.  plock held. */
static uint32_t
delay_locked(uint32_t fails)
{
	uint64_t	d;
	uint32_t	i, jitter = 0;

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
	return (uint32_t)d;
}

uint32_t
penalty_record_failure(const char *rip, const char *user, time_t now,
    uint32_t *delay_ms)
{
	struct penalty	*pi, *pu;
	uint32_t	 fails;

	pthread_mutex_lock(&plock);
	pi = penalty_get("ip", rip, 1, now);
	pi->fails++;
	pi->last_fail = now;
	fails = pi->fails;
	if (pconf.ban_threshold > 0 && pi->fails >= pconf.ban_threshold) {
		pi->banned_until = now + (time_t)pconf.ban_time;
		ban_save(pi->key, pi->banned_until, now);
		log_warn("auth ban rip=%s group=%s fails=%u for=%llus", rip,
		    pi->key + 3, pi->fails,
		    (unsigned long long)pconf.ban_time);
	}
	pu = penalty_get("user", user, 1, now);
	pu->fails++;
	pu->spray++;
	pu->last_fail = now;
	if (pu->fails > fails)
		fails = pu->fails;
	*delay_ms = delay_locked(fails);
	if (pconf.user_fail_limit > 0 && pu->spray == pconf.user_fail_limit)
		log_warn("auth user under attack user=%s fails=%u window=%llus: "
		    "each further failure waits %llu ms", pu->key + 5,
		    pu->spray, (unsigned long long)pconf.ban_time,
		    (unsigned long long)pconf.fail_delay_max_ms);
	/* Past the bound, from anywhere: every failure costs the most. */
	if (pconf.user_fail_limit > 0 && pu->spray > pconf.user_fail_limit)
		*delay_ms = (uint32_t)pconf.fail_delay_max_ms;
	pthread_mutex_unlock(&plock);
	return fails;
}

uint32_t
penalty_delay(uint32_t fails)
{
	uint32_t	d;

	pthread_mutex_lock(&plock);
	d = delay_locked(fails);
	pthread_mutex_unlock(&plock);
	return d;
}

int
penalty_bans_init(void)
{
	void	*p;

	p = mmap(NULL, BANS_MAX * sizeof(struct ban), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	bans = p;
	return 0;
}

size_t
penalty_bans_restore(time_t now)
{
	struct ban	*b;
	struct penalty	*p;
	size_t		 i, n = 0;

	pthread_mutex_lock(&plock);
	for (i = 0; bans != NULL && i < BANS_MAX; i++) {
		b = &bans[i];
		/* What a crashed writer may have left is checked. */
		if (b->until <= (int64_t)now ||
		    b->until > (int64_t)now + BAN_TIME_MAX ||
		    memchr(b->key, '\0', KEY_MAX) == NULL ||
		    strncmp(b->key, "ip:", 3) != 0)
			continue;
		p = penalty_get("ip", b->key + 3, 1, now);
		p->banned_until = (time_t)b->until;
		p->last_fail = now;
		n++;
	}
	pthread_mutex_unlock(&plock);
	return n;
}
