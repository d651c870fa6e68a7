/*
 * fetch_config.c - pop3fetch's account table and the checks the table
 * cannot do (required keys, destination syntax, auth names, pins).
 * Runs in pop3fetch; returns errors, never exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fetch_config.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

static const char *const tls_choices[] = {
	"implicit", "starttls", "off", NULL
};

#define OFF(f)	offsetof(struct account, f)

const struct conf_def fetch_config_defs[] = {
	{ "*", "host", CONF_STR, 0, 0, NULL, NULL, OFF(host),
	  "server host name or address (required), optionally with the "
	  "port: HOST:PORT or [IPV6]:PORT; checked against the certificate" },
	{ "*", "port", CONF_INT, 0, 65535, "0", NULL, OFF(port),
	  "server port; 0: 995 for tls = implicit, else 110" },
	{ "*", "tls", CONF_ENUM, 0, 0, "implicit", tls_choices, OFF(tls),
	  "implicit (POP3S), starttls (STLS required) or off (plaintext, "
	  "warned about)" },
	{ "*", "user", CONF_STR, 0, 0, NULL, NULL, OFF(user),
	  "login name (required)" },
	{ "*", "auth", CONF_LIST, 0, 0, "auto", NULL, OFF(auth),
	  "auto, or methods to allow: oauthbearer xoauth2 plain user" },
	{ "*", "password_command", CONF_STR, 0, 0, NULL, NULL,
	  OFF(password_command), "shell command whose first output line is "
	  "the password; unset: ask on the terminal" },
	{ "*", "oauth_token_command", CONF_STR, 0, 0, NULL, NULL,
	  OFF(oauth_token_command), "shell command printing an OAuth2 access "
	  "token (for XOAUTH2 and OAUTHBEARER)" },
	{ "*", "destination", CONF_STR, 0, 0, NULL, NULL, OFF(destination),
	  "maildir:PATH, mbox:PATH or mda:COMMAND (required)" },
	{ "*", "keep", CONF_BOOL, 0, 0, "yes", NULL, OFF(keep),
	  "leave fetched messages on the server" },
	{ "*", "delete_after_days", CONF_INT, 0, 36500, "0", NULL,
	  OFF(delete_after_days), "with keep = yes: delete on the server "
	  "messages fetched at least this many days ago; 0: never" },
	{ "*", "size_limit", CONF_SIZE, 0, FETCH_MSG_MAX, "0", NULL,
	  OFF(size_limit), "skip (and leave on the server) larger messages; "
	  "0: 256m, the most pop3fetch holds" },
	{ "*", "tls_fingerprint", CONF_STR, 0, 0, NULL, NULL,
	  OFF(tls_fingerprint), "SHA-256 of the server certificate: accept "
	  "it (self-signed too) instead of checking the chain" },
	{ "*", "tls_ca_file", CONF_STR, 0, 0, NULL, NULL, OFF(tls_ca_file),
	  "PEM CA certificates to verify against instead of the system "
	  "store" },
	{ "*", "timeout", CONF_TIME, 1, 3600, "60", NULL, OFF(timeout),
	  "seconds to wait for the server at any step" },
	{ "*", "pipelining", CONF_BOOL, 0, 0, "yes", NULL, OFF(pipelining),
	  "pipeline commands when the server offers PIPELINING" },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, NULL }
};

/* Nothing is set outside accounts; conf needs a target anyway. */
struct fetch_dummy {
	int	 unused;
};

const char *
fetch_tls_str(int t)
{
	switch ((enum fetch_tls)t) {
	case FETCH_TLS_IMPLICIT:
		return "implicit";
	case FETCH_TLS_STARTTLS:
		return "starttls";
	case FETCH_TLS_OFF:
		return "off";
	}
	return "?";
}

