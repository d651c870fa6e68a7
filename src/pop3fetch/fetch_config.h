/*
 * fetch_config.h - pop3fetch's accounts: one INI section per account,
 * every key in one table (fetch_config.c) with its type, range, default
 * and help, and the checks the table cannot do.  Parsed by pop3fetch;
 * returns errors, never exits.  The file is the user's own: trusted as
 * far as its owner, still bounded (conf.c).
 */
#ifndef FETCH_CONFIG_H
#define FETCH_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "pop3_limits.h"

enum fetch_tls { FETCH_TLS_IMPLICIT, FETCH_TLS_STARTTLS, FETCH_TLS_OFF };
enum fetch_dest { FETCH_DEST_MAILDIR, FETCH_DEST_MBOX, FETCH_DEST_MDA };

/* Auth methods in the order of preference ("auth = auto"). */
#define FETCH_AUTH_OAUTHBEARER	0x01
#define FETCH_AUTH_XOAUTH2	0x02
#define FETCH_AUTH_PLAIN	0x04
#define FETCH_AUTH_USER		0x08

struct account {
	char		 name[FETCH_ACCOUNT_MAX + 1];
	/* Settings (the table). */
	char		*host;
	long long	 port;		/* 0: 995 for implicit TLS, else 110 */
	int		 tls;		/* enum fetch_tls */
	char		*user;
	struct conf_list auth;		/* "auto" or method names */
	char		*password_command;
	char		*oauth_token_command;
	char		*destination;	/* maildir:PATH | mbox:PATH | mda:CMD */
	int		 keep;
	long long	 delete_after_days;
	long long	 size_limit;	/* bytes; 0: FETCH_MSG_MAX */
	char		*tls_fingerprint;
	char		*tls_ca_file;
	long long	 timeout;	/* seconds per network wait */
	int		 pipelining;	/* use PIPELINING when offered */
	/* Derived by fetch_config_load(). */
	int		 dest_type;	/* enum fetch_dest */
	char		*dest_arg;	/* path (~/ expanded) or command; owned */
	int		 auth_mask;	/* FETCH_AUTH_* allowed */
	int		 has_pin;
	unsigned char	 pin[32];	/* SHA-256 of the certificate */
};

struct fetch_config {
	struct account	**acc;		/* in file order; owned */
	size_t		  n;
};

extern const struct conf_def fetch_config_defs[];

/*
 * Reads path into cfg (zeroed by the caller): parses, checks, derives.
 * home expands a leading "~/" in paths (NULL: no expansion).  Appends one
 * line per problem to errs, each naming the file, line (where there is
 * one) and key: "path:line: [account] key: message".  Returns the number
 * of errors (cfg holds what parsed; free it with fetch_config_free()).
 * Errors: those of conf_parse_sections(), a bad account name (1..64 of
 * [A-Za-z0-9._-], not starting with '.') or a repeated one, a missing
 * host, user or destination, a bad port in host = HOST:PORT (or one
 * given there and in port too; the port moves to port, host keeps the
 * name), an unknown destination type, an unknown
 * auth method, an OAuth2 method without oauth_token_command, a bad
 * tls_fingerprint, delete_after_days without keep = yes.
 */
int	fetch_config_load(const char *path, const char *home,
	    struct fetch_config *cfg, struct buf *errs);
/* The same over text (len bytes, named name in messages): for tests. */
int	fetch_config_parse(const char *name, const char *text, size_t len,
	    const char *home, struct fetch_config *cfg, struct buf *errs);
void	fetch_config_free(struct fetch_config *);
/* The account called name, or NULL. */
struct account *fetch_config_find(struct fetch_config *, const char *name);
const char *fetch_tls_str(int);

#endif
