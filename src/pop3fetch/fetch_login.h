/*
 * fetch_login.h - pop3fetch's way into the transaction state: connect,
 * TLS, greeting, CAPA, STLS and the login (fetch_login.c).
 */
#ifndef FETCH_FETCH_LOGIN_H
#define FETCH_FETCH_LOGIN_H

struct fetch;

/*
 * Connects to the account's server and logs in.  0, or -1 with the
 * error recorded (fetch_fail): the connection may be open.
 */
int	fetch_login(struct fetch *);

#endif
