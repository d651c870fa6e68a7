/*
 * fetch.c - pop3fetch's client state machine (curl lib/pop3.c):
 * perform_<cmd>() queues a command and enters its state, resp_<state>()
 * handles the reply; fetch_enter_state() is the only writer of the state
 * and traces it.  Blocking I/O with timeouts (net.c).  Order of the
 * exactly-once steps per message: RETR, pending, deliver (durable), done,
 * and only then DELE; QUIT commits the DELEs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "auth.h"
#include "deliver.h"
#include "dot.h"
#include "fetch.h"
#include "log.h"
#include "net.h"
#include "pop3_resp.h"
#include "tls.h"
#include "uidlcache.h"
#include "xmalloc.h"

enum fetch_state {
	FETCH_CONNECT,
	FETCH_GREETING,
	FETCH_CAPA,
	FETCH_STLS,
	FETCH_AUTH,
	FETCH_USER,
	FETCH_PASS,
	FETCH_STAT,
	FETCH_UIDL,
	FETCH_LIST,
	FETCH_RETR,
	FETCH_DELE,
	FETCH_QUIT,
	FETCH_DONE,
};

struct fetch_msg {
	uint64_t	 size;		/* from LIST, 0 if unknown */
	char		 uid[FETCH_UID_MAX + 1];	/* "" if none */
};

/* A command in flight: replies come in command order. */
struct fetch_inflight {
	enum fetch_state st;
	size_t		 m;		/* message index */
};

struct fetch {
	const struct account	*a;
	const struct fetch_opts	*o;
	struct fetch_result	*res;
	enum fetch_state	 state;
	struct net		 net;
	SSL_CTX			*ctx;
	struct uidlcache	*uc;
	struct deliver		*dv;
	struct pop3_capa	 capa;
	int			 capa_known;
	struct buf		 line;	/* the last line read */
	struct buf		 msg;	/* the message being received */
	struct fetch_msg	*msgs;
	size_t			 nmsgs;
	size_t			*retr, nretr, retr_next;
	size_t			*dele, ndele, dele_next;
	struct fetch_inflight	 q[FETCH_PIPELINE_MAX];
	size_t			 qhead, qlen;
	int			 stop;	/* delivery failed: drain, QUIT */
	int			 code;	/* sysexits of the first error */
	char			*err;
};

static const char *
fetch_state_str(enum fetch_state s)
{
	switch (s) {
	case FETCH_CONNECT:
		return "CONNECT";
	case FETCH_GREETING:
		return "GREETING";
	case FETCH_CAPA:
		return "CAPA";
	case FETCH_STLS:
		return "STLS";
	case FETCH_AUTH:
		return "AUTH";
	case FETCH_USER:
		return "USER";
	case FETCH_PASS:
		return "PASS";
	case FETCH_STAT:
		return "STAT";
	case FETCH_UIDL:
		return "UIDL";
	case FETCH_LIST:
		return "LIST";
	case FETCH_RETR:
		return "RETR";
	case FETCH_DELE:
		return "DELE";
	case FETCH_QUIT:
		return "QUIT";
	case FETCH_DONE:
		return "DONE";
	}
	return "?";
}

/* The only writer of f->state. */
static void
fetch_enter_state(struct fetch *f, enum fetch_state to)
{
	if (f->o->verbose && f->state != to)
		fprintf(stderr, "pop3fetch: %s: state %s -> %s\n", f->a->name,
		    fetch_state_str(f->state), fetch_state_str(to));
	f->state = to;
}

