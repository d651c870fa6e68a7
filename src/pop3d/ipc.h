/*
 * ipc.h - message types between pop3d's processes (see msg.h for the
 * framing).  Master -> auth: worker channels (fd passing) and settings;
 * worker <-> auth: credential checks, each tagged with the session id.
 */
#ifndef POP3D_IPC_H
#define POP3D_IPC_H

/*
 * A session id (a u64 the worker gives each connection, in every message
 * about it) in a log line: 16 hex digits, as the fail2ban filter and the
 * tests match them.  log_info(SID_FMT " connect ...", SID_ARG(s->id)...)
 */
#define SID_FMT		"%016llx"
#define SID_ARG(id)	((unsigned long long)(id))

enum ipc_type {
	IPC_AUTH_REQ = 1,	/* worker -> auth */
	IPC_AUTH_RES,		/* auth -> worker */
	IPC_AUTH_CONF,		/* master -> auth: settings (on start, SIGHUP) */
	IPC_CHAN,		/* master -> auth: a worker channel (an fd) */
};

/* IPC_AUTH_REQ: u32 mech, str user, str secret, str apop_ts, str rip */
enum auth_mech { AUTH_MECH_PASS = 1, AUTH_MECH_PLAIN, AUTH_MECH_APOP };

/*
 * IPC_AUTH_RES: u32 result, u32 delay_ms, str home, u32 expire_days.
 * home ("" if none) and expire_days (the passwd-file's extra field:
 * AUTH_EXPIRE_UNSET, AUTH_EXPIRE_NEVER or days) are the user's, sent
 * with AUTH_RES_OK only ("" and AUTH_EXPIRE_UNSET otherwise).
 */
#define AUTH_EXPIRE_UNSET	UINT32_MAX
#define AUTH_EXPIRE_NEVER	(UINT32_MAX - 1)
enum auth_result {
	AUTH_RES_OK = 1,
	AUTH_RES_FAIL,		/* bad user or password (never says which) */
	AUTH_RES_BANNED,	/* too many failures from this address */
	AUTH_RES_LOGIN_DELAY,	/* RFC 2449 LOGIN-DELAY not yet passed */
	AUTH_RES_TEMPFAIL,	/* passwd-file unreadable */
};

/*
 * IPC_AUTH_CONF: str passwd_file, u64 fail_delay_ms, u64 fail_delay_max_ms,
 * u64 ban_threshold, u64 ban_time, u64 login_delay, u64 cache_ttl
 */

#endif
