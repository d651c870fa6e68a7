/*
 * authcache.h - the auth process's cache of verified credentials (as
 * Dovecot's auth_cache): a repeated login with the same user and secret
 * skips the deliberately slow hash.  Entries hold a keyed HMAC of the
 * secret, never the secret, and a tag of the stored entry they were
 * verified against (the caller's: hash, scheme, lock), so a new
 * password or a lock counts at the next login while other changes (a
 * reload of the passwd-file, another user's edit) keep the entry; with
 * accounts in PostgreSQL the row is read at every login and its tag
 * checked the same way.  Thread-safe.
 */
#ifndef POP3D_AUTHCACHE_H
#define POP3D_AUTHCACHE_H

#include <stdint.h>

/* Sets the lifetime of entries (seconds; 0 disables the cache). */
void	authcache_init(uint64_t ttl);
/* 1 if user with secret was verified against the entry tagged tag. */
int	authcache_check(const char *user, const char *secret, uint64_t tag);
/* Records a successful verification against the entry tagged tag. */
void	authcache_put(const char *user, const char *secret, uint64_t tag);
/* Forgets everything. */
void	authcache_clear(void);

#endif
