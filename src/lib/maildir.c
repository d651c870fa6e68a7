/*
 * maildir.c - Maildir file names (parsing, ordering, unique names), UIDLs
 * derived from names, and delivery (tmp/ -> new/ with fsync).  Names are
 * untrusted: anyone who can deliver mail chooses them.  The name
 * functions are pure; maildir_deliver() does blocking I/O and runs off
 * any event loop (pop3d maildrop threads, the LDA, the fetcher).
 */
#include <sys/stat.h>

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

	/* ",S=<n>" and ",W=<n>" between the unique part and the info. */
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

/* write(2) all of it, retrying on EINTR and short writes. */
static int
md_write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Moves tmp to new without replacing an existing file. */
static int
md_rename(int dirfd, const char *from, const char *to)
{
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* File systems without RENAME_NOREPLACE: the name is unique. */
	return renameat(dirfd, from, dirfd, to);
}

int
maildir_deliver(int dirfd, const unsigned char *data, size_t len,
    char *namebuf, size_t namelen)
{
	char		 uniq[POP3_MDNAME_MAX + 1];
	char		 tmp[POP3_MDNAME_MAX + 8], dst[POP3_MDNAME_MAX + 8];
	uint64_t	 wsize;
	int		 fd = -1, dfd = -1, saved, crstate = 0, moved = 0;

	maildir_unique(uniq, sizeof(uniq));
	wsize = dot_crlf_size(data, len, &crstate);
	if ((size_t)snprintf(tmp, sizeof(tmp), "tmp/%s", uniq) >= sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "new/%s,S=%zu,W=%" PRIu64, uniq,
	    len, wsize) >= sizeof(dst) ||
	    strlen(dst) - 4 > POP3_MDNAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (namebuf != NULL && strlen(dst) - 4 >= namelen) {
		errno = ENAMETOOLONG;
		return -1;
	}

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	if (md_write_all(fd, data, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (md_rename(dirfd, tmp, dst) == -1)
		goto fail;
	moved = 1;
	if ((dfd = openat(dirfd, "new", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fsync(dfd) == -1)
		goto fail;
	close(dfd);
	if (namebuf != NULL)
		snprintf(namebuf, namelen, "%s", dst + 4);
	return 0;

 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	(void)unlinkat(dirfd, moved ? dst : tmp, 0);
	errno = saved;
	return -1;
}
