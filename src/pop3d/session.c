/*
 * session.c - the POP3 state machine (RFC 1939, RFC 2449): the command
 * table, the dispatcher that alone writes +OK/-ERR and counts commands
 * (metrics.h), continuations for multi-line answers, and the session's
 * life from accept to logout.  Admits a connection (per-address counts
 * shared by all workers: addrlimit.c; the slots: registry.c), sheds the
 * oldest not logged in when a worker is full.  Worker loop thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "addrlimit.h"
#include "conn.h"
#include "flow.h"
#include "ipc.h"
#include "log.h"
#include "maildrop.h"
#include "registry.h"
#include "session.h"
#include "xmalloc.h"

#define ST(x)	(1u << (x))
/* The AUTHORIZATION states that read commands. */
#define AUTHZ	(ST(SESS_AUTH) | ST(SESS_AUTH_USER))

/* What a state is (state_props()). */
#define SF_WAIT		0x1	/* no command is read: an answer or the
				   close is under way */
#define SF_LOGIN	0x2	/* logged in: ends with a logout line */
#define SF_SASL		0x4	/* the next line is AUTH PLAIN data */

struct cmd_def {
	const char	 *name;
	unsigned	  states;	/* ST() mask where it is allowed */
	int		  minargs;
	int		  maxargs;	/* -1: the handler reads cmd->rest */
	size_t		  argmax;	/* longest argument, in octets; RAW:
					   the argument is the rest of the
					   line, as sent */
	enum cmd_result	(*fn)(struct session *, struct pop3_cmd *);
};

/*
 * Arguments are at most RFC 1939's 40 octets, except user names: USER
 * and APOP take every name the passwd-file does (e-mail style logins
 * pass 40).  PASS and AUTH read rest, bounded by their handlers; PASS
 * takes it as sent, as a secret may hold any spaces and control
 * characters (RFC 1939 section 7).
 */
#define ARG	POP3_ARG_MAX
#define NAME	POP3_USER_MAX
#define RAW	POP3_CMD_RAW

