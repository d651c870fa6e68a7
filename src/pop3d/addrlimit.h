/*
 * addrlimit.h - client addresses as the limits see them, and the
 * connection counts per address that all workers share.
 *
 * An address key is an IPv4 address, or an IPv6 address cut to its
 * first ipv6_prefix bits (default /64: what one customer line gets, so
 * one attacker's /64 counts as one client).  An IPv4 address mapped
 * into IPv6 (::ffff:a.b.c.d) is the IPv4 address.
 *
 * The count table lives in memory the master maps shared before it
 * forks the workers: one region per worker slot, written only by that
 * worker (its loop thread), read by all to sum an address's connections
 * over the whole server.  When a worker dies the master clears its
 * region before it starts the next one, so the dead worker's
 * connections (closed with it) stop counting.
 */
#ifndef POP3D_ADDRLIMIT_H
#define POP3D_ADDRLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addrkey {
	uint8_t	fam;		/* 4 or 6; 0: no address (unix socket) */
	uint8_t	b[16];		/* v4: 4 bytes; v6: masked to the prefix */
};

/* Fills k from sa; v6prefix (1..128) bits of an IPv6 address count. */
void	addrkey_from_sockaddr(struct addrkey *k, const struct sockaddr *sa,
	    int v6prefix);
/* From a printable address; -1 if it is none. */
int	addrkey_from_str(struct addrkey *k, const char *s, int v6prefix);
/* "192.0.2.1" or "2001:db8:1:2::/64" (the group), into buf. */
const char *addrkey_str(const struct addrkey *k, int v6prefix, char *buf,
	    size_t len);
int	addrkey_eq(const struct addrkey *, const struct addrkey *);

struct addrtab;

/*
 * Maps the table for nslots workers of at most per_slot connections
 * each.  NULL if the mapping failed.  Master, before the first fork.
 */
struct addrtab	*addrtab_new(size_t nslots, size_t per_slot);
void		 addrtab_free(struct addrtab *);
/* Master: forgets slot's connections (its worker has exited). */
void		 addrtab_clear_slot(struct addrtab *, size_t slot);

/*
 * Worker of slot: counts one more connection from k unless k has limit
 * or more over all workers already (limit 0: no limit).  Returns 1 if
 * counted, 0 if refused.
 */
int		 addrtab_admit(struct addrtab *, size_t slot,
		    const struct addrkey *k, long limit);
/* Worker of slot: one connection from k has ended. */
void		 addrtab_release(struct addrtab *, size_t slot,
		    const struct addrkey *k);
/* Connections from k over all workers (a snapshot). */
long		 addrtab_count(const struct addrtab *, const struct addrkey *k);
/* Cells a slot holds (twice its connections, or more). */
size_t		 addrtab_slot_cells(const struct addrtab *);

/*
 * A worker's own slot, set once after fork; then addrlimit_admit() and
 * addrlimit_release() are addrtab_admit() and addrtab_release() there.
 * Without a table every connection is admitted.
 */
void		 addrlimit_attach(struct addrtab *, size_t slot);
int		 addrlimit_admit(const struct addrkey *k, long limit);
void		 addrlimit_release(const struct addrkey *k);
/* Whether addrlimit_admit() would take k now (nothing is counted). */
int		 addrlimit_room(const struct addrkey *k, long limit);

/* 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address: 1, else 0. */
int	sockaddr_is_loopback(const struct sockaddr *);

#endif
