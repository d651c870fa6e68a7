/*
 * md_dovecot.h - the UIDLs of a Maildir that Dovecot served (md_dovecot.c):
 * the messages its dovecot-uidlist lists keep the UIDL Dovecot gave and
 * come first, in Dovecot's POP3 order.  Part of the maildrop's open
 * (maildrop.c); worker job threads.
 */
#ifndef POP3D_MD_DOVECOT_H
#define POP3D_MD_DOVECOT_H

#include <stddef.h>

/*
 * For the n message names (in pop3d's order) of the Maildir at dirfd:
 * reads its dovecot-uidlist (dovecot_uidlist.c) and gives *permp, the
 * new order (new message i is old message perm[i]: the messages the
 * list has, in Dovecot's POP3 order, then the others in pop3d's), and
 * *uidlsp, n entries of the new order: the UIDL message i answers, or
 * NULL where it is maildir_uidl()'s.  Every UIDL of the maildrop is
 * distinct (RFC 1939): a name whose UIDL an earlier message has gets
 * "-2", "-3"... as Dovecot's pop3_uidl_duplicates=rename does.  A
 * listed message whose old UIDL cannot be given (longer than 70
 * octets...) keeps pop3d's own, logged.  Returns 1 (both allocated), 0
 * if the Maildir has no list (nothing allocated), -1 if the list cannot
 * be read (logged with the user, the file and its line).
 */
int	md_dovecot_uidls(int dirfd, const char *const *names, size_t n,
	    const char *fmt, const char *user, size_t **permp,
	    char ***uidlsp);

#endif
