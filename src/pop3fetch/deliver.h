/*
 * deliver.h - pop3fetch's destinations: Maildir (tmp, fsync, rename; the
 * name carries the message's key), mbox (dotlock and fcntl lock, append,
 * fsync; the key is in the From_ line), or an MDA (a shell command fed
 * the message, exit status 0 required).  Messages come with LF line ends.
 */
#ifndef FETCH_DELIVER_H
#define FETCH_DELIVER_H

#include <stddef.h>

#include "fetch_config.h"

/* Delivery key: hex of SHA-256(account NUL uid), cut to this length. */
#define DELIVER_KEY_LEN	32

struct deliver;

/*
 * Opens the account's destination (creating a missing Maildir with
 * tmp/ new/ cur/, mode 0700).  NULL with *errp allocated.
 */
struct deliver *deliver_open(const struct account *, char **errp);
void	deliver_free(struct deliver **);
/* key (DELIVER_KEY_LEN + 1 bytes) for account and uid. */
void	deliver_key(const char *account, const char *uid, char *key);
/*
 * Delivers data/len durably.  0, or -1 with *errp allocated; then
 * nothing was delivered (a partial mbox append is truncated away; an MDA
 * that failed is trusted to have delivered nothing).
 */
int	deliver_msg(struct deliver *, const char *key, const char *uid,
	    const unsigned char *data, size_t len, char **errp);
/*
 * Whether a message with key is in the destination: 1, 0, or -1 (cannot
 * tell: an MDA, or an error; *errp allocated).
 */
int	deliver_find(struct deliver *, const char *key, char **errp);

#endif