static int fetch_fail(struct fetch *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error; returns -1. */
static int
fetch_fail(struct fetch *f, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (f->err == NULL) {
		f->err = s != NULL ? s : xstrdup("out of memory");
		f->code = code;
	} else
		free(s);
	return -1;
}

/* Queues a command; shown (secret masked) with --verbose. */
static int
fetch_send(struct fetch *f, const char *shown, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fetch_send(struct fetch *f, const char *shown, const char *fmt, ...)
{
	struct buf	 cmd;
	va_list		 ap;
	int		 r;

	buf_init(&cmd, 4 * FETCH_SECRET_MAX);
	va_start(ap, fmt);
	if (vasprintf((char **)&cmd.data, fmt, ap) == -1)
		cmd.data = NULL;
	va_end(ap);
	if (cmd.data == NULL)
		return fetch_fail(f, EX_OSERR, "out of memory");
	cmd.len = cmd.cap = strlen((char *)cmd.data);
	if (f->o->verbose)
		fprintf(stderr, "pop3fetch: %s: C: %s\n", f->a->name,
		    shown != NULL ? shown : (char *)cmd.data);
	r = net_queue(&f->net, (char *)cmd.data, cmd.len) == -1 ||
	    net_queue(&f->net, "\r\n", 2) == -1;
	buf_wipe(&cmd);
	return r ? fetch_fail(f, EX_SOFTWARE, "command too long") : 0;
}

static int
fetch_flush(struct fetch *f)
{
	const char	*e;

	if (net_flush(&f->net, &e) == -1)
		return fetch_fail(f, EX_TEMPFAIL, "%s: %s", f->a->host, e);
	return 0;
}

/* Reads and parses a status line into r. */
static int
fetch_reply(struct fetch *f, struct pop3_resp *r)
{
	const char	*e;
	char		 esc[FETCH_LINE_MAX * 4];

	if (fetch_flush(f) == -1)
		return -1;
	if (net_readline(&f->net, &f->line, FETCH_LINE_MAX, &e) == -1)
		return fetch_fail(f, strcmp(e, "line too long") == 0 ?
		    EX_PROTOCOL : EX_TEMPFAIL, "%s: %s (in %s)", f->a->host, e,
		    fetch_state_str(f->state));
	if (f->o->verbose)
		fprintf(stderr, "pop3fetch: %s: S: %s\n", f->a->name,
		    log_escape((char *)f->line.data, f->line.len -
		    (f->line.len >= 2 && f->line.data[f->line.len - 2] ==
		    '\r' ? 2 : 1), esc, sizeof(esc)));
	if (pop3_resp_parse((char *)f->line.data, f->line.len, r, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s (in %s)", f->a->host,
		    e, fetch_state_str(f->state));
	return 0;
}

/* Escaped server text of the last reply, for error messages. */
static const char *
fetch_text(const struct pop3_resp *r, char *out, size_t outlen)
{
	return log_escape(r->text, r->textlen, out, outlen);
}

/*
 * Next line of a multi-line body, decoded, into *p and *len (valid until the
 * next read).  1 at the terminator, 0 for a line, -1 on error.
 */
static int
fetch_body_line(struct fetch *f, struct dot_dec *d, size_t max,
    const unsigned char **p, size_t *len)
{
	const char	*e;

	if (net_readline(&f->net, &f->line, max, &e) == -1)
		return fetch_fail(f, strcmp(e, "line too long") == 0 ?
		    EX_PROTOCOL : EX_TEMPFAIL, "%s: %s (in %s)", f->a->host, e,
		    fetch_state_str(f->state));
	return dot_dec_line(d, f->line.data, f->line.len, p, len);
}

/* ---------------------------------------------------------------- */

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
resp_capa(struct fetch *f)
{
	struct pop3_resp	 r;
	struct dot_dec		 d;
	const unsigned char	*p;
	const char		*e;
	size_t			 len, n = 0;
	int			 end;

	memset(&f->capa, 0, sizeof(f->capa));
	f->capa_known = 0;
	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return 0;	/* no CAPA: guess (USER allowed) */
	dot_dec_init(&d);
	while ((end = fetch_body_line(f, &d, FETCH_LINE_MAX, &p, &len)) == 0) {
		if (++n > FETCH_CAPA_MAX)
			return fetch_fail(f, EX_PROTOCOL, "%s: CAPA: more than "
			    "%d lines", f->a->host, FETCH_CAPA_MAX);
		if (f->o->verbose)
			fprintf(stderr, "pop3fetch: %s: S: %.*s\n", f->a->name,
			    (int)strcspn((const char *)p, "\r\n"), p);
		if (pop3_resp_capa((const char *)p, len, &f->capa, &e) == -1)
			return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host,
			    e);
	}
	if (end == -1)
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

static int
perform_stat(struct fetch *f)
{
	fetch_enter_state(f, FETCH_STAT);
	return fetch_send(f, NULL, "STAT");
}

static int
resp_stat(struct fetch *f)
{
	struct pop3_resp	 r;
	uint64_t		 count, size;
	const char		*e;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_PROTOCOL, "%s: STAT: %s", f->a->host,
		    fetch_text(&r, esc, sizeof(esc)));
	if (pop3_resp_stat(r.text, r.textlen, &count, &size, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host, e);
	f->nmsgs = (size_t)count;
	f->msgs = xcalloc(f->nmsgs + 1, sizeof(*f->msgs));
	return 0;
}

static int
perform_uidl(struct fetch *f)
{
	fetch_enter_state(f, FETCH_UIDL);
	return fetch_send(f, NULL, "UIDL");
}

static int
fetch_uidcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
resp_uidl(struct fetch *f)
{
	struct pop3_resp	 r;
	struct dot_dec		 d;
	const unsigned char	*p;
	const char		*e;
	char			 uid[FETCH_UID_MAX + 1], esc[256], **v;
	size_t			 len, i, n = 0;
	uint64_t		 num;
	int			 end;

	fetch_enter_state(f, FETCH_UIDL);
	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_UNAVAILABLE, "%s: the server has no "
		    "UIDL (%s): pop3fetch cannot tell new messages from old "
		    "ones, so it fetches nothing rather than duplicate mail",
		    f->a->host, fetch_text(&r, esc, sizeof(esc)));
	dot_dec_init(&d);
	while ((end = fetch_body_line(f, &d, FETCH_LINE_MAX, &p, &len)) == 0) {
		if (pop3_resp_uidl((const char *)p, len, &num, uid, &e) == -1)
			return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host,
			    e);
		if (num > f->nmsgs || f->msgs[num - 1].uid[0] != '\0')
			return fetch_fail(f, EX_PROTOCOL, "%s: UIDL: message "
			    "%llu over the STAT count or given twice",
			    f->a->host, (unsigned long long)num);
		memcpy(f->msgs[num - 1].uid, uid, sizeof(uid));
	}
	if (end == -1)
		return -1;
	/* Two messages with one UIDL would defeat exactly-once. */
	v = xcalloc(f->nmsgs + 1, sizeof(*v));
	for (i = 0; i < f->nmsgs; i++)
		if (f->msgs[i].uid[0] != '\0')
			v[n++] = f->msgs[i].uid;
	qsort(v, n, sizeof(*v), fetch_uidcmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0) {
			fetch_fail(f, EX_PROTOCOL, "%s: UIDL: two messages "
			    "have the unique-id %s", f->a->host, v[i]);
			free(v);
			return -1;
		}
	/* Rows of messages the server no longer has are dropped. */
	if (!f->o->check && uidlcache_prune(f->uc, v, n) == -1) {
		free(v);
		return fetch_fail(f, EX_IOERR, "state: %s",
		    uidlcache_errstr(f->uc));
	}
	free(v);
	return 0;
}

static int
perform_list(struct fetch *f)
{
	fetch_enter_state(f, FETCH_LIST);
	return fetch_send(f, NULL, "LIST");
}

static int
resp_list(struct fetch *f)
{
	struct pop3_resp	 r;
	struct dot_dec		 d;
	const unsigned char	*p;
	const char		*e;
	size_t			 len;
	uint64_t		 num, size;
	int			 end;

	fetch_enter_state(f, FETCH_LIST);
	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return 0;	/* sizes unknown: size_limit applies on RETR */
	dot_dec_init(&d);
	while ((end = fetch_body_line(f, &d, FETCH_LINE_MAX, &p, &len)) == 0) {
		if (pop3_resp_list((const char *)p, len, &num, &size, &e) == -1)
			return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host,
			    e);
		if (num <= f->nmsgs)
			f->msgs[num - 1].size = size;
	}
	return end == -1 ? -1 : 0;
}

