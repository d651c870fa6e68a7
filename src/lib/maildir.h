/*
 * maildir.h - Maildir names and UIDLs, scanning and delivery.
 * Names are untrusted (anyone who can deliver chooses them).
 * The name functions have no I/O (maildir_unique reads the clock, the
 * host name and random bytes); maildir_deliver() does blocking I/O and
 * runs off the event loop.  Scanning a maildrop is pop3d's maildrop.c.
 */
#ifndef POP3_MAILDIR_H
#define POP3_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pop3_limits.h"

struct maildir_name {
	size_t		 base_len;	/* unique part: up to first ',' or ':' */
	int		 has_size;	/* ,S=<n> present and valid */
	uint64_t	 size;		/* bytes on disk */
	int		 has_wsize;	/* ,W=<n> present and valid */
	uint64_t	 wsize;		/* CRLF size */
	int		 has_dots;	/* ,D=<n> present and valid: the file is
					   wire form (every line ends in CRLF)
					   and n lines start with '.' */
	uint64_t	 dots;
	int		 has_rtime;	/* ,R=<n> present and valid: pop3d
					   recorded that a POP3 session
					   retrieved the message at n (Unix
					   time; RFC 2449 EXPIRE) */
	uint64_t	 rtime;
	uint64_t	 sort_sec;	/* leading decimal seconds, 0 if none */
	uint64_t	 sort_usec;	/* from an "M<usec>" part, 0 if none */
};

/*
 * Parses a Maildir file name (no directory part).  Returns 0, or -1 if
 * the name is not a message: empty, starts with '.', longer than
 * POP3_MDNAME_MAX, or contains '/'.  ,S= ,W= ,D= and ,R= are looked for in
 * the part between the unique name and the ':' info; a malformed or
 * overflowing value is ignored (has_* stays 0).
 */
int	maildir_name_parse(const char *name, struct maildir_name *out);

/*
 * True when the name says the file is already what POP3 sends (RFC 1939
 * s3, without the final "."): ,S= equal to ,W= (no bare LF), and ,D=0
 * (every line ends in CRLF and none starts with '.').  Such a file can
 * go to a plain socket as it is (sendfile).  The writers of these fields
 * are maildir_tx (below) and whoever else can write the Maildir: the
 * mail user; a reader still checks the file's size against ,S=.
 */
int	maildir_name_is_wire(const struct maildir_name *);

/*
 * UIDL for a Maildir name: the unique part (before the first ',' or ':')
 * when it is 1..70 octets all in 0x21..0x7E; otherwise the 64 lower-case
 * hex digits of SHA-256 over the unique part.  Stable forever: no index.
 * out must hold POP3_UIDL_MAX + 1 bytes.  Always succeeds.
 */
void	maildir_uidl(const char *name, char *out);

/*
 * Order of delivery: compares two parsed names by (sort_sec, sort_usec)
 * then by the full name with strcmp.  For qsort.
 */
int	maildir_name_cmp(const char *a, const struct maildir_name *pa,
	    const char *b, const struct maildir_name *pb);

/*
 * One ",W=<n>" or ",R=<n>" field that pop3d adds at the end of a name
 * (the size cache, the retrieval mark) off name[0..n): the shorter
 * length, or n if name[0..n) does not end in one.  Called again on its
 * result, it takes them off one by one, the last added first: the
 * names the file had before, one of which Dovecot or Courier listed.
 */
size_t	maildir_strip_ours(const char *name, size_t n);

/*
 * Unique name for a new message: "<sec>.M<usec>P<pid>Q<counter>R<rand>.<host>"
 * with '/', ':' (and ',') in the host name replaced by "\057", "\072"
 * ("\054") as Maildir requires, and the host name cut to 64 octets.
 * <rand> is 16 hex digits.  out must hold POP3_MDNAME_MAX + 1 bytes.
 * Thread-safe.
 */
void	maildir_unique(char *out, size_t outlen);

/*
 * Delivers len bytes into the Maildir at dirfd: writes tmp/<unique>
 * with O_EXCL, fsyncs it, renames it to new/<unique>,S=<n>,W=<m>
 * (n: len, m: dot_crlf_size) without replacing an existing file, and
 * fsyncs new/.  On any failure nothing is left in tmp/ or new/.
 * Returns 0 and (if namebuf) the final name without "new/", or -1 with
 * errno set (ENAMETOOLONG if namelen is too small).  Thread-safe.
 */
int	maildir_deliver(int dirfd, const unsigned char *data, size_t len,
	    char *namebuf, size_t namelen);

/* Longest delivery key (maildir_deliver_key): 64 alphanumerics. */
#define MAILDIR_KEY_MAX	64

