/*
 * courier_uidl.c - reads Courier's "courierpop3dsizelist" (versions 2
 * and 3 as Courier 1.0.16's POP3 server reads them, 0 and 1 as Courier
 * before 2018 read them), indexes it by file
 * name and gives the UIDLs Courier gave (courier_uidl.h has the format).
 * Used by pop3d's maildrop open, on job threads.  The file is the mail
 * user's: untrusted; it is read in chunks, a line keeps at most
 * CUIDL_LINE_KEEP octets (as Courier's reader), the entries are at most
 * POP3_MAILDROP_MAX and the file at most CUIDL_FILE_MAX.  Read only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "courier_uidl.h"
#include "nametab.h"
#include "xmalloc.h"

#define RD_CHUNK	(64 * 1024)

struct pstate {
	struct cuidl	*c;
	int		 header;	/* 0 none yet, 1 read (or version 0),
					   -1 not usable */
	int		 full;		/* POP3_MAILDROP_MAX entries reached */
	size_t		 cap;
	size_t		 n;
	char		 line[CUIDL_LINE_KEEP + 3];	/* + " 0" */
};

/*
 * A number as C's "%lu" reads it (leading white space, a sign, decimal
 * digits; strtoul's saturation instead of undefined behaviour): 1 with
 * *v and *pp past it, 0 if no digit.
 */
static int
scan_ul(const char **pp, uint64_t *v)
{
	char			*end;
	unsigned long		 x;

	errno = 0;
	x = strtoul(*pp, &end, 10);
	if (end == *pp)
		return 0;
	*v = x;
	*pp = end;
	return 1;
}

/*
 * "/<version> <nextuid> [<uidv>]", read as "%d %lu %lu" needing two
 * numbers: versions 1 to 3 (1 and 2 as Courier up to 2018 read them, 2
 * and 3 as Courier since).  No '/', no version number or version 0: a
 * version 0 list, which has no header (this line is its first entry).
 * 1 header, 0 version 0, -1 a list no Courier would use.
 */
static int
header_line(struct pstate *ps)
{
	const char	*p = ps->line + 1;
	char		*end;
	long		 ver;

	if (ps->line[0] != '/')
		return 0;
	errno = 0;
	ver = strtol(p, &end, 10);
	if (end == p || ver == 0)
		return 0;
	p = end;
	if (ver < 1 || ver > 3 || !scan_ul(&p, &ps->c->nextuid))
		return -1;
	ps->c->version = (unsigned)ver;
	return 1;
}

/*
 * "<name> <size> <fields>": Courier splits at the last two spaces (a
 * version 0 line, "<name> <size>", gets " 0" added first, so its uid is
 * 0).  Versions 2 and 3 (Courier since 2018) read "%lu %lu:%lu:%d" from
 * "<size> <fields>:0", needing all four: "<size> <uid>:<uidv>[:<utf8>]".
 * Versions 0 and 1 (Courier before) read "%lu %lu:%lu", needing two: a
 * missing uidv is 0.  line must have room for two octets more.  1 with
 * *e filled, 0 skipped.
 */
static int
entry_line(char *line, unsigned version, struct cuidl_entry *e)
{
	char		 f[CUIDL_LINE_KEEP + 3];
	char		*p, *q;
	const char	*s;
	uint64_t	 size;

	if (version == 0)
		strcat(line, " 0");
	if ((p = strrchr(line, ' ')) == NULL)
		return 0;
	*p = '\0';
	q = strrchr(line, ' ');
	*p = ' ';
	if (q == NULL || q == line)
		return 0;
	*q = '\0';
	if ((size_t)(q - line) > POP3_MDNAME_MAX)
		return 0;	/* no file has such a name */
	s = q + 1;
	if (version < 2) {
		if (!scan_ul(&s, &size) || !scan_ul(&s, &e->uid))
			return 0;
		if (*s++ != ':' || !scan_ul(&s, &e->uidv))
			e->uidv = 0;
		e->name = xstrdup(line);
		return 1;
	}
	snprintf(f, sizeof(f), "%s:0", q + 1);
	s = f;
	if (!scan_ul(&s, &size) || !scan_ul(&s, &e->uid) || *s++ != ':' ||
	    !scan_ul(&s, &e->uidv) || *s++ != ':')
		return 0;
	/* "%d": an optional sign and a digit at least (white space first). */
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s == '+' || *s == '-')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	e->name = xstrdup(line);
	return 1;
}

static void
one_line(struct pstate *ps)
{
	struct cuidl		*c = ps->c;
	struct cuidl_entry	 e;

	ps->line[ps->n] = '\0';
	ps->n = 0;
	if (ps->header == 0) {
		if ((ps->header = header_line(ps)) == 0)
			ps->header = 1;		/* version 0: an entry */
		else
			return;
	}
	if (ps->header != 1 || ps->full)
		return;
	/* Courier's C strings end at a NUL; so does the name here. */
	if (ps->line[0] == '\0' || !entry_line(ps->line, c->version, &e)) {
		c->skipped++;
		return;
	}
	if (c->n >= POP3_MAILDROP_MAX) {
		free(e.name);
		ps->full = 1;
		return;
	}
	if (c->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		c->v = xreallocarray(c->v, ps->cap, sizeof(*c->v));
	}
	c->v[c->n++] = e;
}