static uint64_t
fetch_limit(const struct fetch *f)
{
	return f->a->size_limit > 0 ? (uint64_t)f->a->size_limit :
	    FETCH_MSG_MAX;
}

/*
 * Decides per message: fetch, delete only (done before, keep = no or
 * old enough), or nothing.  Resolves pending ones by their key.
 */
static int
fetch_plan(struct fetch *f)
{
	enum uidl_state	 st;
	int64_t		 fetched;
	time_t		 now = time(NULL);
	char		 key[DELIVER_KEY_LEN + 1], *e = NULL;
	size_t		 i;
	int		 r;

	f->retr = xcalloc(f->nmsgs + 1, sizeof(*f->retr));
	f->dele = xcalloc(f->nmsgs + 1, sizeof(*f->dele));
	for (i = 0; i < f->nmsgs; i++) {
		if (f->msgs[i].uid[0] == '\0')
			continue;	/* not in the UIDL answer */
		if (uidlcache_get(f->uc, f->msgs[i].uid, &st, &fetched) == -1)
			return fetch_fail(f, EX_IOERR, "state: %s",
			    uidlcache_errstr(f->uc));
		if (st == UIDL_PENDING) {
			deliver_key(f->a->name, f->msgs[i].uid, key);
			r = deliver_find(f->dv, key, &e);
			if (r == -1 && f->a->dest_type != FETCH_DEST_MDA) {
				fetch_fail(f, EX_CANTCREAT, "%s", e);
				free(e);
				return -1;
			}
			free(e);
			e = NULL;
			if (r == -1)
				log_warn("%s: message %s was being delivered "
				    "to the MDA when pop3fetch stopped; "
				    "delivering it again (POP3FETCH_KEY=%s "
				    "lets the MDA drop a duplicate)",
				    f->a->name, f->msgs[i].uid, key);
			if (r == 1) {
				if (!f->o->check && uidlcache_done(f->uc,
				    f->msgs[i].uid) == -1)
					return fetch_fail(f, EX_IOERR,
					    "state: %s",
					    uidlcache_errstr(f->uc));
				st = UIDL_DONE;
			} else
				st = UIDL_NONE;
		}
		if (st == UIDL_DONE) {
			if (!f->a->keep || (f->a->delete_after_days > 0 &&
			    fetched <= (int64_t)now -
			    f->a->delete_after_days * 86400))
				f->dele[f->ndele++] = i;
			continue;
		}
		if (f->msgs[i].size > fetch_limit(f)) {
			f->res->skipped++;
			log_warn("%s: message %zu (%llu bytes) is over "
			    "size_limit: left on the server", f->a->name,
			    i + 1, (unsigned long long)f->msgs[i].size);
			continue;
		}
		f->retr[f->nretr++] = i;
		f->res->total_msgs++;
		f->res->total_bytes += f->msgs[i].size;
	}
	return 0;
}

