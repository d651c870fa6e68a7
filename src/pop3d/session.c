/*
 * session.c - the POP3 state machine (RFC 1939, RFC 2449): the command
 * table, the dispatcher that alone writes +OK/-ERR, continuations for
 * multi-line answers, and the session's life from accept to logout.
 * Worker processes, loop thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "conn.h"
#include "flow.h"
#include "ipc.h"
#include "log.h"
#include "maildrop.h"
#include "session.h"
#include "worker.h"
#include "xmalloc.h"

#define ST(x)	(1u << (x))

struct cmd_def {
	const char	 *name;
	unsigned	  states;	/* ST() mask where it is allowed */
	int		  minargs;
	int		  maxargs;	/* -1: the handler reads cmd->rest */
	size_t		  argmax;	/* longest argument, in octets */
	enum cmd_result	(*fn)(struct session *, struct pop3_cmd *);
};

/*
 * Arguments are at most RFC 1939's 40 octets, except user names: USER
 * and APOP take every name the passwd-file does (e-mail style logins
 * pass 40).  PASS and AUTH read rest, bounded by their handlers.
 */
#define ARG	POP3_ARG_MAX
#define NAME	POP3_USER_MAX

static const struct cmd_def cmds[] = {
	{ "USER", ST(SESS_AUTH), 1, 1, NAME, cmd_user },
	{ "PASS", ST(SESS_AUTH), 1, -1, 0, cmd_pass },
	{ "APOP", ST(SESS_AUTH), 2, 2, NAME, cmd_apop },
	{ "AUTH", ST(SESS_AUTH), 0, -1, 0, cmd_auth },
	{ "STLS", ST(SESS_AUTH), 0, 0, ARG, cmd_stls },
	{ "CAPA", ST(SESS_AUTH) | ST(SESS_TRANS), 0, 0, ARG, cmd_capa },
	{ "QUIT", ST(SESS_AUTH) | ST(SESS_TRANS), 0, 0, ARG, cmd_quit },
	{ "STAT", ST(SESS_TRANS), 0, 0, ARG, cmd_stat },
	{ "LIST", ST(SESS_TRANS), 0, 1, ARG, cmd_list },
	{ "UIDL", ST(SESS_TRANS), 0, 1, ARG, cmd_uidl },
	{ "RETR", ST(SESS_TRANS), 1, 1, ARG, cmd_retr },
	{ "TOP",  ST(SESS_TRANS), 2, 2, ARG, cmd_top },
	{ "DELE", ST(SESS_TRANS), 1, 1, ARG, cmd_dele },
	{ "NOOP", ST(SESS_TRANS), 0, 0, ARG, cmd_noop },
	{ "RSET", ST(SESS_TRANS), 0, 0, ARG, cmd_rset },
};

#undef ARG
#undef NAME

/*
 * The command being handled.  One per worker: a command is parsed and
 * handled in one go on the loop thread, and handlers that go on later
 * copy what they need.  Wiped after each use (PASS, AUTH hold secrets).
 */
static struct pop3_cmd	cmdbuf;

static void	conn_event(void *, enum conn_event);
static void	session_input(struct session *);
static void	respond(struct session *, enum cmd_result);
static void	delay_done(evutil_socket_t, short, void *);

const char *
session_state_str(enum sess_state st)
{
	switch (st) {
	case SESS_GREET:
		return "GREET";
	case SESS_AUTH:
		return "AUTHORIZATION";
	case SESS_TLS:
		return "TLS";
	case SESS_TRANS:
		return "TRANSACTION";
	case SESS_UPDATE:
		return "UPDATE";
	case SESS_QUIT:
		return "QUIT";
	}
	return "?";
}

/* The only writer of s->state. */
void
session_enter_state(struct session *s, enum sess_state st)
{
	log_debug(SID_FMT " state %s -> %s", SID_ARG(s->id),
	    session_state_str(s->state), session_state_str(st));
	s->state = st;
}

void
session_set_reply(struct session *s, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(s->reply, sizeof(s->reply), fmt, ap);
	va_end(ap);
}

