/*
 * dovecot_uidlist.h - Dovecot's "dovecot-uidlist" of a Maildir, read
 * only: the UIDs, UIDVALIDITY and per-message extensions Dovecot kept,
 * and the POP3 UIDLs Dovecot gave from them (pop3_uidl_format, or a
 * saved P extension).  pop3d's maildrop open (job threads) answers UIDL
 * as the Dovecot it replaces did; pop3ctl migrate reports on it.  The
 * file is untrusted (the mail user writes it): every field is bounded.
 * Nothing here writes Dovecot's files.
 */
#ifndef POP3_DOVECOT_UIDLIST_H
#define POP3_DOVECOT_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

#include "nametab.h"
#include "pop3_limits.h"

#define DUIDL_FILE	"dovecot-uidlist"
/* Dovecot's default pop3_uidl_format (2.3, and pop3d's default). */
#define DUIDL_DEFAULT_FORMAT	"%08Xu%08Xv"

struct duidl_entry {
	uint32_t	 uid;
	uint32_t	 order;		/* O extension, 0 if none (see has_order) */
	char		*pop3_uidl;	/* P extension (pop3_save_uidl), NULL if
					   none; "" means Dovecot's "the base
					   file name" */
	char		*guid;		/* G extension or NULL (never "") */
	char		*name;		/* file name as the list has it */
	int		 has_order;	/* an O extension was there (O0 too) */
};

struct duidl {
	unsigned	 version;	/* 1 or 3 */
	uint32_t	 uidvalidity, nextuid;
	char		*guid;		/* header G (mailbox GUID), or NULL */
	struct duidl_entry *v;		/* in UID order */
	size_t		 n;
	/* Lookup index: open addressing, slots hold entry index + 1. */
	struct nametab	 idx;		/* by name, by unique part */
};

/*
 * Reads dirfd's "dovecot-uidlist" (dirfd is the Maildir).  1 loaded, 0
 * no list there, -1 with an allocated *errp naming file, line and
 * problem (bad/unsupported version, malformed line, too big).  Bounded:
 * file size (DUIDL_FILE_MAX), line length (DUIDL_LINE_MAX), entry count
 * (POP3_MAILDROP_MAX), field lengths.  Opened with O_NOFOLLOW.  As
 * Dovecot reads it: UIDs strictly ascending; a file name listed twice
 * keeps the later UID; an extension whose key is not A-Z is ignored.
 * Unless 1, *d is empty; on any return it is valid for duidl_free().
 * Blocking.
 */
int	duidl_load(int dirfd, struct duidl *d, char **errp);

/*
 * The entry of a Maildir file name (new/ or cur/ name, with or without
 * ":2,flags", with or without pop3d's own ",W=N" added to a name that
 * lacked it): the list's name equal up to ':' (Dovecot's own match),
 * else that name less a trailing ",W=N", else the entry with the same
 * Maildir unique part (before the first ',' or ':'; the lowest UID if
 * several).  NULL if none.
 */
const struct duidl_entry *duidl_find(const struct duidl *d,
	    const char *filename);

/*
 * The entries of n file names (new/ and cur/ names) into ent[0..n),
 * each entry to one file at most: first the files whose name the list
 * has (up to ':'), then the others by duidl_find.  ent[i] NULL: not
 * listed.  The one matching pop3d serves by and pop3ctl migrate
 * predicts.  The name of file i is get(arg, i).
 */
void	duidl_match(const struct duidl *d, size_t n,
	    const char *(*get)(void *arg, size_t i), void *arg,
	    const struct duidl_entry **ent);

/*
 * Dovecot's POP3 order of two entries: by O extension (none sorts after
 * every O, as (uint32_t)-1), then by UID.  For qsort over entries.
 */
int	duidl_pop3_cmp(const struct duidl_entry *a,
	    const struct duidl_entry *b);

/*
 * The UIDL Dovecot gave: P extension if any, else fmt (pop3_uidl_format,
 * Dovecot 2.3 syntax) expanded: %u uid, %v uidvalidity, %f the list's
 * file name up to ':', %g the G extension or else that name, %% a '%';
 * long forms %{uid} %{uidvalidity} %{filename} %{guid}; [-][0]width,
 * [offset.]width and the modifiers X (hex), U, L, R, T, E and M (MD5).
 * filename is the name on disk (unused by the formats: Dovecot used its
 * list's name).  1 with out filled (NUL-terminated, 1..POP3_UIDL_MAX
 * octets, all 0x21-0x7e as RFC 1939 requires), 0 with *why (a static
 * string) if it cannot.  outlen must be at least POP3_UIDL_MAX + 1.
 */
int	duidl_uidl(const struct duidl *d, const struct duidl_entry *e,
	    const char *fmt, const char *filename, char *out, size_t outlen,
	    const char **why);

/*
 * Checks a pop3_uidl_format: 0 if pop3d can expand it for every
 * message, -1 with *why (static) if not: an unknown variable or
 * modifier, %m (the header MD5, which pop3d cannot compute), or no
 * variable at all (every message would have the same UIDL).
 */
int	duidl_format_check(const char *fmt, const char **why);

void	duidl_free(struct duidl *d);

#endif