static int
fetch_push(struct fetch *f, enum fetch_state st, size_t m)
{
	struct fetch_inflight	*q;

	q = &f->q[(f->qhead + f->qlen) % FETCH_PIPELINE_MAX];
	q->st = st;
	q->m = m;
	f->qlen++;
	fetch_enter_state(f, st);
	return 0;
}

static int
perform_retr(struct fetch *f, size_t m)
{
	fetch_push(f, FETCH_RETR, m);
	return fetch_send(f, NULL, "RETR %zu", m + 1);
}

static int
perform_dele(struct fetch *f, size_t m)
{
	fetch_push(f, FETCH_DELE, m);
	return fetch_send(f, NULL, "DELE %zu", m + 1);
}

/* Appends a decoded body line to the message, CRLF made LF. */
static int
fetch_append(struct fetch *f, const unsigned char *p, size_t len)
{
	if (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n') {
		return buf_add(&f->msg, p, len - 2) == -1 ||
		    buf_addc(&f->msg, '\n') == -1 ? -1 : 0;
	}
	return buf_add(&f->msg, p, len);
}

static int
resp_retr(struct fetch *f, size_t m)
{
	struct pop3_resp	 r;
	struct dot_dec		 d;
	const unsigned char	*p;
	char			 key[DELIVER_KEY_LEN + 1], *e = NULL;
	char			 esc[256];
	const char		*uid = f->msgs[m].uid;
	size_t			 len;
	int			 end, over = 0;

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK) {
		log_warn("%s: RETR %zu: %s", f->a->name, m + 1,
		    fetch_text(&r, esc, sizeof(esc)));
		return 0;
	}
	buf_reset(&f->msg);
	dot_dec_init(&d);
	while ((end = fetch_body_line(f, &d, FETCH_MSG_MAX + 2, &p,
	    &len)) == 0)
		if (!over && (f->msg.len + len > fetch_limit(f) ||
		    fetch_append(f, p, len) == -1))
			over = 1;	/* read on, deliver nothing */
	if (end == -1)
		return -1;
	if (f->stop)
		return 0;	/* an earlier delivery failed: drain only */
	if (over) {
		f->res->skipped++;
		log_warn("%s: message %zu is over size_limit: left on the "
		    "server", f->a->name, m + 1);
		return 0;
	}
	deliver_key(f->a->name, uid, key);
	if (uidlcache_pending(f->uc, uid) == -1) {
		f->stop = 1;
		fetch_fail(f, EX_IOERR, "state: %s", uidlcache_errstr(f->uc));
		return 0;
	}
	if (deliver_msg(f->dv, key, uid, f->msg.data, f->msg.len, &e) == -1) {
		/* Nothing was delivered: forget it, stop, commit the rest. */
		(void)uidlcache_forget(f->uc, uid);
		f->stop = 1;
		fetch_fail(f, EX_CANTCREAT, "%s", e);
		free(e);
		return 0;
	}
	if (uidlcache_done(f->uc, uid) == -1) {
		/* Stays pending: the next run finds its key. No DELE. */
		f->stop = 1;
		fetch_fail(f, EX_IOERR, "state: %s", uidlcache_errstr(f->uc));
		return 0;
	}
	f->res->fetched++;
	f->res->bytes += f->msg.len;
	if (!f->a->keep)
		f->dele[f->ndele++] = m;
	if (f->o->progress != NULL)
		f->o->progress(f->a, f->res);
	return 0;
}

