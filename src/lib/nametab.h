/*
 * nametab.h - an index of Maildir file names listed by another server
 * (Dovecot's dovecot-uidlist, Courier's courierpop3dsizelist): by the
 * name up to ':' and by the Maildir unique part (up to ',' or ':'), and
 * the lookup of a file pop3d may have renamed since (its own ",W=" and
 * ",R=" fields).  Open addressing over entry numbers with a keyed hash
 * (keyhash.h): the names come from files the mail user writes.
 */
#ifndef POP3_NAMETAB_H
#define POP3_NAMETAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Slots hold an entry's index + 1 (0: empty).  Entry i's name is the
 * char * at ents + i * stride + off (an array of structs with a name
 * member), which must not move while the index is used.
 */
struct nametab {
	uint32_t	*base;		/* by name up to ':' */
	uint32_t	*uniq;		/* by unique part */
	size_t		 mask;
	const char	*ents;
	size_t		 stride, off;
};

/* Empty tables for n entries of the array ents (see above). */
void	 nametab_init(struct nametab *, const void *ents, size_t n,
	    size_t stride, size_t off);
void	 nametab_free(struct nametab *);
/* The slot of the first len octets of key (up to ':'), or where it goes. */
uint32_t *nametab_base_slot(const struct nametab *, const char *key,
	    size_t len);
/* The slot of key's unique part, or where it goes. */
uint32_t *nametab_uniq_slot(const struct nametab *, const char *key);
/*
 * The entry (index + 1, or 0) of a file name: its name up to ':', else
 * each name it had before pop3d's own ",W=" and ",R=" fields, the
 * latest first (maildir_strip_ours).
 */
uint32_t nametab_find_name(const struct nametab *, const char *filename);
/* nametab_find_name, else the entry of the same unique part. */
uint32_t nametab_find(const struct nametab *, const char *filename);

#endif
