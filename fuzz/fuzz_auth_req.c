/*
 * fuzz_auth_req.c - libFuzzer target for what the auth process reads
 * from a worker (auth_req.c): a worker faces the network, and one taken
 * over can send the auth process anything.  Each input is one datagram;
 * a decoded request must keep every string NUL-terminated within its
 * bound, and its user and address then go through what the auth
 * process does with them (user name check, log escaping, the address
 * key of the failure table).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "passwd.h"
#include "pop3d/addrlimit.h"
#include "pop3d/auth_req.h"
#include "pop3d/ipc.h"
#include "pop3d/msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
bounded(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msg	m;
	struct auth_req		r;
	struct addrkey		k;
	char			esc[POP3_USER_MAX * 4 + 8], a[64];

	if (size > sizeof(m.data))
		return 0;	/* msg_recv reports a truncated datagram */
	memset(&m, 0, sizeof(m));
	memcpy(m.data, data, size);
	m.len = size;
	if (auth_req_decode(&m, &r) == -1) {
		/* Nothing of a refused request is left behind. */
		if (r.secret[0] != '\0' || r.user[0] != '\0')
			abort();
		return 0;
	}
	if (r.mech != AUTH_MECH_PASS && r.mech != AUTH_MECH_PLAIN &&
	    r.mech != AUTH_MECH_APOP)
		abort();
	bounded(r.user, sizeof(r.user));
	bounded(r.secret, sizeof(r.secret));
	bounded(r.apop_ts, sizeof(r.apop_ts));
	bounded(r.rip, sizeof(r.rip));
	(void)passwd_valid_user(r.user, strlen(r.user));
	(void)log_escape(r.user, strlen(r.user), esc, sizeof(esc));
	bounded(esc, sizeof(esc));
	if (addrkey_from_str(&k, r.rip, 64) == 0) {
		(void)addrkey_str(&k, 64, a, sizeof(a));
		bounded(a, sizeof(a));
	}
	return 0;
}
