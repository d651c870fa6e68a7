/*
 * privsep.h - dropping root for the auth and worker processes.
 */
#ifndef POP3D_PRIVSEP_H
#define POP3D_PRIVSEP_H

#include <sys/types.h>

/*
 * If running as root, switches to user (groups, gid, uid) for good and
 * checks that root cannot be regained.  Refuses uid 0.  When not root,
 * does nothing.  Returns 0, or -1 with *errstr.
 */
int	privsep_drop(const char *user, const char **errstr);

/*
 * Asks the kernel to send sig to this process when its parent dies.
 * Call after privsep_drop(): a credential change clears the setting.
 */
void	privsep_die_with_parent(int sig);

#endif
