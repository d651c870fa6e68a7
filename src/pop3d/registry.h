/*
 * registry.h - a worker's sessions by slot and id (registry.c): ids for
 * answers that come back later (the auth process, job threads) and the
 * count the connection limits use.  Knows sessions only as pointers.
 * Worker processes, loop thread only.
 */
#ifndef POP3D_REGISTRY_H
#define POP3D_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct session;

/* Sessions one worker can hold: what the slot bits of an id count. */
#define SESSION_SLOTS_MAX	((1u << 20) - 1)

/* Room for max sessions (at most SESSION_SLOTS_MAX). */
void		 registry_init(size_t max);
/* Adds s; its id: the worker's pid, a sequence number, the slot. */
uint64_t	 registry_add(struct session *s);
void		 registry_remove(uint64_t id);
/* The session of id, NULL if it is gone (the slot reused or empty). */
struct session	*registry_find(uint64_t id);
size_t		 registry_count(void);
size_t		 registry_slots(void);
/* The session in slot i (< registry_slots()), NULL if free. */
struct session	*registry_at(size_t i);

#endif
