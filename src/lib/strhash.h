/*
 * strhash.h - FNV-1a over a NUL-terminated string, for the in-memory
 * tables keyed by user name or address (auth penalties, the credential
 * cache, per-address connection counts).  Not a defence against chosen
 * collisions: every table it serves is bounded in size.
 */
#ifndef POP3_STRHASH_H
#define POP3_STRHASH_H

#include <stdint.h>

static inline uint32_t
strhash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
