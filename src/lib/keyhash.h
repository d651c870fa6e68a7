/*
 * keyhash.h - SipHash-2-4 under a random key drawn once per process:
 * the hash of every in-memory table whose keys come from files or
 * clients (Dovecot's and Courier's UIDL lists, the UIDLs made distinct,
 * user names, addresses), so that nobody can choose keys that land in
 * one slot and stall the lookups.
 */
#ifndef POP3_KEYHASH_H
#define POP3_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of len octets at p under this process's key. */
uint64_t	keyhash(const void *p, size_t len);
/* The same under the 16-octet key k (for tests against known values). */
uint64_t	keyhash_with(const unsigned char k[16], const void *p,
		    size_t len);

#endif
