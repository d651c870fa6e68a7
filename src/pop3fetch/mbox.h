/*
 * mbox.h - pop3fetch's mbox destination: appending a message as an
 * mboxrd record whose From_ line carries its key and length, and reading
 * the keys of the whole records, after cutting off the partial record of
 * a pop3fetch killed while appending (its dotlock proves it).  Both
 * under the dotlock and an fcntl lock (mbox_lock.h).
 */
#ifndef FETCH_MBOX_H
#define FETCH_MBOX_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Appends data/len (LF line ends) to the mbox at path (created, mode
 * 0600, if missing) and fsyncs it.  0, or -1 with *errp allocated: then
 * nothing was appended (a partial append is truncated away).
 */
int	mbox_deliver(const char *path, const char *key,
	    const unsigned char *data, size_t len, char **errp);
/*
 * Hands the key (DELIVER_KEY_LEN characters) of each whole record of
 * ours in the mbox at path to add(arg, key, len), after the repair; no
 * mbox is no key.  Ends with an fsync.  0, or -1 with *errp allocated.
 */
int	mbox_keys(const char *path, int (*add)(void *arg, const char *key,
	    size_t len), void *arg, char **errp);
/*
 * The key scan alone, as mbox_keys() runs it under its locks: reads the
 * open mbox fd from where it stands to its end and hands add() the key
 * of each whole record of ours.  Returns 0; 1 when the last record of
 * ours is cut short (*cut_from: its From_ line's offset); -1 with errno
 * on a read error.  Memory stays bounded whatever the file holds.
 */
int	mbox_scan_keys(int fd, int (*add)(void *arg, const char *key,
	    size_t len), void *arg, off_t *cut_from);

#endif
