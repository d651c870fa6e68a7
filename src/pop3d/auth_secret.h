/*
 * auth_secret.h - a login's secret against a user's entry (auth_secret.c),
 * for the auth process's threads: the password through the credential
 * cache or the hash, APOP's digest, and the same work for a user that
 * does not exist.
 */
#ifndef POP3D_AUTH_SECRET_H
#define POP3D_AUTH_SECRET_H

#include "auth_req.h"
#include "hashcost.h"
#include "passwd.h"

/*
 * q's secret against e (NULL: no such user, which costs what hc says a
 * failure costs).  A password verified by the hash is cached for the
 * entry as stored; *cached says whether the cache answered.  1 if the
 * secret is right, else 0.  The caller holds what keeps hc alive.
 */
int	auth_secret_check(const struct auth_req *q,
	    const struct passwd_entry *e, struct hashcost *hc, int *cached);

#endif
