/*
 * uidl_distinct.h - every UIDL of a listing distinct, the one rule that
 * pop3d (with Dovecot's or Courier's list) and "pop3ctl migrate" (which
 * predicts what pop3d answers) share, as Dovecot's
 * pop3_uidl_duplicates = rename: in the listing's order (the messages
 * with an old UIDL first), a message whose UIDL an earlier one answers
 * gets "<uidl>-k", k the first from 2 on that no earlier message
 * answers (a "-k" handed out counts as answered), the UIDL cut so that
 * it fits POP3_UIDL_MAX.  Linear time: each UIDL remembers the last k
 * it handed out.
 */
#ifndef POP3_UIDL_DISTINCT_H
#define POP3_UIDL_DISTINCT_H

#include <stddef.h>

#include "pop3_limits.h"

/* Message i's UIDL now: a string it keeps, or one written into buf
   (POP3_UIDL_MAX + 1 octets).  After set(i, u), u (or a copy). */
typedef const char *(*uidl_get_fn)(void *arg, size_t i, char *buf);
/* Message i answers u from now on (u is gone after the call). */
typedef void (*uidl_set_fn)(void *arg, size_t i, const char *u);

/*
 * Makes the n UIDLs get() gives, in that order, distinct, calling set()
 * for each one renamed; returns how many were.  n at most
 * POP3_MAILDROP_MAX.
 */
size_t	uidl_distinct(size_t n, uidl_get_fn get, uidl_set_fn set, void *arg);

/*
 * The same over v[0..n-1], in that order: an entry NULL stands for
 * own(names[i]) (maildir_uidl(), not kept), a renamed one is replaced
 * by an allocated copy (the old one freed).
 */
size_t	uidl_distinct_v(char **v, const char *const *names, size_t n);

/* Two Maildir names are equal up to ':' (the match Dovecot and Courier
   make of a file to its line). */
int	uidl_same_name(const char *a, const char *b);

#endif
