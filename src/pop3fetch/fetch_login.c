/*
 * fetch_login.c - pop3fetch's way into the transaction state: connect,
 * TLS (implicit, or STLS: never a silent fallback to plaintext), the
 * greeting, CAPA, and the login with the best method both sides allow
 * (OAUTHBEARER, XOAUTH2, PLAIN, or USER/PASS), its secret wiped after
 * use and masked in the --verbose trace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "auth.h"
#include "fetch_io.h"
#include "fetch_login.h"

static int
resp_greeting(struct fetch *f)
{
	struct pop3_resp	 r;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_TEMPFAIL, "%s: greeting: %s",
		    f->a->host, fetch_text(&r, esc, sizeof(esc)));
	return 0;
}

static int
perform_capa(struct fetch *f)
{
	fetch_enter_state(f, FETCH_CAPA);
	return fetch_send(f, NULL, "CAPA");
}

static int
capa_line(struct fetch *f, const char *p, size_t len)
{
	const char	*e;

	if (f->nbody > FETCH_CAPA_MAX)
		return fetch_fail(f, EX_PROTOCOL, "%s: CAPA: more than %d "
		    "lines", f->a->host, FETCH_CAPA_MAX);
	if (f->o->verbose)
		fprintf(stderr, "pop3fetch: %s: S: %.*s\n", f->a->name,
		    (int)strcspn(p, "\r\n"), p);
	if (pop3_resp_capa(p, len, &f->capa, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host, e);
	return 0;
}

static int
resp_capa(struct fetch *f)
{
	struct pop3_resp	 r;

	memset(&f->capa, 0, sizeof(f->capa));
	f->capa_known = 0;
	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return 0;	/* no CAPA: guess (USER allowed) */
	if (fetch_body(f, capa_line) == -1)
		return -1;
	f->capa_known = 1;
	return 0;
}

static int
perform_stls(struct fetch *f)
{
	if (!f->capa.stls)
		return fetch_fail(f, EX_PROTOCOL, "%s: the server does not "
		    "offer STLS (tls = starttls): not falling back to "
		    "plaintext", f->a->host);
	fetch_enter_state(f, FETCH_STLS);
	return fetch_send(f, NULL, "STLS");
}

static int
resp_stls(struct fetch *f)
{
	struct pop3_resp	 r;
	char			 esc[256], *e;

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_PROTOCOL, "%s: STLS refused: %s",
		    f->a->host, fetch_text(&r, esc, sizeof(esc)));
	if (net_starttls(&f->net, f->ctx, f->a->host, f->a->has_pin ?
	    f->a->pin : NULL, &e) == -1) {
		fetch_fail(f, EX_NOPERM, "%s: %s", f->a->host, e);
		free(e);
		return -1;
	}
	return 0;
}

/* The best method both sides allow, or 0. */
static int
fetch_pick_auth(struct fetch *f)
{
	static const int order[] = { FETCH_AUTH_OAUTHBEARER,
	    FETCH_AUTH_XOAUTH2, FETCH_AUTH_PLAIN };
	size_t	 i;
	int	 sasl;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		sasl = order[i] == FETCH_AUTH_OAUTHBEARER ?
		    POP3_SASL_OAUTHBEARER : order[i] == FETCH_AUTH_XOAUTH2 ?
		    POP3_SASL_XOAUTH2 : POP3_SASL_PLAIN;
		if ((f->a->auth_mask & order[i]) && (f->capa.sasl & sasl))
			return order[i];
	}
	if ((f->a->auth_mask & FETCH_AUTH_USER) && (f->capa.user ||
	    !f->capa_known))
		return FETCH_AUTH_USER;
	return 0;
}

