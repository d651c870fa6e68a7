/*
 * dovecot_uidlist.c - reads Dovecot's "dovecot-uidlist" (versions 1 and
 * 3, as Dovecot 2.3 reads them), indexes it by file name, and expands
 * Dovecot 2.3's pop3_uidl_format to give the UIDLs Dovecot gave.  Used
 * by pop3d (maildrop open, on job threads) and pop3ctl.  The file is the
 * mail user's: untrusted, every line and field bounded; read only.
 *
 * Format (Dovecot's maildir-uidlist.c, re-implemented from reading it):
 *   v1: "1 <uidvalidity> <nextuid>" then "<uid> <filename>" lines;
 *   v3: "3 V<uidvalidity> N<nextuid> G<guid> [<key><value>...]" then
 *       "<uid> [<key><value> ...] :<filename>" lines, the keys A-Z
 *       (P POP3 UIDL, O POP3 order, G GUID, S and W sizes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dovecot_fmt.h"
#include "dovecot_uidlist.h"
#include "maildir.h"
#include "nametab.h"
#include "uidl_distinct.h"
#include "xmalloc.h"

#define RD_CHUNK	(64 * 1024)

/* ---- reading ---- */

struct rd {
	int		 fd;
	char		*buf;		/* RD_CHUNK + DUIDL_LINE_MAX */
	size_t		 start, end;
	int		 eof;
	long long	 total;
};

/*
 * The next complete line (LF cut off) in *line, NUL-terminated in the
 * buffer, valid until the next call.  1, 0 at the end (an unterminated
 * last line is dropped, as Dovecot's reader does), -1 with *err.
 */
static int
rd_line(struct rd *r, char **line, const char **err)
{
	char	*nl;
	ssize_t	 n;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			if ((size_t)(nl - (r->buf + r->start)) > DUIDL_LINE_MAX) {
				*err = "line too long";
				return -1;
			}
			*nl = '\0';
			*line = r->buf + r->start;
			r->start = (size_t)(nl - r->buf) + 1;
			if (strlen(*line) != (size_t)(nl - *line)) {
				*err = "a NUL byte in the line";
				return -1;
			}
			return 1;
		}
		if (r->end - r->start >= DUIDL_LINE_MAX) {
			*err = "line too long";
			return -1;
		}
		if (r->eof)
			return 0;
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		n = read(r->fd, r->buf + r->end, RD_CHUNK);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			*err = strerror(errno);
			return -1;
		}
		if (n == 0)
			r->eof = 1;
		r->total += n;
		if (r->total > DUIDL_FILE_MAX) {
			*err = "file too big";
			return -1;
		}
		r->end += (size_t)n;
	}
}

/* Decimal digits [p, *endp) to a uint32: no sign, no overflow.  -1 if none. */
static int
parse_u32(const char *p, const char **endp, uint32_t *out)
{
	uint64_t	v = 0;
	const char	*s = p;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
		p++;
	}
	if (p == s)
		return -1;
	*endp = p;
	*out = (uint32_t)v;
	return 0;
}

/* A whole token of digits as Dovecot's str_to_uint: 0, or -1. */
static int
token_u32(const char *p, size_t len, uint32_t *out)
{
	const char	*end;

	if (parse_u32(p, &end, out) == -1 || (size_t)(end - p) != len)
		return -1;
	return 0;
}

