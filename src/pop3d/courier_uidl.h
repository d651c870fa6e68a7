/*
 * courier_uidl.h - Courier's "courierpop3dsizelist" of a Maildir, read
 * only: the UID and UIDVALIDITY Courier's POP3 server gave each message
 * and so the UIDL it answered ("UID<n>-<uidv>").  pop3d's maildrop open
 * (job threads) answers UIDL as the Courier it replaces did.  The file
 * is the mail user's: untrusted, every line bounded.  Nothing here
 * writes Courier's files.  (A module of pop3d until pop3ctl migrate
 * reads the list too; then it belongs in src/lib.)
 *
 * What Courier does (courier-libs imap/pop3dserver.c: Courier 1.0.16
 * as in Debian 12, and the reader up to 2018; read to learn, nothing
 * copied):
 *   - its POP3 server never reads courierimapuiddb (that is Courier
 *     IMAP's); its UIDLs come from courierpop3dsizelist alone;
 *   - first line "/<version> <nextuid> [<uidvalidity>]"; Courier since
 *     2018 reads versions 2 and 3 and writes 3, Courier before read 0
 *     (no header), 1 and 2 and wrote 2; whichever ran last rewrote the
 *     list in its version at a login that changed anything, so the
 *     version on disk tells which reader to follow; any other version
 *     (or a version 0 list under Courier since 2018) and every message
 *     was numbered anew, so no UIDL survives even under Courier;
 *   - then a line per message in cur/, "<name> <size> <fields>": the
 *     name (as it was in cur/, flags included) may hold spaces: the
 *     fields are the last two space-separated words; version 3 fields
 *     "<uid>:<uidv>:<utf8>", version 2 "<uid>:<uidv>", version 1
 *     "<uid>[:<uidv>]", version 0 none (uid 0); a line that does not
 *     parse, and an unterminated last line, are skipped; the first
 *     2028 octets of a longer line are kept;
 *   - the UIDL: "UID<uid>-<uidv>", "UID<uid>" when uidv is 0, and the
 *     file name up to ':' (octets outside 0x21..0x7e, ' " and + as
 *     "+XX") when uid is 0 (a version 0 list, or a Maildir that Courier
 *     before 2018 first saw without a list: it kept uid 0 in version 2);
 *   - a message matches its line by the name up to ':'.
 */
#ifndef POP3D_COURIER_UIDL_H
#define POP3D_COURIER_UIDL_H

#include <stddef.h>
#include <stdint.h>

#include "nametab.h"
#include "pop3_limits.h"

#define CUIDL_FILE	"courierpop3dsizelist"
/* Courier keeps this much of a line (its buffer less its reserve). */
#define CUIDL_LINE_KEEP	2028
/* Bigger than a list of POP3_MAILDROP_MAX longest names: not Courier's. */
#define CUIDL_FILE_MAX	((long long)POP3_MAILDROP_MAX * 320)

struct cuidl_entry {
	char		*name;		/* as the list has it (":2,..." too) */
	uint64_t	 uid, uidv;
};

struct cuidl {
	unsigned	 version;	/* 0 to 3 */
	uint64_t	 nextuid;	/* the header's, for reports */
	struct cuidl_entry *v;		/* in file order */
	size_t		 n;
	size_t		 skipped;	/* lines Courier would skip too */
	/* Lookup index: open addressing, slots hold entry index + 1. */
	struct nametab	 idx;		/* by name, by unique part */
};

/*
 * Parses a whole list held in buf (len octets, need not end in NUL), as
 * Courier reads it.  1 parsed (*c filled, maybe with no entries), 0 not
 * a list Courier would use (a header of another version: Courier
 * numbered every message anew), -1 with an allocated *errp (too many
 * entries).  On any return *c is valid for cuidl_free().
 */
int	cuidl_parse(const char *buf, size_t len, struct cuidl *c, char **errp);

/*
 * Reads dirfd's CUIDL_FILE (dirfd is the Maildir, opened O_NOFOLLOW,
 * a regular file of at most CUIDL_FILE_MAX octets) and parses it.
 * 1 loaded; 0 no list there, or (with an allocated *errp saying so) a
 * list Courier would not use either; -1 with an allocated *errp naming
 * the problem (I/O, not a regular file, too big, too many entries).
 * Unless 1, *c is empty.  Blocking.
 */
int	cuidl_load(int dirfd, struct cuidl *c, char **errp);

/*
 * The entry of a Maildir file name as pop3d sees it (new/ or cur/ name,
 * with or without ":2,flags"): the list's name equal up to ':'
 * (Courier's own match), or equal to the name less the ",W=<n>" and
 * ",R=<n>" pop3d adds at its end (its size cache, its retrieval mark).
 * NULL if none.
 */
const struct cuidl_entry *cuidl_find_name(const struct cuidl *c,
	    const char *filename);
/*
 * cuidl_find_name(), else the entry with the same unique part (before
 * the first ',' or ':'; the first in the file if several), which every
 * rename of pop3d keeps.  NULL if none.
 */
const struct cuidl_entry *cuidl_find(const struct cuidl *c,
	    const char *filename);

/*
 * The UIDL Courier answered for e, into out (outlen at least
 * POP3_UIDL_MAX + 1).  1 done, 0 if it does not fit POP3_UIDL_MAX
 * octets or would be empty (a name-based one only).
 */
int	cuidl_uidl(const struct cuidl_entry *e, char *out, size_t outlen);

void	cuidl_free(struct cuidl *c);

#endif
