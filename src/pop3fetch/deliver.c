/*
 * deliver.c - pop3fetch's delivery into Maildir, mbox or an MDA (mbox and
 * MDA durable before it returns, Maildir after deliver_sync()), and the
 * set of message keys already in the destination, read once per run
 * (Maildir: the file names; mbox: the From_ lines).  The mbox's locks
 * are mbox_lock.c's.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "deliver.h"
#include "fsutil.h"
#include "log.h"
#include "maildir.h"
#include "mbox_lock.h"
#include "pop3_limits.h"
#include "xmalloc.h"

/*
 * Threads fsyncing a Maildir batch side by side: the file system groups
 * concurrent fsyncs into shared journal commits.
 */
#define DELIVER_SYNC_THREADS	8
/* The From_ line's envelope sender: the key, in a reserved domain. */
#define DELIVER_FROM_DOMAIN	"pop3fetch.invalid"

struct deliver {
	int		 type;		/* enum fetch_dest */
	int		 dirfd;		/* Maildir */
	char		*path;		/* mbox path, or the MDA command */
	const char	*account;
	/* Maildir: written to tmp/, not yet fsynced and renamed. */
	struct maildir_tx tx[FETCH_BATCH_MAX];
	size_t		 ntx;
	/* Keys found by deliver_keys_load(), sorted; DELIVER_KEY_LEN each. */
	char		*keys;
	size_t		 nkeys, capkeys;
};

void
deliver_key(const char *account, const char *uid, char *key)
{
	static const char	 hex[] = "0123456789abcdef";
	EVP_MD_CTX		*c;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 n = 0, i;

	c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, account, strlen(account) + 1) != 1 ||
	    EVP_DigestUpdate(c, uid, strlen(uid)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &n) != 1 || n < DELIVER_KEY_LEN / 2) {
		/* OpenSSL cannot fail here short of running out of memory. */
		abort();
	}
	EVP_MD_CTX_free(c);
	for (i = 0; i < DELIVER_KEY_LEN / 2; i++) {
		key[2 * i] = hex[md[i] >> 4];
		key[2 * i + 1] = hex[md[i] & 0xf];
	}
	key[DELIVER_KEY_LEN] = '\0';
}

static int
dv_maildir_open(struct deliver *d, const char *path, char **errp)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	size_t	 i;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		goto fail;
	if ((d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	for (i = 0; i < 3; i++)
		if (mkdirat(d->dirfd, subs[i], 0700) == -1 && errno != EEXIST)
			goto fail;
	/* Files a killed run left in tmp/ (never read: only tidiness). */
	(void)maildir_tmp_reap(d->dirfd);
	return 0;
 fail:
	xasprintf(errp, "maildir %s: %s", path, strerror(errno));
	return -1;
}

struct deliver *
deliver_open(const struct account *a, char **errp)
{
	struct deliver	*d = xcalloc(1, sizeof(*d));

	d->type = a->dest_type;
	d->dirfd = -1;
	d->account = a->name;
	d->path = xstrdup(a->dest_arg);
	if (d->type == FETCH_DEST_MAILDIR &&
	    dv_maildir_open(d, a->dest_arg, errp) == -1)
		deliver_free(&d);
	return d;
}

/* Drops the files of an unsynced Maildir batch from tmp/. */
static void
dv_tx_abort(struct deliver *d)
{
	while (d->ntx > 0)
		maildir_tx_abort(&d->tx[--d->ntx]);
}

void
deliver_free(struct deliver **dp)
{
	struct deliver	*d = *dp;

	if (d == NULL)
		return;
	dv_tx_abort(d);
	if (d->dirfd != -1)
		close(d->dirfd);
	free(d->path);
	free(d->keys);
	free(d);
	*dp = NULL;
}


/*
 * The message as mboxrd: a From_ line carrying the key and the length of
 * the record after it ("From KEY+LEN@pop3fetch.invalid DATE"), lines
 * matching ">*From " get one more '>', and a blank line after the
 * message.  The length lets a later run tell a whole record from one
 * that a crash cut short (dv_mbox_keys).
 */
static unsigned char *
dv_mbox_format(const char *key, const unsigned char *data, size_t len,
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
	    DELIVER_FROM_DOMAIN, date);
	(void)buf_add(&b, body.data, body.len);
	buf_clear(&body);
	return buf_take(&b, outlen);
}