static const struct cmd_def cmds[] = {
	{ "USER", AUTHZ, 1, 1, NAME, cmd_user },
	{ "PASS", AUTHZ, 1, -1, RAW, cmd_pass },
	{ "APOP", AUTHZ, 2, 2, NAME, cmd_apop },
	{ "AUTH", AUTHZ, 0, -1, 0, cmd_auth },
	{ "STLS", AUTHZ, 0, 0, ARG, cmd_stls },
	{ "CAPA", AUTHZ | ST(SESS_TRANS), 0, 0, ARG, cmd_capa },
	{ "QUIT", AUTHZ | ST(SESS_TRANS), 0, 0, ARG, cmd_quit },
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
#undef RAW

/*
 * The command being handled.  One per worker: a command is parsed and
 * handled in one go on the loop thread, and handlers that go on later
 * copy what they need.  Wiped after each use (PASS, AUTH hold secrets).
 */
static struct pop3_cmd	cmdbuf;

struct worker_env	 wenv;

static unsigned	state_flags(enum sess_state);
static void	conn_event(void *, enum conn_event);
static void	session_input(struct session *);
static void	respond(struct session *, enum cmd_result);

size_t
session_count(void)
{
	return registry_count();
}

void
session_drain_check(void)
{
	if (wenv.draining && registry_count() == 0 &&
	    wenv.proxy_pending == 0)
		event_base_loopexit(wenv.base, NULL);
}

struct session *
session_find(uint64_t id)
{
	return registry_find(id);
}

void
session_free_all(const char *reason)
{
	struct session	*s;
	size_t		 i;

	for (i = 0; i < registry_slots(); i++)
		if ((s = registry_at(i)) != NULL)
			session_free(s, reason);
}

void
session_auth_lost(void)
{
	struct session	*s;
	size_t		 i;

	for (i = 0; i < registry_slots(); i++)
		if ((s = registry_at(i)) != NULL &&
		    s->state == SESS_AUTH_CHECK)
			session_auth_result(s, AUTH_RES_TEMPFAIL, 0, "",
			    AUTH_EXPIRE_UNSET);
}

int
session_shed(void)
{
	struct session	*s, *old = NULL;
	size_t		 i;

	/* Never a logged-in session; of the others, the oldest. */
	for (i = 0; i < registry_slots(); i++)
		if ((s = registry_at(i)) != NULL &&
		    !(state_flags(s->state) & SF_LOGIN) &&
		    s->state != SESS_QUIT && (old == NULL ||
		    timercmp(&s->born, &old->born, <)))
			old = s;
	if (old == NULL)
		return -1;
	log_info(SID_FMT " shed rip=%s state=%s: the server is full and it "
	    "has not logged in", SID_ARG(old->id), old->rip,
	    session_state_str(old->state));
	session_free(old, "shed");
	return 0;
}

const char *
session_state_str(enum sess_state st)
{
	switch (st) {
	case SESS_GREET:
		return "GREET";
	case SESS_AUTH:
		return "AUTHORIZATION";
	case SESS_AUTH_USER:
		return "AUTHORIZATION/USER";
	case SESS_SASL:
		return "AUTHORIZATION/SASL";
	case SESS_SASL_USER:
		return "AUTHORIZATION/SASL+USER";
	case SESS_AUTH_CHECK:
		return "AUTHORIZATION/CHECK";
	case SESS_AUTH_DELAY:
		return "AUTHORIZATION/DELAY";
	case SESS_AUTH_OPEN:
		return "AUTHORIZATION/OPEN";
	case SESS_TLS:
		return "TLS";
	case SESS_TRANS:
		return "TRANSACTION";
	case SESS_UPDATE:
		return "UPDATE";
	case SESS_QUIT:
		return "QUIT";
	case SESS_LOGOUT:
		return "LOGOUT";
	}
	return "?";
}

/*
 * What a state is (SF_*), and in *next the states it may change to.
 * Closing (QUIT, LOGOUT) is open to every state that reads commands
 * (QUIT, too many bad commands, a line flood) and to TRANSACTION's
 * continuations (a broken RETR); the waiting states end in their own
 * answer, or the connection goes away under them (session_free()).
 */
static unsigned
state_props(enum sess_state st, unsigned *next)
{
	switch (st) {
	case SESS_GREET:
		*next = ST(SESS_AUTH);
		return SF_WAIT;
	case SESS_AUTH:
		*next = ST(SESS_AUTH_USER) | ST(SESS_SASL) |
		    ST(SESS_AUTH_CHECK) | ST(SESS_TLS) | ST(SESS_QUIT);
		return 0;
	case SESS_AUTH_USER:
		*next = ST(SESS_SASL_USER) | ST(SESS_AUTH_CHECK) |
		    ST(SESS_TLS) | ST(SESS_QUIT);
		return 0;
	case SESS_SASL:
		*next = ST(SESS_AUTH) | ST(SESS_QUIT);
		return SF_SASL;
	case SESS_SASL_USER:
		*next = ST(SESS_AUTH_USER) | ST(SESS_QUIT);
		return SF_SASL;
	case SESS_AUTH_CHECK:
		*next = ST(SESS_AUTH_OPEN) | ST(SESS_AUTH_DELAY) |
		    ST(SESS_AUTH);
		return SF_WAIT;
	case SESS_AUTH_DELAY:
	case SESS_TLS:
		*next = ST(SESS_AUTH);
		return SF_WAIT;
	case SESS_AUTH_OPEN:
		*next = ST(SESS_TRANS) | ST(SESS_AUTH);
		return SF_WAIT;
	case SESS_TRANS:
		*next = ST(SESS_UPDATE) | ST(SESS_LOGOUT);
		return SF_LOGIN;
	case SESS_UPDATE:
		*next = ST(SESS_LOGOUT);
		return SF_WAIT | SF_LOGIN;
	case SESS_QUIT:
		*next = 0;
		return SF_WAIT;
	case SESS_LOGOUT:
		*next = 0;
		return SF_WAIT | SF_LOGIN;
	}
	*next = 0;
	return SF_WAIT;
}

static unsigned
state_flags(enum sess_state st)
{
	unsigned	next;

	return state_props(st, &next);
}

/* A command is being answered: no next one is read. */
static int
session_busy(const struct session *s)
{
	return (state_flags(s->state) & SF_WAIT) || s->cont != NULL;
}

void
session_enter_state(struct session *s, enum sess_state st)
{
	unsigned	next;

	if (st == s->state)
		return;
	(void)state_props(s->state, &next);
	if ((next & ST(st)) == 0)
		fatalx(SID_FMT " state %s -> %s is not allowed", SID_ARG(s->id),
		    session_state_str(s->state), session_state_str(st));
	log_debug(SID_FMT " state %s -> %s", SID_ARG(s->id),
	    session_state_str(s->state), session_state_str(st));
	s->state = st;
	if ((state_flags(st) & SF_LOGIN) && s->deadline_ev != NULL) {
		/* Logged in: RFC 1939's idle rule alone from here. */
		event_free(s->deadline_ev);
		s->deadline_ev = NULL;
	}
}

void
session_sasl_done(struct session *s)
{
	session_enter_state(s, s->state == SESS_SASL_USER ? SESS_AUTH_USER :
	    SESS_AUTH);
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

/*
 * Deadlines before login, so a connection that never logs in cannot hold
 * a slot: the whole login (login_timeout from connect), a TLS handshake
 * (tls_handshake_timeout from its start), and a command line
 * (line_timeout from its first byte; one byte every few seconds would
 * otherwise restart the idle timer for ever).  One timer, set to the
 * nearest, freed at login: logged-in sessions have the idle rule only.
 */
static void	deadline_arm(struct session *);
static void	close_after_flush(struct session *, const char *);

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	struct timeval	 now;
	const char	*why = NULL;

	event_base_gettimeofday_cached(wenv.base, &now);
	if (now.tv_sec - s->born.tv_sec >= wenv.cfg->login_timeout)
		why = "login_timeout";
	else if (s->tls_start != 0 &&
	    now.tv_sec - s->tls_start >= wenv.cfg->tls_handshake_timeout)
		why = "tls_timeout";
	else if (s->line_start != 0 &&
	    now.tv_sec - s->line_start >= wenv.cfg->line_timeout)
		why = "line_timeout";
	if (why == NULL) {
		deadline_arm(s);
		return;
	}
	/* No plaintext into a handshake, nor into an answer under way. */
	if (s->tls_start != 0 || s->state == SESS_GREET || session_busy(s)) {
		session_free(s, why);
		return;
	}
	conn_printf(s->conn, "-ERR [SYS/TEMP] %s\r\n",
	    strcmp(why, "login_timeout") == 0 ? "login took too long" :
	    "command line took too long");
	close_after_flush(s, why);
}

static void
deadline_arm(struct session *s)
{
	struct timeval	now, tv;
	time_t		at;

	if (s->deadline_ev == NULL &&
	    (s->deadline_ev = evtimer_new(wenv.base, deadline_cb, s)) == NULL)
		return;		/* the idle timeout still holds */
	at = s->born.tv_sec + wenv.cfg->login_timeout;
	if (s->tls_start != 0 &&
	    s->tls_start + wenv.cfg->tls_handshake_timeout < at)
		at = s->tls_start + wenv.cfg->tls_handshake_timeout;
	if (s->line_start != 0 && s->line_start + wenv.cfg->line_timeout < at)
		at = s->line_start + wenv.cfg->line_timeout;
	event_base_gettimeofday_cached(wenv.base, &now);
	tv.tv_sec = at > now.tv_sec ? at - now.tv_sec : 0;
	tv.tv_usec = 0;
	evtimer_add(s->deadline_ev, &tv);
}

/* A TLS handshake starts (1) or has ended (0). */
void
session_tls_deadline(struct session *s, int starts)
{
	struct timeval	now;

	event_base_gettimeofday_cached(wenv.base, &now);
	s->tls_start = starts ? now.tv_sec : 0;
	if (s->deadline_ev != NULL)
		deadline_arm(s);
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
	s->loopback = sockaddr_is_loopback(sa);
	event_base_gettimeofday_cached(wenv.base, &s->born);
	addrkey_from_sockaddr(&s->akey, sa, (int)wenv.cfg->ipv6_prefix);
	if (!addrlimit_admit(&s->akey, wenv.cfg->max_connections_per_ip)) {
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
		addrlimit_release(&s->akey);
		free(s);
		return NULL;
	}
	conn_set_timeout(s->conn, (int)wenv.cfg->idle_timeout);
	s->id = registry_add(s);
	log_info(SID_FMT " connect rip=%s tls=%s", SID_ARG(s->id),
	    s->rip, implicit_tls ? "implicit" : "no");
	if (implicit_tls)
		s->tls_start = s->born.tv_sec;
	deadline_arm(s);
	greet(s);
	return s;
}

void
session_free(struct session *s, const char *reason)
{
	if (state_flags(s->state) & SF_LOGIN)
		log_info(SID_FMT " logout user=%s retr=%llu/%llu top=%llu "
		    "del=%llu reason=%s", SID_ARG(s->id), s->user,
		    (unsigned long long)s->n_retr,
		    (unsigned long long)s->bytes_retr,
		    (unsigned long long)s->n_top,
		    (unsigned long long)s->n_dele, reason);
	else
		log_info(SID_FMT " disconnect rip=%s reason=%s",
		    SID_ARG(s->id), s->rip, reason);
	addrlimit_release(&s->akey);
	registry_remove(s->id);
	session_drain_check();
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->deadline_ev != NULL)
		event_free(s->deadline_ev);
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
	if (s->state != SESS_QUIT && s->state != SESS_LOGOUT)
		session_enter_state(s, state_flags(s->state) & SF_LOGIN ?
		    SESS_LOGOUT : SESS_QUIT);
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
		/* The handler entered a state that waits for the answer. */
		if ((state_flags(s->state) & SF_WAIT) == 0)
			fatalx(SID_FMT " command pending in state %s",
			    SID_ARG(s->id), session_state_str(s->state));
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
	respond(s, res);
	if (!session_busy(s))
		conn_resume(s->conn);
}

