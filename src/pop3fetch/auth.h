/*
 * auth.h - pop3fetch's secrets and SASL messages: the password from
 * password_command or the terminal, the OAuth2 token from
 * oauth_token_command, and the base64 initial responses of PLAIN
 * (RFC 4616), XOAUTH2 (Google/Microsoft) and OAUTHBEARER (RFC 7628).
 * Every secret lives in a struct buf the caller wipes (buf_wipe).
 */
#ifndef FETCH_AUTH_H
#define FETCH_AUTH_H

#include "buf.h"
#include "fetch_config.h"

/*
 * Runs command with /bin/sh -c and puts the first line of its output
 * (without the line end) into secret (init'ed by the caller with max
 * FETCH_SECRET_MAX).  0, or -1 with *errp allocated: the command failed
 * (exit status not 0), printed nothing, or more than FETCH_SECRET_MAX.
 */
int	auth_command(const char *command, struct buf *secret, char **errp);
/*
 * Asks for the password on /dev/tty with echo off.  0 or -1 with *errp
 * ("no terminal to ask for the password on").
 */
int	auth_prompt(const struct account *, struct buf *secret, char **errp);
/*
 * The base64 initial response for mech (FETCH_AUTH_PLAIN, _XOAUTH2 or
 * _OAUTHBEARER) into out (init'ed by the caller; wipe after use).
 * 0, or -1 if it does not fit.
 */
int	auth_sasl_response(int mech, const struct account *,
	    const struct buf *secret, struct buf *out);
const char *auth_mech_str(int);

#endif
