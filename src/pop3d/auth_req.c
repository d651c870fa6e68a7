/*
 * auth_req.c - decoding a worker's login request in the auth process,
 * encoding the answer, and the page the auth process shares with the
 * workers (auth_req.h).  Fuzzed by fuzz/fuzz_auth_req.c;
 * fuzz/fuzz_session.c answers with auth_res_encode too.
 */
#include <string.h>
#include <sys/mman.h>

#include "auth_req.h"
#include "ipc.h"

int
auth_req_decode(struct msg *m, struct auth_req *r)
{
	uint32_t	type;

	memset(r, 0, sizeof(*r));
	if (msg_begin(m, &type, &r->sid) == -1 || type != IPC_AUTH_REQ ||
	    msg_get_u32(m, &r->mech) == -1 ||
	    (r->mech != AUTH_MECH_PASS && r->mech != AUTH_MECH_PLAIN &&
	    r->mech != AUTH_MECH_APOP) ||
	    msg_get_str(m, r->user, sizeof(r->user)) == -1 ||
	    msg_get_str(m, r->secret, sizeof(r->secret)) == -1 ||
	    msg_get_str(m, r->apop_ts, sizeof(r->apop_ts)) == -1 ||
	    msg_get_str(m, r->rip, sizeof(r->rip)) == -1 ||
	    msg_end(m) == -1) {
		explicit_bzero(r, sizeof(*r));
		return -1;
	}
	return 0;
}

void
auth_res_encode(struct msg *m, uint64_t sid, uint32_t result, uint32_t delay,
    const char *home, uint32_t expire_days)
{
	msg_init(m, IPC_AUTH_RES, sid);
	msg_put_u32(m, result);
	msg_put_u32(m, delay);
	msg_put_str(m, home != NULL ? home : "");
	msg_put_u32(m, expire_days);
}

/* What the auth process tells the workers without a message. */
struct auth_shared {
	uint32_t	user_expire;	/* a line sets expire_days */
};
static struct auth_shared	*shared;

int
auth_shared_init(void)
{
	void	*p;

	p = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	shared = p;
	return 0;
}

void
auth_set_user_expire(int on)
{
	if (shared != NULL)
		__atomic_store_n(&shared->user_expire, on ? 1 : 0,
		    __ATOMIC_RELAXED);
}

int
auth_user_expire(void)
{
	return shared != NULL &&
	    __atomic_load_n(&shared->user_expire, __ATOMIC_RELAXED) != 0;
}
