/*
 * check.c - "pop3ctl check": reads pop3d's config and reports, one line
 * each ("ok", "warn" or "FAIL"), on the certificate and key (readable,
 * matching, private, days left), the passwd-file (parses, not readable
 * by others, readable by the auth user; with backend = pgsql: that the
 * database answers user_query), the password policy (cracklib's
 * dictionary loads), the mail root (owned by the mail user) and the
 * listeners of the four lists (bindable, or held by a POP3 server).
 * Runs as root, like pop3d's master.  Exit 0, or EX_CONFIG on any FAIL.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ctl.h"
#include "mailpath.h"
#include "passwd.h"
#include "user_pgsql.h"
#include "tls.h"

/* A certificate this close to its end gets a warning. */
#define CHECK_CERT_WARN_DAYS	14
/* How long a listener probe waits for a greeting (seconds). */
#define CHECK_PROBE_TIMEOUT	3

enum check_level { CHECK_OK, CHECK_WARN, CHECK_FAIL };

static int	check_failed;

static void
check_report(enum check_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
check_report(enum check_level lvl, const char *fmt, ...)
{
	va_list	 ap;

	printf("%-5s ", lvl == CHECK_OK ? "ok" : lvl == CHECK_WARN ? "warn" :
	    "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (lvl == CHECK_FAIL)
		check_failed = 1;
}

static void
check_users(const struct config *cfg)
{
	const char	*names[2] = { cfg->user, cfg->auth_user };
	const char	*keys[2] = { "user", "auth_user" };
	uid_t		 uid;
	gid_t		 gid;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (ctl_user_ids(names[i], &uid, &gid) == -1)
			check_report(CHECK_FAIL, "%s %s: no such user",
			    keys[i], names[i]);
		else if (uid == 0)
			check_report(CHECK_FAIL, "%s %s: must not be root",
			    keys[i], names[i]);
		else
			check_report(CHECK_OK, "%s %s: uid %u", keys[i],
			    names[i], (unsigned)uid);
	}
}

static void
check_tls(const struct config *cfg)
{
	struct stat	 st;
	SSL_CTX		*ctx;
	X509		*x;
	FILE		*f;
	char		*err = NULL;
	int		 days = 0, secs = 0;

	if (stat(cfg->tls_key, &st) == -1) {
		check_report(CHECK_FAIL, "tls key %s: %s", cfg->tls_key,
		    strerror(errno));
		return;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		check_report(CHECK_FAIL, "tls key %s: group or others may "
		    "access it (chmod 600)", cfg->tls_key);
	else
		check_report(CHECK_OK, "tls key %s: private (mode %03o)",
		    cfg->tls_key, (unsigned)(st.st_mode & 0777));
	if ((ctx = tls_server_ctx(cfg->tls_cert, cfg->tls_key, &err)) ==
	    NULL) {
		check_report(CHECK_FAIL, "tls cert %s, key %s: %s",
		    cfg->tls_cert, cfg->tls_key, err);
		free(err);
		return;
	}
	SSL_CTX_free(ctx);
	if ((f = fopen(cfg->tls_cert, "r")) == NULL ||
	    (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		check_report(CHECK_FAIL, "tls cert %s: unreadable",
		    cfg->tls_cert);
		if (f != NULL)
			fclose(f);
		return;
	}
	fclose(f);
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
		check_report(CHECK_FAIL, "tls cert %s: not valid yet",
		    cfg->tls_cert);
	else if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) !=
	    1)
		check_report(CHECK_FAIL, "tls cert %s: bad expiry date",
		    cfg->tls_cert);
	else if (days < 0 || (days == 0 && secs <= 0))
		check_report(CHECK_FAIL, "tls cert %s: expired %d days ago",
		    cfg->tls_cert, -days);
	else
		check_report(days < CHECK_CERT_WARN_DAYS ? CHECK_WARN :
		    CHECK_OK, "tls cert %s: readable, matches the key, "
		    "expires in %d days", cfg->tls_cert, days);
	X509_free(x);
}

static void
check_passwd(const struct config *cfg)
{
	struct passwd_db	 db;
	struct stat		 st;
	char			*err = NULL;
	size_t			 i, weak = 0, locked = 0;
	uid_t			 auid;
	gid_t			 agid;
	struct passwd_entry	 pe;

	if (cfg->auth_backend == AUTH_BACKEND_PGSQL) {
		/* The query the auth process runs, for a name nobody has. */
		switch (upg_find(cfg, "pop3ctl-check", &pe, &err)) {
		case -2:
		case -1:
			check_report(CHECK_FAIL, "backend pgsql: %s", err);
			free(err);
			return;
		case 2:
		case 1:
			passwd_entry_clear(&pe);
			free(err);
			break;
		}
		check_report(CHECK_OK, "backend pgsql: the database answers "
		    "user_query");
		upg_close();
		return;
	}
	if (stat(cfg->passwd_file, &st) == -1) {
		check_report(CHECK_FAIL, "passwd_file %s: %s",
		    cfg->passwd_file, strerror(errno));
		return;
	}
	if (st.st_mode & S_IRWXO)
		check_report(CHECK_FAIL, "passwd_file %s: others may access "
		    "it (chmod o-rwx)", cfg->passwd_file);
	else
		check_report(CHECK_OK, "passwd_file %s: not world-readable "
		    "(mode %03o)", cfg->passwd_file,
		    (unsigned)(st.st_mode & 0777));
	if (ctl_user_ids(cfg->auth_user, &auid, &agid) == 0 &&
	    !(st.st_uid == auid && (st.st_mode & S_IRUSR)) &&
	    !(st.st_gid == agid && (st.st_mode & S_IRGRP)))
		check_report(CHECK_FAIL, "passwd_file %s: the auth user %s "
		    "cannot read it (chown root:%s, chmod 640)",
		    cfg->passwd_file, cfg->auth_user, cfg->auth_user);
	if (passwd_db_load(&db, cfg->passwd_file, &err) == -1) {
		check_report(CHECK_FAIL, "%s", err);
		free(err);
		return;
	}
	for (i = 0; i < db.n; i++) {
		if (db.v[i].locked)
			locked++;
		if (db.v[i].scheme != PASSWD_SCHEME_YESCRYPT &&
		    db.v[i].scheme != PASSWD_SCHEME_BCRYPT)
			weak++;
	}
	check_report(weak > 0 ? CHECK_WARN : CHECK_OK, "passwd_file %s: %zu "
	    "users, %zu locked, %zu with a weak or unusable hash%s",
	    cfg->passwd_file, db.n, locked, weak, weak > 0 ?
	    " (see pop3ctl user list)" : "");
	passwd_db_free(&db);
}

/*
 * Whether the password policy can be applied: with dict_check on, a
 * cracklib dictionary that does not load refuses every new password.
 */
static void
check_password_policy(const struct config *cfg)
{
	char	 why[512];

	if (!cfg->pw_dict_check) {
		check_report(CHECK_OK, "password policy: no dictionary check");
		return;
	}
	/* A long random-looking phrase: no rule but the dictionary's can fail. */
	if (password_check(cfg, "pop3ctl-check", "Qx7-vorbel-Tinsak-94-Uhm",
	    why, sizeof(why)) == -2)
		check_report(CHECK_FAIL, "password policy: %s", why);
	else
		check_report(CHECK_OK, "password policy: dictionary loads");
}

static void
check_mail_root(const struct config *cfg)
{
	struct stat	 st;
	uid_t		 uid;
	gid_t		 gid;

	if (stat(cfg->mail_root, &st) == -1) {
		check_report(CHECK_FAIL, "mail_root %s: %s", cfg->mail_root,
		    strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode))
		check_report(CHECK_FAIL, "mail_root %s: not a directory",
		    cfg->mail_root);
	else if (ctl_user_ids(cfg->user, &uid, &gid) == -1)
		check_report(CHECK_FAIL, "mail_root %s: the mail user %s "
		    "does not exist", cfg->mail_root, cfg->user);
	else if (st.st_uid != uid)
		check_report(CHECK_FAIL, "mail_root %s: owned by uid %u, not "
		    "by the mail user %s (chown %s)", cfg->mail_root,
		    (unsigned)st.st_uid, cfg->user, cfg->user);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		check_report(CHECK_FAIL, "mail_root %s: writable by group or "
		    "others (chmod 700)", cfg->mail_root);
	else
		check_report(CHECK_OK, "mail_root %s: owned by the mail user "
		    "%s", cfg->mail_root, cfg->user);
}

/* mail_path: the fixed part before the first variable must exist. */
static void
check_mail_path(const struct config *cfg)
{
	char		 fixed[POP3_PATH_MAX];
	const char	*pct;
	struct stat	 st;
	size_t		 n;

	if (cfg->mail_path[0] == '\0')
		return;
	if (mailpath_uses_home(cfg->mail_path) &&
	    (cfg->mail_path[0] == '~' || cfg->mail_path[0] == '%')) {
		check_report(CHECK_OK, "mail_path %s: in each user's home "
		    "(the passwd-file's sixth field)", cfg->mail_path);
		return;
	}
	pct = strchr(cfg->mail_path, '%');
	n = pct != NULL ? (size_t)(pct - cfg->mail_path) :
	    strlen(cfg->mail_path);
	while (n > 1 && cfg->mail_path[n - 1] != '/')
		n--;
	snprintf(fixed, sizeof(fixed), "%.*s", (int)n, cfg->mail_path);
	if (stat(fixed, &st) == -1)
		check_report(CHECK_FAIL, "mail_path %s: %s: %s", cfg->mail_path,
		    fixed, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		check_report(CHECK_FAIL, "mail_path %s: %s: not a directory",
		    cfg->mail_path, fixed);
	else
		check_report(CHECK_OK, "mail_path %s: Maildirs under %s",
		    cfg->mail_path, fixed);
}

/* The listener lists, by the key that names them. */
static const struct {
	const char	*key;
	int		 tls, proxy;
} listen_kinds[] = {
	{ "listen", 0, 0 }, { "listen_tls", 1, 0 },
	{ "listen_proxy", 0, 1 }, { "listen_tls_proxy", 1, 1 },
};
#define LISTEN_KINDS	(sizeof(listen_kinds) / sizeof(listen_kinds[0]))

/*
 * A listener address in use: is it a POP3 server (a running pop3d)?
 * 1 if a connection gets "+OK" (through TLS for tls), else 0.  On a
 * PROXY listener a v2 LOCAL header (a balancer's health check) goes
 * first: pop3d answers it if this host is one of its proxy_trusted.
 */
static int
check_probe(const struct addrinfo *ai, int tls, int proxy)
{
	static const unsigned char local[16] = { '\r', '\n', '\r', '\n',
	    0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n', 0x20, 0, 0, 0 };
	struct timeval	 tv = { CHECK_PROBE_TIMEOUT, 0 };
	SSL_CTX		*ctx = NULL;
	SSL		*ssl = NULL;
	char		 line[16];
	int		 fd, n = -1;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto done;
	if (proxy && write(fd, local, sizeof(local)) != (ssize_t)sizeof(local))
		goto done;
	if (!tls)
		n = (int)read(fd, line, 3);
	else if ((ctx = SSL_CTX_new(TLS_client_method())) != NULL &&
	    (ssl = SSL_new(ctx)) != NULL && SSL_set_fd(ssl, fd) == 1 &&
	    SSL_connect(ssl) == 1)
		n = SSL_read(ssl, line, 3);
 done:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return n == 3 && memcmp(line, "+OK", 3) == 0;
}

/* spec of the listener list kind (listen_kinds). */
static void
check_listen(const char *spec, size_t kind)
{
	const char	*key = listen_kinds[kind].key;
	struct addrinfo	 hints, *res = NULL;
	char		 host[256];
	const char	*colon, *h = host;
	size_t		 hlen;
	int		 fd, one = 1, e;

	/* config_load checked the shape: "[V6]:PORT", "ADDR:PORT", "*:PORT". */
	colon = strrchr(spec, ':');
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[') {
		spec++;
		hlen -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hlen, spec);
	if (strcmp(host, "*") == 0)
		h = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(h, colon + 1, &hints, &res)) != 0) {
		check_report(CHECK_FAIL, "%s %s: %s", key, spec,
		    gai_strerror(e));
		return;
	}
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    res->ai_protocol)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		e = errno;
		if (e == EADDRINUSE && check_probe(res, listen_kinds[kind].tls,
		    listen_kinds[kind].proxy))
			check_report(CHECK_OK, "%s %s: in use by a running "
			    "POP3 server (pop3d?)", key, spec);
		else
			check_report(CHECK_FAIL, "%s %s: cannot bind: %s", key,
			    spec, strerror(e));
	} else
		check_report(CHECK_OK, "%s %s: bindable", key, spec);
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
}

