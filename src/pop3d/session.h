/*
 * session.h - one POP3 session: the state machine of RFC 1939
 * (AUTHORIZATION -> TRANSACTION -> UPDATE), the command table and the
 * dispatcher, and the registry of a worker's sessions (ids, counts per
 * client address).  Worker processes, loop thread only.  Command
 * handlers live in cmd_auth.c (AUTHORIZATION) and cmd_trans.c
 * (TRANSACTION).
 */
#ifndef POP3D_SESSION_H
#define POP3D_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "addrlimit.h"
#include "dot.h"
#include "metrics.h"
#include "pop3_limits.h"
#include "pop3_cmd.h"
#include "pop3d_config.h"

/*
 * What sessions need from the worker that runs them: set up by
 * worker_main() before the first session, read-only for sessions but
 * for authfd and draining, which the worker changes.
 */
struct worker_env {
	const struct config	*cfg;
	SSL_CTX			*tls;
	struct event_base	*base;
	char			 hostname[256];
	int			 authfd;	/* to the auth process; -1: gone */
	int			 draining;	/* no new sessions; exit when
						   the last one ends */
	size_t			 proxy_pending;	/* connections awaiting a
						   PROXY header (proxy_conn) */
};
extern struct worker_env	 wenv;

/*
 * The states, sub-states included (OpenSMTPD's smtp_session keeps them
 * the same way): session_enter_state() is their only writer, traces
 * every change and refuses one its table does not allow.  Derived from
 * the state: whether the session is logged in (TRANSACTION, UPDATE,
 * LOGOUT), and whether it waits (no command is read while an answer or
 * the close is under way).
 *
 * "Busy", a command being answered, is not a state of its own: it is a
 * waiting state, or a continuation set (s->cont: CAPA, LIST, UIDL,
 * RETR, TOP writing as the output drains).  The continuation runs in
 * AUTHORIZATION (CAPA) as in TRANSACTION, and s->cont already says it
 * runs: a "busy" twin of each state would only copy that pointer.
 */
enum sess_state {
	SESS_GREET,	/* before the greeting */
	SESS_AUTH,	/* AUTHORIZATION, no USER given */
	SESS_AUTH_USER,	/* AUTHORIZATION, USER accepted: PASS may follow */
	SESS_SASL,	/* AUTH PLAIN: waiting for the data line */
	SESS_SASL_USER,	/* the same after a USER, which an exchange
			   without a login leaves in place */
	SESS_AUTH_CHECK,	/* a login request is at the auth process */
	SESS_AUTH_DELAY,	/* login refused: the pause before the -ERR */
	SESS_AUTH_OPEN,	/* login accepted: the maildrop is being opened */
	SESS_TLS,	/* STLS accepted, handshake running */
	SESS_TRANS,	/* TRANSACTION */
	SESS_UPDATE,	/* QUIT in TRANSACTION: committing */
	SESS_QUIT,	/* closing, never logged in */
	SESS_LOGOUT,	/* closing after a login */
};
const char *session_state_str(enum sess_state);

enum cmd_result {
	POP_OK,		/* dispatcher writes "+OK <reply>" */
	POP_ERR,	/* "-ERR <reply>", counts as a bad command: the line
			   is not a command that can be carried out as sent
			   (unknown, unparseable, not valid in this state,
			   wrong number or form of arguments) */
	POP_FAIL,	/* "-ERR <reply>" that does not count: a well-formed
			   command that failed on its argument's value (no
			   such message, deleted, unsupported mechanism),
			   a refused login, a server-side problem */
	POP_QUIET,	/* the handler wrote its own answer */
	POP_PENDING,	/* answer comes later (auth, job, delay) */
	POP_CLOSE,	/* "+OK <reply>" then close */
	POP_FAIL_CLOSE,	/* "-ERR <reply>" then close */
};

struct session;
struct msg;
struct maildrop;

/* Continuation for multi-line answers: 1 when finished, 0 to yield. */
typedef int (*sess_cont)(struct session *);

struct session {
	uint64_t	 id;
	struct conn	*conn;
	enum sess_state	 state;
	char		 rip[64];	/* client address, printable */
	struct addrkey	 akey;		/* ... as the limits count it */
	struct timeval	 born;		/* accepted (the loop's clock) */
	struct event	*deadline_ev;	/* login, handshake, line deadlines */
	time_t		 tls_start;	/* a handshake runs since; 0: none */
	time_t		 line_start;	/* part of a line came at; 0: none */
	int		 loopback;
	int		 implicit_tls;
	int		 bad_cmds;
	char		 reply[POP3_CMD_MAX + 64];

