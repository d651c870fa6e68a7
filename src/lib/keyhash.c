/*
 * keyhash.c - SipHash-2-4 (Aumasson and Bernstein) with a per-process
 * key from the kernel's random, drawn at the first use; see keyhash.h.
 * Thread-safe.
 */
#include <sys/random.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "keyhash.h"

static unsigned char	 proc_key[16];
static pthread_once_t	 key_once = PTHREAD_ONCE_INIT;

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const unsigned char *p, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t
keyhash_with(const unsigned char k[16], const void *p, size_t len)
{
	const unsigned char	*s = p;
	uint64_t		 k0 = le64(k, 8), k1 = le64(k + 8, 8), m;
	uint64_t		 v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t		 v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t		 v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t		 v3 = k1 ^ 0x7465646279746573ULL;
	size_t			 i, left = len % 8;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(s + i, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = le64(s + i, left) | (uint64_t)len << 56;
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void
key_init(void)
{
	struct timespec	ts;
	uint64_t	t;

	if (RAND_bytes(proc_key, sizeof(proc_key)) == 1 ||
	    getrandom(proc_key, sizeof(proc_key), 0) ==
	    (ssize_t)sizeof(proc_key))
		return;
	/* No random at all: still not a key known in advance. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^
	    (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)&ts;
	memcpy(proc_key, &t, sizeof(t));
	clock_gettime(CLOCK_REALTIME, &ts);
	t = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20;
	memcpy(proc_key + 8, &t, sizeof(t));
}

uint64_t
keyhash(const void *p, size_t len)
{
	pthread_once(&key_once, key_init);
	return keyhash_with(proc_key, p, len);
}
