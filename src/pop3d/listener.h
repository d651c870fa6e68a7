/*
 * listener.h - the master's listening sockets: the listen and listen_tls
 * addresses of the config, bound before any child starts, and carried
 * over a reload (struct listener is worker.h's: the workers accept on
 * them).
 */
#ifndef POP3D_LISTENER_H
#define POP3D_LISTENER_H

#include <stddef.h>

#include "pop3d_config.h"
#include "worker.h"

/*
 * Binds the listeners of c into a new array (*out, *nout), logging each
 * address.  A socket of old (nold entries, NULL on the first start) with
 * the same spec is moved over instead of bound again (one of the same
 * kind first, then one of another kind, which takes the new kind: a
 * reload may move an address between listen and listen_proxy), so a
 * reload with port 0, or a busy port, keeps working; its fd in old
 * becomes -1.  Returns 0, or -1 with the reason logged and old as it
 * was (the sockets moved over are back in it, those bound are closed).
 */
int	listener_bind_all(const struct config *c, struct listener *old,
	    size_t nold, struct listener **out, size_t *nout);

/*
 * Binds one "ADDR:PORT", "[V6]:PORT" or "*:PORT" (the shape checked by
 * config_load) into l: fd (listening, non-blocking, close-on-exec),
 * spec (a copy) and addr (as bound); tls and proxy 0.  Returns 0, or
 * -1 with the reason logged.
 */
int	listener_bind(const char *spec, struct listener *l);

/* Closes the sockets of v (n entries) that are still open, frees v. */
void	listener_free_all(struct listener *v, size_t n);

#endif
