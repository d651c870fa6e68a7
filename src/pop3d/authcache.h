/*
 * authcache.h - the auth process's cache of verified credentials (as
 * Dovecot's auth_cache): a repeated login with the same user and secret
 * skips the deliberately slow hash.  Entries hold a keyed HMAC of the
 * secret, never the secret, and belong to one load of the passwd-file:
 * a changed file empties the cache, so a new password or a lock counts
 * at once.  Thread-safe.
 */
#ifndef POP3D_AUTHCACHE_H
#define POP3D_AUTHCACHE_H

#include <stdint.h>

/* Sets the lifetime of entries (seconds; 0 disables the cache). */
void	authcache_init(uint64_t ttl);
/* 1 if user with secret was verified under passwd-file load gen. */
int	authcache_check(const char *user, const char *secret, uint64_t gen);
/* Records a successful verification. */
void	authcache_put(const char *user, const char *secret, uint64_t gen);
/* Forgets everything (passwd-file reloaded). */
void	authcache_clear(void);

#endif
