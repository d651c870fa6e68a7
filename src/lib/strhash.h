/*
 * strhash.h - keyhash() (SipHash-2-4, a per-process random key) over a
 * NUL-terminated string, for the in-memory tables keyed by user name,
 * address or file name (auth penalties, the credential cache, a
 * maildrop's trash set): keys chosen to collide cannot be made without
 * the key.
 */
#ifndef POP3_STRHASH_H
#define POP3_STRHASH_H

#include <stdint.h>
#include <string.h>

#include "keyhash.h"

static inline uint64_t
strhash(const char *s)
{
	return keyhash(s, strlen(s));
}

#endif