/* Gets the secret, sends AUTH or USER/PASS, reads the answers. */
static int
perform_auth(struct fetch *f)
{
	struct pop3_resp	 r;
	struct buf		 secret, ir;
	char			*e = NULL, esc[256];
	int			 mech, rc = -1, oauth;

	if (!net_is_tls(&f->net) && f->a->tls != FETCH_TLS_OFF)
		return fetch_fail(f, EX_SOFTWARE, "no TLS: not sending a "
		    "password");
	if ((mech = fetch_pick_auth(f)) == 0)
		return fetch_fail(f, EX_UNAVAILABLE, "%s: no authentication "
		    "method both the server and the auth setting allow",
		    f->a->host);
	oauth = mech == FETCH_AUTH_OAUTHBEARER || mech == FETCH_AUTH_XOAUTH2;
	buf_init(&secret, FETCH_SECRET_MAX);
	buf_init(&ir, 4 * FETCH_SECRET_MAX);
	if ((oauth ? auth_command(f->a->oauth_token_command, &secret, &e) :
	    f->a->password_command != NULL ? auth_command(
	    f->a->password_command, &secret, &e) : auth_prompt(f->a, &secret,
	    &e)) == -1) {
		fetch_fail(f, EX_NOPERM, "%s: %s", oauth ?
		    "oauth_token_command" : "password", e);
		free(e);
		goto out;
	}
	if (mech == FETCH_AUTH_USER) {
		fetch_enter_state(f, FETCH_USER);
		if (fetch_send(f, NULL, "USER %s", f->a->user) == -1 ||
		    fetch_reply(f, &r) == -1)
			goto out;
		if (r.status != POP3_RESP_OK) {
			fetch_fail(f, EX_NOPERM, "%s: USER refused: %s",
			    f->a->host, fetch_text(&r, esc, sizeof(esc)));
			goto out;
		}
		fetch_enter_state(f, FETCH_PASS);
		if (fetch_send(f, "PASS ********", "PASS %.*s",
		    (int)secret.len, (char *)secret.data) == -1 ||
		    fetch_flush(f) == -1)
			goto out;
	} else {
		fetch_enter_state(f, FETCH_AUTH);
		if (auth_sasl_response(mech, f->a, &secret, &ir) == -1) {
			fetch_fail(f, EX_SOFTWARE, "secret too long");
			goto out;
		}
		snprintf(esc, sizeof(esc), "AUTH %s ********",
		    auth_mech_str(mech));
		if (fetch_send(f, esc, "AUTH %s %s", auth_mech_str(mech),
		    (char *)ir.data) == -1 || fetch_flush(f) == -1)
			goto out;
	}
	buf_wipe(&secret);
	buf_wipe(&ir);
	if (fetch_reply(f, &r) == -1)
		goto out;
	if (r.status == POP3_RESP_CONT && mech != FETCH_AUTH_USER) {
		/* An OAuth2 error report: acknowledge, then -ERR follows. */
		if (fetch_send(f, NULL, "%s", mech ==
		    FETCH_AUTH_OAUTHBEARER ? "AQ==" : "") == -1 ||
		    fetch_reply(f, &r) == -1)
			goto out;
	}
	if (r.status != POP3_RESP_OK) {
		fetch_fail(f, EX_NOPERM, "%s: login as %s (%s) refused: %s%s%s",
		    f->a->host, f->a->user, auth_mech_str(mech),
		    r.code[0] != '\0' ? r.code : "", r.code[0] != '\0' ? " " :
		    "", fetch_text(&r, esc, sizeof(esc)));
		goto out;
	}
	rc = 0;
 out:
	buf_wipe(&secret);
	buf_wipe(&ir);
	return rc;
}

/*
 * Connects (implicit TLS first when set), reads the greeting, asks CAPA
 * (again after STLS), and logs in.
 */
int
fetch_login(struct fetch *f)
{
	char	*e = NULL;

	fetch_enter_state(f, FETCH_CONNECT);
	if (net_connect(&f->net, f->a->host, (int)f->a->port,
	    (int)f->a->timeout, &e) == -1) {
		fetch_fail(f, EX_TEMPFAIL, "%s", e);
		free(e);
		return -1;
	}
	if (f->a->tls == FETCH_TLS_IMPLICIT && net_starttls(&f->net, f->ctx,
	    f->a->host, f->a->has_pin ? f->a->pin : NULL, &e) == -1) {
		fetch_fail(f, EX_NOPERM, "%s: %s", f->a->host, e);
		free(e);
		return -1;
	}
	fetch_enter_state(f, FETCH_GREETING);
	if (resp_greeting(f) == -1 || perform_capa(f) == -1 ||
	    resp_capa(f) == -1)
		return -1;
	if (f->a->tls == FETCH_TLS_STARTTLS) {
		/* RFC 2595: capabilities from before STLS are forgotten. */
		if (perform_stls(f) == -1 || resp_stls(f) == -1 ||
		    perform_capa(f) == -1 || resp_capa(f) == -1)
			return -1;
	}
	return perform_auth(f);
}
