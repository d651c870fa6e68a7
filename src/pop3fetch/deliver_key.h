/*
 * deliver_key.h - the delivery key of a message: hex of SHA-256(account
 * NUL uid), cut to DELIVER_KEY_LEN.  It names the Maildir file, sits in
 * the mbox From_ line and is given to an MDA, so a later run can tell
 * that a message was delivered.
 */
#ifndef FETCH_DELIVER_KEY_H
#define FETCH_DELIVER_KEY_H

/* Delivery key: hex of SHA-256(account NUL uid), cut to this length. */
#define DELIVER_KEY_LEN	32

/* key (DELIVER_KEY_LEN + 1 bytes) for account and uid. */
void	deliver_key(const char *account, const char *uid, char *key);

#endif