/*
 * The byte at off into *c: 0, or -1 with errno (EIO: the file is shorter,
 * which under both locks means it shrank).
 */
static int
dv_byte_at(int fd, off_t off, unsigned char *c)
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
dv_mbox_open(const char *path, int flags)
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

static int dv_mbox_repair(struct deliver *, int, off_t, off_t, char **);

static int
dv_mbox(struct deliver *d, const char *key, const unsigned char *data,
    size_t len, char **errp)
{
	struct mbox_lock	 l;
	struct stat		 st;
	unsigned char		*out, c;
	size_t			 outlen;
	int			 fd = -1, ok = 0, saved, reported = 0;
	const char		*what = "open";

	if (mbox_lock_take(&l, d->path, errp) == -1)
		return -1;
	out = dv_mbox_format(key, data, len, &outlen);
	if ((fd = dv_mbox_open(d->path, O_APPEND | O_CREAT)) == -1)
		goto out;
	what = "lock";
	if (mbox_lock_fcntl(fd) == -1)
		goto out;
	if (mbox_lock_held(&l, d->path, errp) == -1) {
		reported = 1;
		goto out;
	}
	what = "stat";
	if (fstat(fd, &st) == -1)
		goto out;
	if (l.repair != -1) {
		if (dv_mbox_repair(d, fd, l.repair, st.st_size, errp) == -1) {
			reported = 1;
			goto out;
		}
		if (fstat(fd, &st) == -1)
			goto out;
	}
	mbox_lock_offset(&l, st.st_size);
	/* Our From_ line starts a line, whatever the mbox ended with. */
	what = "read";
	if (st.st_size > 0 && dv_byte_at(fd, st.st_size - 1, &c) == -1)
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
		xasprintf(errp, "mbox %s: %s: %s", d->path, what,
		    fd == -1 && errno == EINVAL ? "not a regular file" :
		    strerror(errno));
	if (fd != -1)
		close(fd);	/* drops the fcntl lock */
	mbox_lock_drop(&l);
	free(out);
	return ok ? 0 : -1;
}

/* Adds a key candidate of DELIVER_KEY_LEN characters to the set. */
static int
dv_key_add(void *arg, const char *key, size_t len)
{
	struct deliver	*d = arg;

	if (len != DELIVER_KEY_LEN)
		return 0;	/* not one of ours */
	if (d->nkeys == d->capkeys) {
		d->capkeys = d->capkeys == 0 ? 1024 : d->capkeys * 2;
		d->keys = xreallocarray(d->keys, d->capkeys, DELIVER_KEY_LEN);
	}
	memcpy(d->keys + d->nkeys++ * DELIVER_KEY_LEN, key, DELIVER_KEY_LEN);
	return 0;
}

static int
dv_keycmp(const void *a, const void *b)
{
	return memcmp(a, b, DELIVER_KEY_LEN);
}

/*
 * Parses one of our From_ lines: "From KEY+LEN@pop3fetch.invalid ...".
 * Returns 1 with *reclen set, 0 for any other line.
 */
