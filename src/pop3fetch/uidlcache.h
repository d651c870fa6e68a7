/*
 * uidlcache.h - pop3fetch's per-account state: which UIDLs are pending
 * (delivery begun, outcome unknown) or done (safely delivered), and when
 * each was fetched.  SQLite, one file per account under the state
 * directory, durable transactions (synchronous = FULL), and an
 * OFD lock so two runs never fetch one account at once.
 */
#ifndef FETCH_UIDLCACHE_H
#define FETCH_UIDLCACHE_H

#include <stddef.h>
#include <stdint.h>

enum uidl_state { UIDL_NONE, UIDL_PENDING, UIDL_DONE };

struct uidlcache;

/*
 * Opens (creating, mode 0600, and dir with 0700 if missing)
 * dir/<account>.db and locks dir/<account>.lock.  NULL with *errp
 * allocated: the directory or database cannot be made, or "account is
 * being fetched by another pop3fetch" (*busy set to 1).
 */
struct uidlcache *uidlcache_open(const char *dir, const char *account,
	    int *busy, char **errp);
void	uidlcache_free(struct uidlcache **);
/* State of uid, and when it was marked pending (UNIX seconds). */
int	uidlcache_get(struct uidlcache *, const char *uid,
	    enum uidl_state *st, int64_t *fetched);
/* Records uid as pending now (before delivery).  0 or -1. */
int	uidlcache_pending(struct uidlcache *, const char *uid);
/*
 * Marks uid done (after delivery, before DELE), adding the row (fetched
 * now) if there is none.  0 or -1.
 */
int	uidlcache_done(struct uidlcache *, const char *uid);
/*
 * Groups the changes up to uidlcache_commit() into one transaction,
 * durable when commit returns 0; a failed commit rolls back (none of the
 * changes is made).  rollback drops an open transaction.  0 or -1.
 */
int	uidlcache_begin(struct uidlcache *);
int	uidlcache_commit(struct uidlcache *);
void	uidlcache_rollback(struct uidlcache *);
/* Forgets uid (a delivery that surely failed).  0 or -1. */
int	uidlcache_forget(struct uidlcache *, const char *uid);
/*
 * Forgets every uid not in uids[0..n) (no longer on the server), in one
 * transaction.  0 or -1.
 */
int	uidlcache_prune(struct uidlcache *, char *const *uids, size_t n);
/* The last SQLite error (static until the next call). */
const char *uidlcache_errstr(struct uidlcache *);

#endif