static int
fc_name_ok(const char *n)
{
	const unsigned char	*u = (const unsigned char *)n;
	size_t			 i;

	if (n[0] == '\0' || n[0] == '.')
		return 0;
	for (i = 0; u[i] != '\0'; i++)
		if (i >= FETCH_ACCOUNT_MAX ||
		    !((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' &&
		    u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
		    u[i] == '.' || u[i] == '_' || u[i] == '-'))
			return 0;
	return 1;
}

struct account *
fetch_config_find(struct fetch_config *cfg, const char *name)
{
	size_t	 i;

	for (i = 0; i < cfg->n; i++)
		if (strcmp(cfg->acc[i]->name, name) == 0)
			return cfg->acc[i];
	return NULL;
}

static void *
fc_section(const char *name, void *arg, const char **errstr)
{
	struct fetch_config	*cfg = arg;
	struct account		*a;

	if (!fc_name_ok(name)) {
		*errstr = "bad account name (1..64 of A-Z a-z 0-9 . _ -, not "
		    "starting with '.')";
		return NULL;
	}
	if (fetch_config_find(cfg, name) != NULL) {
		*errstr = "account given twice";
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	conf_defaults(fetch_config_defs, a);
	cfg->acc = xreallocarray(cfg->acc, cfg->n + 1, sizeof(*cfg->acc));
	cfg->acc[cfg->n++] = a;
	return a;
}

/*
 * Line of "key =" in [account] of text, for errors found after parsing;
 * 0 if the key is not there.
 */
static size_t
fc_keyline(const char *text, size_t len, const char *acct, const char *key)
{
	const char	*p = text, *end = text + len, *nl, *l;
	size_t		 line = 0, ll, an = strlen(acct), kn = strlen(key);
	int		 in = 0;

	for (; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (l = p; l < nl && (*l == ' ' || *l == '\t'); l++)
			;
		ll = (size_t)(nl - l);
		if (ll > 0 && *l == '[') {
			in = ll >= an + 2 && strncmp(l + 1, acct, an) == 0 &&
			    l[an + 1] == ']';
			continue;
		}
		if (in && ll > kn && strncmp(l, key, kn) == 0 &&
		    (l[kn] == ' ' || l[kn] == '\t' || l[kn] == '='))
			return line;
		if (nl == end)
			break;
	}
	return 0;
}

struct fc_ctx {
	const char	*name, *text;
	size_t		 len;
	struct buf	*errs;
	int		 nerr;
};

static void
fc_err(struct fc_ctx *c, const struct account *a, const char *key,
    const char *msg)
{
	size_t	 line = fc_keyline(c->text, c->len, a->name, key);

	if (line > 0)
		buf_printf(c->errs, "%s:%zu: [%s] %s: %s\n", c->name, line,
		    a->name, key, msg);
	else
		buf_printf(c->errs, "%s: [%s] %s: %s\n", c->name, a->name, key,
		    msg);
	c->nerr++;
}

static char *
fc_path(const char *p, const char *home)
{
	char	*out;

	if (home != NULL && strncmp(p, "~/", 2) == 0) {
		xasprintf(&out, "%s/%s", home, p + 2);
		return out;
	}
	return xstrdup(p);
}

/*
 * host = HOST:PORT or [ADDRESS]:PORT (and [ADDRESS]): moves the port to
 * a->port and leaves the bare name in a->host.  A host with more than
 * one ':' and no brackets is an IPv6 address, left alone.
 */
static void
fc_host_port(struct fc_ctx *c, struct account *a)
{
	char		*h = a->host, *colon, *end;
	unsigned long	 port = 0;
	size_t		 n;

	if (h[0] == '[') {
		if ((end = strchr(h, ']')) == NULL || end == h + 1 ||
		    (end[1] != '\0' && end[1] != ':')) {
			fc_err(c, a, "host", "expected [ADDRESS] or "
			    "[ADDRESS]:PORT");
			return;
		}
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		if ((colon = strchr(h, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			return;		/* a name, or a bare IPv6 address */
		end = colon;
	}
	if (colon != NULL) {
		n = strspn(colon + 1, "0123456789");
		if (n == 0 || n > 5 || colon[1 + n] != '\0' ||
		    (port = strtoul(colon + 1, NULL, 10)) == 0 ||
		    port > 65535) {
			fc_err(c, a, "host", "the port after ':' must be 1 to "
			    "65535");
			return;
		}
		if (a->port != 0) {
			fc_err(c, a, "host", "a port is given both here and in "
			    "the port setting");
			return;
		}
		a->port = (long long)port;
	}
	if (h[0] == '[') {
		n = (size_t)(end - h - 1);
		memmove(h, h + 1, n);
		h[n] = '\0';
	} else
		*end = '\0';
}

static void
fc_check(struct fc_ctx *c, struct account *a, const char *home)
{
	static const struct {
		const char	*name;
		int		 bit;
	} methods[] = {
		{ "oauthbearer", FETCH_AUTH_OAUTHBEARER },
		{ "xoauth2", FETCH_AUTH_XOAUTH2 },
		{ "plain", FETCH_AUTH_PLAIN },
		{ "user", FETCH_AUTH_USER },
	};
	const char	*d;
	size_t		 i, j;

	if (a->host == NULL || a->host[0] == '\0')
		fc_err(c, a, "host", "missing (the server to fetch from)");
	else
		fc_host_port(c, a);
	if (a->user == NULL || a->user[0] == '\0')
		fc_err(c, a, "user", "missing (the login name)");
	if (a->port == 0)
		a->port = a->tls == FETCH_TLS_IMPLICIT ? 995 : 110;
	if ((d = a->destination) == NULL || d[0] == '\0')
		fc_err(c, a, "destination", "missing (maildir:PATH, mbox:PATH "
		    "or mda:COMMAND)");
	else if (strncmp(d, "maildir:", 8) == 0 && d[8] != '\0') {
		a->dest_type = FETCH_DEST_MAILDIR;
		a->dest_arg = fc_path(d + 8, home);
	} else if (strncmp(d, "mbox:", 5) == 0 && d[5] != '\0') {
		a->dest_type = FETCH_DEST_MBOX;
		a->dest_arg = fc_path(d + 5, home);
	} else if (strncmp(d, "mda:", 4) == 0 && d[4] != '\0') {
		a->dest_type = FETCH_DEST_MDA;
		a->dest_arg = xstrdup(d + 4);
	} else
		fc_err(c, a, "destination", "expected maildir:PATH, mbox:PATH "
		    "or mda:COMMAND");

	a->auth_mask = 0;
	for (i = 0; i < a->auth.n; i++) {
		if (strcasecmp(a->auth.v[i], "auto") == 0) {
			a->auth_mask |= FETCH_AUTH_PLAIN | FETCH_AUTH_USER;
			if (a->oauth_token_command != NULL)
				a->auth_mask |= FETCH_AUTH_OAUTHBEARER |
				    FETCH_AUTH_XOAUTH2;
			continue;
		}
		for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
			if (strcasecmp(a->auth.v[i], methods[j].name) == 0)
				break;
		if (j == sizeof(methods) / sizeof(methods[0])) {
			fc_err(c, a, "auth", "unknown method (expected auto, "
			    "oauthbearer, xoauth2, plain or user)");
			continue;
		}
		a->auth_mask |= methods[j].bit;
		if ((methods[j].bit & (FETCH_AUTH_OAUTHBEARER |
		    FETCH_AUTH_XOAUTH2)) && a->oauth_token_command == NULL)
			fc_err(c, a, "auth", "OAuth2 needs oauth_token_command");
	}
	if (a->auth_mask == 0 && a->auth.n == 0)
		fc_err(c, a, "auth", "no method allowed");
	if (a->tls_fingerprint != NULL) {
		if (tls_fingerprint_parse(a->tls_fingerprint, a->pin) == -1)
			fc_err(c, a, "tls_fingerprint", "expected 64 hex digits "
			    "(SHA-256, ':' between pairs allowed)");
		else
			a->has_pin = 1;
	}
	if (a->delete_after_days > 0 && !a->keep)
		fc_err(c, a, "delete_after_days", "needs keep = yes (with keep "
		    "= no every fetched message is deleted)");
	if (a->tls == FETCH_TLS_OFF && (a->has_pin || a->tls_ca_file != NULL))
		fc_err(c, a, "tls", "off, but TLS settings are given");
}

int
fetch_config_parse(const char *name, const char *text, size_t len,
    const char *home, struct fetch_config *cfg, struct buf *errs)
{
	struct fetch_dummy	 dummy;
	struct fc_ctx		 c;
	size_t			 i;

	c.name = name;
	c.text = text;
	c.len = len;
	c.errs = errs;
	c.nerr = conf_parse_sections(fetch_config_defs, &dummy, fc_section,
	    cfg, name, text, len, errs);
	for (i = 0; i < cfg->n; i++)
		fc_check(&c, cfg->acc[i], home);
	if (cfg->n == 0 && c.nerr == 0) {
		buf_printf(errs, "%s: no account (a [name] section per "
		    "account)\n", name);
		c.nerr++;
	}
	return c.nerr;
}

int
fetch_config_load(const char *path, const char *home,
    struct fetch_config *cfg, struct buf *errs)
{
	char	*text;
	size_t	 len;
	int	 nerr;

	if (conf_read(path, &text, &len, errs) == -1)
		return 1;
	nerr = fetch_config_parse(path, text, len, home, cfg, errs);
	free(text);
	return nerr;
}

void
fetch_config_free(struct fetch_config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->n; i++) {
		conf_free(fetch_config_defs, cfg->acc[i]);
		free(cfg->acc[i]->dest_arg);
		explicit_bzero(cfg->acc[i], sizeof(*cfg->acc[i]));
		free(cfg->acc[i]);
	}
	free(cfg->acc);
	cfg->acc = NULL;
	cfg->n = 0;
}