int
check_main(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	 cfg;
	/* In the order of listen_kinds. */
	const struct conf_list	*lists[LISTEN_KINDS] = { &cfg.listen,
				    &cfg.listen_tls, &cfg.listen_proxy,
				    &cfg.listen_tls_proxy };
	size_t		 i, k;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			printf("usage: pop3ctl [-c file] check\n"
			    "  Checks the config, certificate and key, "
			    "passwd-file, password dictionary,\n  mail root and "
			    "listeners; one "
			    "line each.  Exit 0, or 78 if something is "
			    "wrong.\n");
			return EX_OK;
		}
		fprintf(stderr, "usage: pop3ctl [-c file] check\n");
		return EX_USAGE;
	}
	if (argc != optind) {
		fprintf(stderr, "usage: pop3ctl [-c file] check\n");
		return EX_USAGE;
	}
	if (ctl_config(conf, &cfg) == -1) {
		check_report(CHECK_FAIL, "config %s: see the errors above",
		    conf);
		return EX_CONFIG;
	}
	check_report(CHECK_OK, "config %s: loads", conf);
	check_users(&cfg);
	check_tls(&cfg);
	check_passwd(&cfg);
	check_password_policy(&cfg);
	/* mail_root is what an empty mail_path means. */
	if (cfg.mail_path[0] == '\0')
		check_mail_root(&cfg);
	check_mail_path(&cfg);
	for (k = 0; k < LISTEN_KINDS; k++)
		for (i = 0; i < lists[k]->n; i++)
			check_listen(lists[k]->v[i], k);
	config_free(&cfg);
	return check_failed ? EX_CONFIG : EX_OK;
}