int
session_plaintext_ok(const struct session *s)
{
	if (conn_is_tls(s->conn))
		return 1;
	switch (wenv.cfg->allow_plaintext_auth) {
	case PLAINTEXT_YES:
		return 1;
	case PLAINTEXT_LOOPBACK:
		return s->loopback;
	}
	return 0;
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*a;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		a = sin6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
	}
	return 0;
}

static void
format_addr(const struct sockaddr *sa, char *out, size_t len)
{
	const struct sockaddr_in6	*sin6;

	out[0] = '\0';
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, len);
	else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], out,
			    len);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, out, len);
	}
	if (out[0] == '\0')
		snprintf(out, len, "unknown");
}

static void
greet(struct session *s)
{
	unsigned char	rnd[8];
	unsigned long long r = 0;

	if (wenv.cfg->apop) {
		/* RFC 1939 section 7: unique for every greeting. */
		RAND_bytes(rnd, sizeof(rnd));
		memcpy(&r, rnd, sizeof(r));
		snprintf(s->apop_ts, sizeof(s->apop_ts), "<%d.%llx.%lld@%.64s>",
		    (int)getpid(), r, (long long)time(NULL), wenv.hostname);
		conn_printf(s->conn, "+OK POP3 server ready %s\r\n",
		    s->apop_ts);
	} else
		conn_printf(s->conn, "+OK POP3 server ready\r\n");
	session_enter_state(s, SESS_AUTH);
}

struct session *
session_new(int fd, const struct sockaddr *sa, socklen_t salen,
    int implicit_tls)
{
	struct session	*s;

	s = xcalloc(1, sizeof(*s));
	s->msgfd = -1;
	s->state = SESS_GREET;
	s->implicit_tls = implicit_tls;
	format_addr(sa, s->rip, sizeof(s->rip));
	s->loopback = is_loopback(sa);
	if (!worker_ip_admit(s->rip)) {
		static const char busy[] = "-ERR [SYS/TEMP] too many "
		    "connections from your address\r\n";

		log_warn("connection refused rip=%s reason=per_ip_limit",
		    s->rip);
		if (!implicit_tls)
			(void)write(fd, busy, sizeof(busy) - 1);
		close(fd);
		free(s);
		return NULL;
	}
	s->conn = conn_new(wenv.base, fd, implicit_tls ? wenv.tls : NULL,
	    conn_event, s);
	if (s->conn == NULL) {
		worker_ip_release(s->rip);
		free(s);
		return NULL;
	}
	conn_set_timeout(s->conn, (int)wenv.cfg->idle_timeout);
	s->id = worker_register(s);
	log_info(SID_FMT " connect rip=%s tls=%s", SID_ARG(s->id),
	    s->rip, implicit_tls ? "implicit" : "no");
	greet(s);
	return s;
}

void
session_free(struct session *s, const char *reason)
{
	if (s->authed)
		log_info(SID_FMT " logout user=%s retr=%llu/%llu top=%llu "
		    "del=%llu reason=%s", SID_ARG(s->id), s->user,
		    (unsigned long long)s->n_retr,
		    (unsigned long long)s->bytes_retr,
		    (unsigned long long)s->n_top,
		    (unsigned long long)s->n_dele, reason);
	else
		log_info(SID_FMT " disconnect rip=%s reason=%s",
		    SID_ARG(s->id), s->rip, reason);
	worker_ip_release(s->rip);
	worker_unregister(s);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->msgfd != -1)
		close(s->msgfd);
	/* A session that did not QUIT changes nothing: marks are dropped. */
	maildrop_free(&s->md);
	conn_free(&s->conn);
	free(s);
}

/* Runs the continuation until it finishes or the output is full. */
static void
run_cont(struct session *s)
{
	while (s->cont != NULL) {
		if (conn_output_len(s->conn) >= POP3_OUTPUT_HIWAT)
			return;		/* CONN_LOWAT brings us back */
		if (s->cont(s)) {
			s->cont = NULL;
			s->busy = 0;
			/* Unpaused, the caller is still at the input. */
			if (conn_is_paused(s->conn))
				conn_resume(s->conn);
		}
	}
}

static void
close_after_flush(struct session *s, const char *reason)
{
	s->end_reason = reason;
	s->busy = 1;
	if (s->state != SESS_QUIT)
		session_enter_state(s, SESS_QUIT);
	conn_close_after_flush(s->conn);
}

