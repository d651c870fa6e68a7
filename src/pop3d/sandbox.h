/*
 * sandbox.h - confining the auth process and the workers (sandbox.c).
 */
#ifndef POP3D_SANDBOX_H
#define POP3D_SANDBOX_H

/* SANDBOX_AUTH_PGSQL: the auth process with backend = pgsql, which
   also connects to the database (TCP or a Unix socket). */
enum sandbox_role { SANDBOX_AUTH, SANDBOX_AUTH_PGSQL, SANDBOX_WORKER };

/*
 * Empties the capability bounding set.  Call while still root, before
 * privsep_drop(); does nothing when not root.
 */
void	sandbox_drop_caps(void);

/*
 * Sets PR_SET_NO_NEW_PRIVS and, if filter is set (and this is no
 * AddressSanitizer build), loads the role's seccomp allow-list for every
 * thread of the process.  Call once the process is set up, before it
 * reads anything a client sent.  Returns 0, or -1 with *errstr.
 */
int	sandbox_enter(enum sandbox_role, int filter, const char **errstr);

#endif
