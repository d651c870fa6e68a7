/*
 * pop3d_config.c - pop3d's settings table and the checks the table cannot
 * do (among them that pop3d can expand pop3_uidl_format).  Runs in
 * pop3d's master and in pop3ctl; returns errors, never exits.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>

#include "dovecot_uidlist.h"
#include "pop3d_config.h"
#include "mailpath.h"
#include "passwd.h"
#include "xmalloc.h"

static const char *const plaintext_choices[] = { "no", "loopback", "yes", NULL };
static const char *const tlsver_choices[] = { "1.2", "1.3", NULL };
static const char *const line_end_choices[] = { "crlf", "lf", NULL };
/* choices[0] of an INT is -1: EXPIRE_NEVER. */
static const char *const never_choices[] = { "never", NULL };
static const char *const backend_choices[] = { "passwd-file", "pgsql", NULL };

/* The [pgsql] statements' defaults: the table pop3d.conf(5) shows. */
#define PG_DEF_USER_QUERY	"SELECT password, home, expire_days " \
	"FROM pop3d_users WHERE username = $1"
#define PG_DEF_USER_INSERT	"INSERT INTO pop3d_users (username, " \
	"password, home) VALUES ($1, $2, $3)"
#define PG_DEF_PASSWORD_UPDATE	"UPDATE pop3d_users SET password = CASE " \
	"WHEN password LIKE '!%' THEN '!' || $2 ELSE $2 END " \
	"WHERE username = $1"
#define PG_DEF_USER_DELETE	"DELETE FROM pop3d_users WHERE username = $1"
#define PG_DEF_LOCK_UPDATE	"UPDATE pop3d_users SET password = " \
	"'!' || password WHERE username = $1 AND password NOT LIKE '!%'"
#define PG_DEF_UNLOCK_UPDATE	"UPDATE pop3d_users SET password = " \
	"substr(password, 2) WHERE username = $1 AND password LIKE '!%'"
#define PG_DEF_USER_LIST	"SELECT username, password FROM pop3d_users " \
	"ORDER BY username"

#define OFF(f)	offsetof(struct config, f)

