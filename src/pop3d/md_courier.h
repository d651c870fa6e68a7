/*
 * md_courier.h - the UIDLs of a Maildir that Courier's POP3 server
 * served (md_courier.c): a message its courierpop3dsizelist lists keeps
 * the UIDL Courier gave.  Part of the maildrop's open (maildrop.c);
 * worker job threads.
 */
#ifndef POP3D_MD_COURIER_H
#define POP3D_MD_COURIER_H

#include <stddef.h>

/*
 * For the n message names (in pop3d's order) of the Maildir at dirfd:
 * reads its courierpop3dsizelist (courier_uidl.c) and gives *uidlsp, n
 * entries: the UIDL message i answers, or NULL where it is pop3d's own
 * (maildir_uidl()).  A list entry gives its UIDL to one message only
 * (the message whose name equals it up to ':' if there, else the
 * first in pop3d's order whose name less ",W="/",R=" does, else the
 * first with its unique part), and every UIDL is made distinct (uidl_distinct.c: the listed
 * messages first, in pop3d's order, then the others; one an earlier
 * message answers gets "-2", "-3"...).  Returns 1 (*uidlsp
 * allocated), 0 if there is no list or one Courier itself would not use
 * (logged: Courier numbered every message anew with it), -1 if the list
 * cannot be read (logged with the user).
 */
int	md_courier_uidls(int dirfd, const char *const *names, size_t n,
	    const char *user, char ***uidlsp);

#endif
