/*
 * auth_req.h - a login request as the auth process reads it from a
 * worker (IPC_AUTH_REQ, ipc.h).  Workers are unprivileged and face the
 * network, so the auth process treats what they send as hostile: the
 * decoder checks every length and field before anything is used.
 */
#ifndef POP3D_AUTH_REQ_H
#define POP3D_AUTH_REQ_H

#include <stdint.h>

#include "msg.h"
#include "pop3_limits.h"

#define AUTH_APOP_TS_MAX	128	/* the greeting's <...> timestamp */
#define AUTH_RIP_MAX		64	/* a printable client address */

struct auth_req {
	uint64_t	 sid;
	uint32_t	 mech;			/* enum auth_mech */
	char		 user[POP3_USER_MAX + 1];
	char		 secret[POP3_SECRET_MAX + 1];
	char		 apop_ts[AUTH_APOP_TS_MAX];
	char		 rip[AUTH_RIP_MAX];
};

/*
 * Decodes a received message into r: type IPC_AUTH_REQ, a known
 * mechanism, every string within its bound and without NUL, nothing
 * left over.  Returns 0, or -1 (r then holds no secret).
 */
int	auth_req_decode(struct msg *, struct auth_req *r);

/*
 * The answer (IPC_AUTH_RES, ipc.h) into m: home NULL or "" and
 * expire_days AUTH_EXPIRE_UNSET unless result is AUTH_RES_OK.
 */
void	auth_res_encode(struct msg *m, uint64_t sid, uint32_t result,
	    uint32_t delay, const char *home, uint32_t expire_days);

/*
 * A page the master maps before it forks the others, where the auth
 * process says, at each load of the passwd-file, whether a user's line
 * sets expire_days (the workers' CAPA then says "EXPIRE n USER" before
 * login, RFC 2449).  0, or -1 if it cannot be mapped.
 */
int	auth_shared_init(void);
/* The auth process, at each load: whether a line sets expire_days. */
void	auth_set_user_expire(int on);
/* Workers: 1 if the passwd-file last loaded has a per-user expire_days. */
int	auth_user_expire(void);

#endif