const struct conf_def config_defs[] = {
	{ "server", "listen", CONF_LIST, 0, 0, NULL, NULL, OFF(listen),
	  "ADDR:PORT of a plain listener that offers STLS; repeatable" },
	{ "server", "listen_tls", CONF_LIST, 0, 0, NULL, NULL, OFF(listen_tls),
	  "ADDR:PORT of an implicit-TLS listener (POP3S); repeatable" },
	{ "server", "listen_proxy", CONF_LIST, 0, 0, NULL, NULL,
	  OFF(listen_proxy), "ADDR:PORT of a plain listener (STLS offered) "
	  "behind a load balancer: each connection must begin with a PROXY "
	  "protocol header (v1 or v2) from a proxy_trusted peer; repeatable" },
	{ "server", "listen_tls_proxy", CONF_LIST, 0, 0, NULL, NULL,
	  OFF(listen_tls_proxy), "ADDR:PORT of an implicit-TLS listener "
	  "behind a load balancer: the PROXY header comes first, then the "
	  "TLS handshake; repeatable" },
	{ "server", "proxy_trusted", CONF_LIST, 0, 0, "", NULL,
	  OFF(proxy_trusted), "CIDR blocks (IPv4, IPv6; space-separated, "
	  "repeatable) of the load balancers allowed to connect to a "
	  "listen_proxy or listen_tls_proxy listener; empty: nobody" },
	{ "server", "proxy_timeout", CONF_TIME, 1, 600, "5", NULL,
	  OFF(proxy_timeout), "seconds from connect within which a "
	  "load balancer's PROXY header must have arrived" },
	{ "server", "user", CONF_STR, 0, 0, "pop3d", NULL, OFF(user),
	  "unprivileged user the workers run as (never root)" },
	{ "server", "auth_user", CONF_STR, 0, 0, "pop3d-auth", NULL,
	  OFF(auth_user), "user the auth process runs as (reads passwd_file)" },
	{ "server", "workers", CONF_INT, 0, 64, "0", NULL, OFF(workers),
	  "worker processes; 0 means one per CPU core" },
	{ "server", "mail_root", CONF_STR, 0, 0, "/var/lib/pop3d/mail", NULL,
	  OFF(mail_root), "the Maildir of user U is mail_root/U, unless "
	  "mail_path says otherwise" },
	{ "server", "mail_path", CONF_STR, 0, 0, "", NULL, OFF(mail_path),
	  "where a user's Maildir is: a template with %u (login), %n (its "
	  "local part), %d (its domain), %h or a leading ~ (the home from "
	  "the passwd-file), %L for lower case; empty: mail_root/%u" },
	{ "server", "dovecot_uidlist", CONF_BOOL, 0, 0, "yes", NULL,
	  OFF(dovecot_uidlist), "where a Maildir holds Dovecot's "
	  "dovecot-uidlist, answer UIDL for the messages it lists as "
	  "Dovecot did (read only)" },
	{ "server", "pop3_uidl_format", CONF_STR, 0, 0, DUIDL_DEFAULT_FORMAT,
	  NULL, OFF(pop3_uidl_format), "the pop3_uidl_format the Dovecot "
	  "pop3d replaces had (%u %v %f %g, Dovecot 2.3 syntax)" },
	{ "server", "log", CONF_STR, 0, 0, "stderr", NULL, OFF(log),
	  "where log lines go: stderr, syslog (facility mail) or file:PATH "
	  "(timestamped; reopened on SIGUSR1)" },
	{ "server", "verbose", CONF_BOOL, 0, 0, "no", NULL, OFF(verbose),
	  "log debug lines (protocol state changes)" },
	{ "server", "idle_timeout", CONF_TIME, 10, 86400, "600", NULL,
	  OFF(idle_timeout), "seconds without input before a session is closed "
	  "(RFC 1939: at least 600)" },
	{ "server", "login_timeout", CONF_TIME, 1, 3600, "120", NULL,
	  OFF(login_timeout), "seconds from connect within which a client "
	  "must log in" },
	{ "server", "tls_handshake_timeout", CONF_TIME, 1, 600, "15", NULL,
	  OFF(tls_handshake_timeout), "seconds a TLS handshake (POP3S or "
	  "STLS) may take" },
	{ "server", "line_timeout", CONF_TIME, 1, 600, "30", NULL,
	  OFF(line_timeout), "seconds from a command line's first byte to its "
	  "end, before login" },
	{ "server", "shutdown_timeout", CONF_TIME, 0, 3600, "30", NULL,
	  OFF(shutdown_timeout), "on SIGTERM, seconds running sessions get "
	  "to finish" },
	{ "server", "max_connections", CONF_INT, 1, 1000000, "10000", NULL,
	  OFF(max_connections), "concurrent connections in all" },
	{ "server", "max_connections_per_ip", CONF_INT, 0, 1000000, "50", NULL,
	  OFF(max_connections_per_ip), "concurrent connections from one "
	  "client address (an IPv6 /ipv6_prefix), all workers together; "
	  "0: no limit" },
	{ "server", "ipv6_prefix", CONF_INT, 1, 128, "64", NULL,
	  OFF(ipv6_prefix), "leading bits of an IPv6 client address that "
	  "make one client for the limits, failure counts and bans" },
	{ "server", "sandbox", CONF_BOOL, 0, 0, "yes", NULL, OFF(sandbox),
	  "confine the auth process and the workers with a seccomp "
	  "allow-list of system calls; no: only for valgrind or strace" },
	{ "server", "hostname", CONF_STR, 0, 0, "", NULL, OFF(hostname),
	  "name used in the greeting and APOP timestamp; empty: the host's" },
	{ "server", "expire_days", CONF_INT, 0, EXPIRE_DAYS_MAX, "never",
	  never_choices, OFF(expire_days), "a message a POP3 session "
	  "retrieved (RETR, then QUIT) is removed at the first login this "
	  "many days later; 0: at that QUIT; never: kept (RFC 2449 EXPIRE)" },
	{ "server", "metrics_listen", CONF_LIST, 0, 0, "", NULL,
	  OFF(metrics_listen), "ADDR:PORT where the master serves "
	  "Prometheus metrics over HTTP (GET /metrics); repeatable, at "
	  "most 4; empty: off.  Keep it on loopback or firewalled" },
	{ "tls", "cert", CONF_STR, 0, 0, NULL, NULL, OFF(tls_cert),
	  "PEM certificate chain (required)" },
	{ "tls", "key", CONF_STR, 0, 0, NULL, NULL, OFF(tls_key),
	  "PEM private key, mode 0600 (required)" },
	{ "tls", "min_version", CONF_ENUM, 0, 0, "1.2", tlsver_choices,
	  OFF(tls_min_version), "oldest TLS version accepted: 1.2 or 1.3" },
	{ "tls", "ciphers", CONF_STR, 0, 0, "", NULL, OFF(tls_ciphers),
	  "OpenSSL cipher list for TLS 1.2; empty: ECDHE with AEAD only" },
	{ "auth", "passwd_file", CONF_STR, 0, 0, NULL, NULL, OFF(passwd_file),
	  "user:hash lines (required); re-read when it changes" },
	{ "auth", "allow_plaintext_auth", CONF_ENUM, 0, 0, "no",
	  plaintext_choices, OFF(allow_plaintext_auth),
	  "USER/PASS and AUTH PLAIN without TLS: no, loopback or yes" },
	{ "auth", "apop", CONF_BOOL, 0, 0, "no", NULL, OFF(apop),
	  "offer APOP (needs {PLAIN} secrets in passwd_file)" },
	{ "auth", "fail_delay_ms", CONF_INT, 0, 60000, "1000", NULL,
	  OFF(fail_delay_ms), "delay before the first failed-login answer; "
	  "doubles with each failure" },
	{ "auth", "fail_delay_max_ms", CONF_INT, 0, 600000, "15000", NULL,
	  OFF(fail_delay_max_ms), "ceiling of the failed-login delay" },
	{ "auth", "ban_threshold", CONF_INT, 0, 1000000, "10", NULL,
	  OFF(ban_threshold), "failures from one address before it is "
	  "refused; 0 disables" },
	{ "auth", "ban_time", CONF_TIME, 1, 604800, "900", NULL, OFF(ban_time),
	  "how long a banned address is refused" },
	{ "auth", "user_fail_limit", CONF_INT, 0, 1000000, "10", NULL,
	  OFF(user_fail_limit), "failures for one user from any addresses "
	  "within ban_time after which each further failure waits "
	  "fail_delay_max_ms; 0 disables" },
	{ "auth", "fail_table_max", CONF_INT, 10, 10000000, "100000", NULL,
	  OFF(fail_table_max), "client addresses and users whose failures "
	  "are remembered; when full, the least recently seen is forgotten" },
	{ "auth", "login_delay", CONF_TIME, 0, 86400, "0", NULL,
	  OFF(login_delay), "minimum seconds between two logins of a user "
	  "(RFC 2449 LOGIN-DELAY)" },
	{ "auth", "threads", CONF_INT, 0, 64, "0", NULL, OFF(auth_threads),
	  "threads verifying password hashes in the auth process; 0 means "
	  "one per CPU core" },
	{ "auth", "cache_ttl", CONF_TIME, 0, 86400, "300", NULL,
	  OFF(auth_cache_ttl), "seconds a verified user+password pair skips "
	  "the hash check; 0 disables; a passwd_file change empties it" },
	/* Accounts in PostgreSQL: [auth] backend and the [pgsql] section. */
	{ "auth", "backend", CONF_ENUM, 0, 0, "passwd-file", backend_choices,
	  OFF(auth_backend), "where accounts are: passwd-file (passwd_file) "
	  "or pgsql (a PostgreSQL table, see [pgsql])" },
	{ "pgsql", "conninfo", CONF_STR, 0, 0, "", NULL, OFF(pg_conninfo),
	  "libpq connection string (host=... dbname=... user=...); keep the "
	  "password in a passfile= (libpq's), not here; empty: libpq's "
	  "defaults and PG* variables" },
	{ "pgsql", "user_query", CONF_STR, 0, 0, PG_DEF_USER_QUERY, NULL,
	  OFF(pg_user_query), "one row for user $1: column password (else "
	  "the first) is the hash; optional columns home and expire_days "
	  "mean what the passwd-file's fields do" },
	{ "pgsql", "pool", CONF_INT, 1, 32, "2", NULL, OFF(pg_pool),
	  "connections (and threads, which also verify the hashes) the auth "
	  "process keeps to the database" },
	{ "pgsql", "timeout", CONF_TIME, 1, 300, "5", NULL, OFF(pg_timeout),
	  "seconds a connect, and each statement, may take before the "
	  "login is answered [SYS/TEMP]" },
	{ "pgsql", "user_insert", CONF_STR, 0, 0, PG_DEF_USER_INSERT, NULL,
	  OFF(pg_user_insert), "pop3ctl user add: $1 user, $2 hash, $3 home "
	  "(NULL without --home)" },
	{ "pgsql", "password_update", CONF_STR, 0, 0, PG_DEF_PASSWORD_UPDATE,
	  NULL, OFF(pg_password_update), "pop3ctl user passwd: $1 user, $2 "
	  "the new hash; must keep a lock ('!' before the hash)" },
	{ "pgsql", "user_delete", CONF_STR, 0, 0, PG_DEF_USER_DELETE, NULL,
	  OFF(pg_user_delete), "pop3ctl user del: $1 user" },
	{ "pgsql", "lock_update", CONF_STR, 0, 0, PG_DEF_LOCK_UPDATE, NULL,
	  OFF(pg_lock_update), "pop3ctl user lock: $1 user; puts '!' before "
	  "the hash of an unlocked user (no row changed: already locked)" },
	{ "pgsql", "unlock_update", CONF_STR, 0, 0, PG_DEF_UNLOCK_UPDATE, NULL,
	  OFF(pg_unlock_update), "pop3ctl user unlock: $1 user; removes the "
	  "'!' (no row changed: not locked)" },
	{ "pgsql", "user_list", CONF_STR, 0, 0, PG_DEF_USER_LIST, NULL,
	  OFF(pg_user_list), "pop3ctl user list: no parameter; rows of "
	  "user name and hash" },
	{ "password", "min_length", CONF_INT, 6, POP3_SECRET_MAX, "10", NULL,
	  OFF(pw_min_length), "pop3ctl: shortest password accepted "
	  "(libpwquality minlen)" },
	{ "password", "min_class", CONF_INT, 0, 4, "0", NULL, OFF(pw_min_class),
	  "pop3ctl: character classes (digit, upper, lower, other) a "
	  "password must mix (minclass)" },
	{ "password", "max_repeat", CONF_INT, 0, POP3_SECRET_MAX, "3", NULL,
	  OFF(pw_max_repeat), "pop3ctl: most identical characters in a row; "
	  "0: no check (maxrepeat)" },
	{ "password", "max_sequence", CONF_INT, 0, POP3_SECRET_MAX, "4", NULL,
	  OFF(pw_max_sequence), "pop3ctl: longest monotonic sequence such as "
	  "\"12345\"; 0: no check (maxsequence)" },
	{ "password", "dict_check", CONF_BOOL, 0, 0, "yes", NULL,
	  OFF(pw_dict_check), "pop3ctl: refuse passwords based on a "
	  "dictionary word (cracklib; dictcheck)" },
	{ "password", "user_check", CONF_BOOL, 0, 0, "yes", NULL,
	  OFF(pw_user_check), "pop3ctl: refuse passwords containing the "
	  "user name (usercheck)" },
	{ "password", "bad_words", CONF_STR, 0, 0, "", NULL, OFF(pw_bad_words),
	  "pop3ctl: space-separated words a password must not contain "
	  "(badwords)" },
	{ "password", "dict_path", CONF_STR, 0, 0, "", NULL, OFF(pw_dict_path),
	  "pop3ctl: cracklib dictionary; empty: the system's (dictpath)" },
	{ "deliver", "line_ends", CONF_ENUM, 0, 0, "crlf", line_end_choices,
	  OFF(line_ends), "pop3ctl deliver stores lines ending in crlf (as "
	  "POP3 sends them: pop3d can send such a message as it is) or lf "
	  "(the Unix convention)" },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, NULL }
};