static int
resp_dele(struct fetch *f, size_t m)
{
	struct pop3_resp	 r;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status == POP3_RESP_OK)
		f->res->deleted++;
	else
		log_warn("%s: DELE %zu: %s", f->a->name, m + 1,
		    fetch_text(&r, esc, sizeof(esc)));
	return 0;
}

/*
 * RETR and DELE, up to window commands in flight; a DELE goes out only
 * for a message already done (or done on an earlier run).
 */
static int
fetch_transfer(struct fetch *f)
{
	struct fetch_inflight	 q;
	size_t			 window = 1;

	if (f->a->pipelining && f->capa.pipelining)
		window = FETCH_PIPELINE_MAX;
	for (;;) {
		while (!f->stop && f->qlen < window) {
			if (f->dele_next < f->ndele) {
				if (perform_dele(f, f->dele[f->dele_next++]))
					return -1;
			} else if (f->retr_next < f->nretr) {
				if (perform_retr(f, f->retr[f->retr_next++]))
					return -1;
			} else
				break;
		}
		if (f->qlen == 0)
			return 0;
		q = f->q[f->qhead];
		f->qhead = (f->qhead + 1) % FETCH_PIPELINE_MAX;
		f->qlen--;
		if ((q.st == FETCH_RETR ? resp_retr(f, q.m) :
		    resp_dele(f, q.m)) == -1)
			return -1;
	}
}

