/*
 * cmd_auth.c - the AUTHORIZATION state: USER, PASS, APOP, AUTH PLAIN
 * (RFC 5034), STLS (RFC 2595), CAPA (RFC 2449), and the login path: the
 * auth process's answer (a refusal after the pause it asked for), the
 * maildrop opened (and its expired messages removed: RFC 2449 EXPIRE)
 * on a job thread, the hand-over to TRANSACTION.
 * Worker processes, loop thread.  Every argument here is untrusted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth_req.h"
#include "conn.h"
#include "ipc.h"
#include "jobs.h"
#include "log.h"
#include "maildrop.h"
#include "mailpath.h"
#include "msg.h"
#include "passwd.h"
#include "sasl.h"
#include "session.h"
#include "xmalloc.h"

#define NEED_TLS "[AUTH] plaintext authentication is disabled on " \
	"unencrypted connections; use STLS first"

static void	delay_done(evutil_socket_t, short, void *);
static void	open_maildrop(struct session *, const char *, uint32_t);

static enum cmd_result
send_auth(struct session *s, uint32_t mech, const char *user,
    const char *secret)
{
	struct msg	m;
	int		rv;

	msg_init(&m, IPC_AUTH_REQ, s->id);
	msg_put_u32(&m, mech);
	msg_put_str(&m, user);
	msg_put_str(&m, secret);
	msg_put_str(&m, mech == AUTH_MECH_APOP ? s->apop_ts : "");
	msg_put_str(&m, s->rip);
	rv = m.err || wenv.authfd == -1 ? -1 : msg_send(wenv.authfd, &m);
	msg_wipe(&m);
	if (rv == -1) {
		session_set_reply(s, "[SYS/TEMP] authentication is "
		    "unavailable; try again later");
		return POP_FAIL;
	}
	snprintf(s->user, sizeof(s->user), "%s", user);
	session_enter_state(s, SESS_AUTH_CHECK);
	return POP_PENDING;
}

enum cmd_result
cmd_user(struct session *s, struct pop3_cmd *cmd)
{
	const char	*name = cmd->argv[0];

	if (!session_plaintext_ok(s)) {
		session_set_reply(s, NEED_TLS);
		return POP_FAIL;
	}
	if (!passwd_valid_user(name, strlen(name))) {
		/* No account has it: a failure, not a bad command. */
		session_set_reply(s, "invalid user name");
		return POP_FAIL;
	}
	/* Any valid name gets +OK: the answer must not tell who exists. */
	snprintf(s->user, sizeof(s->user), "%s", name);
	session_enter_state(s, SESS_AUTH_USER);
	session_set_reply(s, "send PASS");
	return POP_OK;
}

enum cmd_result
cmd_pass(struct session *s, struct pop3_cmd *cmd)
{
	char	user[POP3_USER_MAX + 1];

	if (!session_plaintext_ok(s)) {
		session_set_reply(s, NEED_TLS);
		return POP_FAIL;
	}
	if (s->state != SESS_AUTH_USER) {
		/* The USER before failed, or STLS forgot it. */
		session_set_reply(s, "USER first");
		return POP_FAIL;
	}
	if (strlen(cmd->rest) > POP3_SECRET_MAX) {
		session_set_reply(s, "password too long (at most %d octets)",
		    POP3_SECRET_MAX);
		return POP_ERR;
	}
	snprintf(user, sizeof(user), "%s", s->user);
	return send_auth(s, AUTH_MECH_PASS, user, cmd->rest);
}

enum cmd_result
cmd_apop(struct session *s, struct pop3_cmd *cmd)
{
	const char	*d = cmd->argv[1];
	size_t		 i;

	if (!wenv.cfg->apop) {
		session_set_reply(s, "APOP is not enabled here");
		return POP_ERR;
	}
	if (!passwd_valid_user(cmd->argv[0], strlen(cmd->argv[0]))) {
		session_set_reply(s, "invalid user name");
		return POP_FAIL;
	}
	for (i = 0; d[i] != '\0'; i++)
		if (!((d[i] >= '0' && d[i] <= '9') ||
		    (d[i] >= 'a' && d[i] <= 'f')))
			break;
	if (i != 32 || d[i] != '\0') {
		session_set_reply(s, "APOP digest must be 32 lower-case "
		    "hex digits");
		return POP_ERR;
	}
	return send_auth(s, AUTH_MECH_APOP, cmd->argv[0], d);
}