static int
dv_mbox_ours(const char *line, size_t n, unsigned long long *reclen)
{
	static const char	 dom[] = "@" DELIVER_FROM_DOMAIN " ";
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
struct dv_scan {
	struct deliver		*d;
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
dv_scan_line(struct dv_scan *s, const char *line, size_t n, off_t off,
    int fits)
{
	unsigned long long	 len;

	if (n < 5 || memcmp(line, "From ", 5) != 0)
		return;
	if (s->have && off == s->rec_body + (off_t)s->reclen)
		(void)dv_key_add(s->d, s->key, DELIVER_KEY_LEN);
	s->have = fits && dv_mbox_ours(line, n, &len);
	if (s->have) {
		memcpy(s->key, line + 5, DELIVER_KEY_LEN);
		s->reclen = len;
		s->rec_from = off;
		s->rec_body = off + (off_t)n;
	}
}

/*
 * Reads the mbox at fd to its end in FETCH_MBOX_READ chunks, handing
 * each line to dv_scan_line() as it ends (a last line without LF at the
 * end of the file).  A line is gathered across reads up to
 * FETCH_MBOX_LINE_MAX bytes; past that its start is handed on once
 * and the rest skipped to its LF, so only a byte after an LF ever starts
 * a line and memory stays bounded whatever the file holds.  Sets *size
 * to the bytes read.  0, or -1 with errno.
 */
static int
dv_mbox_scan(int fd, struct dv_scan *s, off_t *size)
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
				dv_scan_line(s, line, sizeof(line), bol, 0);
				skip = 1;
			} else if (!skip) {
				memcpy(line + llen, p, take);
				llen += take;
			}
			pos += (off_t)take;
			if (nl != NULL) {
				if (!skip)
					dv_scan_line(s, line, llen, bol, 1);
				skip = 0;
				llen = 0;
				bol = pos;
			}
		}
	}
	if (!skip && llen > 0)
		dv_scan_line(s, line, llen, bol, 1);
	*size = pos;
	return 0;
}

/*
 * 1 if p[0..n), the end of the file without an LF, can be the start of
 * one of our From_ lines (up to the whole line without its LF).
 */
