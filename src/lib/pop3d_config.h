/*
 * pop3d_config.h - pop3d's settings: one struct, one table
 * (pop3d_config.c) that gives each its type, range, default and help.
 * Shared by pop3d (parsed only in its master; workers and the auth
 * process get a copy by fork) and pop3ctl, which reads the same file.
 */
#ifndef POP3D_CONFIG_H
#define POP3D_CONFIG_H

#include <stdint.h>

#include "conf.h"

enum plaintext_auth { PLAINTEXT_NO, PLAINTEXT_LOOPBACK, PLAINTEXT_YES };
enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG, LOG_TARGET_FILE };
enum tls_minver { TLS_MIN_12, TLS_MIN_13 };
enum line_ends { LINE_ENDS_CRLF, LINE_ENDS_LF };
enum auth_backend { AUTH_BACKEND_PASSWD_FILE, AUTH_BACKEND_PGSQL };

/* An address block: fam 4 (b[0..3]) or 6 (b[0..15]), masked to bits. */
struct cidr {
	uint8_t	fam;
	uint8_t	bits;
	uint8_t	b[16];
};

struct config {
	/* [server] */
	struct conf_list listen;	/* plain listeners, STLS offered */
	struct conf_list listen_tls;	/* implicit TLS listeners */
	struct conf_list listen_proxy;	/* plain, PROXY header required */
	struct conf_list listen_tls_proxy;	/* implicit TLS, PROXY header */
	struct conf_list proxy_trusted;	/* CIDRs that may send a header */
	long long	 proxy_timeout;	/* seconds for the header to arrive */
	char		*user;		/* workers run as this user */
	char		*auth_user;	/* the auth process runs as this user */
	long long	 workers;	/* 0: one per core */
	char		*mail_root;	/* Maildir of USER is mail_root/USER */
	char		*mail_path;	/* template (mailpath.h); "" = the above */
	char		*pop3_uidl_format;	/* Dovecot's, for its uidlist */
	int		 dovecot_uidlist;	/* answer UIDL from it */
	char		*log;		/* "stderr", "syslog" or "file:PATH" */
	int		 verbose;
	long long	 idle_timeout;
	long long	 login_timeout;
	long long	 tls_handshake_timeout;
	long long	 line_timeout;
	long long	 shutdown_timeout;
	long long	 max_connections;
	long long	 max_connections_per_ip;
	long long	 ipv6_prefix;	/* bits that make one IPv6 client */
	char		*hostname;	/* for the greeting and APOP; "" = gethostname */
	int		 sandbox;	/* seccomp filter in auth and workers */
	long long	 expire_days;	/* RFC 2449 EXPIRE: a retrieved message
					   goes at the first login this many
					   days after; EXPIRE_NEVER: never */
	struct conf_list metrics_listen;	/* Prometheus endpoint(s) of
						   the master; none: off */
	/* [tls] */
	char		*tls_cert;
	char		*tls_key;
	int		 tls_min_version;	/* enum tls_minver */
	char		*tls_ciphers;	/* TLS 1.2 cipher list, "" = ours */
	/* [auth] */
	char		*passwd_file;
	int		 allow_plaintext_auth;	/* enum plaintext_auth */
	int		 apop;
	long long	 fail_delay_ms;
	long long	 fail_delay_max_ms;
	long long	 ban_threshold;
	long long	 ban_time;
	long long	 login_delay;
	long long	 user_fail_limit;
	long long	 fail_table_max;
	long long	 auth_threads;
	long long	 auth_cache_ttl;
	int		 auth_backend;	/* enum auth_backend */
	/* [pgsql]: accounts in PostgreSQL (auth backend = pgsql) */
	char		*pg_conninfo;	/* libpq connection string */
	char		*pg_user_query;	/* $1 = user: password[, home, expire_days] */
	long long	 pg_pool;	/* connections of the auth process */
	long long	 pg_timeout;	/* seconds: connect, and each statement */
	char		*pg_user_insert;	/* pop3ctl: $1 user, $2 hash, $3 home */
	char		*pg_password_update;	/* $1 user, $2 hash */
	char		*pg_user_delete;	/* $1 user */
	char		*pg_lock_update;	/* $1 user */
	char		*pg_unlock_update;	/* $1 user */
	char		*pg_user_list;	/* no parameter: user, password */
	/* [password]: pop3ctl's libpwquality policy for new passwords */
	long long	 pw_min_length;
	long long	 pw_min_class;
	long long	 pw_max_repeat;
	long long	 pw_max_sequence;
	int		 pw_dict_check;
	int		 pw_user_check;
	char		*pw_bad_words;	/* space-separated, "" = none */
	char		*pw_dict_path;	/* cracklib dictionary, "" = default */
	/* [deliver]: pop3ctl deliver, the LDA */
	int		 line_ends;	/* enum line_ends */
	/* derived by config_load */
	char		*path;		/* the file it came from */
	int		 log_target;	/* enum log_target, from log */
	const char	*log_file;	/* LOG_TARGET_FILE: the path, in log */
	struct cidr	*trusted;	/* proxy_trusted, parsed */
	size_t		 ntrusted;
};

extern const struct conf_def config_defs[];

/*
 * Loads path into cfg (defaults first) and checks what the table cannot
 * (required keys, listen address syntax, user names).  Returns 0, or -1
 * with every error appended to errs, one "file:line: key: message" each.
 */
int	config_load(struct config *cfg, const char *path, struct buf *errs);
void	config_free(struct config *cfg);
/*
 * For a reload: what only a restart changes - the account backend and
 * its database settings, which the auth process holds from its start -
 * goes back to o's in n (with the backend, passwd_file too).  Returns
 * NULL if n changed none of it, else what changed ("backend" or
 * "pgsql"), for a warning.
 */
const char *config_keep_backend(struct config *n, const struct config *o);

/*
 * "192.0.2.0/24", "2001:db8::/32", or one address (all its bits) into
 * c, its host bits cleared; "::ffff:192.0.2.0/120" (IPv4 written mapped)
 * is the IPv4 block 192.0.2.0/24, and one of fewer than 96 bits is
 * refused.  -1 if s is none of those.
 */
int	cidr_parse(const char *s, struct cidr *c);
/*
 * Whether the address (fam 4 or 6, its octets) is inside c; an IPv4
 * address mapped into IPv6 (::ffff:a.b.c.d) is the IPv4 address.
 */
int	cidr_match(const struct cidr *c, int fam, const uint8_t *addr);

/*
 * The line of path that sets key (1-based), or 0 if none: for messages
 * about a value that parsed but does not work ("file:line: key: ...").
 */
size_t	config_key_line(const char *path, const char *key);

/* Writes the table as "section.key (type, default): help" lines. */
void	config_print_help(void);

/* expire_days = never (RFC 2449 "EXPIRE NEVER"), and its bound: some
   100 years, so that days * 86400 stays far from any overflow. */
#define EXPIRE_NEVER		(-1)
#define EXPIRE_DAYS_MAX		36500

/* metrics_listen addresses at most (the master polls each). */
#define METRICS_LISTEN_MAX	4

#define POP3D_CONF_DEFAULT	"/etc/pop3d/pop3d.conf"

#endif