/*
 * The same list in both states: RFC 2449 section 5 wants the
 * capabilities of the AUTHORIZATION state announced in TRANSACTION as
 * well, so USER, SASL PLAIN and STLS depend on the connection alone
 * (TLS or not, plaintext allowed or not), never on the state.
 */
/*
 * RFC 2449 EXPIRE: the session's policy once logged in (maildrop_expire
 * set it), the server's before.  "USER" (the value may differ per user)
 * would go on the one before login.
 */
static void
caps_expire(struct session *s)
{
	long long	 days, umin;
	const char	*user;

	days = s->md != NULL ? maildrop_expire_days(s->md) :
	    wenv.cfg->expire_days;
	/*
	 * Before login, where users' values differ (RFC 2449 USER): the
	 * least any user has, which is what a client can count on.  NEVER
	 * takes no USER: every user then keeps mail for ever.
	 */
	user = "";
	if (s->md == NULL && auth_user_expire(&umin) &&
	    (umin >= 0 || days >= 0)) {
		if (days < 0 || (umin >= 0 && umin < days))
			days = umin;
		user = " USER";
	}
	if (days < 0)
		conn_printf(s->conn, "EXPIRE NEVER%s\r\n", user);
	else
		conn_printf(s->conn, "EXPIRE %lld%s\r\n", days, user);
}

