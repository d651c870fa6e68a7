/*
 * authcache.c - cache of verified credentials for the auth process.
 * Keyed by user name; the value is HMAC-SHA256(process key, secret), the
 * tag of the stored entry it was verified against and an expiry time.
 * The key is random per process, so the cache is useless outside this
 * process's memory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "authcache.h"
#include "metrics.h"
#include "pop3_limits.h"
#include "strhash.h"
#include "xmalloc.h"

#define AC_BUCKETS	4096
#define AC_MAX		100000	/* entries; past this, the oldest go first */

struct ac_ent {
	char		 user[POP3_USER_MAX + 1];
	unsigned char	 mac[32];
	uint64_t	 tag;
	time_t		 expires;
	struct ac_ent	*next;
};

static pthread_mutex_t	 ac_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ac_ent	*ac_tab[AC_BUCKETS];
static size_t		 ac_n;
static uint64_t		 ac_ttl;
static unsigned char	 ac_key[32];
static int		 ac_keyed;

static uint32_t
bucket(const char *user)
{
	return strhash(user) % AC_BUCKETS;
}

static int
mac_of(const char *secret, unsigned char out[32])
{
	unsigned int	len = 32;

	return HMAC(EVP_sha256(), ac_key, sizeof(ac_key),
	    (const unsigned char *)secret, strlen(secret), out, &len) != NULL &&
	    len == 32 ? 0 : -1;
}

void
authcache_init(uint64_t ttl)
{
	int	shorter;

	pthread_mutex_lock(&ac_lock);
	/* Entries keep the expiry they got: a shorter ttl starts afresh. */
	shorter = ttl < ac_ttl;
	ac_ttl = ttl;
	if (!ac_keyed && RAND_priv_bytes(ac_key, sizeof(ac_key)) == 1)
		ac_keyed = 1;
	pthread_mutex_unlock(&ac_lock);
	if (ttl == 0 || shorter)
		authcache_clear();
}

/* Drops the entries for which drop(e, now) says so.  ac_lock held. */
static void
drop_if(int (*drop)(const struct ac_ent *, time_t), time_t now)
{
	struct ac_ent	**pp, *e;
	size_t		  i;

	for (i = 0; i < AC_BUCKETS; i++)
		for (pp = &ac_tab[i]; (e = *pp) != NULL; ) {
			if (drop(e, now)) {
				*pp = e->next;
				explicit_bzero(e, sizeof(*e));
				free(e);
				ac_n--;
			} else
				pp = &e->next;
		}
}

static int
expired(const struct ac_ent *e, time_t now)
{
	return e->expires <= now;
}

static int
any(const struct ac_ent *e, time_t now)
{
	return 1;
}

int
authcache_check(const char *user, const char *secret, uint64_t tag)
{
	struct ac_ent	*e;
	unsigned char	 mac[32];
	int		 hit = 0;

	if (ac_ttl == 0 || !ac_keyed || mac_of(secret, mac) == -1)
		return 0;
	pthread_mutex_lock(&ac_lock);
	for (e = ac_tab[bucket(user)]; e != NULL; e = e->next)
		if (strcmp(e->user, user) == 0)
			break;
	if (e != NULL && e->tag == tag && e->expires > time(NULL) &&
	    CRYPTO_memcmp(e->mac, mac, sizeof(mac)) == 0) {
		hit = 1;
		metrics_auth_cached();
	}
	pthread_mutex_unlock(&ac_lock);
	explicit_bzero(mac, sizeof(mac));
	return hit;
}

void
authcache_put(const char *user, const char *secret, uint64_t tag)
{
	struct ac_ent	*e;
	unsigned char	 mac[32];
	uint32_t	 b = bucket(user);
	time_t		 now = time(NULL);

	if (ac_ttl == 0 || !ac_keyed || strlen(user) > POP3_USER_MAX ||
	    mac_of(secret, mac) == -1)
		return;
	pthread_mutex_lock(&ac_lock);
	for (e = ac_tab[b]; e != NULL; e = e->next)
		if (strcmp(e->user, user) == 0)
			break;
	if (e == NULL) {
		if (ac_n >= AC_MAX)
			drop_if(expired, now);
		if (ac_n >= AC_MAX)
			drop_if(any, now);	/* a flood of users: start over */
		e = xcalloc(1, sizeof(*e));
		memcpy(e->user, user, strlen(user) + 1);
		e->next = ac_tab[b];
		ac_tab[b] = e;
		ac_n++;
	}
	memcpy(e->mac, mac, sizeof(mac));
	e->tag = tag;
	e->expires = now + (time_t)ac_ttl;
	pthread_mutex_unlock(&ac_lock);
	explicit_bzero(mac, sizeof(mac));
}

void
authcache_clear(void)
{
	pthread_mutex_lock(&ac_lock);
	drop_if(any, 0);
	pthread_mutex_unlock(&ac_lock);
}
