/*
 * pgsql.h - the PostgreSQL client both pop3d's auth process (accounts,
 * auth_pgsql.c) and pop3ctl (user add/passwd/lock/del/list) use: the
 * [pgsql] conninfo checked, a connection made with the timeout, and
 * statements run with parameters (never text put into SQL) under a
 * deadline kept on this side, so a database that hangs cannot hold a
 * caller longer than the timeout.  libpq (pkg-config libpq).
 */
#ifndef POP3_PGSQL_H
#define POP3_PGSQL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "pop3d_config.h"

/* Room for one error message of this module (one line, no secret). */
#define PGSQL_ERR_MAX	256

/*
 * backend = pgsql: the conninfo parses as a libpq connection string.
 * Appends "file:line: conninfo: message" to errs; libpq's own message
 * only if the string holds no password (it may quote a piece of it).
 * Returns the number of errors (0 or 1).
 */
int	pgsql_config_check(const struct config *cfg, struct buf *errs);

/*
 * Connects with cfg's conninfo and application_name = appname (unless
 * the conninfo sets one), and sets the session's statement_timeout to
 * pg_timeout.  libpq waits pg_timeout (at least 2 s) for each address
 * it tries, so a silent host of several is passed over for the next;
 * a host name's lookup has the resolver's own timeouts; the SET has
 * pg_timeout.  The connection is then in non-blocking mode.
 * Returns it, or NULL with a one-line message in err.
 */
PGconn	*pgsql_connect(const struct config *cfg, const char *appname,
	    char *err, size_t errlen);

/*
 * Runs one statement: prepared (name not NULL: sql was prepared under
 * it) or with its text, text parameters params[0..n-1] (NULL: SQL
 * NULL), and waits at most timeout_ms for the whole answer.  Returns
 * the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK; the caller clears
 * it), or NULL with a one-line message in err; *broken is then set
 * when the connection is no longer usable: 1 closed by the server (or
 * an I/O error), PGSQL_TIMEDOUT the deadline passed with the answer
 * still out.  Close it either way.
 */
#define PGSQL_TIMEDOUT	2
PGresult *pgsql_exec(PGconn *c, const char *name, const char *sql, int n,
	    const char *const *params, int timeout_ms, int *broken,
	    char *err, size_t errlen);

/*
 * Prepares sql under name and describes it (the result lists its
 * columns: PQnfields, PQfname), both within timeout_ms.  Returns that
 * description, or NULL as pgsql_exec.
 */
PGresult *pgsql_prepare(PGconn *c, const char *name, const char *sql,
	    int n, int timeout_ms, int *broken, char *err, size_t errlen);

/* Milliseconds of CLOCK_MONOTONIC: the deadlines here and the
   database's state in pop3d's auth process. */
long long pgsql_now_ms(void);

/* Overwrites every value of res (a hash in it), before PQclear. */
void	pgsql_wipe(PGresult *res);

#endif
