/*
 * user_pgsql.h - "pop3ctl user" on accounts in PostgreSQL (backend =
 * pgsql): the [pgsql] statements in place of passwd-file edits, with
 * the same statuses (passwd_edit.h) so user.c treats both alike.
 */
#ifndef POP3CTL_USER_PGSQL_H
#define POP3CTL_USER_PGSQL_H

#include "passwd.h"
#include "passwd_edit.h"
#include "pop3d_config.h"

/*
 * One change, in a transaction: ADD (user_insert: user, hash, home or
 * NULL), SET (password_update), DEL (user_delete), LOCK and UNLOCK
 * (lock_update, unlock_update; no row changed: UNCHANGED if the user
 * exists, else NOUSER).  No row changed by SET or DEL: NOUSER; by ADD:
 * IOERR.  More than one row: rolled back, IOERR.  A database that cannot
 * be reached: BUSY (try again); a statement that fails: IOERR.  *errp
 * as for passwd_edit_file (allocated; every status but OK).
 */
enum passwd_edit_status upg_edit(const struct config *cfg,
	    enum passwd_edit_op op, const char *user, const char *hash,
	    const char *home, char **errp);

/*
 * The user's row (user_query) into e: 1 (the caller clears e), 0 if
 * there is none; 2 if the row is there but its password is NULL or
 * cannot be read (e empty but for the name's absence; *errp says why);
 * -1 with *errp (allocated), -2 with *errp if the database did not
 * answer (try again).
 */
int	upg_find(const struct config *cfg, const char *user,
	    struct passwd_entry *e, char **errp);

/*
 * user list: prints the users with scheme and state on stdout; a
 * sysexits code, with *errp (allocated) unless EX_OK.
 */
int	upg_list(const struct config *cfg, char **errp);

/* Closes the connection (if one was made). */
void	upg_close(void);

#endif
