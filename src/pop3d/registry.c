/*
 * registry.c - a worker's sessions by slot and id (registry.h).  A slot
 * array sized at start; an id joins the worker's pid, a sequence number
 * and the slot, so an answer for a session that left (and whose slot was
 * taken again) finds nothing.
 */
#include <unistd.h>

#include "log.h"
#include "pop3_limits.h"
#include "registry.h"
#include "xmalloc.h"

#define SLOT_BITS	20
#define SEQ_BITS	22
#define SLOT_MASK	((1u << SLOT_BITS) - 1)
_Static_assert(SESSION_SLOTS_MAX == SLOT_MASK, "slot bits");

struct slot {
	struct session	*s;
	uint64_t	 id;
};

static struct slot	*slots;
static size_t		 nslots, nsessions, free_hint;
static uint64_t		 seq;

void
registry_init(size_t max)
{
	nslots = max > SLOT_MASK ? SLOT_MASK : max;
	slots = xcalloc(nslots, sizeof(*slots));
}

uint64_t
registry_add(struct session *s)
{
	size_t	i, k;

	for (k = 0; k < nslots; k++) {
		i = (free_hint + k) % nslots;
		if (slots[i].s == NULL)
			break;
	}
	if (k == nslots)
		fatalx("session registry full");	/* accept checks first */
	free_hint = i + 1;
	nsessions++;
	seq = (seq + 1) & ((1u << SEQ_BITS) - 1);
	slots[i].s = s;
	slots[i].id = ((uint64_t)getpid() << (SLOT_BITS + SEQ_BITS)) |
	    (seq << SLOT_BITS) | i;
	return slots[i].id;
}

void
registry_remove(uint64_t id)
{
	size_t	i = (size_t)(id & SLOT_MASK);

	if (i < nslots && slots[i].s != NULL && slots[i].id == id) {
		slots[i].s = NULL;
		nsessions--;
	}
}

struct session *
registry_find(uint64_t id)
{
	size_t	i = (size_t)(id & SLOT_MASK);

	if (i < nslots && slots[i].s != NULL && slots[i].id == id)
		return slots[i].s;
	return NULL;
}

size_t
registry_count(void)
{
	return nsessions;
}

size_t
registry_slots(void)
{
	return nslots;
}

struct session *
registry_at(size_t i)
{
	return i < nslots ? slots[i].s : NULL;
}