static void
feed(struct pstate *ps, const char *buf, size_t len)
{
	const char	*nl;
	size_t		 k, keep;

	while (len > 0) {
		nl = memchr(buf, '\n', len);
		k = nl != NULL ? (size_t)(nl - buf) : len;
		/* Past CUIDL_LINE_KEEP octets the rest of a line is dropped. */
		keep = k < CUIDL_LINE_KEEP - ps->n ? k : CUIDL_LINE_KEEP - ps->n;
		memcpy(ps->line + ps->n, buf, keep);
		ps->n += keep;
		if (nl == NULL)
			return;
		one_line(ps);
		buf = nl + 1;
		len -= k + 1;
	}
}

/* Both indexes; the first entry of a key keeps it. */
static void
index_build(struct cuidl *c)
{
	uint32_t	*slot;
	size_t		 i;

	nametab_init(&c->idx, c->v, c->n, sizeof(*c->v),
	    offsetof(struct cuidl_entry, name));
	for (i = 0; i < c->n; i++) {
		slot = nametab_base_slot(&c->idx, c->v[i].name,
		    strcspn(c->v[i].name, ":"));
		if (*slot == 0)
			*slot = (uint32_t)(i + 1);
		slot = nametab_uniq_slot(&c->idx, c->v[i].name);
		if (*slot == 0)
			*slot = (uint32_t)(i + 1);
	}
}

static int
finish(struct pstate *ps, char **errp)
{
	/*
	 * An unterminated first line: Courier's fgets takes it as a header;
	 * if it is none, Courier reads from the start, as version 0, only
	 * what ends in LF: nothing.  An empty file is such a list too.
	 */
	if (ps->header == 0) {
		ps->line[ps->n] = '\0';
		if ((ps->header = header_line(ps)) == 0)
			ps->header = 1;
	}
	if (ps->header != 1) {
		cuidl_free(ps->c);
		return 0;
	}
	if (ps->full) {
		xasprintf(errp, "more than %d entries", POP3_MAILDROP_MAX);
		cuidl_free(ps->c);
		return -1;
	}
	index_build(ps->c);
	return 1;
}

int
cuidl_parse(const char *buf, size_t len, struct cuidl *c, char **errp)
{
	struct pstate	*ps;
	int		 rv;

	memset(c, 0, sizeof(*c));
	ps = xcalloc(1, sizeof(*ps));
	ps->c = c;
	feed(ps, buf, len);
	rv = finish(ps, errp);
	free(ps);
	return rv;
}

int
cuidl_load(int dirfd, struct cuidl *c, char **errp)
{
	struct pstate	*ps;
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	long long	 total = 0;
	int		 fd, rv = -1;

	memset(c, 0, sizeof(*c));
	if ((fd = openat(dirfd, CUIDL_FILE, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		xasprintf(errp, "%s: %s", CUIDL_FILE, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		xasprintf(errp, "%s: not a regular file", CUIDL_FILE);
		close(fd);
		return -1;
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->c = c;
	buf = xmalloc(RD_CHUNK);
	for (;;) {
		r = read(fd, buf, RD_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			xasprintf(errp, "%s: %s", CUIDL_FILE, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if ((total += r) > CUIDL_FILE_MAX) {
			xasprintf(errp, "%s: bigger than %lld octets",
			    CUIDL_FILE, CUIDL_FILE_MAX);
			goto out;
		}
		feed(ps, buf, (size_t)r);
	}
	if ((rv = finish(ps, errp)) == 0) {
		xasprintf(errp, "%s: not a version 0 to 3 list (Courier "
		    "numbered every message anew with it)", CUIDL_FILE);
	} else if (rv == -1) {
		char	*e = *errp;

		xasprintf(errp, "%s: %s", CUIDL_FILE, e);
		free(e);
	}
 out:
	if (rv != 1)
		cuidl_free(c);
	free(buf);
	free(ps);
	close(fd);
	return rv;
}

const struct cuidl_entry *
cuidl_find_name(const struct cuidl *c, const char *filename)
{
	uint32_t	k;

	if (c->n == 0)
		return NULL;
	return (k = nametab_find_name(&c->idx, filename)) != 0 ?
	    &c->v[k - 1] : NULL;
}

const struct cuidl_entry *
cuidl_find(const struct cuidl *c, const char *filename)
{
	uint32_t	k;

	if (c->n == 0)
		return NULL;
	return (k = nametab_find(&c->idx, filename)) != 0 ? &c->v[k - 1] :
	    NULL;
}

int
cuidl_uidl(const struct cuidl_entry *e, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 k = 0, lim;
	int			 n;

	lim = outlen - 1 < POP3_UIDL_MAX ? outlen - 1 : POP3_UIDL_MAX;
	if (e->uid != 0) {
		if (e->uidv != 0)
			n = snprintf(out, outlen, "UID%llu-%llu",
			    (unsigned long long)e->uid,
			    (unsigned long long)e->uidv);
		else
			n = snprintf(out, outlen, "UID%llu",
			    (unsigned long long)e->uid);
		return n > 0 && (size_t)n <= lim;
	}
	/* Courier's oldest form: the name up to ':', some octets as +XX. */
	for (p = (const unsigned char *)e->name; *p != '\0' && *p != ':'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '\'' || *p == '"' ||
		    *p == '+') {
			if (k + 3 > lim)
				return 0;
			out[k++] = '+';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 0xf];
		} else {
			if (k + 1 > lim)
				return 0;
			out[k++] = (char)*p;
		}
	}
	out[k] = '\0';
	return k > 0;
}

void
cuidl_free(struct cuidl *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	nametab_free(&c->idx);
	memset(c, 0, sizeof(*c));
}
