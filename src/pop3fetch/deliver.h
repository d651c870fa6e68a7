/*
 * deliver.h - pop3fetch's destinations: Maildir (tmp, fsync, rename; the
 * name carries the message's key; new/ fsynced once per batch), mbox
 * (dotlock and fcntl lock, append, fsync; the key is in the From_ line:
 * mbox.h), or an MDA (a shell command fed the message, exit status 0
 * required).  Messages come with LF line ends.
 */
#ifndef FETCH_DELIVER_H
#define FETCH_DELIVER_H

#include <stddef.h>

#include "deliver_key.h"
#include "fetch_config.h"

struct deliver;

/*
 * Opens the account's destination (creating a missing Maildir with
 * tmp/ new/ cur/, mode 0700).  NULL with *errp allocated.
 */
struct deliver *deliver_open(const struct account *, char **errp);
void	deliver_free(struct deliver **);
/*
 * Delivers data/len.  0, or -1 with *errp allocated; then nothing was
 * delivered (a partial mbox append is truncated away; an MDA that failed
 * is trusted to have delivered nothing).  mbox and MDA deliveries are
 * durable on return; a Maildir one is written to tmp/ and becomes
 * durable, under its keyed name in new/, with deliver_sync() (at most
 * FETCH_BATCH_MAX are held; one more syncs the batch first).
 */
int	deliver_msg(struct deliver *, const char *key, const char *uid,
	    const unsigned char *data, size_t len, char **errp);
/*
 * Makes every delivery so far durable (Maildir: fsync of each file,
 * rename into new/, one fsync of new/).  0, or -1 with *errp allocated:
 * then some of them may be in new/ (whole, fsynced) and some not, and
 * whether those in new/ survive a power loss is unknown.
 */
int	deliver_sync(struct deliver *, char **errp);
/*
 * Reads the keys of every message in the destination (Maildir: names in
 * new/ and cur/; mbox: From_ lines of whole records, after cutting off
 * the partial record of a pop3fetch killed while appending, whose
 * dotlock proves it) into memory, for deliver_has_key().
 * 0, or -1 with *errp allocated (an MDA cannot be asked; I/O errors).
 */
int	deliver_keys_load(struct deliver *, char **errp);
/* 1 if deliver_keys_load() found key (DELIVER_KEY_LEN characters), 0 if not. */
int	deliver_has_key(const struct deliver *, const char *key);

#endif