static int
dv_mbox_ours_start(const char *p, size_t n)
{
	static const char	 from[] = "From ";
	static const char	 dom[] = "@" DELIVER_FROM_DOMAIN " ";
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
dv_mbox_from_after(int fd, off_t from, off_t size)
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
dv_mbox_repair(struct deliver *d, int fd, off_t off, off_t size, char **errp)
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
		if (dv_byte_at(fd, off - 1, &c) == -1)
			goto ioerr;
		if (c != '\n' && line[0] != '\n') {
			log_warn("mbox %s: the offset %lld in the lock is not "
			    "at the start of a line: left as it is", d->path,
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
		cut = dv_mbox_ours(p, ll, &len) &&
		    (unsigned long long)(size - off) < (unsigned long long)
		    (p - line) + ll + len;
	} else
		cut = off + (p - line) + n == size &&
		    dv_mbox_ours_start(p, (size_t)n);
	if (cut && nl != NULL) {
		switch (dv_mbox_from_after(fd, off + (p - line) + (off_t)ll - 1,
		    size)) {
		case -1:
			goto ioerr;
		case 1:
			log_warn("mbox %s: the message cut short at offset "
			    "%lld is followed by another (written by a "
			    "program that does not use the dotlock): left as "
			    "they are", d->path, (long long)off);
			return 0;
		}
	}
	if (!cut) {
		if (nl == NULL || !dv_mbox_ours(p, ll, &len))
			log_warn("mbox %s: the bytes at offset %lld are not "
			    "the start of a pop3fetch record: left as they "
			    "are", d->path, (long long)off);
		return 0;
	}
	log_warn("mbox %s: removing a message cut short at offset %lld "
	    "(pop3fetch stopped while appending it; it is fetched again)",
	    d->path, (long long)off);
	if (ftruncate(fd, off) == -1 || fsync(fd) == -1)
		goto ioerr;
	return 0;
 ioerr:
	xasprintf(errp, "mbox %s: repair: %s", d->path, strerror(errno));
	return -1;
}

/*
 * Collects the keys of our records in the mbox, counting a record only
 * if it is whole: the next From_ line (or the end of the file) starts
 * exactly LEN bytes after its From_ line.  First, if the dotlock taken
 * was a dead pop3fetch's, the record it was appending is cut off
 * (dv_mbox_repair).  A short record of ours with no such proof (the
 * lock was gone: a power loss, or someone took the lock over and may
 * have written after it) is left as it is and not counted.  Ends with
 * an fsync: a key counted here is durable even if the run that wrote it
 * was killed before its own fsync.
 */
static int
dv_mbox_keys(struct deliver *d, char **errp)
{
	struct mbox_lock	 l;
	struct dv_scan		 s;
	struct stat		 st;
	off_t			 size;
	int			 fd = -1, rc = -1;

	memset(&s, 0, sizeof(s));
	s.d = d;
	if (mbox_lock_take(&l, d->path, errp) == -1)
		return -1;
	if ((fd = dv_mbox_open(d->path, 0)) == -1) {
		if (errno == ENOENT)
			rc = 0;
		else
			xasprintf(errp, "mbox %s: %s", d->path, errno ==
			    EINVAL ? "not a regular file" : strerror(errno));
		goto out;
	}
	if (mbox_lock_fcntl(fd) == -1 || fstat(fd, &st) == -1) {
		xasprintf(errp, "mbox %s: lock: %s", d->path, strerror(errno));
		goto out;
	}
	if (mbox_lock_held(&l, d->path, errp) == -1)
		goto out;
	if (l.repair != -1 &&
	    dv_mbox_repair(d, fd, l.repair, st.st_size, errp) == -1)
		goto out;
	if (dv_mbox_scan(fd, &s, &size) == -1) {
		xasprintf(errp, "mbox %s: read: %s", d->path, strerror(errno));
		goto out;
	}
	if (fsync(fd) == -1) {
		xasprintf(errp, "mbox %s: fsync: %s", d->path, strerror(errno));
		goto out;
	}
	if (s.have && size == s.rec_body + (off_t)s.reclen)
		(void)dv_key_add(d, s.key, DELIVER_KEY_LEN);
	else if (s.have && size < s.rec_body + (off_t)s.reclen)
		log_warn("mbox %s: the message at offset %lld was cut short, "
		    "and no lock of a stopped pop3fetch shows that nothing "
		    "was written after it: left as it is (the message is "
		    "fetched again)", d->path, (long long)s.rec_from);
	rc = 0;
 out:
	if (fd != -1)
		close(fd);	/* drops the fcntl lock */
	mbox_lock_drop(&l);
	return rc;
}

/* Runs the MDA with the message on stdin; exit status 0 required. */
static int
dv_mda(struct deliver *d, const char *key, const char *uid,
    const unsigned char *data, size_t len, char **errp)
{
	struct sigaction	 sa, old;
	pid_t			 pid;
	int			 p[2], st, saved, wfail = 0;

	if (pipe2(p, O_CLOEXEC) == -1) {
		xasprintf(errp, "mda: pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		xasprintf(errp, "mda: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(p[0], 0) == -1)
			_exit(127);
		/* The MDA may deduplicate on these. */
		setenv("POP3FETCH_ACCOUNT", d->account, 1);
		setenv("POP3FETCH_UIDL", uid, 1);
		setenv("POP3FETCH_KEY", key, 1);
		execl("/bin/sh", "sh", "-c", d->path, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old);
	if (write_all(p[1], data, len) == -1) {
		saved = errno;
		wfail = saved != EPIPE;
	}
	close(p[1]);
	sigaction(SIGPIPE, &old, NULL);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			xasprintf(errp, "mda: wait: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !wfail)
		return 0;
	if (WIFEXITED(st))
		xasprintf(errp, "mda \"%s\" exited with status %d", d->path,
		    WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		xasprintf(errp, "mda \"%s\" killed by signal %d", d->path,
		    WTERMSIG(st));
	else
		xasprintf(errp, "mda \"%s\": write failed", d->path);
	return -1;
}

int
deliver_msg(struct deliver *d, const char *key, const char *uid,
    const unsigned char *data, size_t len, char **errp)
{
	switch ((enum fetch_dest)d->type) {
	case FETCH_DEST_MAILDIR:
		/* A full batch (the fetcher commits before): sync it now. */
		if (d->ntx == FETCH_BATCH_MAX && deliver_sync(d, errp) == -1)
			return -1;
		if (maildir_tx_begin_key(&d->tx[d->ntx], d->dirfd, key) ==
		    -1 || maildir_tx_write(&d->tx[d->ntx], data, len) == -1) {
			xasprintf(errp, "maildir %s: %s", d->path,
			    strerror(errno));
			return -1;
		}
		maildir_tx_writeback(&d->tx[d->ntx++]);
		return 0;
	case FETCH_DEST_MBOX:
		return dv_mbox(d, key, data, len, errp);
	case FETCH_DEST_MDA:
		return dv_mda(d, key, uid, data, len, errp);
	}
	return -1;
}

/* One fsync thread's share of a batch: every nth file from first. */
struct dv_syncjob {
	struct deliver	*d;
	size_t		 first, step;
	int		 err;		/* the first errno, or 0 */
	pthread_t	 tid;
};

static void *
dv_sync_thread(void *arg)
{
	struct dv_syncjob	*j = arg;
	size_t			 i;

	for (i = j->first; i < j->d->ntx; i += j->step)
		if (fsync(j->d->tx[i].fd) == -1 && j->err == 0)
			j->err = errno;
	return NULL;
}

/*
 * fsyncs the batch's files on up to DELIVER_SYNC_THREADS threads (the
 * caller's share on its own thread if one cannot start).  0, or -1 with
 * errno: a failed fsync is reported once, so the batch must be dropped.
 */
static int
dv_sync_files(struct deliver *d)
{
	struct dv_syncjob	 j[DELIVER_SYNC_THREADS];
	size_t			 i, n = d->ntx < DELIVER_SYNC_THREADS ?
				    d->ntx : DELIVER_SYNC_THREADS;
	int			 err = 0;

	for (i = 0; i < n; i++) {
		j[i].d = d;
		j[i].first = i;
		j[i].step = n;
		j[i].err = 0;
		if (i == 0 || pthread_create(&j[i].tid, NULL, dv_sync_thread,
		    &j[i]) != 0) {
			j[i].tid = pthread_self();
			(void)dv_sync_thread(&j[i]);
		}
	}
	for (i = 0; i < n; i++) {
		if (!pthread_equal(j[i].tid, pthread_self()))
			pthread_join(j[i].tid, NULL);
		if (err == 0)
			err = j[i].err;
	}
	errno = err;
	return err == 0 ? 0 : -1;
}

int
deliver_sync(struct deliver *d, char **errp)
{
	size_t	 i;

	if (d->type != FETCH_DEST_MAILDIR)
		return 0;	/* mbox and MDA are durable per message */
	/*
	 * Each file fsynced before its rename (a name with a key never
	 * points at a partial file), then new/ once.  The writeback began
	 * at delivery and the fsyncs run side by side, so they mostly share
	 * journal commits; commit's own fsync then finds nothing to do.
	 */
	if (d->ntx > 0 && dv_sync_files(d) == -1) {
		xasprintf(errp, "maildir %s: fsync: %s", d->path,
		    strerror(errno));
		dv_tx_abort(d);
		return -1;
	}
	for (i = 0; i < d->ntx; i++)
		if (maildir_tx_commit_nosync(&d->tx[i], NULL, 0) == -1) {
			xasprintf(errp, "maildir %s: %s", d->path,
			    strerror(errno));
			goto fail;
		}
	d->ntx = 0;
	if (maildir_sync_new(d->dirfd) == -1) {
		xasprintf(errp, "maildir %s: fsync of new/: %s", d->path,
		    strerror(errno));
		return -1;
	}
	return 0;
 fail:
	/* tx[i] cleaned up after itself; the later ones were not moved. */
	while (++i < d->ntx)
		maildir_tx_abort(&d->tx[i]);
	d->ntx = 0;
	return -1;
}

int
deliver_keys_load(struct deliver *d, char **errp)
{
	int	 r = 0;

	d->nkeys = 0;
	switch ((enum fetch_dest)d->type) {
	case FETCH_DEST_MAILDIR:
		if ((r = maildir_scan_keys(d->dirfd, dv_key_add, d)) == -1)
			xasprintf(errp, "maildir %s: %s", d->path,
			    strerror(errno));
		break;
	case FETCH_DEST_MBOX:
		r = dv_mbox_keys(d, errp);
		break;
	case FETCH_DEST_MDA:
		xasprintf(errp, "an MDA cannot be asked");
		return -1;
	}
	if (r == -1)
		return -1;
	if (d->nkeys > 0)
		qsort(d->keys, d->nkeys, DELIVER_KEY_LEN, dv_keycmp);
	return 0;
}

int
deliver_has_key(const struct deliver *d, const char *key)
{
	return d->nkeys > 0 && bsearch(key, d->keys, d->nkeys,
	    DELIVER_KEY_LEN, dv_keycmp) != NULL;
}
