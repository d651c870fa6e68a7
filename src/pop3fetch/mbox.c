/*
 * mbox.c - pop3fetch's mbox destination: a message appended as an
 * mboxrd record whose From_ line carries its key and length, fsynced,
 * and truncated away if the append fails; the key scan, which counts a
 * record only if it is whole; and the repair of the partial record a
 * pop3fetch killed while appending left, which its dotlock proves.
 * Everything under both locks (mbox_lock.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "deliver_key.h"
#include "fsutil.h"
#include "log.h"
#include "mbox.h"
#include "mbox_lock.h"
#include "pop3_limits.h"
#include "xmalloc.h"

/* The From_ line's envelope sender: the key, in a reserved domain. */
#define MBOX_FROM_DOMAIN	"pop3fetch.invalid"

/*
 * The message as mboxrd: a From_ line carrying the key and the length of
 * the record after it ("From KEY+LEN@pop3fetch.invalid DATE"), lines
 * matching ">*From " get one more '>', and a blank line after the
 * message.  The length lets a later run tell a whole record from one
 * that a crash cut short (mbox_keys).
 */
static unsigned char *
mbox_format(const char *key, const unsigned char *data, size_t len,
    size_t *outlen)
{
	struct buf	 b, body;
	const unsigned char *p = data, *end = data + len, *nl, *q;
	char		 date[64];
	time_t		 now = time(NULL);
	struct tm	 tm;

	buf_init(&body, (size_t)FETCH_MSG_MAX * 2 + 256);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end - 1;
		for (q = p; q <= nl && *q == '>'; q++)
			;
		if ((size_t)(end - q) >= 5 && memcmp(q, "From ", 5) == 0)
			(void)buf_addc(&body, '>');
		(void)buf_add(&body, p, (size_t)(nl - p) + 1);
		p = nl + 1;
	}
	if (len > 0 && data[len - 1] != '\n')
		(void)buf_addc(&body, '\n');
	(void)buf_addc(&body, '\n');

	buf_init(&b, body.max + 256);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	(void)buf_printf(&b, "From %s+%zu@%s %s\n", key, body.len,
	    MBOX_FROM_DOMAIN, date);
	(void)buf_add(&b, body.data, body.len);
	buf_clear(&body);
	return buf_take(&b, outlen);
}

/*
 * The byte at off into *c: 0, or -1 with errno (EIO: the file is shorter,
 * which under both locks means it shrank).
 */
static int
mbox_byte_at(int fd, off_t off, unsigned char *c)
{
	ssize_t	 n;

	while ((n = pread(fd, c, 1, off)) == -1 && errno == EINTR)
		;
	if (n == 1)
		return 0;
	if (n == 0)
		errno = EIO;
	return -1;
}

/*
 * Opens the mbox read-write with extra flags (O_APPEND, O_CREAT): only a
 * regular file (a FIFO or a device there would block the key scan's
 * reads for ever while the locks are held); anything else is EINVAL.
 */
static int
mbox_open(const char *path, int flags)
{
	struct stat	 st;
	int		 fd;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | flags,
	    0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, flags & O_APPEND) == -1) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int mbox_repair(const char *, int, off_t, off_t, char **);

int
mbox_deliver(const char *path, const char *key, const unsigned char *data,
    size_t len, char **errp)
{
	struct mbox_lock	 l;
	struct stat		 st;
	unsigned char		*out, c;
	size_t			 outlen;
	int			 fd = -1, ok = 0, saved, reported = 0;
	const char		*what = "open";

	if (mbox_lock_take(&l, path, errp) == -1)
		return -1;
	out = mbox_format(key, data, len, &outlen);
	if ((fd = mbox_open(path, O_APPEND | O_CREAT)) == -1)
		goto out;
	what = "lock";
	if (mbox_lock_fcntl(fd) == -1)
		goto out;
	if (mbox_lock_held(&l, path, errp) == -1) {
		reported = 1;
		goto out;
	}
	what = "stat";
	if (fstat(fd, &st) == -1)
		goto out;
	if (l.repair != -1) {
		if (mbox_repair(path, fd, l.repair, st.st_size, errp) == -1) {
			reported = 1;
			goto out;
		}
		if (fstat(fd, &st) == -1)
			goto out;
	}
	mbox_lock_offset(&l, st.st_size);
	/* Our From_ line starts a line, whatever the mbox ended with. */
	what = "read";
	if (st.st_size > 0 && mbox_byte_at(fd, st.st_size - 1, &c) == -1)
		goto out;
	what = "write";
	if (st.st_size > 0 && c != '\n' && write_all(fd, "\n", 1) == -1)
		goto undo;
	if (write_all(fd, out, outlen) == -1 || fsync(fd) == -1)
		goto undo;
	ok = 1;
	goto out;
 undo:
	/* Leave the mbox as it was: no half message. */
	saved = errno;
	if (ftruncate(fd, st.st_size) == 0)
		(void)fsync(fd);
	errno = saved;
 out:
	if (!ok && !reported)
		xasprintf(errp, "mbox %s: %s: %s", path, what,
		    fd == -1 && errno == EINVAL ? "not a regular file" :
		    strerror(errno));
	if (fd != -1)
		close(fd);	/* drops the fcntl lock */
	mbox_lock_drop(&l);
	free(out);
	return ok ? 0 : -1;
}

