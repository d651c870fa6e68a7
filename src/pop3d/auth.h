/*
 * auth.h - the auth process: owns the passwd-file, verifies credentials
 * for all workers on a few threads, and keeps the failure counters that
 * make brute force slow.  It never touches the network.
 */
#ifndef POP3D_AUTH_H
#define POP3D_AUTH_H

#include "pop3d_config.h"

/*
 * Runs the auth process; never returns.  ctlfd is the channel to the
 * master, which sends worker channels (fd passing) and settings.
 * Called in the child after fork, before any privilege drop.
 */
void	auth_main(const struct config *cfg, int ctlfd)
	    __attribute__((noreturn));

/* Master side: sends the auth-relevant settings of cfg over ctlfd. */
int	auth_send_conf(int ctlfd, const struct config *cfg);

#endif