/*
 * As maildir_deliver(), with a name that carries key (1..MAILDIR_KEY_MAX
 * of [0-9A-Za-z]; EINVAL otherwise): "<sec>.M<usec>P<pid>K<key>.<host>".
 * The fetcher derives the key from account and UIDL, so that after a
 * crash maildir_find_key() tells whether the message got there.
 * key NULL: exactly maildir_deliver().
 */
int	maildir_deliver_key(int dirfd, const unsigned char *data, size_t len,
	    const char *key, char *namebuf, size_t namelen);

/*
 * Looks in new/ and cur/ of the Maildir at dirfd for a message whose
 * unique part carries "K<key>." (what maildir_deliver_key writes; an MUA
 * may move it to cur/ and add flags).  1 found, 0 not, -1 with errno.
 */
int	maildir_find_key(int dirfd, const char *key);

/*
 * The maildrop lock: an OFD write lock (F_OFD_SETLK, whole file) on
 * MAILDIR_LOCKFILE in the Maildir at dirfd, created mode 0600 if
 * missing.  pop3d holds it for a session, "pop3ctl migrate" while it
 * renames.  Returns the descriptor that holds it (close releases it),
 * or -1 with errno; *inuse is set to 1 when another holds it.
 */
#define MAILDIR_LOCKFILE	".pop3d.lock"
int	maildir_lock(int dirfd, int *inuse);

/* fsync of new/ in the Maildir at dirfd.  0, or -1 with errno. */
int	maildir_sync_new(int dirfd);
/* fsync(2) of the directory sub under dirfd (e.g. "cur").  0 or -1, errno. */
int	maildir_sync_dir(int dirfd, const char *sub);

/*
 * Calls cb(arg, key, len) for every "K<key>." (key: 1..MAILDIR_KEY_MAX
 * alphanumerics, not NUL-terminated, valid during the call) in the
 * unique part of each name in new/ and cur/ of the Maildir at dirfd.
 * Names are untrusted: a key found is only a candidate.  Stops when cb
 * returns non-zero and returns that value; else 0, or -1 with errno.
 */
int	maildir_scan_keys(int dirfd, int (*cb)(void *arg, const char *key,
	    size_t len), void *arg);

/*
 * Streaming delivery (the LDA: a message of unknown size from a pipe).
 * begin opens tmp/<unique> with O_EXCL in the Maildir at dirfd; write
 * appends; commit fsyncs the file, renames it to
 * new/<unique>,S=<n>,W=<m> (n: bytes written, m: their CRLF size; and
 * ,D=<k> when every line written ends in CRLF, k of them starting with
 * '.': the wire form of maildir_name_is_wire)
 * without replacing anything, fsyncs new/, and (if namebuf) gives the
 * final name without "new/"; abort removes the tmp file.  Each returns
 * 0, or -1 with errno set (ENOSPC, EDQUOT, EIO...); after a failed write
 * or commit nothing is left in tmp/ or new/ and the tx is finished.  The
 * fields are private.  Not thread-safe per tx.
 */
struct maildir_tx {
	int		 dirfd;		/* borrowed: the Maildir */
	int		 fd;		/* tmp file, -1 when finished */
	uint64_t	 size;
	uint64_t	 wsize;
	int		 crstate;
	int		 bol;		/* at the start of a line */
	int		 lastcr;	/* the last byte written was CR */
	int		 bare;		/* a line ended without CR */
	uint64_t	 dots;		/* lines starting with '.' */
	char		 uniq[POP3_MDNAME_MAX + 1];
};
int	maildir_tx_begin(struct maildir_tx *, int dirfd);
int	maildir_tx_write(struct maildir_tx *, const unsigned char *, size_t);
int	maildir_tx_commit(struct maildir_tx *, char *namebuf, size_t namelen);
void	maildir_tx_abort(struct maildir_tx *);

/*
 * Batched delivery (the fetcher).  begin_key is maildir_tx_begin() with
 * the keyed name of maildir_deliver_key() (key NULL: a plain unique
 * name); writeback starts writing the file out without waiting, so that
 * the fsyncs of a batch share journal commits; commit_nosync is
 * maildir_tx_commit() without the fsync of new/: the file is fsynced and
 * renamed into new/, but the rename is durable only once
 * maildir_sync_new() has returned 0 (a power loss before may undo it).
 */
int	maildir_tx_begin_key(struct maildir_tx *, int dirfd, const char *key);
void	maildir_tx_writeback(struct maildir_tx *);
int	maildir_tx_commit_nosync(struct maildir_tx *, char *namebuf,
	    size_t namelen);
/*
 * Removes tmp/ files with a keyed name (maildir_tx_begin_key) written on
 * this host by a process that no longer exists (a killed fetcher).
 * Returns how many, or -1 with errno.
 */
int	maildir_tmp_reap(int dirfd);

#endif
