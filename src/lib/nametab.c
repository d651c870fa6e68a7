/*
 * nametab.c - the index of listed Maildir names (nametab.h) that the
 * Dovecot and Courier readers share.  Library code: pop3d's job
 * threads and pop3ctl.
 */
#include <stdlib.h>
#include <string.h>

#include "keyhash.h"
#include "maildir.h"
#include "nametab.h"
#include "xmalloc.h"

static const char *
ent_name(const struct nametab *t, uint32_t slot)
{
	const char	*p = t->ents + (size_t)(slot - 1) * t->stride + t->off;
	const char	*name;

	memcpy(&name, p, sizeof(name));
	return name;
}

void
nametab_init(struct nametab *t, const void *ents, size_t n, size_t stride,
    size_t off)
{
	size_t	size = 16;

	while (size < 2 * n)
		size *= 2;
	t->mask = size - 1;
	t->base = xcalloc(size, sizeof(*t->base));
	t->uniq = xcalloc(size, sizeof(*t->uniq));
	t->ents = ents;
	t->stride = stride;
	t->off = off;
}

void
nametab_free(struct nametab *t)
{
	free(t->base);
	free(t->uniq);
	t->base = t->uniq = NULL;
}

/* The slot of (key, len) in tab, where entries are keyed by stop. */
static uint32_t *
slot_of(const struct nametab *t, uint32_t *tab, const char *stop,
    const char *key, size_t len)
{
	size_t		 i = (size_t)keyhash(key, len) & t->mask;
	const char	*name;

	for (;; i = (i + 1) & t->mask) {
		if (tab[i] == 0)
			return &tab[i];
		name = ent_name(t, tab[i]);
		if (strcspn(name, stop) == len && memcmp(name, key, len) == 0)
			return &tab[i];
	}
}

uint32_t *
nametab_base_slot(const struct nametab *t, const char *key, size_t len)
{
	return slot_of(t, t->base, ":", key, len);
}

uint32_t *
nametab_uniq_slot(const struct nametab *t, const char *key)
{
	return slot_of(t, t->uniq, ",:", key, strcspn(key, ",:"));
}

uint32_t
nametab_find_name(const struct nametab *t, const char *filename)
{
	const uint32_t	*slot;
	size_t		 n = strcspn(filename, ":"), m;

	slot = nametab_base_slot(t, filename, n);
	for (; *slot == 0 && (m = maildir_strip_ours(filename, n)) != n;
	    n = m)
		slot = nametab_base_slot(t, filename, m);
	return *slot;
}

uint32_t
nametab_find(const struct nametab *t, const char *filename)
{
	uint32_t	k;

	if ((k = nametab_find_name(t, filename)) != 0)
		return k;
	return *nametab_uniq_slot(t, filename);
}
