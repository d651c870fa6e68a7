/*
 * maildir.c - Maildir file names (parsing, ordering, unique names), UIDLs
 * derived from names, delivery (tmp/ -> new/ with fsync) and the
 * maildrop lock.  Names are untrusted: anyone who can deliver mail
 * chooses them.  The name functions are pure; maildir_deliver() does
 * blocking I/O and runs off any event loop (pop3d maildrop threads, the
 * LDA, the fetcher).
 */
#include <sys/stat.h>

#include <signal.h>
#include <stdlib.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include "dot.h"
#include "fsutil.h"
#include "maildir.h"

/* Host name part of unique names: bounded so ",S=..,W=..:2,.." fits. */
#define MAILDIR_HOST_MAX	64

/*
 * Parses decimal digits in [p, end) into *out.  -1 if empty, not all
 * digits, or over UINT64_MAX.
 */
static int
md_number(const char *p, const char *end, uint64_t *out)
{
	uint64_t	 v = 0;
	unsigned	 d;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Leading digits of [p, end) as a number; 0 if none or overflowing. */
static uint64_t
md_lead(const char *p, const char *end)
{
	const char	*q = p;
	uint64_t	 v;

	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return md_number(p, q, &v) == 0 ? v : 0;
}

int
maildir_name_parse(const char *name, struct maildir_name *out)
{
	const char	*info, *p, *f, *fend, *dot1, *dot2, *m;
	size_t		 len;
	uint64_t	 v;

	memset(out, 0, sizeof(*out));
	len = strnlen(name, POP3_MDNAME_MAX + 1);
	if (len == 0 || len > POP3_MDNAME_MAX || name[0] == '.' ||
	    memchr(name, '/', len) != NULL)
		return -1;

	out->base_len = strcspn(name, ",:");
	if ((info = strchr(name, ':')) == NULL)
		info = name + len;

	/* ",S=<n>", ",W=<n>", ",D=<n>" and ",R=<n>" between the unique
	   part and the info; the first valid one of each counts. */
	for (p = name + out->base_len; p < info; p = fend) {
		f = p + 1;			/* *p == ',' */
		if ((fend = memchr(f, ',', (size_t)(info - f))) == NULL)
			fend = info;
		if (fend - f < 2 || f[1] != '=')
			continue;
		if (f[0] == 'S' && !out->has_size &&
		    md_number(f + 2, fend, &v) == 0) {
			out->size = v;
			out->has_size = 1;
		} else if (f[0] == 'W' && !out->has_wsize &&
		    md_number(f + 2, fend, &v) == 0) {
			out->wsize = v;
			out->has_wsize = 1;
		} else if (f[0] == 'D' && !out->has_dots &&
		    md_number(f + 2, fend, &v) == 0) {
			out->dots = v;
			out->has_dots = 1;
		} else if (f[0] == 'R' && !out->has_rtime &&
		    md_number(f + 2, fend, &v) == 0) {
			out->rtime = v;
			out->has_rtime = 1;
		}
	}

	/* Delivery order: "<sec>.<...M<usec>...>.<host>" within the base. */
	p = name + out->base_len;
	out->sort_sec = md_lead(name, p);
	if ((dot1 = memchr(name, '.', out->base_len)) != NULL) {
		dot1++;
		if ((dot2 = memchr(dot1, '.', (size_t)(p - dot1))) == NULL)
			dot2 = p;
		/* 'M' at the start of the part or right after a field value. */
		for (m = dot1; m < dot2; m++)
			if (*m == 'M' && (m == dot1 ||
			    (m[-1] >= '0' && m[-1] <= '9'))) {
				out->sort_usec = md_lead(m + 1, dot2);
				break;
			}
	}
	return 0;
}

int
maildir_name_is_wire(const struct maildir_name *mn)
{
	return mn->has_size && mn->has_wsize && mn->has_dots &&
	    mn->size == mn->wsize && mn->dots == 0;
}

void
maildir_uidl(const char *name, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*u = (const unsigned char *)name;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	size_t			 n, k;

	n = strcspn(name, ",:");
	if (n >= 1 && n <= POP3_UIDL_MAX) {
		for (k = 0; k < n; k++)
			if (u[k] < 0x21 || u[k] > 0x7e)
				break;
		if (k == n) {
			memcpy(out, name, n);
			out[n] = '\0';
			return;
		}
	}
	/* 32 bytes -> 64 hex digits, within POP3_UIDL_MAX. */
	if (EVP_Digest(name, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		mdlen = 0;	/* cannot happen with the default provider */
	for (i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * i] = '\0';
}

int
maildir_name_cmp(const char *a, const struct maildir_name *pa,
    const char *b, const struct maildir_name *pb)
{
	if (pa->sort_sec != pb->sort_sec)
		return pa->sort_sec < pb->sort_sec ? -1 : 1;
	if (pa->sort_usec != pb->sort_usec)
		return pa->sort_usec < pb->sort_usec ? -1 : 1;
	return strcmp(a, b);
}

/* The host name with '/', ':' and ',' escaped as octal (Maildir). */
static void
md_host(char *out, size_t outlen)
{
	char	 host[256];
	size_t	 i, o = 0;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && o + 5 <= outlen; i++) {
		if (host[i] == '/' || host[i] == ':' || host[i] == ',') {
			snprintf(out + o, outlen - o, "\\%03o",
			    (unsigned char)host[i]);
			o += 4;
		} else
			out[o++] = host[i];
	}
	out[o] = '\0';
}

void
maildir_unique(char *out, size_t outlen)
{
	static unsigned long	 counter;
	unsigned char		 rnd[8];
	char			 host[MAILDIR_HOST_MAX + 1];
	struct timeval		 tv;
	unsigned long		 q;

	gettimeofday(&tv, NULL);
	q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 &&
	    getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Still unique through time, pid and counter. */
		memset(rnd, 0, sizeof(rnd));
	}
	md_host(host, sizeof(host));
	snprintf(out, outlen, "%lld.M%ldP%ldQ%luR%02x%02x%02x%02x%02x%02x%02x"
	    "%02x.%s", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    q, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
	    host);
}

/* Starts a tx on tmp/<uniq>; 0, or -1 (errno). */
static int
md_tx_open(struct maildir_tx *tx, int dirfd, const char *uniq)
{
	static const char *const subs[] = { "tmp", "new", NULL };
	char	 tmp[POP3_MDNAME_MAX + 8];

	memset(tx, 0, sizeof(*tx));
	tx->dirfd = dirfd;
	tx->fd = -1;
	tx->bol = 1;
	if ((size_t)snprintf(tx->uniq, sizeof(tx->uniq), "%s", uniq) >=
	    sizeof(tx->uniq) || (size_t)snprintf(tmp, sizeof(tmp), "tmp/%s",
	    uniq) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Not into another Maildir through a symlinked tmp/ or new/. */
	if (dirs_are_real(dirfd, subs) == -1)
		return -1;
	tx->fd = openat_beneath(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL,
	    0600);
	return tx->fd == -1 ? -1 : 0;
}

int
maildir_deliver(int dirfd, const unsigned char *data, size_t len,
    char *namebuf, size_t namelen)
{
	return maildir_deliver_key(dirfd, data, len, NULL, namebuf, namelen);
}

/* A key is 1..MAILDIR_KEY_MAX of [0-9a-zA-Z]: safe in a name, findable. */
static int
md_key_ok(const char *key)
{
	size_t	 i;

	for (i = 0; key[i] != '\0'; i++)
		if (i >= MAILDIR_KEY_MAX ||
		    !((key[i] >= '0' && key[i] <= '9') ||
		    (key[i] >= 'a' && key[i] <= 'z') ||
		    (key[i] >= 'A' && key[i] <= 'Z')))
			return 0;
	return i > 0;
}

static int md_tx_finish(struct maildir_tx *, char *, size_t, int);

int
maildir_tx_begin_key(struct maildir_tx *tx, int dirfd, const char *key)
{
	char			 uniq[POP3_MDNAME_MAX + 1];
	char			 host[MAILDIR_HOST_MAX + 1];
	struct timeval		 tv;

	tx->fd = -1;
	if (key == NULL) {
		maildir_unique(uniq, sizeof(uniq));
		return md_tx_open(tx, dirfd, uniq);
	}
	if (!md_key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	/* The key makes it unique; time and pid keep the order. */
	gettimeofday(&tv, NULL);
	md_host(host, sizeof(host));
	snprintf(uniq, sizeof(uniq), "%lld.M%ldP%ldK%s.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), key, host);
	return md_tx_open(tx, dirfd, uniq);
}

void
maildir_tx_writeback(struct maildir_tx *tx)
{
	if (tx->fd != -1)
		(void)sync_file_range(tx->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int
maildir_tx_commit_nosync(struct maildir_tx *tx, char *namebuf,
    size_t namelen)
{
	return md_tx_finish(tx, namebuf, namelen, 0);
}

int
maildir_deliver_key(int dirfd, const unsigned char *data, size_t len,
    const char *key, char *namebuf, size_t namelen)
{
	struct maildir_tx	 tx;

	if (maildir_tx_begin_key(&tx, dirfd, key) == -1 ||
	    maildir_tx_write(&tx, data, len) == -1)
		return -1;
	return maildir_tx_commit(&tx, namebuf, namelen);
}

int
maildir_lock(int dirfd, int *inuse)
{
	struct flock	fl;
	int		fd;

	fd = openat(dirfd, MAILDIR_LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			*inuse = 1;
		close(fd);
		return -1;
	}
	return fd;
}

int
maildir_sync_new(int dirfd)
{
	return maildir_sync_dir(dirfd, "new");
}

int
maildir_sync_dir(int dirfd, const char *sub)
{
	return fsync_dirat(dirfd, sub);
}

/*
 * Calls cb for each "K<key>." in the unique part of name, key being
 * 1..MAILDIR_KEY_MAX alphanumerics; stops at the first cb that returns
 * non-zero and returns that, else 0.
 */
static int
md_name_keys(const char *name, int (*cb)(void *, const char *, size_t),
    void *arg)
{
	const char	*p = name, *k;
	size_t		 base = strcspn(name, ",:"), n;
	int		 r;

	while ((p = strchr(p, 'K')) != NULL && (size_t)(p - name) < base) {
		k = ++p;
		for (n = 0; (size_t)(k + n - name) < base && n <=
		    MAILDIR_KEY_MAX && ((k[n] >= '0' && k[n] <= '9') ||
		    (k[n] >= 'a' && k[n] <= 'z') ||
		    (k[n] >= 'A' && k[n] <= 'Z')); n++)
			;
		if (n > 0 && n <= MAILDIR_KEY_MAX && k[n] == '.' &&
		    (r = cb(arg, k, n)) != 0)
			return r;
	}
	return 0;
}

/* Opens the subdirectory sub of the Maildir at dirfd for readdir. */
static DIR *
md_opendir(int dirfd, const char *sub)
{
	DIR	*d;
	int	 fd, saved;

	if ((fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return d;
}

int
maildir_scan_keys(int dirfd, int (*cb)(void *arg, const char *key,
    size_t len), void *arg)
{
	static const char *const subs[] = { "new", "cur" };
	struct dirent	*de;
	DIR		*d;
	size_t		 i;
	int		 r = 0, saved;

	for (i = 0; i < 2 && r == 0; i++) {
		if ((d = md_opendir(dirfd, subs[i])) == NULL)
			return -1;
		errno = 0;
		while (r == 0 && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				r = md_name_keys(de->d_name, cb, arg);
		saved = errno;
		closedir(d);
		if (r == 0 && saved != 0) {
			errno = saved;
			return -1;
		}
	}
	return r;
}

int
maildir_tmp_reap(int dirfd)
{
	struct dirent	*de;
	DIR		*d;
	char		 host[MAILDIR_HOST_MAX + 1], *end;
	char		 path[POP3_MDNAME_MAX + 8];
	const char	*p, *dot;
	long		 pid;
	int		 n = 0;

	md_host(host, sizeof(host));
	if ((d = md_opendir(dirfd, "tmp")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		/* "<sec>.M<usec>P<pid>K<key>.<host>" (maildir_tx_begin_key) */
		if ((p = strchr(de->d_name, 'P')) == NULL ||
		    (pid = strtol(p + 1, &end, 10)) <= 0 || *end != 'K' ||
		    (dot = strchr(end, '.')) == NULL ||
		    strcmp(dot + 1, host) != 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH &&
		    snprintf(path, sizeof(path), "tmp/%s", de->d_name) <
		    (int)sizeof(path) && unlinkat(dirfd, path, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* maildir_find_key()'s callback: 1 when the key is the one looked for. */
static int
md_key_eq(void *arg, const char *key, size_t len)
{
	const char	*want = arg;

	return strlen(want) == len && memcmp(want, key, len) == 0;
}

int
maildir_find_key(int dirfd, const char *key)
{
	if (!md_key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	return maildir_scan_keys(dirfd, md_key_eq, (void *)key);
}

int
maildir_tx_begin(struct maildir_tx *tx, int dirfd)
{
	char	 uniq[POP3_MDNAME_MAX + 1];

	maildir_unique(uniq, sizeof(uniq));
	return md_tx_open(tx, dirfd, uniq);
}

/* Is what was written so far wire form?  Line by line, memchr speed. */
static void
md_tx_scan(struct maildir_tx *tx, const unsigned char *p, size_t len)
{
	const unsigned char	*end = p + len, *nl, *seg_end;

	while (p < end) {
		if (tx->bol && *p == '.')
			tx->dots++;
		nl = memchr(p, '\n', (size_t)(end - p));
		seg_end = nl != NULL ? nl : end;
		if (seg_end > p) {
			tx->lastcr = seg_end[-1] == '\r';
			tx->bol = 0;
		}
		if (nl == NULL)
			break;
		if (!tx->lastcr)
			tx->bare = 1;
		tx->bol = 1;
		tx->lastcr = 0;
		p = nl + 1;
	}
}

int
maildir_tx_write(struct maildir_tx *tx, const unsigned char *p, size_t len)
{
	int	 saved;

	if (tx->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (write_all(tx->fd, p, len) == -1) {
		saved = errno;
		maildir_tx_abort(tx);
		errno = saved;
		return -1;
	}
	tx->size += len;
	tx->wsize += dot_crlf_size(p, len, &tx->crstate);
	md_tx_scan(tx, p, len);
	return 0;
}

int
maildir_tx_commit(struct maildir_tx *tx, char *namebuf, size_t namelen)
{
	return md_tx_finish(tx, namebuf, namelen, 1);
}

/* maildir_tx_commit(), syncing new/ only when syncdir is set. */
static int
md_tx_finish(struct maildir_tx *tx, char *namebuf, size_t namelen,
    int syncdir)
{
	char	 tmp[POP3_MDNAME_MAX + 8], dst[POP3_MDNAME_MAX + 8];
	char	 dots[32] = "";
	int	 saved, moved = 0, fd = tx->fd;

	if (fd == -1) {
		errno = EBADF;
		return -1;
	}
	tx->fd = -1;
	snprintf(tmp, sizeof(tmp), "tmp/%s", tx->uniq);
	/* Wire form: no bare LF, and the last line ends in CRLF. */
	if (!tx->bare && tx->bol)
		snprintf(dots, sizeof(dots), ",D=%" PRIu64, tx->dots);
	if ((size_t)snprintf(dst, sizeof(dst), "new/%s,S=%" PRIu64 ",W=%"
	    PRIu64 "%s", tx->uniq, tx->size, tx->wsize, dots) >= sizeof(dst) ||
	    strlen(dst) - 4 > POP3_MDNAME_MAX ||
	    (namebuf != NULL && strlen(dst) - 4 >= namelen)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename_noreplace(tx->dirfd, tmp, tx->dirfd, dst) == -1)
		goto fail;
	moved = 1;
	if (syncdir && fsync_dirat(tx->dirfd, "new") == -1)
		goto fail;
	if (namebuf != NULL)
		snprintf(namebuf, namelen, "%s", dst + 4);
	return 0;

 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlinkat(tx->dirfd, moved ? dst : tmp, 0);
	errno = saved;
	return -1;
}

void
maildir_tx_abort(struct maildir_tx *tx)
{
	char	 tmp[POP3_MDNAME_MAX + 8];
	int	 saved = errno;

	if (tx->fd == -1)
		return;
	close(tx->fd);
	tx->fd = -1;
	snprintf(tmp, sizeof(tmp), "tmp/%s", tx->uniq);
	(void)unlinkat(tx->dirfd, tmp, 0);
	errno = saved;
}

size_t
maildir_strip_ours(const char *s, size_t n)
{
	size_t	k;

	for (k = n; k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9'; k--)
		;
	if (k == n || k < 3 || s[k - 3] != ',' || s[k - 1] != '=' ||
	    (s[k - 2] != 'W' && s[k - 2] != 'R'))
		return n;
	return k - 3;
}