static int
perform_quit(struct fetch *f)
{
	fetch_enter_state(f, FETCH_QUIT);
	return fetch_send(f, NULL, "QUIT");
}

static int
resp_quit(struct fetch *f)
{
	struct pop3_resp	 r;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1) {
		free(f->err);
		f->err = NULL;
		return fetch_fail(f, EX_TEMPFAIL, "%s: no answer to QUIT: "
		    "the server keeps every message of this session (none "
		    "is fetched twice)", f->a->host);
	}
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_TEMPFAIL, "%s: QUIT failed (%s): the "
		    "server keeps every message of this session (none is "
		    "fetched twice)", f->a->host, fetch_text(&r, esc,
		    sizeof(esc)));
	fetch_enter_state(f, FETCH_DONE);
	return 0;
}

static int
fetch_session(struct fetch *f)
{
	char	*e = NULL;
	int	 pipe_ok;

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
	if (perform_auth(f) == -1 || perform_stat(f) == -1 ||
	    resp_stat(f) == -1)
		return -1;
	if (f->nmsgs > 0) {
		pipe_ok = f->a->pipelining && f->capa.pipelining;
		if (perform_uidl(f) == -1 || (pipe_ok && perform_list(f) == -1))
			return -1;
		if (resp_uidl(f) == -1 || (!pipe_ok && perform_list(f) == -1) ||
		    resp_list(f) == -1)
			return -1;
		if (fetch_plan(f) == -1)
			return -1;
		if (!f->o->check && fetch_transfer(f) == -1)
			return -1;
	}
	if (perform_quit(f) == -1 || resp_quit(f) == -1)
		return -1;
	return f->err != NULL ? -1 : 0;
}

int
fetch_account(const struct account *a, const struct fetch_opts *o,
    struct fetch_result *res, char **errp)
{
	struct fetch	 f;
	char		*e = NULL;
	int		 busy;

	memset(&f, 0, sizeof(f));
	memset(res, 0, sizeof(*res));
	f.a = a;
	f.o = o;
	f.res = res;
	f.net.fd = -1;
	buf_init(&f.line, FETCH_MSG_MAX + 2);
	buf_init(&f.msg, FETCH_MSG_MAX);
	*errp = NULL;

	if (a->tls == FETCH_TLS_OFF)
		log_warn("%s: tls = off: the password and all mail cross the "
		    "network in plaintext", a->name);
	if (a->tls != FETCH_TLS_OFF && (f.ctx = tls_client_ctx(a->has_pin ?
	    NULL : a->tls_ca_file, &e)) == NULL) {
		fetch_fail(&f, EX_SOFTWARE, "%s", e);
		free(e);
		goto out;
	}
	if ((f.uc = uidlcache_open(o->state_dir, a->name, &busy, &e)) ==
	    NULL) {
		fetch_fail(&f, busy ? EX_TEMPFAIL : EX_IOERR, "state: %s", e);
		free(e);
		goto out;
	}
	/* --check opens it too: a pending message is looked up there. */
	if ((f.dv = deliver_open(a, &e)) == NULL) {
		fetch_fail(&f, EX_CANTCREAT, "%s", e);
		free(e);
		goto out;
	}
	(void)fetch_session(&f);
 out:
	net_close(&f.net);
	SSL_CTX_free(f.ctx);
	uidlcache_free(&f.uc);
	deliver_free(&f.dv);
	buf_wipe(&f.line);
	buf_clear(&f.msg);
	free(f.msgs);
	free(f.retr);
	free(f.dele);
	if (f.err != NULL) {
		*errp = f.err;
		return f.code;
	}
	return EX_OK;
}
