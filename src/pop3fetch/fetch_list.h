/*
 * fetch_list.h - pop3fetch's view of the maildrop: STAT, UIDL, LIST
 * (fetch_list.c).
 */
#ifndef FETCH_FETCH_LIST_H
#define FETCH_FETCH_LIST_H

struct fetch;

/*
 * Fills f->nmsgs and f->msgs (unique-ids, sizes when LIST answers).
 * 0, or -1 with the error recorded (fetch_fail).
 */
int	fetch_list(struct fetch *);

#endif