static int
caps_cont(struct session *s)
{
	conn_printf(s->conn, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n");
	caps_expire(s);
	conn_printf(s->conn, "LOGIN-DELAY %lld\r\n", wenv.cfg->login_delay);
	if (session_plaintext_ok(s))
		conn_printf(s->conn, "USER\r\nSASL PLAIN\r\n");
	if (!conn_is_tls(s->conn))
		conn_printf(s->conn, "STLS\r\n");
	conn_printf(s->conn, "IMPLEMENTATION pop3d\r\n.\r\n");
	return 1;
}

enum cmd_result
cmd_capa(struct session *s, struct pop3_cmd *cmd)
{
	session_set_reply(s, "capability list follows");
	s->cont = caps_cont;
	return POP_OK;
}

enum cmd_result
cmd_stls(struct session *s, struct pop3_cmd *cmd)
{
	if (conn_is_tls(s->conn)) {
		session_set_reply(s, "TLS is already active");
		return POP_ERR;
	}
	/* Whatever was said before TLS is forgotten, USER included. */
	s->user[0] = '\0';
	session_enter_state(s, SESS_TLS);
	session_tls_deadline(s, 1);
	conn_starttls(s->conn, wenv.tls);
	session_set_reply(s, "begin TLS negotiation");
	return POP_OK;
}

static enum cmd_result
plain_login(struct session *s, const char *b64, size_t len)
{
	unsigned char		 raw[POP3_SASL_LINE_MAX];
	struct sasl_plain	 p;
	const char		*errstr;
	enum cmd_result		 res;
	long			 n;

	if (len == 1 && b64[0] == '=')
		len = 0;	/* RFC 5034: "=" is an empty initial response */
	if (len / 4 * 3 > sizeof(raw) ||
	    (n = base64_decode(b64, len, raw)) == -1) {
		session_set_reply(s, "malformed base64 data");
		return POP_ERR;
	}
	if (sasl_plain_parse(raw, (size_t)n, &p, &errstr) == -1) {
		explicit_bzero(raw, sizeof(raw));
		session_set_reply(s, "[AUTH] %s", errstr);
		return POP_FAIL;
	}
	explicit_bzero(raw, sizeof(raw));
	if (p.authzid[0] != '\0' && strcmp(p.authzid, p.authcid) != 0) {
		sasl_plain_wipe(&p);
		session_set_reply(s, "[AUTH] acting as another user is not "
		    "allowed");
		return POP_FAIL;
	}
	if (!passwd_valid_user(p.authcid, strlen(p.authcid))) {
		/* Same answer as a wrong password, after the same work. */
		res = send_auth(s, AUTH_MECH_PLAIN, "", p.passwd);
	} else
		res = send_auth(s, AUTH_MECH_PLAIN, p.authcid, p.passwd);
	sasl_plain_wipe(&p);
	return res;
}

enum cmd_result
cmd_auth(struct session *s, struct pop3_cmd *cmd)
{
	char	*mech = cmd->rest, *ir;
	size_t	 mlen;

	if (*mech == '\0') {
		/* List of mechanisms, as many clients probe for it. */
		session_set_reply(s, "SASL mechanisms follow");
		conn_printf(s->conn, "+OK %s\r\n%s.\r\n", s->reply,
		    session_plaintext_ok(s) ? "PLAIN\r\n" : "");
		return POP_QUIET;
	}
	ir = strchr(mech, ' ');
	mlen = ir != NULL ? (size_t)(ir - mech) : strlen(mech);
	if (mlen != 5 || strncasecmp(mech, "PLAIN", 5) != 0) {
		/* Clients try their mechanisms in turn: not a bad command. */
		session_set_reply(s, "unsupported SASL mechanism");
		return POP_FAIL;
	}
	if (!session_plaintext_ok(s)) {
		session_set_reply(s, NEED_TLS);
		return POP_FAIL;
	}
	if (ir == NULL) {
		session_enter_state(s, s->state == SESS_AUTH_USER ?
		    SESS_SASL_USER : SESS_SASL);
		conn_printf(s->conn, "+ \r\n");
		return POP_QUIET;
	}
	ir++;
	return plain_login(s, ir, strlen(ir));
}

enum cmd_result
cmd_auth_data(struct session *s, char *line, size_t len)
{
	session_sasl_done(s);
	if (len == 1 && line[0] == '*') {
		session_set_reply(s, "authentication cancelled");
		return POP_FAIL;
	}
	return plain_login(s, line, len);
}

int
session_auth_answer(struct msg *m)
{
	struct session	*s;
	uint32_t	 type, result, delay, expire;
	uint64_t	 sid;
	char		 home[POP3_HOME_MAX];

	if (msg_begin(m, &type, &sid) == -1 || type != IPC_AUTH_RES ||
	    msg_get_u32(m, &result) == -1 || msg_get_u32(m, &delay) == -1 ||
	    msg_get_str(m, home, sizeof(home)) == -1 ||
	    msg_get_u32(m, &expire) == -1 || msg_end(m) == -1)
		return -1;
	if ((s = session_find(sid)) == NULL) {
		/* The session left while its login was checked. */
		log_debug(SID_FMT " auth answer for a gone session",
		    SID_ARG(sid));
		return 0;
	}
	session_auth_result(s, result, delay, home, expire);
	return 0;
}

void
session_auth_result(struct session *s, uint32_t result, uint32_t delay_ms,
    const char *home, uint32_t expire_days)
{
	struct timeval	tv;

	if (s->state != SESS_AUTH_CHECK) {
		log_warn(SID_FMT " auth answer in state %s; dropped",
		    SID_ARG(s->id), session_state_str(s->state));
		return;
	}
	switch (result) {
	case AUTH_RES_OK:
		session_enter_state(s, SESS_AUTH_OPEN);
		open_maildrop(s, home, expire_days);
		return;
	case AUTH_RES_LOGIN_DELAY:
		session_set_reply(s, "[LOGIN-DELAY] minimum time between "
		    "logins is %lld seconds", wenv.cfg->login_delay);
		break;
	case AUTH_RES_TEMPFAIL:
		session_set_reply(s, "[SYS/TEMP] authentication is "
		    "unavailable; try again later");
		break;
	case AUTH_RES_BANNED:
		session_set_reply(s, "[AUTH] too many failed logins from "
		    "your address; try again later");
		break;
	default:
		session_set_reply(s, "[AUTH] invalid user name or password");
		break;
	}
	/* A refusal forgets the USER. */
	if (delay_ms == 0) {
		session_enter_state(s, SESS_AUTH);
		session_finish(s, POP_FAIL);
		return;
	}
	/* Answer after the pause the auth process asked for. */
	if (s->delay_ev == NULL &&
	    (s->delay_ev = evtimer_new(wenv.base, delay_done, s)) == NULL) {
		session_enter_state(s, SESS_AUTH);
		session_finish(s, POP_FAIL);
		return;
	}
	session_enter_state(s, SESS_AUTH_DELAY);
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(s->delay_ev, &tv);
}

static void
delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	session_enter_state(s, SESS_AUTH);
	session_finish(s, POP_FAIL);
}

