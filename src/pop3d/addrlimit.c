/*
 * addrlimit.c - address keys (IPv6 grouped by prefix) and the
 * per-address connection counts all workers share (addrlimit.h).
 *
 * Each worker slot owns a region: an open-addressing table with linear
 * probing, twice as many cells as the worker has connections, so a
 * probe ends at an empty cell within a few steps.  Only the slot's
 * worker writes its region, from one thread; the others only read it
 * (relaxed atomics: a count read while its owner changes it may be one
 * off for that instant; nothing read can make a reader loop or crash).
 * An admission counts itself, then checks the sum again, so two workers
 * taking the last place at once do not both keep it (but for a reader
 * that misses a count while another region's cells shift back after a
 * release: rare, and one over for that instant).  A cell whose count drops to zero
 * is emptied and the cells after it shifted back (Knuth's deletion for
 * linear probing), so the table never fills with dead keys.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "addrlimit.h"

struct cell {
	_Atomic uint64_t	 k[2];	/* the key's 16 bytes */
	_Atomic uint32_t	 fam;	/* the key's family; 0 = empty */
	_Atomic uint32_t	 n;	/* connections */
	uint64_t		 pad;	/* 32 bytes: a power of two */
};

struct addrtab {
	size_t		 nslots;
	size_t		 ncells;	/* per slot; a power of two */
	struct cell	*cells;		/* nslots * ncells, shared */
	size_t		 maplen;
};

/*
 * A slot fills whole pages, so clearing one gives its own pages back and
 * touches no other slot; and its cell count is a power of two, as the
 * probing's "& (ncells - 1)" needs.
 */
#define SLOT_CELLS_MIN	(4096 / sizeof(struct cell))
_Static_assert((sizeof(struct cell) & (sizeof(struct cell) - 1)) == 0 &&
    4096 % sizeof(struct cell) == 0 &&
    (SLOT_CELLS_MIN & (SLOT_CELLS_MIN - 1)) == 0, "cells fill pages");

static struct addrtab	*self_tab;	/* a worker's table and slot */
static size_t		 self_slot;

static void
key_v4(struct addrkey *k, const void *a)
{
	memset(k, 0, sizeof(*k));
	k->fam = 4;
	memcpy(k->b, a, 4);
}

static void
key_v6(struct addrkey *k, const uint8_t a[16], int v6prefix)
{
	int	i, bits;

	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a)) {
		key_v4(k, a + 12);
		return;
	}
	memset(k, 0, sizeof(*k));
	k->fam = 6;
	memcpy(k->b, a, 16);
	if (v6prefix < 1 || v6prefix > 128)
		v6prefix = 128;
	for (i = 0; i < 16; i++) {
		bits = v6prefix - i * 8;
		if (bits < 8)
			k->b[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

void
addrkey_from_sockaddr(struct addrkey *k, const struct sockaddr *sa,
    int v6prefix)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		key_v4(k, &sin.sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		key_v6(k, sin6.sin6_addr.s6_addr, v6prefix);
	}
}

int
addrkey_from_str(struct addrkey *k, const char *s, int v6prefix)
{
	uint8_t	a[16];

	if (inet_pton(AF_INET, s, a) == 1) {
		key_v4(k, a);
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		key_v6(k, a, v6prefix);
		return 0;
	}
	memset(k, 0, sizeof(*k));
	return -1;
}

const char *
addrkey_str(const struct addrkey *k, int v6prefix, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];

	if (k->fam == 4 && inet_ntop(AF_INET, k->b, a, sizeof(a)) != NULL)
		snprintf(buf, len, "%s", a);
	else if (k->fam == 6 && inet_ntop(AF_INET6, k->b, a, sizeof(a)) !=
	    NULL)
		snprintf(buf, len, v6prefix >= 1 && v6prefix < 128 ? "%s/%d" :
		    "%s", a, v6prefix);
	else
		snprintf(buf, len, "-");
	return buf;
}