	/* AUTHORIZATION */
	char		 user[POP3_USER_MAX + 1];
	char		 apop_ts[128];	/* greeting timestamp, if APOP is on */
	struct event	*delay_ev;	/* failed-login pause (the answer
					   waits in reply) */

	/* TRANSACTION */
	struct maildrop	*md;
	sess_cont	 cont;
	size_t		 iter;		/* LIST/UIDL position */
	int		 msgfd;		/* RETR/TOP file */
	struct dot_enc	 enc;
	uint64_t	 sent;		/* bytes of this RETR, for the log */
	uint64_t	 msgsize;	/* of a wire-form file being sent;
					   0: an LF file, read to its end */

	/* counters for the logout line */
	uint64_t	 n_retr, bytes_retr, n_dele, n_top;
	const char	*end_reason;
};

/*
 * A worker's sessions (kept in registry.c).  A session's id is the
 * worker's pid, a sequence number and its slot, so it names one session
 * across all processes and their logs; ids, never pointers, cross the
 * process and thread lines, and a lookup checks the whole id.
 */
/*
 * The worker is full: closes its oldest session that has not logged in
 * (logged-in ones are never shed).  0, or -1 if every one has.
 */
int		 session_shed(void);
/* A TLS handshake starts (STLS: starts 1) or is done (0): its deadline. */
void		 session_tls_deadline(struct session *, int starts);
size_t		 session_count(void);
/* The live session with this id, or NULL (it ended meanwhile). */
struct session	*session_find(uint64_t id);
/* Ends every session now (shutdown timeout). */
void		 session_free_all(const char *reason);
/* The auth process is gone: every login waiting for it fails for now. */
void		 session_auth_lost(void);
/* With wenv.draining set: ends the loop once no session is left (nor a
   connection awaiting its PROXY header). */
void		 session_drain_check(void);

/* Starts a session on an accepted socket (taken).  NULL if refused. */
struct session	*session_new(int fd, const struct sockaddr *sa,
		    socklen_t salen, int implicit_tls);
/* Ends it now (shutdown, worker exit): logs and frees. */
void		 session_free(struct session *, const char *reason);

/* The only writer of s->state; fatal for a change the table forbids. */
void		 session_enter_state(struct session *, enum sess_state);
/* The AUTH PLAIN data line is taken: back to AUTHORIZATION, with the
   USER given before the exchange, if any. */
void		 session_sasl_done(struct session *);
/* printf into s->reply, for the dispatcher to send. */
void		 session_set_reply(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * Completes a POP_PENDING command: writes "+OK reply" or "-ERR reply"
 * (res POP_OK, POP_ERR, POP_FAIL, POP_CLOSE) or runs s->cont if set and
 * res is POP_OK, then resumes input.
 */
void		 session_finish(struct session *, enum cmd_result);

/* Closes after the output is flushed (a broken multi-line answer). */
void		 session_abort(struct session *, const char *reason);

/* Plaintext secrets allowed on this connection now? */
int		 session_plaintext_ok(const struct session *);

/* cmd_auth.c */
enum cmd_result	 cmd_user(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_pass(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_apop(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_auth(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_stls(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_capa(struct session *, struct pop3_cmd *);
/* The data line of AUTH PLAIN (line is untrusted, len without CRLF). */
enum cmd_result	 cmd_auth_data(struct session *, char *line, size_t len);
/* From the auth process: the answer for this session. */
/*
 * An answer from the auth process (IPC_AUTH_RES) to the session it
 * names, if that is still here.  -1 if the message is malformed.
 */
int		 session_auth_answer(struct msg *);
/* home and expire_days: the user's (IPC_AUTH_RES), with AUTH_RES_OK. */
void		 session_auth_result(struct session *, uint32_t result,
		    uint32_t delay_ms, const char *home, uint32_t expire_days);

/* cmd_trans.c */
enum cmd_result	 cmd_stat(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_list(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_uidl(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_retr(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_top(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_dele(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_noop(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_rset(struct session *, struct pop3_cmd *);
enum cmd_result	 cmd_quit(struct session *, struct pop3_cmd *);

#endif