struct open_job {
	struct job	 job;
	char		 user[POP3_USER_MAX + 1];
	char		 home[POP3_HOME_MAX];	/* from the passwd-file */
	uint32_t	 expire_days;
	struct maildrop	*md;
	const char	*errstr;	/* for the client and the log */
	const char	*detail;	/* mail_path's reason, the log only */
	char		 path[POP3_PATH_MAX];	/* the Maildir that failed */
	int		 err;		/* its errno */
	enum md_fail	 why;
	size_t		 expired;	/* by the EXPIRE policy, at this login */
};

static void
open_run(struct job *j)
{
	struct open_job	*oj = (struct open_job *)j;
	struct mailpath	 mp;
	size_t		 failed;
	int		 days;

	if (mailpath_expand(wenv.cfg->mail_path, wenv.cfg->mail_root,
	    oj->user, oj->home, &mp, &oj->detail) != 0) {
		oj->why = MD_FAIL_PERM;
		oj->errstr = "cannot open the maildrop";
		return;
	}
	if ((oj->md = maildrop_open(&mp, oj->user, &oj->errstr, &oj->why,
	    wenv.cfg->dovecot_uidlist ? wenv.cfg->pop3_uidl_format :
	    NULL)) == NULL) {
		/* The log says where and why; the client only that. */
		oj->err = errno;
		snprintf(oj->path, sizeof(oj->path), "%s", mp.path);
	}
	/* The user's expire_days (passwd-file), else the server's. */
	days = oj->expire_days == AUTH_EXPIRE_UNSET ?
	    (int)wenv.cfg->expire_days : oj->expire_days == AUTH_EXPIRE_NEVER ?
	    -1 : (int)oj->expire_days;
	/* Before the list is shown; those it cannot remove stay listed. */
	if (oj->md != NULL)
		oj->expired = maildrop_expire(oj->md, days, time(NULL),
		    &failed);
}

static void
open_done(struct job *j)
{
	struct open_job	*oj = (struct open_job *)j;
	struct session	*s;
	uint64_t	 size;
	size_t		 count, expired;

	if ((s = session_find(j->sid)) == NULL ||
	    s->state != SESS_AUTH_OPEN) {
		/* The client left meanwhile: let go of the lock. */
		maildrop_free(&oj->md);
		free(oj);
		return;
	}
	if (oj->md == NULL) {
		session_enter_state(s, SESS_AUTH);	/* USER forgotten */
		if (oj->why == MD_FAIL_INUSE) {
			metrics_in_use();
			log_info(SID_FMT " login refused user=%s reason=in_use",
			    SID_ARG(s->id), s->user);
			session_set_reply(s, "[IN-USE] maildrop is in use by "
			    "another session");
		} else {
			if (oj->detail != NULL)
				log_err(SID_FMT " maildrop user=%s: %s "
				    "(permanent)", SID_ARG(s->id), s->user,
				    oj->detail);
			else
				log_err(SID_FMT " maildrop user=%s path=%s: "
				    "%s: %s (%s)", SID_ARG(s->id), s->user,
				    oj->path, oj->errstr, strerror(oj->err),
				    oj->why == MD_FAIL_PERM ? "permanent" :
				    "temporary");
			session_set_reply(s, "[SYS/%s] %s",
			    oj->why == MD_FAIL_PERM ? "PERM" : "TEMP",
			    oj->errstr);
		}
		free(oj);
		session_finish(s, POP_FAIL);
		return;
	}
	s->md = oj->md;
	expired = oj->expired;
	free(oj);
	session_enter_state(s, SESS_TRANS);
	maildrop_stat(s->md, &count, &size);
	log_info(SID_FMT " login user=%s rip=%s msgs=%zu size=%llu "
	    "computed_sizes=%zu expired=%zu", SID_ARG(s->id), s->user, s->rip,
	    count, (unsigned long long)size, maildrop_sized(s->md), expired);
	session_set_reply(s, "maildrop has %zu message%s (%llu octets)",
	    count, count == 1 ? "" : "s", (unsigned long long)size);
	session_finish(s, POP_OK);
}

/* Login accepted by the auth process: open the maildrop. */
static void
open_maildrop(struct session *s, const char *home, uint32_t expire_days)
{
	struct open_job	*oj;

	oj = xcalloc(1, sizeof(*oj));
	snprintf(oj->home, sizeof(oj->home), "%s", home);
	oj->expire_days = expire_days;
	oj->job.run = open_run;
	oj->job.done = open_done;
	oj->job.sid = s->id;
	snprintf(oj->user, sizeof(oj->user), "%s", s->user);
	jobs_submit(&oj->job);
}