static const char *
read_v3_header(struct duidl *d, const char *p)
{
	size_t	 len;
	char	 key;

	while (*p != '\0') {
		key = *p++;
		len = strcspn(p, " ");
		if (len > DUIDL_FIELD_MAX)
			return "header field too long";
		switch (key) {
		case 'V':
			if (token_u32(p, len, &d->uidvalidity) == -1)
				return "invalid UIDVALIDITY";
			break;
		case 'N':
			if (token_u32(p, len, &d->nextuid) == -1)
				return "invalid next UID";
			break;
		case 'G':
			free(d->guid);
			d->guid = xstrndup(p, len);
			break;
		default:
			break;	/* kept by Dovecot, meaning nothing to POP3 */
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

static const char *
read_header(struct duidl *d, const char *line)
{
	const char	*p, *err;

	if (line[0] < '0' || line[0] > '9' || line[1] != ' ')
		return "invalid version number";
	d->version = (unsigned)(line[0] - '0');
	p = line + 2;
	switch (d->version) {
	case 1:
		if (parse_u32(p, &p, &d->uidvalidity) == -1 || *p++ != ' ' ||
		    parse_u32(p, &p, &d->nextuid) == -1)
			return "invalid version 1 header";
		break;
	case 3:
		if ((err = read_v3_header(d, p)) != NULL)
			return err;
		break;
	default:
		return "unsupported version (pop3d reads 1 and 3)";
	}
	if (d->uidvalidity == 0 || d->nextuid == 0)
		return "header without UIDVALIDITY or next UID";
	return NULL;
}

/* Extensions of a v3 line into e; the first of each key counts. */
static const char *
read_ext(struct duidl_entry *e, const char **pp)
{
	const char	*p = *pp, *tok;
	uint32_t	 v;
	size_t		 len;
	int		 seen_o = 0;

	while (*p != '\0' && *p != ':') {
		tok = p;
		len = strcspn(p, " ");
		p += len;
		if (len - 1 > DUIDL_FIELD_MAX)
			return "extension field too long";
		switch (tok[0]) {
		case 'P':
			if (e->pop3_uidl == NULL)
				e->pop3_uidl = xstrndup(tok + 1, len - 1);
			break;
		case 'G':
			/* An empty G: Dovecot falls back to the name. */
			if (e->guid == NULL && len > 1)
				e->guid = xstrndup(tok + 1, len - 1);
			break;
		case 'O':
			/* Not a number: no order (Dovecot: (uint32_t)-1). */
			if (!seen_o && token_u32(tok + 1, len - 1, &v) == 0) {
				e->order = v;
				e->has_order = 1;
			}
			seen_o = 1;
			break;
		default:
			break;	/* sizes, other keys, invalid keys */
		}
		while (*p == ' ')
			p++;
	}
	if (*p == ':')
		p++;
	*pp = p;
	return NULL;
}

static void
entry_clear(struct duidl_entry *e)
{
	free(e->pop3_uidl);
	free(e->guid);
	free(e->name);
	memset(e, 0, sizeof(*e));
}

static const char *
read_entry(struct duidl *d, const char *p, uint32_t prev,
    struct duidl_entry *e)
{
	const char	*err;

	memset(e, 0, sizeof(*e));
	if (parse_u32(p, &p, &e->uid) == -1 || e->uid == 0 || *p != ' ')
		return "invalid UID";
	if (e->uid <= prev)
		return "UIDs not ascending";
	if (e->uid == UINT32_MAX)
		return "UID too high";
	if (d->version == 1 && e->uid >= d->nextuid)
		return "UID not below the header's next UID";
	while (*p == ' ')
		p++;
	if (d->version == 3 && (err = read_ext(e, &p)) != NULL)
		return err;
	if (*p == '\0')
		return "no file name";
	if (strchr(p, '/') != NULL)
		return "'/' in the file name";
	if (strlen(p) > POP3_MDNAME_MAX)
		return "file name too long";
	e->name = xstrdup(p);
	return NULL;
}

/* ---- index ---- */

static size_t
base_len(const char *s)
{
	return strcspn(s, ":");
}

/*
 * Builds both tables.  A name listed twice (up to ':') keeps its later
 * UID, as Dovecot replaces the older record; the dropped entries are
 * removed, then the tables built again over what stays.
 */
static void
index_build(struct duidl *d)
{
	size_t		 i, k;
	uint32_t	*slot;
	int		 dropped = 0;

	nametab_init(&d->idx, d->v, d->n, sizeof(*d->v),
	    offsetof(struct duidl_entry, name));
	for (i = 0; i < d->n; i++) {
		slot = nametab_base_slot(&d->idx, d->v[i].name,
		    base_len(d->v[i].name));
		if (*slot != 0) {
			entry_clear(&d->v[*slot - 1]);
			dropped = 1;
		}
		*slot = (uint32_t)(i + 1);
	}
	if (dropped) {
		for (i = k = 0; i < d->n; i++)
			if (d->v[i].name != NULL)
				d->v[k++] = d->v[i];
		d->n = k;
		nametab_free(&d->idx);
		nametab_init(&d->idx, d->v, d->n, sizeof(*d->v),
		    offsetof(struct duidl_entry, name));
		for (i = 0; i < d->n; i++)
			*nametab_base_slot(&d->idx, d->v[i].name,
			    base_len(d->v[i].name)) = (uint32_t)(i + 1);
	}
	for (i = 0; i < d->n; i++) {
		slot = nametab_uniq_slot(&d->idx, d->v[i].name);
		if (*slot == 0)		/* the lowest UID keeps it */
			*slot = (uint32_t)(i + 1);
	}
}

int
duidl_load(int dirfd, struct duidl *d, char **errp)
{
	struct rd		 r;
	struct duidl_entry	 e;
	struct stat		 st;
	const char		*err = NULL;
	char			*line;
	size_t			 cap = 0;
	uint32_t		 prev = 0;
	unsigned long		 lineno = 0;
	int			 rc;

	memset(d, 0, sizeof(*d));
	*errp = NULL;
	memset(&r, 0, sizeof(r));
	/* O_NONBLOCK: a FIFO planted here must not stop the thread. */
	r.fd = openat(dirfd, DUIDL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK);
	if (r.fd == -1) {
		if (errno == ENOENT)
			return 0;
		(void)xasprintf(errp, "%s: %s", DUIDL_FILE,
		    errno == ELOOP ? "a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(r.fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)xasprintf(errp, "%s: not a regular file", DUIDL_FILE);
		close(r.fd);
		return -1;
	}
	r.buf = xmalloc(RD_CHUNK + DUIDL_LINE_MAX);
	while ((rc = rd_line(&r, &line, &err)) == 1) {
		lineno++;
		if (lineno == 1) {
			if ((err = read_header(d, line)) != NULL)
				break;
			continue;
		}
		if (d->n >= POP3_MAILDROP_MAX) {
			err = "more entries than a maildrop may hold";
			break;
		}
		if ((err = read_entry(d, line, prev, &e)) != NULL) {
			entry_clear(&e);
			break;
		}
		prev = e.uid;
		if (d->n == cap) {
			cap = cap ? cap * 2 : 64;
			d->v = xreallocarray(d->v, cap, sizeof(*d->v));
		}
		d->v[d->n++] = e;
	}
	if (rc == 0 && lineno == 0)
		err = "empty (no header)";
	free(r.buf);
	close(r.fd);
	if (err != NULL) {
		(void)xasprintf(errp, "%s line %lu: %s", DUIDL_FILE,
		    lineno + (rc == -1), err);
		duidl_free(d);
		return -1;
	}
	index_build(d);
	return 1;
}

const struct duidl_entry *
duidl_find(const struct duidl *d, const char *filename)
{
	uint32_t	k;

	if (d->n == 0)
		return NULL;
	return (k = nametab_find(&d->idx, filename)) != 0 ? &d->v[k - 1] :
	    NULL;
}

void
duidl_match(const struct duidl *d, size_t n,
    const char *(*get)(void *, size_t), void *arg,
    const struct duidl_entry **ent)
{
	const struct duidl_entry	*e;
	unsigned char			*taken;
	const char			*name;
	size_t				 i, pass;

	taken = xcalloc(d->n > 0 ? d->n : 1, 1);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			if (ent[i] != NULL)
				continue;
			name = get(arg, i);
			e = duidl_find(d, name);
			if (e == NULL || taken[e - d->v] ||
			    (pass == 0 && !uidl_same_name(e->name, name)))
				continue;
			taken[e - d->v] = 1;
			ent[i] = e;
		}
	free(taken);
}

int
duidl_pop3_cmp(const struct duidl_entry *a, const struct duidl_entry *b)
{
	uint32_t	oa = a->has_order ? a->order : UINT32_MAX;
	uint32_t	ob = b->has_order ? b->order : UINT32_MAX;

	if (oa != ob)
		return oa < ob ? -1 : 1;
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return 0;
}

void
duidl_free(struct duidl *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		entry_clear(&d->v[i]);
	free(d->v);
	free(d->guid);
	nametab_free(&d->idx);
	memset(d, 0, sizeof(*d));
}

int
duidl_format_check(const char *fmt, const char **why)
{
	char	buf[POP3_UIDL_MAX + 1];
	size_t	len;
	int	nvars;

	if (dfmt_expand(fmt, NULL, buf, POP3_UIDL_MAX, &len, &nvars,
	    why) == -1)
		return -1;
	if (nvars == 0) {
		*why = "the format uses no variable (every message would "
		    "have the same UIDL)";
		return -1;
	}
	return 0;
}

static int
uidl_valid(const char *s, size_t len, const char **why)
{
	size_t	i;

	if (len == 0) {
		*why = "empty UIDL";
		return 0;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
			*why = "the UIDL would hold an octet RFC 1939 forbids "
			    "(only 0x21-0x7e)";
			return 0;
		}
	return 1;
}

int
duidl_uidl(const struct duidl *d, const struct duidl_entry *e,
    const char *fmt, const char *filename, char *out, size_t outlen,
    const char **why)
{
	struct dfmt_vals	 vals;
	const char		*src = NULL;
	size_t			 len;
	int			 nvars, r;

	(void)filename;		/* Dovecot used its list's name */
	if (outlen < POP3_UIDL_MAX + 1) {
		*why = "no room";
		return 0;
	}
	/* Dovecot's P: the saved UIDL, or "" for the base file name. */
	if (e->pop3_uidl != NULL && e->pop3_uidl[0] != '\0') {
		src = e->pop3_uidl;
		len = strlen(src);
	} else if (e->pop3_uidl != NULL) {
		src = e->name;
		len = base_len(e->name);
	}
	if (src != NULL) {
		if (len > POP3_UIDL_MAX) {
			*why = "UIDL longer than 70 octets";
			return 0;
		}
		memcpy(out, src, len);
		out[len] = '\0';
		return uidl_valid(out, len, why);
	}
	memset(&vals, 0, sizeof(vals));
	snprintf(vals.uid, sizeof(vals.uid), "%u", (unsigned)e->uid);
	snprintf(vals.uidvalidity, sizeof(vals.uidvalidity), "%u",
	    (unsigned)d->uidvalidity);
	vals.filename = e->name;
	vals.filename_len = base_len(e->name);
	vals.guid = e->guid;
	if ((r = dfmt_expand(fmt, &vals, out, POP3_UIDL_MAX, &len, &nvars,
	    why)) == -1)
		return 0;
	if (r == 0) {
		*why = "UIDL longer than 70 octets";
		return 0;
	}
	return uidl_valid(out, len, why);
}
