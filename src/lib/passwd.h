/*
 * passwd.h - the passwd-file ("user:hash[:extra...]", Dovecot-compatible
 * where reasonable) and password verification with crypt(3) (libxcrypt).
 * Used by pop3d's auth process (and later pop3ctl).  File content is
 * trusted only as far as root wrote it: still bounded and checked.
 */
#ifndef POP3_PASSWD_H
#define POP3_PASSWD_H

#include <stddef.h>

#include "pop3_limits.h"

enum passwd_scheme {
	PASSWD_SCHEME_UNKNOWN,
	PASSWD_SCHEME_YESCRYPT,		/* $y$  or {YESCRYPT} */
	PASSWD_SCHEME_SHA512_CRYPT,	/* $6$  or {SHA512-CRYPT} */
	PASSWD_SCHEME_SHA256_CRYPT,	/* $5$  or {SHA256-CRYPT} */
	PASSWD_SCHEME_BCRYPT,		/* $2b$ $2y$ $2a$ or {BLF-CRYPT} */
	PASSWD_SCHEME_PLAIN,		/* {PLAIN} or {CLEARTEXT}: for APOP only */
};
const char *passwd_scheme_str(enum passwd_scheme);

struct passwd_entry {
	char			*user;	/* owned */
	char			*hash;	/* owned; crypt(3) string, prefix stripped;
					   for PLAIN the secret itself */
	enum passwd_scheme	 scheme;
	int			 locked;	/* hash field started with '!' */
	int			 expire_days;	/* extra field expire_days=N
						   (0..PASSWD_EXPIRE_MAX), -1 if
						   none, -2 for "never" */
	char			*home;	/* owned; the 6th field, NULL if empty
					   (or bad: see warn) */
	const char		*warn;	/* static: a field after the hash was
					   bad and is left out, or NULL */
};
#define PASSWD_EXPIRE_MAX	36500

/*
 * Parses one line (without its newline) into e, allocating user and
 * hash.  Blank lines and lines starting with '#' return 1 (nothing
 * filled).  Returns 0 on success, or -1 with *errstr: "missing ':'",
 * "invalid user name" (see passwd_valid_user), "empty hash",
 * "line too long", "line contains NUL".  The fields after the hash are
 * Dovecot's: uid:gid:gecos:home:shell:extra.  uid, gid, gecos and shell
 * are ignored (pop3d serves every Maildir as its one mail user); home
 * is kept (if absolute and shorter than POP3_HOME_MAX); extra is
 * space-separated key=value pairs (a "userdb_" prefix is dropped), of
 * which expire_days=N|never is used and the rest ignored.  A bad home or
 * expire_days is left out and named in e->warn: the line stays valid.
 * A leading "{SCHEME}" (case-insensitive) is removed from the stored
 * hash and decides the scheme; {CRYPT} and no tag mean the crypt prefix
 * does.  An unknown tag, or a crypt tag whose hash lacks the matching
 * prefix, gives PASSWD_SCHEME_UNKNOWN: the line is valid but nothing
 * verifies against it.  A '!' before the tag or the hash (or right
 * after a crypt tag) sets locked; after {PLAIN} it is part of the secret.
 */
int	passwd_parse_line(const char *line, size_t len,
	    struct passwd_entry *e, const char **errstr);
void	passwd_entry_clear(struct passwd_entry *);

/*
 * The same entry from separate fields, as a database row gives them:
 * hash as the passwd-file's hash field (lock mark, scheme tag), home
 * NULL or "" for none, expire_days NULL for none, else a number of
 * days or "never".  A bad home or expire_days is left out with e->warn
 * set, as for a line.  Returns 0, or -1 with *errstr ("invalid user
 * name", "empty hash", "hash too long"; nothing is allocated then).
 */
int	passwd_entry_fields(struct passwd_entry *e, const char *user,
	    const char *hash, const char *home, const char *expire_days,
	    const char **errstr);

/*
 * User names: 1..POP3_USER_MAX octets of [A-Za-z0-9._@+-], not starting
 * with '.' or '-'.  Safe to use as a path component.  Returns 1 if valid.
 */
int	passwd_valid_user(const char *user, size_t len);

/*
 * Verifies secret against e's hash (crypt_rn, or a constant-time compare
 * for PLAIN).  Returns 1 on match, 0 otherwise (including locked entries
 * and unknown schemes; the work is done anyway, so timing does not tell).
 * Thread-safe.
 */
int	passwd_verify(const struct passwd_entry *e, const char *secret);

/*
 * A new yescrypt hash of secret in out (size outlen, at least 128).
 * Returns 0, or -1 (errno set) if libxcrypt or the random source failed.
 */
int	passwd_hash(const char *secret, char *out, size_t outlen);

/* An in-memory passwd-file: sorted for binary search. */
struct passwd_db {
	struct passwd_entry	*v;
	size_t			 n;
};

/*
 * Loads the file at path.  Returns 0, or -1 with *errp set to an
 * allocated "path:line: message" (caller frees) for the first bad line,
 * or for an I/O error.  A duplicate user is an error.
 */
int	passwd_db_load(struct passwd_db *, const char *path, char **errp);
/* Looks up a user; NULL if absent.  The pointer is valid until free. */
const struct passwd_entry *passwd_db_find(const struct passwd_db *,
	    const char *user);
void	passwd_db_free(struct passwd_db *);

#endif