static void
respond(struct session *s, enum cmd_result res)
{
	int	limit;

	switch (res) {
	case POP_OK:
		conn_printf(s->conn, "+OK%s%s\r\n", s->reply[0] ? " " : "",
		    s->reply);
		if (s->cont != NULL) {
			s->busy = 1;
			run_cont(s);
			/* No next command before this answer is queued. */
			if (s->cont != NULL)
				conn_pause(s->conn);
		}
		break;
	case POP_ERR:
		conn_printf(s->conn, "-ERR %s\r\n", s->reply);
		s->bad_cmds++;
		limit = s->state == SESS_TRANS ? POP3_BAD_CMDS_POSTAUTH :
		    POP3_BAD_CMDS_PREAUTH;
		if (s->bad_cmds >= limit) {
			conn_printf(s->conn, "-ERR too many bad commands; "
			    "closing\r\n");
			close_after_flush(s, "bad_commands");
		}
		break;
	case POP_FAIL:
		conn_printf(s->conn, "-ERR %s\r\n", s->reply);
		break;
	case POP_QUIET:
		break;
	case POP_PENDING:
		s->busy = 1;
		conn_pause(s->conn);
		break;
	case POP_CLOSE:
		conn_printf(s->conn, "+OK%s%s\r\n", s->reply[0] ? " " : "",
		    s->reply);
		close_after_flush(s, s->end_reason ? s->end_reason : "quit");
		break;
	case POP_FAIL_CLOSE:
		conn_printf(s->conn, "-ERR %s\r\n", s->reply);
		close_after_flush(s, s->end_reason ? s->end_reason : "quit");
		break;
	}
	s->reply[0] = '\0';
}

void
session_abort(struct session *s, const char *reason)
{
	s->cont = NULL;
	close_after_flush(s, reason);
}

void
session_finish(struct session *s, enum cmd_result res)
{
	s->busy = 0;
	respond(s, res);
	if (!s->busy && s->state != SESS_QUIT)
		conn_resume(s->conn);
}

static const struct cmd_def *
find_cmd(const char *verb)
{
	size_t	i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, verb) == 0)
			return &cmds[i];
	return NULL;
}

static enum cmd_result
dispatch(struct session *s, const char *line, size_t len)
{
	const struct cmd_def	*d;
	const char		*errstr;

	if (s->sasl_wait)
		return cmd_auth_data(s, (char *)line, len);

	/*
	 * PASS takes the rest of the line as it is: a secret may hold
	 * spaces, even two in a row or at the end (RFC 1939 section 7).
	 */
	if (len > 5 && strncasecmp(line, "PASS ", 5) == 0 &&
	    memchr(line, '\0', len) == NULL) {
		memset(&cmdbuf, 0, offsetof(struct pop3_cmd, line));
		memcpy(cmdbuf.verb, "PASS", 5);
		memcpy(cmdbuf.line, line, len);
		cmdbuf.line[len] = '\0';
		cmdbuf.rest = cmdbuf.line + 5;
		cmdbuf.argc = 1;
		cmdbuf.argv[0] = cmdbuf.rest;
	} else if (pop3_cmd_parse(&cmdbuf, line, len, 0, &errstr) == -1) {
		session_set_reply(s, "%s", errstr);
		return POP_ERR;
	}
	if ((d = find_cmd(cmdbuf.verb)) == NULL) {
		session_set_reply(s, "unknown command");
		return POP_ERR;
	}
	if ((d->states & ST(s->state)) == 0) {
		session_set_reply(s, "%s is not valid in the %s state",
		    d->name, session_state_str(s->state));
		return POP_ERR;
	}
	if (d->maxargs >= 0) {
		if (cmdbuf.rest[0] != '\0' && d->maxargs == 0) {
			session_set_reply(s, "%s takes no arguments", d->name);
			return POP_ERR;
		}
		if (cmdbuf.argc < d->minargs) {
			session_set_reply(s, "%s needs %d argument%s", d->name,
			    d->minargs, d->minargs > 1 ? "s" : "");
			return POP_ERR;
		}
		if (cmdbuf.argc > d->maxargs) {
			session_set_reply(s, "too many arguments for %s",
			    d->name);
			return POP_ERR;
		}
		/* Again, strictly: empty and over-long arguments. */
		if (pop3_cmd_parse(&cmdbuf, line, len, d->argmax,
		    &errstr) == -1) {
			session_set_reply(s, "%s", errstr);
			return POP_ERR;
		}
	} else if (d->minargs > 0 && cmdbuf.rest[0] == '\0') {
		session_set_reply(s, "%s needs an argument", d->name);
		return POP_ERR;
	}
	return d->fn(s, &cmdbuf);
}