int
addrkey_eq(const struct addrkey *a, const struct addrkey *b)
{
	return a->fam == b->fam && memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* The two words of a key. */
static void
key_words(const struct addrkey *k, uint64_t w[2])
{
	memcpy(&w[0], k->b, 8);
	memcpy(&w[1], k->b + 8, 8);
}

/* Where a key starts probing (a 64-bit mix of both words). */
static uint32_t
words_hash(uint32_t fam, const uint64_t w[2])
{
	uint64_t	x = (w[0] + fam) * 0x9e3779b97f4a7c15ull ^ w[1];

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (uint32_t)x;
}

struct addrtab *
addrtab_new(size_t nslots, size_t per_slot)
{
	struct addrtab	*t;
	size_t		 ncells = SLOT_CELLS_MIN;
	void		*p;

	while (ncells < per_slot * 2 && ncells < ((size_t)1 << 30))
		ncells <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->nslots = nslots;
	t->ncells = ncells;
	t->maplen = nslots * ncells * sizeof(struct cell);
	/* Pages are taken as addresses come: a slot costs what it holds. */
	p = mmap(NULL, t->maplen, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		free(t);
		return NULL;
	}
	t->cells = p;
	return t;
}

void
addrtab_free(struct addrtab *t)
{
	if (t == NULL)
		return;
	(void)munmap(t->cells, t->maplen);
	free(t);
}

void
addrtab_clear_slot(struct addrtab *t, size_t slot)
{
	struct cell	*c;
	size_t		 i;

	if (slot >= t->nslots)
		return;
	c = t->cells + slot * t->ncells;
	/* Shared anonymous memory: the pages go, zeros come back. */
	if (madvise(c, t->ncells * sizeof(*c), MADV_REMOVE) == 0)
		return;
	for (i = 0; i < t->ncells; i++) {
		atomic_store_explicit(&c[i].fam, 0, memory_order_release);
		atomic_store_explicit(&c[i].n, 0, memory_order_relaxed);
	}
}

static int
cell_empty(const struct cell *c)
{
	return atomic_load_explicit(&c->fam, memory_order_acquire) == 0;
}

static int
cell_is(const struct cell *c, uint32_t fam, const uint64_t w[2])
{
	return atomic_load_explicit(&c->fam, memory_order_acquire) == fam &&
	    atomic_load_explicit(&c->k[0], memory_order_relaxed) == w[0] &&
	    atomic_load_explicit(&c->k[1], memory_order_relaxed) == w[1];
}

/*
 * The cell of w in region r, or with create the empty cell it goes to;
 * NULL if absent (or, with create, if the region is full, which its
 * size rules out while the worker keeps to its connection share).
 */
static struct cell *
find(struct cell *r, size_t ncells, uint32_t fam, const uint64_t w[2],
    int create)
{
	uint32_t	h = words_hash(fam, w);
	size_t		i, j;

	for (j = 0; j < ncells; j++) {
		i = (h + j) & (ncells - 1);
		if (cell_is(&r[i], fam, w))
			return &r[i];
		if (cell_empty(&r[i]))
			return create ? &r[i] : NULL;
	}
	return NULL;
}

long
addrtab_count(const struct addrtab *t, const struct addrkey *k)
{
	const struct cell	*c;
	uint64_t		 w[2];
	size_t			 s;
	long			 sum = 0;

	if (k->fam == 0)
		return 0;
	key_words(k, w);
	for (s = 0; s < t->nslots; s++) {
		c = find(t->cells + s * t->ncells, t->ncells, k->fam, w, 0);
		if (c != NULL)
			sum += (long)atomic_load_explicit(&c->n,
			    memory_order_relaxed);
	}
	return sum;
}

int
addrtab_admit(struct addrtab *t, size_t slot, const struct addrkey *k,
    long limit)
{
	struct cell	*c;
	uint64_t	 w[2];

	if (k->fam == 0 || slot >= t->nslots)
		return 1;
	if (limit > 0 && addrtab_count(t, k) >= limit)
		return 0;
	key_words(k, w);
	c = find(t->cells + slot * t->ncells, t->ncells, k->fam, w, 1);
	if (c == NULL)
		return limit > 0 ? 0 : 1;
	if (cell_empty(c)) {
		/* fam last: a reader that sees it sees the key. */
		atomic_store_explicit(&c->n, 0, memory_order_relaxed);
		atomic_store_explicit(&c->k[0], w[0], memory_order_relaxed);
		atomic_store_explicit(&c->k[1], w[1], memory_order_relaxed);
		atomic_store_explicit(&c->fam, k->fam, memory_order_release);
	}
	atomic_fetch_add_explicit(&c->n, 1, memory_order_seq_cst);
	/*
	 * Counted first, checked again after: of two workers admitting the
	 * last place at once, at least one sees both and backs out (both,
	 * at worst: a refusal).
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (limit > 0 && addrtab_count(t, k) > limit) {
		addrtab_release(t, slot, k);
		return 0;
	}
	return 1;
}

/* Empties cell i of region r and closes the gap in its probe run. */
static void
delete_at(struct cell *r, size_t ncells, size_t i)
{
	size_t		 j = i, home;
	uint64_t	 w[2];
	uint32_t	 fam;

	for (;;) {
		atomic_store_explicit(&r[i].fam, 0, memory_order_release);
		atomic_store_explicit(&r[i].n, 0, memory_order_relaxed);
		for (;;) {
			j = (j + 1) & (ncells - 1);
			if (cell_empty(&r[j]))
				return;
			fam = atomic_load_explicit(&r[j].fam,
			    memory_order_relaxed);
			w[0] = atomic_load_explicit(&r[j].k[0],
			    memory_order_relaxed);
			w[1] = atomic_load_explicit(&r[j].k[1],
			    memory_order_relaxed);
			/* Where the key in j starts probing: it may move
			   back to i unless that start lies in (i, j]. */
			home = words_hash(fam, w) & (ncells - 1);
			if (!(i <= j ? (i < home && home <= j) :
			    (i < home || home <= j)))
				break;
		}
		atomic_store_explicit(&r[i].n, atomic_load_explicit(&r[j].n,
		    memory_order_relaxed), memory_order_relaxed);
		atomic_store_explicit(&r[i].k[0], w[0], memory_order_relaxed);
		atomic_store_explicit(&r[i].k[1], w[1], memory_order_relaxed);
		atomic_store_explicit(&r[i].fam, fam, memory_order_release);
		i = j;
	}
}

void
addrtab_release(struct addrtab *t, size_t slot, const struct addrkey *k)
{
	struct cell	*r, *c;
	uint64_t	 w[2];

	if (k->fam == 0 || slot >= t->nslots)
		return;
	key_words(k, w);
	r = t->cells + slot * t->ncells;
	if ((c = find(r, t->ncells, k->fam, w, 0)) == NULL)
		return;
	if (atomic_load_explicit(&c->n, memory_order_relaxed) > 1) {
		atomic_fetch_sub_explicit(&c->n, 1, memory_order_relaxed);
		return;
	}
	delete_at(r, t->ncells, (size_t)(c - r));
}

size_t
addrtab_slot_cells(const struct addrtab *t)
{
	return t->ncells;
}

void
addrlimit_attach(struct addrtab *t, size_t slot)
{
	self_tab = t;
	self_slot = slot;
}

int
addrlimit_admit(const struct addrkey *k, long limit)
{
	return self_tab == NULL ? 1 : addrtab_admit(self_tab, self_slot, k,
	    limit);
}

void
addrlimit_release(const struct addrkey *k)
{
	if (self_tab != NULL)
		addrtab_release(self_tab, self_slot, k);
}

int
addrlimit_room(const struct addrkey *k, long limit)
{
	return self_tab == NULL || limit <= 0 || k->fam == 0 ||
	    addrtab_count(self_tab, k) < limit;
}

int
sockaddr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*a;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		a = sin6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
	}
	return 0;
}
