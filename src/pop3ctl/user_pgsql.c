/*
 * user_pgsql.c - "pop3ctl user" on accounts in PostgreSQL (backend =
 * pgsql; user_pgsql.h): one connection for the command, the [pgsql]
 * statements run with the user, hash and home as parameters, answers
 * mapped to passwd_edit's statuses.  The hash read back is wiped.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "pgsql.h"
#include "user_pgsql.h"
#include "xmalloc.h"

static PGconn	*conn;

/* The connection, made at the first need.  NULL after a message. */
static PGconn *
upg_conn(const struct config *cfg, char **errp)
{
	char	err[PGSQL_ERR_MAX];

	if (conn == NULL && (conn = pgsql_connect(cfg, "pop3ctl", err,
	    sizeof(err))) == NULL)
		xasprintf(errp, "database: %s", err);
	return conn;
}

void
upg_close(void)
{
	if (conn != NULL)
		PQfinish(conn);
	conn = NULL;
}

/*
 * Runs sql with params; the result, or NULL with *errp (*down set if
 * the database did not answer: connect, broken, timeout).
 */
static PGresult *
upg_exec(const struct config *cfg, const char *key, const char *sql, int n,
    const char *const *params, int *down, char **errp)
{
	PGresult	*r;
	char		 err[PGSQL_ERR_MAX];
	int		 broken;

	*down = 1;
	if (upg_conn(cfg, errp) == NULL)
		return NULL;
	if ((r = pgsql_exec(conn, NULL, sql, n, params,
	    (int)cfg->pg_timeout * 1000, &broken, err, sizeof(err))) == NULL) {
		*down = broken;
		xasprintf(errp, "database: %s: %s", key, err);
		if (broken)
			upg_close();
	}
	return r;
}

int
upg_find(const struct config *cfg, const char *user, struct passwd_entry *e,
    char **errp)
{
	PGresult	*r;
	const char	*why, *v[3];
	int		 down, f[3], i, rv = 0;

	if ((r = upg_exec(cfg, "user_query", cfg->pg_user_query, 1, &user,
	    &down, errp)) == NULL)
		return down ? -2 : -1;
	if ((f[0] = PQfnumber(r, "password")) < 0)
		f[0] = 0;
	f[1] = PQfnumber(r, "home");
	f[2] = PQfnumber(r, "expire_days");
	if (PQntuples(r) > 1) {
		xasprintf(errp, "database: user_query gives %d rows for %s",
		    PQntuples(r), user);
		rv = -1;
	} else if (PQntuples(r) == 1 && PQnfields(r) > 0) {
		for (i = 0; i < 3; i++)
			v[i] = f[i] >= 0 && !PQgetisnull(r, 0, f[i]) ?
			    PQgetvalue(r, 0, f[i]) : NULL;
		if (v[0] != NULL && passwd_entry_fields(e, user, v[0], v[1],
		    v[2], &why) == 0)
			rv = 1;
		else {
			/* There, but no password it could log in with. */
			memset(e, 0, sizeof(*e));
			e->expire_days = -1;
			xasprintf(errp, "database: user %s has no usable "
			    "password (%s)", user, v[0] == NULL ? "NULL" :
			    why);
			rv = 2;
		}
	}
	pgsql_wipe(r);
	PQclear(r);
	return rv;
}