/* "ADDR:PORT", "[V6]:PORT" or "*:PORT"; checks the shape only. */
static int
check_listen(const char *s)
{
	const char	*colon, *p;
	long		 port = 0;

	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			return -1;
		colon = p + 1;
	} else if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return -1;
	if (colon[1] == '\0')
		return -1;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (*p - '0');
		if (port > 65535)
			return -1;
	}
	return 0;
}

/* Reports each address of the list (setting key) that is not ADDR:PORT. */
static void
check_listen_list(struct buf *errs, const char *path, const char *key,
    const struct conf_list *l, int *nerr)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (check_listen(l->v[i]) == -1) {
			buf_printf(errs, "%s: %s: bad address \"%s\" "
			    "(expected ADDR:PORT or [V6ADDR]:PORT)\n", path, key,
			    l->v[i]);
			(*nerr)++;
		}
}

static void
require(struct buf *errs, const char *path, const char *sect,
    const char *key, const char *v, int *nerr)
{
	if (v == NULL || *v == '\0') {
		buf_printf(errs, "%s: %s: missing required key %s in [%s]\n",
		    path, key, key, sect);
		(*nerr)++;
	}
}

/* Whether value (blank-separated words) has the word want. */
static int
has_word(const char *value, const char *want)
{
	size_t	wlen = strlen(want), n;

	for (;;) {
		value += strspn(value, " \t\r\n\"");
		if (*value == '\0')
			return 0;
		n = strcspn(value, " \t\r\n\"");
		if (n == wlen && memcmp(value, want, n) == 0)
			return 1;
		value += n;
	}
}