static const struct cmd_def *
find_cmd(const char *verb)
{
	size_t	i, n = sizeof(cmds) / sizeof(cmds[0]);

	for (i = 0; i < n && strcmp(cmds[i].name, verb) != 0; i++)
		;
	metrics_command(i < n ? cmds[i].name : NULL);	/* per line read */
	return i < n ? &cmds[i] : NULL;
}

static enum cmd_result
dispatch(struct session *s, const char *line, size_t len)
{
	const struct cmd_def	*d;
	const char		*errstr;
	char			 verb[5];

	if (state_flags(s->state) & SF_SASL)
		return cmd_auth_data(s, (char *)line, len);

	/* The command says how its line is split (PASS: not at all). */
	d = find_cmd(pop3_cmd_verb(line, len, verb) == 0 ? verb : "");
	if (pop3_cmd_parse(&cmdbuf, line, len, d != NULL &&
	    d->argmax == POP3_CMD_RAW ? POP3_CMD_RAW : 0, &errstr) == -1) {
		session_set_reply(s, "%s", errstr);
		return POP_ERR;
	}
	if (d == NULL) {
		session_set_reply(s, "unknown command");
		return POP_ERR;
	}
	if ((d->states & ST(s->state)) == 0) {
		/* Commands are read in AUTHZ and TRANSACTION only. */
		session_set_reply(s, "%s is not valid in the %s state",
		    d->name, s->state == SESS_TRANS ? "TRANSACTION" :
		    "AUTHORIZATION");
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
		/* Then their form: empty and over-long arguments. */
		if (pop3_cmd_check(&cmdbuf, d->argmax, &errstr) == -1) {
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

	while (!session_busy(s)) {
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
		limit = state_flags(s->state) & SF_SASL ? POP3_SASL_LINE_MAX :
		    POP3_CMD_MAX;
		r = conn_readline(s->conn, line, (size_t)limit - 2, &len);
		if (r == 0) {
			/* Part of a line: its deadline runs from now. */
			if (s->line_start == 0 && s->deadline_ev != NULL &&
			    conn_input_len(s->conn) > 0) {
				struct timeval	now;

				event_base_gettimeofday_cached(wenv.base, &now);
				s->line_start = now.tv_sec;
				deadline_arm(s);
			}
			return;
		}
		s->line_start = 0;
		if (r == -2) {
			close_after_flush(s, "line_flood");
			return;
		}
		if (r == -1) {
			if (state_flags(s->state) & SF_SASL)
				session_sasl_done(s);
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
		else if (!session_busy(s))
			conn_resume(s->conn);
		break;
	case CONN_TLSREADY:
		log_info(SID_FMT " tls ok %s", SID_ARG(s->id),
		    conn_tls_info(s->conn, info, sizeof(info)));
		session_tls_deadline(s, 0);
		if (s->state == SESS_TLS) {
			session_enter_state(s, SESS_AUTH);
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
		/*
		 * On an implicit TLS port, an error while no USER is held
		 * is taken for a failed handshake.  (A login in flight
		 * counts as one held: the handshake had worked.)
		 */
		session_free(s, s->state == SESS_TLS || (s->implicit_tls &&
		    (s->state == SESS_AUTH || s->state == SESS_SASL ||
		    s->state == SESS_AUTH_DELAY)) ? "tls_error" : "error");
		break;
	}
}
