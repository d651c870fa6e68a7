/*
 * auth_pgsql.h - accounts in PostgreSQL for the auth process
 * (backend = pgsql): one connection per pool thread, the user_query
 * prepared on each, and the database's state (up, or down since a
 * failure) that decides whether a login is answered [SYS/TEMP] at once.
 */
#ifndef POP3D_AUTH_PGSQL_H
#define POP3D_AUTH_PGSQL_H

#include <pthread.h>
#include <stddef.h>

#include "passwd.h"
#include "pop3d_config.h"

enum authpg_res {
	AUTHPG_FOUND,		/* *e filled: the caller clears it */
	AUTHPG_NOUSER,		/* no row (or a NULL or empty hash) */
	AUTHPG_DOWN,		/* no answer: [SYS/TEMP], not a failure */
};

struct hashcost;

/*
 * Sets up the slots, times the reference hash a failed login costs (a
 * fresh yescrypt one, until authpg_learn() sees costlier; returned),
 * and starts pg_pool threads pool_fn(slot).  cfg stays valid (the auth
 * process's copy); the settings count until a restart.
 */
struct hashcost *authpg_start(const struct config *cfg,
	    void *(*pool_fn)(void *));

/*
 * 0 while the database is down and the next try is not due yet (a
 * second after the last failure): answer [SYS/TEMP] without queueing.
 */
int	authpg_ready(void);

/*
 * A login handed to the pool is stamped (authpg_stamp()); one that
 * waited there longer than the timeout is late (1; logged once a
 * minute) and gets [SYS/TEMP] without a query, so no login waits
 * much more than twice the timeout, however long the queue.
 */
long long authpg_stamp(void);
int	authpg_late(long long stamp);

/*
 * Connects slot (at a pool thread's start, so that the first login
 * finds a connection and an outage at start is logged at once), once
 * authpg_go() was called: the auth process calls it when its sandbox
 * is on, so no connect (a DNS lookup) runs half before, half after.
 */
void	authpg_open(size_t slot);
void	authpg_go(void);

/*
 * Looks user up on pool connection slot (0 .. pg_pool - 1; one thread
 * each), connecting and preparing first if needed, and once more on a
 * new connection if an old one turns out closed or refuses the
 * statement (any error closes it; not if it is only slow).  Blocks up to about twice the timeout (a query on a closed
 * connection fails at once).  The row's values are wiped before they are freed.
 */
enum authpg_res authpg_lookup(size_t slot, const char *user,
	    struct passwd_entry *e);

/*
 * A failed login costs the costliest hash class of the table (as with
 * the passwd-file, hashcost.c), but no file lists the classes: each
 * row found is passed here, and a class not timed yet is timed (with
 * those before; tens of ms each, once per class) and a new hashcost
 * swapped into *hcp under lk (write).  So an unknown user costs what a
 * wrong password costs for any class a login has brought since start.
 */
void	authpg_learn(const struct passwd_entry *e, pthread_rwlock_t *lk,
	    struct hashcost **hcp);

#endif