/*
 * Parses one of our From_ lines: "From KEY+LEN@pop3fetch.invalid ...".
 * Returns 1 with *reclen set, 0 for any other line.
 */
static int
mbox_ours(const char *line, size_t n, unsigned long long *reclen)
{
	static const char	 dom[] = "@" MBOX_FROM_DOMAIN " ";
	const char		*p;
	unsigned long long	 v = 0;
	size_t			 i;

	if (n < 5 + DELIVER_KEY_LEN + 2 + sizeof(dom) - 1 ||
	    memcmp(line, "From ", 5) != 0 || line[5 + DELIVER_KEY_LEN] != '+')
		return 0;
	p = line + 5 + DELIVER_KEY_LEN + 1;
	for (i = 0; p[i] >= '0' && p[i] <= '9' && i < 12; i++)
		v = v * 10 + (unsigned long long)(p[i] - '0');
	if (i == 0 || (size_t)(p + i - line) + sizeof(dom) - 1 > n ||
	    memcmp(p + i, dom, sizeof(dom) - 1) != 0)
		return 0;
	*reclen = v;
	return 1;
}

/* The mbox key scan's view of the records it has passed. */
struct mbox_keyscan {
	int			(*add)(void *, const char *, size_t);
	void			*arg;
	int			 have;	/* the last From_ line was ours */
	char			 key[DELIVER_KEY_LEN];
	unsigned long long	 reclen;	/* its LEN */
	off_t			 rec_from;	/* offset of its From_ line */
	off_t			 rec_body;	/* offset just after it */
};

/*
 * One line of the mbox, starting at offset off: its first n bytes, and
 * fits = 0 if the line was longer than FETCH_MBOX_LINE_MAX (only its
 * start is here, and it cannot be one of our From_ lines).  A From_ line
 * of any length ends the record before it, which counts if it is whole.
 */
static void
mbox_scan_line(struct mbox_keyscan *s, const char *line, size_t n, off_t off,
    int fits)
{
	unsigned long long	 len;

	if (n < 5 || memcmp(line, "From ", 5) != 0)
		return;
	if (s->have && off == s->rec_body + (off_t)s->reclen)
		(void)s->add(s->arg, s->key, DELIVER_KEY_LEN);
	s->have = fits && mbox_ours(line, n, &len);
	if (s->have) {
		memcpy(s->key, line + 5, DELIVER_KEY_LEN);
		s->reclen = len;
		s->rec_from = off;
		s->rec_body = off + (off_t)n;
	}
}

/*
 * Reads the mbox at fd to its end in FETCH_MBOX_READ chunks, handing
 * each line to mbox_scan_line() as it ends (a last line without LF at the
 * end of the file).  A line is gathered across reads up to
 * FETCH_MBOX_LINE_MAX bytes; past that its start is handed on once
 * and the rest skipped to its LF, so only a byte after an LF ever starts
 * a line and memory stays bounded whatever the file holds.  Sets *size
 * to the bytes read.  0, or -1 with errno.
 */
