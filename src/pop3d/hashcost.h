/*
 * hashcost.h - every failed login costs the same time (hashcost.c).
 * Auth process only.
 */
#ifndef POP3D_HASHCOST_H
#define POP3D_HASHCOST_H

#include <stddef.h>
#include <stdint.h>

#include "passwd.h"

struct hashcost;

/*
 * Times one verification of each cost class in db (at most 16) and
 * takes the costliest as the dummy; with no crypt hash in db, a fresh
 * yescrypt one.  Slow on purpose (tens of ms per class, once per load
 * of the file): call it before taking the lock the verifications read
 * under.  Logins arriving meanwhile wait, as for the load itself: they
 * must see the file as it is now.
 */
struct hashcost	*hashcost_new(const struct passwd_db *db);
void		 hashcost_free(struct hashcost *);
/* 1 if e's class was timed (or needs no timing, or no room is left). */
int		 hashcost_knows(const struct hashcost *,
		    const struct passwd_entry *e);

/*
 * Verifies secret against e (NULL: an unknown user, never a match) as
 * passwd_verify() does; a failure then costs what the dummy costs (the
 * work, or the wait).  Returns 1 on a match.  Thread-safe.
 */
int		 hashcost_verify(const struct hashcost *,
		    const struct passwd_entry *e, const char *secret);
/* The dummy's class ("$y$j9T"), for the load's log line. */
const char	*hashcost_dummy_class(const struct hashcost *, char *,
		    size_t);

#endif