/*
 * The line of path that sets key (the file parsed without errors, so at
 * most one does, unless the key is a list: then the first one whose
 * value has the word want, if want is not NULL), or 0 if none: for the
 * checks after the parse.
 */
static size_t
key_line(const char *path, const char *key, const char *want)
{
	char	 line[CONF_LINE_MAX + 2];
	FILE	*f;
	size_t	 n = 0, klen = strlen(key), found = 0, eq;
	char	*p;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		p = line + strspn(line, " \t");
		if (strncmp(p, key, klen) != 0)
			continue;
		eq = klen + strspn(p + klen, " \t");
		if (p[eq] == '=' && (want == NULL || has_word(p + eq + 1, want)))
			found = n;
	}
	fclose(f);
	return found;
}

size_t
config_key_line(const char *path, const char *key)
{
	return key_line(path, key, NULL);
}

/*
 * backend = pgsql: each statement names its parameters as $N and no
 * other (libpq checks the SQL when it prepares it; the conninfo is
 * checked by pgsql_config_check, which needs libpq).
 */
static void
check_pgsql(const struct config *cfg, struct buf *errs, const char *path,
    int *nerr)
{
	static const struct {
		const char	*key;
		size_t		 off;
		int		 nparams;	/* $1..$nparams may appear */
		int		 need1;		/* $1 must appear */
	} st[] = {
		{ "user_query", OFF(pg_user_query), 1, 1 },
		{ "user_insert", OFF(pg_user_insert), 3, 1 },
		{ "password_update", OFF(pg_password_update), 2, 1 },
		{ "user_delete", OFF(pg_user_delete), 1, 1 },
		{ "lock_update", OFF(pg_lock_update), 1, 1 },
		{ "unlock_update", OFF(pg_unlock_update), 1, 1 },
		{ "user_list", OFF(pg_user_list), 0, 0 },
	};
	const char	*v, *p, *why;
	size_t		 i;
	int		 n;

	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		v = *(char *const *)(const void *)((const char *)cfg +
		    st[i].off);
		why = NULL;
		if (*v == '\0')
			why = "empty";
		else if (st[i].need1 && strstr(v, "$1") == NULL)
			why = "no $1 (the user name) in the statement";
		for (p = v; why == NULL && (p = strchr(p, '$')) != NULL; p++) {
			if (p[1] < '0' || p[1] > '9')
				continue;	/* a $$ quote, or a name */
			n = p[1] - '0';
			if (p[2] >= '0' && p[2] <= '9')
				n = 10;
			if (n < 1 || n > st[i].nparams)
				why = st[i].nparams == 0 ?
				    "takes no $N parameter" :
				    st[i].nparams == 1 ? "only $1 is given" :
				    st[i].nparams == 2 ?
				    "only $1 and $2 are given" :
				    "only $1, $2 and $3 are given";
		}
		if (why == NULL)
			continue;
		if (key_line(path, st[i].key, NULL) > 0)
			buf_printf(errs, "%s:%zu: %s: %s\n", path,
			    key_line(path, st[i].key, NULL), st[i].key, why);
		else
			buf_printf(errs, "%s: %s: %s\n", path, st[i].key, why);
		(*nerr)++;
	}
}