static int
mbox_scan(int fd, struct mbox_keyscan *s, off_t *size)
{
	char		 rbuf[FETCH_MBOX_READ], line[FETCH_MBOX_LINE_MAX];
	const char	*p, *end, *nl;
	size_t		 llen = 0, take;
	ssize_t		 r;
	off_t		 pos = 0, bol = 0;
	int		 skip = 0;

	for (;;) {
		if ((r = read(fd, rbuf, sizeof(rbuf))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		for (p = rbuf, end = rbuf + r; p < end; p += take) {
			nl = memchr(p, '\n', (size_t)(end - p));
			take = (size_t)((nl != NULL ? nl + 1 : end) - p);
			/* With skip set, p is inside an over-long line. */
			if (!skip && take > sizeof(line) - llen) {
				memcpy(line + llen, p, sizeof(line) - llen);
				mbox_scan_line(s, line, sizeof(line), bol, 0);
				skip = 1;
			} else if (!skip) {
				memcpy(line + llen, p, take);
				llen += take;
			}
			pos += (off_t)take;
			if (nl != NULL) {
				if (!skip)
					mbox_scan_line(s, line, llen, bol, 1);
				skip = 0;
				llen = 0;
				bol = pos;
			}
		}
	}
	if (!skip && llen > 0)
		mbox_scan_line(s, line, llen, bol, 1);
	*size = pos;
	return 0;
}

int
mbox_scan_keys(int fd, int (*add)(void *, const char *, size_t), void *arg,
    off_t *cut_from)
{
	struct mbox_keyscan	s;
	off_t			size;

	memset(&s, 0, sizeof(s));
	s.add = add;
	s.arg = arg;
	if (mbox_scan(fd, &s, &size) == -1)
		return -1;
	if (s.have && size == s.rec_body + (off_t)s.reclen)
		(void)add(arg, s.key, DELIVER_KEY_LEN);
	else if (s.have && size < s.rec_body + (off_t)s.reclen) {
		*cut_from = s.rec_from;
		return 1;
	}
	return 0;
}

/*
 * 1 if p[0..n), the end of the file without an LF, can be the start of
 * one of our From_ lines (up to the whole line without its LF).
 */
static int
mbox_ours_start(const char *p, size_t n)
{
	static const char	 from[] = "From ";
	static const char	 dom[] = "@" MBOX_FROM_DOMAIN " ";
	size_t			 i, j;

	for (i = 0; i < n && i < 5; i++)
		if (p[i] != from[i])
			return 0;
	for (; i < n && i < 5 + DELIVER_KEY_LEN; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	if (i == n)
		return 1;
	if (p[i++] != '+')
		return 0;
	for (j = 0; i < n && p[i] >= '0' && p[i] <= '9' && j < 12; i++, j++)
		;
	if (i == n)
		return 1;
	if (j == 0)
		return 0;
	for (j = 0; i < n && j < sizeof(dom) - 1; i++, j++)
		if (p[i] != dom[j])
			return 0;
	for (; i < n; i++)	/* the date */
		if (p[i] < ' ' || p[i] > '~')
			return 0;
	return 1;
}

/*
 * 1 if the mbox's bytes [from, size) hold "\nFrom ": a line that starts
 * a record after the one at from; 0 if not, -1 with errno.
 */
static int
mbox_from_after(int fd, off_t from, off_t size)
{
	static const char	 pat[] = "\nFrom ";
	char			 buf[FETCH_MBOX_READ];
	size_t			 keep = 0, have;
	ssize_t			 n;

	while (from < size) {
		n = pread(fd, buf + keep, (size_t)(size - from) < sizeof(buf) -
		    keep ? (size_t)(size - from) : sizeof(buf) - keep, from);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		from += n;
		have = keep + (size_t)n;
		if (memmem(buf, have, pat, sizeof(pat) - 1) != NULL)
			return 1;
		/* A match may straddle two reads. */
		keep = have < sizeof(pat) - 2 ? have : sizeof(pat) - 2;
		memmove(buf, buf + have - keep, keep);
	}
	return 0;
}

/*
 * A pop3fetch that died while appending left its dotlock saying the
 * append began at off, and we took that lock over: nobody who honours
 * the lock has written since, so the bytes from off on are its.  If they
 * are the start of its record (after the LF it may have added) and not
 * the whole record, they are cut off: the mbox is as before that append,
 * and the message, not recorded "done", is fetched again.  A whole
 * record stays (it counts as delivered).  A program that locks the mbox
 * with fcntl only (not the dotlock) may have appended after the partial
 * record: so nothing is cut if a line after our From_ line starts with
 * "From " (our mboxrd-quoted body has none).  0, or -1 with *errp
 * allocated.
 */
static int
mbox_repair(const char *path, int fd, off_t off, off_t size, char **errp)
{
	char			 line[FETCH_MBOX_LINE_MAX];
	const char		*p = line, *nl;
	unsigned long long	 len;
	ssize_t			 n;
	unsigned char		 c;
	size_t			 ll = 0;
	int			 cut;

	if (size <= off)
		return 0;	/* it wrote nothing */
	while ((n = pread(fd, line, sizeof(line), off)) == -1 &&
	    errno == EINTR)
		;
	if (n <= 0) {
		if (n == 0)
			errno = EIO;	/* the file shrank under both locks */
		goto ioerr;
	}
	if (off > 0) {
		/*
		 * Our append starts a line (the byte before is a LF), or adds
		 * the LF that does (the byte before is not, the one at off is):
		 * an offset that fits neither is no append of ours.
		 */
		if (mbox_byte_at(fd, off - 1, &c) == -1)
			goto ioerr;
		if (c != '\n' && line[0] != '\n') {
			log_warn("mbox %s: the offset %lld in the lock is not "
			    "at the start of a line: left as it is", path,
			    (long long)off);
			return 0;
		}
		if (c != '\n') {
			p++;
			n--;
		}
	}
	if ((nl = memchr(p, '\n', (size_t)n)) != NULL) {
		ll = (size_t)(nl - p) + 1;
		cut = mbox_ours(p, ll, &len) &&
		    (unsigned long long)(size - off) < (unsigned long long)
		    (p - line) + ll + len;
	} else
		cut = off + (p - line) + n == size &&
		    mbox_ours_start(p, (size_t)n);
	if (cut && nl != NULL) {
		switch (mbox_from_after(fd, off + (p - line) + (off_t)ll - 1,
		    size)) {
		case -1:
			goto ioerr;
		case 1:
			log_warn("mbox %s: the message cut short at offset "
			    "%lld is followed by another (written by a "
			    "program that does not use the dotlock): left as "
			    "they are", path, (long long)off);
			return 0;
		}
	}
	if (!cut) {
		if (nl == NULL || !mbox_ours(p, ll, &len))
			log_warn("mbox %s: the bytes at offset %lld are not "
			    "the start of a pop3fetch record: left as they "
			    "are", path, (long long)off);
		return 0;
	}
	log_warn("mbox %s: removing a message cut short at offset %lld "
	    "(pop3fetch stopped while appending it; it is fetched again)",
	    path, (long long)off);
	if (ftruncate(fd, off) == -1 || fsync(fd) == -1)
		goto ioerr;
	return 0;
 ioerr:
	xasprintf(errp, "mbox %s: repair: %s", path, strerror(errno));
	return -1;
}

/*
 * Collects the keys of our records in the mbox, counting a record only
 * if it is whole: the next From_ line (or the end of the file) starts
 * exactly LEN bytes after its From_ line.  First, if the dotlock taken
 * was a dead pop3fetch's, the record it was appending is cut off
 * (mbox_repair).  A short record of ours with no such proof (the
 * lock was gone: a power loss, or someone took the lock over and may
 * have written after it) is left as it is and not counted.  Ends with
 * an fsync: a key counted here is durable even if the run that wrote it
 * was killed before its own fsync.
 */
int
mbox_keys(const char *path, int (*add)(void *, const char *, size_t),
    void *arg, char **errp)
{
	struct mbox_lock	 l;
	struct stat		 st;
	off_t			 cut_from;
	int			 fd = -1, rc = -1, cut;

	if (mbox_lock_take(&l, path, errp) == -1)
		return -1;
	if ((fd = mbox_open(path, 0)) == -1) {
		if (errno == ENOENT)
			rc = 0;
		else
			xasprintf(errp, "mbox %s: %s", path, errno ==
			    EINVAL ? "not a regular file" : strerror(errno));
		goto out;
	}
	if (mbox_lock_fcntl(fd) == -1 || fstat(fd, &st) == -1) {
		xasprintf(errp, "mbox %s: lock: %s", path, strerror(errno));
		goto out;
	}
	if (mbox_lock_held(&l, path, errp) == -1)
		goto out;
	if (l.repair != -1 &&
	    mbox_repair(path, fd, l.repair, st.st_size, errp) == -1)
		goto out;
	if ((cut = mbox_scan_keys(fd, add, arg, &cut_from)) == -1) {
		xasprintf(errp, "mbox %s: read: %s", path, strerror(errno));
		goto out;
	}
	if (fsync(fd) == -1) {
		xasprintf(errp, "mbox %s: fsync: %s", path, strerror(errno));
		goto out;
	}
	if (cut)
		log_warn("mbox %s: the message at offset %lld was cut short, "
		    "and no lock of a stopped pop3fetch shows that nothing "
		    "was written after it: left as it is (the message is "
		    "fetched again)", path, (long long)cut_from);
	rc = 0;
 out:
	if (fd != -1)
		close(fd);	/* drops the fcntl lock */
	mbox_lock_drop(&l);
	return rc;
}