/* Ends the transaction (COMMIT or ROLLBACK): 0, or -1. */
static int
upg_end(const struct config *cfg, const char *how)
{
	PGresult	*r;
	char		*err = NULL;
	int		 down;

	/* A connection that broke has no transaction left to end. */
	if (conn == NULL)
		return -1;
	if ((r = upg_exec(cfg, how, how, 0, NULL, &down, &err)) == NULL) {
		free(err);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* The statement of each op (passwd_edit_op order) and its $N. */
static const struct {
	const char	*key;
	size_t		 off;
	int		 n;
} stmts[] = {
	[PASSWD_EDIT_ADD] = { "user_insert",
	    offsetof(struct config, pg_user_insert), 3 },
	[PASSWD_EDIT_SET] = { "password_update",
	    offsetof(struct config, pg_password_update), 2 },
	[PASSWD_EDIT_DEL] = { "user_delete",
	    offsetof(struct config, pg_user_delete), 1 },
	[PASSWD_EDIT_LOCK] = { "lock_update",
	    offsetof(struct config, pg_lock_update), 1 },
	[PASSWD_EDIT_UNLOCK] = { "unlock_update",
	    offsetof(struct config, pg_unlock_update), 1 },
};

enum passwd_edit_status
upg_edit(const struct config *cfg, enum passwd_edit_op op, const char *user,
    const char *hash, const char *home, char **errp)
{
	struct passwd_entry	 e;
	PGresult		*r;
	const char		*params[3] = { user, hash, home }, *key, *sql;
	int			 n, down, rows;

	key = stmts[op].key;
	sql = *(char *const *)(const void *)((const char *)cfg +
	    stmts[op].off);
	n = stmts[op].n;
	/* In a transaction: a statement that would change several rows
	   (a table without a key on the name) changes none. */
	if ((r = upg_exec(cfg, key, "BEGIN", 0, NULL, &down, errp)) == NULL)
		return down ? PASSWD_EDIT_BUSY : PASSWD_EDIT_IOERR;
	PQclear(r);
	if ((r = upg_exec(cfg, key, sql, n, params, &down, errp)) == NULL) {
		upg_end(cfg, "ROLLBACK");
		return down ? PASSWD_EDIT_BUSY : PASSWD_EDIT_IOERR;
	}
	rows = atoi(PQcmdTuples(r));
	PQclear(r);
	if (rows > 1) {
		upg_end(cfg, "ROLLBACK");
		xasprintf(errp, "database: %s would change %d rows for %s; "
		    "nothing changed (the user name must be a key)", key, rows,
		    user);
		return PASSWD_EDIT_IOERR;
	}
	if (upg_end(cfg, "COMMIT") == -1) {
		xasprintf(errp, "database: %s: the change may not have been "
		    "made (COMMIT failed)", key);
		return PASSWD_EDIT_BUSY;
	}
	if (rows == 1)
		return PASSWD_EDIT_OK;
	if (op == PASSWD_EDIT_ADD) {
		xasprintf(errp, "database: %s changed no row: %s not added",
		    key, user);
		return PASSWD_EDIT_IOERR;
	}
	if (op == PASSWD_EDIT_LOCK || op == PASSWD_EDIT_UNLOCK) {
		switch (upg_find(cfg, user, &e, errp)) {
		case -2:
			return PASSWD_EDIT_BUSY;
		case -1:
			return PASSWD_EDIT_IOERR;
		case 1:
		case 2:
			passwd_entry_clear(&e);
			free(*errp);
			*errp = NULL;
			xasprintf(errp, "user %s is %s already", user,
			    op == PASSWD_EDIT_LOCK ? "locked" : "unlocked");
			return PASSWD_EDIT_UNCHANGED;
		}
	}
	xasprintf(errp, "database: no such user %s", user);
	return PASSWD_EDIT_NOUSER;
}

int
upg_list(const struct config *cfg, char **errp)
{
	struct passwd_entry	 e;
	PGresult		*r;
	const char		*why;
	int			 i, down;

	if ((r = upg_exec(cfg, "user_list", cfg->pg_user_list, 0, NULL, &down,
	    errp)) == NULL)
		return down ? EX_TEMPFAIL : EX_IOERR;
	printf("%-32s %-13s %s\n", "USER", "SCHEME", "STATE");
	for (i = 0; i < PQntuples(r) && PQnfields(r) >= 2; i++) {
		if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 1) ||
		    passwd_entry_fields(&e, PQgetvalue(r, i, 0),
		    PQgetvalue(r, i, 1), NULL, NULL, &why) == -1) {
			/* A name that is no user name is not printed. */
			printf("%-32s %-13s %s\n", !PQgetisnull(r, i, 0) &&
			    passwd_valid_user(PQgetvalue(r, i, 0),
			    strlen(PQgetvalue(r, i, 0))) ? PQgetvalue(r, i, 0) :
			    "(invalid name)", "-", "invalid");
			continue;
		}
		printf("%-32s %-13s %s\n", e.user, passwd_scheme_str(e.scheme),
		    e.locked ? "locked" : "active");
		passwd_entry_clear(&e);
	}
	pgsql_wipe(r);
	PQclear(r);
	return EX_OK;
}