/* pop3_uidl_format: one pop3d can expand (dovecot_uidlist.c). */
static void
check_uidl_format(struct buf *errs, const char *path, const char *fmt,
    int *nerr)
{
	const char	*why;
	size_t		 line;

	if (duidl_format_check(fmt, &why) == 0)
		return;
	if ((line = key_line(path, "pop3_uidl_format", NULL)) > 0)
		buf_printf(errs, "%s:%zu: pop3_uidl_format: %s\n", path, line,
		    why);
	else
		buf_printf(errs, "%s: pop3_uidl_format: %s\n", path, why);
	(*nerr)++;
}

/* The first 12 octets of an IPv4-mapped IPv6 address. */
static const uint8_t	v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0xff, 0xff };

int
cidr_parse(const char *s, struct cidr *c)
{
	char		 a[INET6_ADDRSTRLEN + 1];
	const char	*slash = strchr(s, '/'), *p;
	size_t		 alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned	 bits = 0, max, i;

	memset(c, 0, sizeof(*c));
	if (alen == 0 || alen >= sizeof(a))
		return -1;
	memcpy(a, s, alen);
	a[alen] = '\0';
	if (inet_pton(AF_INET, a, c->b) == 1) {
		c->fam = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, a, c->b) == 1) {
		c->fam = 6;
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		bits = max;
	else {
		if (slash[1] == '\0' || strlen(slash + 1) > 3)
			return -1;
		for (p = slash + 1; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > max)
			return -1;
	}
	/* ::ffff:a.b.c.d/N is the IPv4 block a.b.c.d/(N - 96): IPv4 peers
	   arrive as IPv4, mapped or not (cidr_match). */
	if (c->fam == 6 && memcmp(c->b, v4mapped, 12) == 0) {
		/* Shorter, it would be an IPv6 block not meant. */
		if (bits < 96)
			return -1;
		memmove(c->b, c->b + 12, 4);
		memset(c->b + 4, 0, sizeof(c->b) - 4);
		c->fam = 4;
		bits -= 96;
		max = 32;
	}
	c->bits = (uint8_t)bits;
	for (i = bits; i < max; i++)
		c->b[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	return 0;
}

int
cidr_match(const struct cidr *c, int fam, const uint8_t *addr)
{
	unsigned	i;

	if (fam == 6 && c->fam == 4 && memcmp(addr, v4mapped, 12) == 0) {
		fam = 4;
		addr += 12;
	}
	if (fam != c->fam)
		return 0;
	for (i = 0; i < c->bits; i++)
		if (((addr[i / 8] ^ c->b[i / 8]) & (0x80u >> (i % 8))) != 0)
			return 0;
	return 1;
}

/*
 * proxy_trusted into cfg->trusted: each value of the list may hold
 * several blocks, separated by blanks.
 */
static void
check_trusted(struct config *cfg, struct buf *errs, const char *path,
    int *nerr)
{
	char		 one[64];
	const char	*p, *q;
	size_t		 i, line;

	for (i = 0; i < cfg->proxy_trusted.n; i++)
		for (p = cfg->proxy_trusted.v[i]; *p != '\0'; p = q) {
			p += strspn(p, " \t");
			q = p + strcspn(p, " \t");
			if (q == p)
				break;
			cfg->trusted = xreallocarray(cfg->trusted,
			    cfg->ntrusted + 1, sizeof(*cfg->trusted));
			if ((size_t)(q - p) < sizeof(one)) {
				memcpy(one, p, (size_t)(q - p));
				one[q - p] = '\0';
				if (cidr_parse(one,
				    &cfg->trusted[cfg->ntrusted]) == 0) {
					cfg->ntrusted++;
					continue;
				}
			} else
				strcpy(one, "(too long)");
			line = key_line(path, "proxy_trusted", one);
			buf_printf(errs, "%s:%zu: proxy_trusted: bad address "
			    "block \"%s\" (expected ADDR/BITS or ADDR, IPv4 "
			    "or IPv6)\n", path, line, one);
			(*nerr)++;
		}
	if ((cfg->listen_proxy.n > 0 || cfg->listen_tls_proxy.n > 0) &&
	    cfg->ntrusted == 0 && *nerr == 0) {
		buf_printf(errs, "%s: proxy_trusted: empty, so every "
		    "connection to a listen_proxy or listen_tls_proxy "
		    "listener would be refused\n", path);
		(*nerr)++;
	}
}

/* metrics_listen: ADDR:PORT each ("" is none: off), METRICS_LISTEN_MAX
   at most. */
static void
check_metrics(const struct config *cfg, struct buf *errs, const char *path,
    int *nerr)
{
	const struct conf_list	*l = &cfg->metrics_listen;
	size_t			 i;

	for (i = 0; i < l->n; i++)
		if (l->v[i][0] != '\0' && check_listen(l->v[i]) == -1) {
			buf_printf(errs, "%s:%zu: metrics_listen: bad address "
			    "\"%s\" (expected ADDR:PORT or [V6ADDR]:PORT)\n",
			    path, key_line(path, "metrics_listen", l->v[i]),
			    l->v[i]);
			(*nerr)++;
		}
	if (l->n > METRICS_LISTEN_MAX) {
		buf_printf(errs, "%s:%zu: metrics_listen: %zu addresses; at "
		    "most %d\n", path, key_line(path, "metrics_listen",
		    l->v[METRICS_LISTEN_MAX]), l->n, METRICS_LISTEN_MAX);
		(*nerr)++;
	}
}

int
config_load(struct config *cfg, const char *path, struct buf *errs)
{
	const char	*err;
	int		 nerr;

	memset(cfg, 0, sizeof(*cfg));
	conf_defaults(config_defs, cfg);
	cfg->path = xstrdup(path);
	nerr = conf_load(config_defs, cfg, path, errs);
	if (nerr > 0)
		return -1;

	require(errs, path, "tls", "cert", cfg->tls_cert, &nerr);
	require(errs, path, "tls", "key", cfg->tls_key, &nerr);
	if (cfg->auth_backend == AUTH_BACKEND_PASSWD_FILE)
		require(errs, path, "auth", "passwd_file", cfg->passwd_file,
		    &nerr);
	else
		check_pgsql(cfg, errs, path, &nerr);
	if (cfg->listen.n == 0 && cfg->listen_tls.n == 0 &&
	    cfg->listen_proxy.n == 0 && cfg->listen_tls_proxy.n == 0) {
		buf_printf(errs, "%s: listen: no listen, listen_tls, "
		    "listen_proxy or listen_tls_proxy address in [server]\n",
		    path);
		nerr++;
	}
	check_listen_list(errs, path, "listen", &cfg->listen, &nerr);
	check_listen_list(errs, path, "listen_tls", &cfg->listen_tls, &nerr);
	check_listen_list(errs, path, "listen_proxy", &cfg->listen_proxy,
	    &nerr);
	check_listen_list(errs, path, "listen_tls_proxy",
	    &cfg->listen_tls_proxy, &nerr);
	check_trusted(cfg, errs, path, &nerr);
	check_metrics(cfg, errs, path, &nerr);
	if (strcmp(cfg->log, "stderr") == 0)
		cfg->log_target = LOG_TARGET_STDERR;
	else if (strcmp(cfg->log, "syslog") == 0)
		cfg->log_target = LOG_TARGET_SYSLOG;
	else if (strncmp(cfg->log, "file:", 5) == 0 && cfg->log[5] == '/') {
		cfg->log_target = LOG_TARGET_FILE;
		cfg->log_file = cfg->log + 5;
	} else {
		buf_printf(errs, "%s: log: expected stderr, syslog or "
		    "file: and an absolute path, not \"%s\"\n", path, cfg->log);
		nerr++;
	}
	if (cfg->mail_root[0] != '/') {
		buf_printf(errs, "%s: mail_root: must be an absolute path\n",
		    path);
		nerr++;
	}
	if (mailpath_check(cfg->mail_path, &err) == -1) {
		buf_printf(errs, "%s: mail_path: %s\n", path, err);
		nerr++;
	}
	check_uidl_format(errs, path, cfg->pop3_uidl_format, &nerr);
	if (cfg->fail_delay_max_ms < cfg->fail_delay_ms) {
		buf_printf(errs, "%s: fail_delay_max_ms: smaller than "
		    "fail_delay_ms\n", path);
		nerr++;
	}
	return nerr > 0 ? -1 : 0;
}

/* *dst becomes a copy of src (a string of the config, owned). */
static void
keep_str(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(src);
}

const char *
config_keep_backend(struct config *n, const struct config *o)
{
	const char	*changed = NULL;

	if (n->auth_backend != o->auth_backend)
		changed = "backend";
	else if (o->auth_backend == AUTH_BACKEND_PGSQL &&
	    (strcmp(n->pg_conninfo, o->pg_conninfo) != 0 ||
	    strcmp(n->pg_user_query, o->pg_user_query) != 0 ||
	    n->pg_pool != o->pg_pool || n->pg_timeout != o->pg_timeout))
		changed = "pgsql";
	if (changed == NULL)
		return NULL;
	n->auth_backend = o->auth_backend;
	if (o->auth_backend == AUTH_BACKEND_PASSWD_FILE)
		keep_str(&n->passwd_file, o->passwd_file);
	keep_str(&n->pg_conninfo, o->pg_conninfo);
	keep_str(&n->pg_user_query, o->pg_user_query);
	n->pg_pool = o->pg_pool;
	n->pg_timeout = o->pg_timeout;
	return changed;
}

void
config_free(struct config *cfg)
{
	conf_free(config_defs, cfg);
	free(cfg->path);
	free(cfg->trusted);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_print_help(void)
{
	const struct conf_def	*d;
	const char		*last = "";

	for (d = config_defs; d->key != NULL; d++) {
		if (strcmp(d->section, last) != 0) {
			printf("[%s]\n", d->section);
			last = d->section;
		}
		printf("  %-24s %s (default: %s)\n", d->key, d->help,
		    d->def != NULL ? (*d->def != '\0' ? d->def : "empty") :
		    "none");
	}
}