/* Handles every complete line buffered, unless a command is pending. */
static void
session_input(struct session *s)
{
	char		line[POP3_SASL_LINE_MAX + 1];
	size_t		len;
	int		r, limit;
	enum cmd_result	res;

	while (!s->busy && s->state != SESS_QUIT) {
		if (conn_output_len(s->conn) >= POP3_OUTPUT_HIWAT &&
		    (conn_flush(s->conn) ||
		    conn_output_len(s->conn) >= POP3_OUTPUT_HIWAT)) {
			/* Nothing waits: the next command has a turn of
			   its own. */
			if (conn_input_len(s->conn) == 0 &&
			    conn_output_len(s->conn) < POP3_OUTPUT_HIWAT)
				return;
			/* A client that pipelines but does not read, or
			   a loop turn's worth written. */
			conn_pause(s->conn);
			return;		/* CONN_LOWAT resumes */
		}
		/* Both limits count the CRLF; conn_readline's does not. */
		limit = s->sasl_wait ? POP3_SASL_LINE_MAX : POP3_CMD_MAX;
		r = conn_readline(s->conn, line, (size_t)limit - 2, &len);
		if (r == 0)
			return;
		if (r == -2) {
			close_after_flush(s, "line_flood");
			return;
		}
		if (r == -1) {
			s->sasl_wait = 0;
			session_set_reply(s, "line too long (at most %d octets "
			    "with CRLF)", limit);
			respond(s, POP_ERR);
			continue;
		}
		res = dispatch(s, line, len);
		explicit_bzero(line, len);
		explicit_bzero(&cmdbuf, sizeof(cmdbuf));
		respond(s, res);
	}
}

void
session_auth_result(struct session *s, uint32_t result, uint32_t delay_ms)
{
	struct timeval	tv;

	if (s->state != SESS_AUTH || !s->auth_pending) {
		log_warn(SID_FMT " auth answer in state %s; dropped",
		    SID_ARG(s->id), session_state_str(s->state));
		return;
	}
	s->auth_pending = 0;
	switch (result) {
	case AUTH_RES_OK:
		cmd_auth_login(s);
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
	s->have_user = 0;
	if (delay_ms == 0) {
		session_finish(s, POP_FAIL);
		return;
	}
	/* Answer after the pause the auth process asked for. */
	if (s->delay_ev == NULL &&
	    (s->delay_ev = evtimer_new(wenv.base, delay_done, s)) == NULL) {
		session_finish(s, POP_FAIL);
		return;
	}
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(s->delay_ev, &tv);
}

static void
delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	session_finish(s, POP_FAIL);
}

static void
conn_event(void *arg, enum conn_event ev)
{
	struct session	*s = arg;
	char		 info[128];

	switch (ev) {
	case CONN_DATAIN:
		session_input(s);
		break;
	case CONN_LOWAT:
		if (s->cont != NULL)
			run_cont(s);
		else if (!s->busy && s->state != SESS_QUIT) {
			conn_resume(s->conn);
		}
		break;
	case CONN_TLSREADY:
		log_info(SID_FMT " tls ok %s", SID_ARG(s->id),
		    conn_tls_info(s->conn, info, sizeof(info)));
		if (s->state == SESS_TLS) {
			session_enter_state(s, SESS_AUTH);
			s->busy = 0;
			conn_resume(s->conn);
		}
		break;
	case CONN_CLOSED:
		session_free(s, s->end_reason ? s->end_reason : "disconnect");
		break;
	case CONN_TIMEOUT:
		session_free(s, "timeout");
		break;
	case CONN_ERROR:
		session_free(s, s->state == SESS_TLS || (s->implicit_tls &&
		    s->state == SESS_AUTH && !s->have_user) ?
		    "tls_error" : "error");
		break;
	}
}
