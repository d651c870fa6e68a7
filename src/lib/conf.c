/*
 * conf.c - INI config files checked against a table of struct conf_def
 * (tmux options-table, Dovecot DEF()).  Parses text into a caller's
 * struct at the offsets the table gives, reporting every error with its
 * line.  Runs in pop3d's master (and later pop3fetch, pop3ctl).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "pop3_limits.h"
#include "log.h"
#include "xmalloc.h"

static const char *const conf_bool_true[] = {
	"yes", "true", "on", "1", NULL
};
static const char *const conf_bool_false[] = {
	"no", "false", "off", "0", NULL
};

/* Blanks around keys and values. */
static int
conf_isblank(char c)
{
	return c == ' ' || c == '\t';
}

static void *
conf_field(const struct conf_def *d, void *dst)
{
	return (char *)dst + d->off;
}

static void
conf_list_add(struct conf_list *l, const char *v)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(v);
}

static void
conf_list_free(struct conf_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Parses "[-]digits[suffix]" where the suffix picks a multiplier from
 * sfx/mul (case-insensitive).  -1 "invalid value", -2 "out of range".
 */
static int
conf_number(const char *s, int allow_neg, const char *sfx,
    const long long *mul, long long *out)
{
	const unsigned char	*u = (const unsigned char *)s;
	unsigned long long	 v = 0, lim = LLONG_MAX;
	long long		 m = 1;
	int			 neg = 0, over = 0;
	const char		*p;

	if (allow_neg && *u == '-') {
		neg = 1;
		lim = (unsigned long long)LLONG_MAX + 1;
		u++;
	}
	if (*u < '0' || *u > '9')
		return -1;
	for (; *u >= '0' && *u <= '9'; u++) {
		if (v > (lim - (unsigned)(*u - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (unsigned)(*u - '0');
	}
	if (*u != '\0') {
		if (sfx == NULL || u[1] != '\0' ||
		    (p = strchr(sfx, *u | 0x20)) == NULL || *u == '\0')
			return -1;
		m = mul[p - sfx];
	}
	if (over || v > lim / (unsigned long long)m)
		return -2;
	v *= (unsigned long long)m;
	if (neg)
		*out = v == (unsigned long long)LLONG_MAX + 1 ?
		    LLONG_MIN : -(long long)v;
	else
		*out = (long long)v;
	return 0;
}

int
conf_set(const struct conf_def *d, void *dst, const char *value,
    const char **errstr)
{
	static const long long	 size_mul[] = { 1024LL, 1024LL * 1024,
	    1024LL * 1024 * 1024 };
	static const long long	 time_mul[] = { 1, 60, 3600, 86400 };
	void			*f = conf_field(d, dst);
	long long		 v = 0;
	int			 r = -1;
	size_t			 i;

	switch (d->type) {
	case CONF_STR:
		free(*(char **)f);
		*(char **)f = xstrdup(value);
		return 0;
	case CONF_LIST:
		conf_list_add(f, value);
		return 0;
	case CONF_BOOL:
		for (i = 0; conf_bool_true[i] != NULL; i++)
			if (strcasecmp(value, conf_bool_true[i]) == 0) {
				*(int *)f = 1;
				return 0;
			}
		for (i = 0; conf_bool_false[i] != NULL; i++)
			if (strcasecmp(value, conf_bool_false[i]) == 0) {
				*(int *)f = 0;
				return 0;
			}
		*errstr = "invalid value";
		return -1;
	case CONF_ENUM:
		for (i = 0; d->choices != NULL && d->choices[i] != NULL; i++)
			if (strcasecmp(value, d->choices[i]) == 0) {
				*(int *)f = (int)i;
				return 0;
			}
		*errstr = "invalid value";
		return -1;
	case CONF_INT:
		for (i = 0; d->choices != NULL && d->choices[i] != NULL; i++)
			if (strcasecmp(value, d->choices[i]) == 0) {
				*(long long *)f = -1 - (long long)i;
				return 0;
			}
		r = conf_number(value, 1, NULL, NULL, &v);
		break;
	case CONF_SIZE:
		r = conf_number(value, 0, "kmg", size_mul, &v);
		break;
	case CONF_TIME:
		r = conf_number(value, 0, "smhd", time_mul, &v);
		break;
	}
	if (r == -1) {
		*errstr = "invalid value";
		return -1;
	}
	if (r == -2 || v < d->min || v > d->max) {
		*errstr = "out of range";
		return -1;
	}
	*(long long *)f = v;
	return 0;
}

void
conf_defaults(const struct conf_def *defs, void *dst)
{
	const struct conf_def	*d;
	const char		*err, *p, *q;
	char			 one[CONF_LINE_MAX + 1];
	void			*f;

	for (d = defs; d->key != NULL; d++) {
		f = conf_field(d, dst);
		switch (d->type) {
		case CONF_STR:
			*(char **)f = NULL;
			break;
		case CONF_LIST:
			((struct conf_list *)f)->v = NULL;
			((struct conf_list *)f)->n = 0;
			/* A LIST default is whitespace-separated values. */
			for (p = d->def; p != NULL && *p != '\0'; p = q) {
				while (conf_isblank(*p))
					p++;
				q = p;
				while (*q != '\0' && !conf_isblank(*q))
					q++;
				if (q > p && (size_t)(q - p) < sizeof(one)) {
					memcpy(one, p, (size_t)(q - p));
					one[q - p] = '\0';
					conf_list_add(f, one);
				}
			}
			continue;
		case CONF_BOOL:
		case CONF_ENUM:
			*(int *)f = 0;
			break;
		case CONF_INT:
		case CONF_SIZE:
		case CONF_TIME:
			*(long long *)f = 0;
			break;
		}
		if (d->def != NULL)
			(void)conf_set(d, dst, d->def, &err);
	}
}

void
conf_free(const struct conf_def *defs, void *dst)
{
	const struct conf_def	*d;
	void			*f;

	for (d = defs; d->key != NULL; d++) {
		f = conf_field(d, dst);
		if (d->type == CONF_STR) {
			free(*(char **)f);
			*(char **)f = NULL;
		} else if (d->type == CONF_LIST)
			conf_list_free(f);
	}
}

/* "expected ..." for a def's type, into out. */
static void
conf_expected(const struct conf_def *d, char *out, size_t outlen)
{
	size_t	 i, o;

	switch (d->type) {
	case CONF_INT:
		o = (size_t)snprintf(out, outlen, "an integer in %lld..%lld",
		    d->min, d->max);
		for (i = 0; d->choices != NULL && d->choices[i] != NULL &&
		    o < outlen; i++)
			o += (size_t)snprintf(out + o, outlen - o, " or %s",
			    d->choices[i]);
		break;
	case CONF_SIZE:
		snprintf(out, outlen, "a size in %lld..%lld bytes (suffix k, m "
		    "or g)", d->min, d->max);
		break;
	case CONF_TIME:
		snprintf(out, outlen, "a time in %lld..%lld seconds (suffix s, "
		    "m, h or d)", d->min, d->max);
		break;
	case CONF_BOOL:
		snprintf(out, outlen, "one of: yes, no, true, false, on, off, "
		    "1, 0");
		break;
	case CONF_ENUM:
		o = (size_t)snprintf(out, outlen, "one of: ");
		for (i = 0; d->choices != NULL && d->choices[i] != NULL &&
		    o < outlen; i++)
			o += (size_t)snprintf(out + o, outlen - o, "%s%s",
			    i > 0 ? ", " : "", d->choices[i]);
		break;
	case CONF_STR:
	case CONF_LIST:
		snprintf(out, outlen, "a string");
		break;
	}
}

static void
conf_err(struct buf *errs, int *nerr, const char *name, size_t line,
    const char *key, const char *msg)
{
	if (key != NULL)
		buf_printf(errs, "%s:%zu: %s: %s\n", name, line, key, msg);
	else
		buf_printf(errs, "%s:%zu: %s\n", name, line, msg);
	(*nerr)++;
}

static int
conf_has_section(const struct conf_def *defs, const char *sect)
{
	const struct conf_def	*d;

	for (d = defs; d->key != NULL; d++)
		if (strcmp(d->section, sect) == 0)
			return 1;
	return 0;
}

/* Strips blanks at both ends of [*p, *p + *len). */
static void
conf_trim(const char **p, size_t *len)
{
	while (*len > 0 && conf_isblank(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && conf_isblank((*p)[*len - 1]))
		(*len)--;
}

/*
 * conf_parse() and conf_parse_sections(): with sect_fn, a section the
 * table does not name takes the "*" defs and its own target.
 */
static int
conf_parse_any(const struct conf_def *defs, void *dst,
    void *(*sect_fn)(const char *, void *, const char **), void *arg,
    const char *name, const char *text, size_t len, struct buf *errs)
{
	const struct conf_def	*d;
	const char		*p = text, *end = text + len, *nl, *l, *eq;
	const char		*k, *v, *err;
	char			 sect[CONF_LINE_MAX + 1] = "";
	char			 key[CONF_LINE_MAX + 1], val[CONF_LINE_MAX + 1];
	char			 msg[CONF_LINE_MAX + 512], esc[128], vesc[128];
	char			 exp[256];
	size_t			 ndefs, lineno = 0, llen, klen, vlen, i;
	size_t			*seen;
	int			 nerr = 0, sect_ok = 1, wild = 0;
	void			*cur = dst;

	for (ndefs = 0; defs[ndefs].key != NULL; ndefs++)
		;
	seen = xcalloc(ndefs + 1, sizeof(*seen));

	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		l = p;
		llen = (size_t)(nl - p);
		p = nl < end ? nl + 1 : end;
		if (llen > 0 && l[llen - 1] == '\r')
			llen--;
		if (llen > CONF_LINE_MAX) {
			conf_err(errs, &nerr, name, lineno, NULL,
			    "line too long");
			continue;
		}
		if (memchr(l, '\0', llen) != NULL) {
			conf_err(errs, &nerr, name, lineno, NULL,
			    "line contains NUL");
			continue;
		}
		conf_trim(&l, &llen);
		if (llen == 0 || l[0] == '#' || l[0] == ';')
			continue;

		if (l[0] == '[') {
			if (l[llen - 1] != ']') {
				conf_err(errs, &nerr, name, lineno, NULL,
				    "missing ']' after section name");
				sect_ok = 0;
				continue;
			}
			k = l + 1;
			klen = llen - 2;
			conf_trim(&k, &klen);
			memcpy(sect, k, klen);
			sect[klen] = '\0';
			wild = 0;
			cur = dst;
			if (sect_fn != NULL && !conf_has_section(defs, sect) &&
			    conf_has_section(defs, "*")) {
				/* A section named by the file: its own target. */
				err = "invalid section";
				if ((cur = sect_fn(sect, arg, &err)) == NULL) {
					snprintf(msg, sizeof(msg), "[%s]: %s",
					    log_escape(sect, klen, esc,
					    sizeof(esc)), err);
					conf_err(errs, &nerr, name, lineno,
					    NULL, msg);
					sect_ok = 0;
					continue;
				}
				wild = sect_ok = 1;
				for (i = 0; i < ndefs; i++)
					if (strcmp(defs[i].section, "*") == 0)
						seen[i] = 0;
				continue;
			}
			if (!(sect_ok = conf_has_section(defs, sect))) {
				snprintf(msg, sizeof(msg), "unknown section "
				    "[%s]", log_escape(sect, klen, esc,
				    sizeof(esc)));
				conf_err(errs, &nerr, name, lineno, NULL, msg);
			}
			continue;
		}

		if ((eq = memchr(l, '=', llen)) == NULL) {
			conf_err(errs, &nerr, name, lineno, NULL,
			    "missing '=' (expected key = value)");
			continue;
		}
		k = l;
		klen = (size_t)(eq - l);
		v = eq + 1;
		vlen = llen - klen - 1;
		conf_trim(&k, &klen);
		conf_trim(&v, &vlen);
		log_escape(k, klen, esc, sizeof(esc));
		if (klen == 0) {
			conf_err(errs, &nerr, name, lineno, NULL,
			    "missing key before '='");
			continue;
		}
		if (!sect_ok)
			continue;	/* reported once, at the section */
		memcpy(key, k, klen);
		key[klen] = '\0';
		for (i = 0; i < ndefs; i++)
			if (strcmp(defs[i].section, wild ? "*" : sect) == 0 &&
			    strcmp(defs[i].key, key) == 0)
				break;
		if (i == ndefs) {
			if (sect[0] != '\0') {
				snprintf(msg, sizeof(msg), "unknown key in "
				    "section [%.64s]", sect);
				conf_err(errs, &nerr, name, lineno, esc, msg);
			} else
				conf_err(errs, &nerr, name, lineno, esc,
				    "unknown key");
			continue;
		}
		d = &defs[i];

		if (vlen > 0 && v[0] == '"') {
			if (vlen < 2 || v[vlen - 1] != '"') {
				conf_err(errs, &nerr, name, lineno, esc,
				    "missing closing '\"'");
				continue;
			}
			v++;
			vlen -= 2;
		}
		memcpy(val, v, vlen);
		val[vlen] = '\0';

		if (seen[i] != 0 && d->type != CONF_LIST) {
			snprintf(msg, sizeof(msg), "given twice (first on line "
			    "%zu)", seen[i]);
			conf_err(errs, &nerr, name, lineno, esc, msg);
			continue;
		}
		/* The file's first value of a LIST replaces the default. */
		if (seen[i] == 0 && d->type == CONF_LIST)
			conf_list_free(conf_field(d, cur));
		seen[i] = lineno;
		if (conf_set(d, cur, val, &err) == -1) {
			conf_expected(d, exp, sizeof(exp));
			log_escape(val, vlen, vesc, sizeof(vesc));
			snprintf(msg, sizeof(msg), "%s \"%s\", expected %s",
			    err, vesc, exp);
			conf_err(errs, &nerr, name, lineno, esc, msg);
		}
	}
	free(seen);
	return nerr;
}

int
conf_parse(const struct conf_def *defs, void *dst, const char *name,
    const char *text, size_t len, struct buf *errs)
{
	return conf_parse_any(defs, dst, NULL, NULL, name, text, len, errs);
}

int
conf_parse_sections(const struct conf_def *defs, void *dst,
    void *(*sect_fn)(const char *, void *, const char **), void *arg,
    const char *name, const char *text, size_t len, struct buf *errs)
{
	return conf_parse_any(defs, dst, sect_fn, arg, name, text, len, errs);
}

int
conf_read(const char *path, char **textp, size_t *lenp, struct buf *errs)
{
	char	*text;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		buf_printf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	/* One byte more than allowed, to tell "too large" from "just fits". */
	text = xmalloc(CONF_FILE_MAX + 1);
	while (len < CONF_FILE_MAX + 1) {
		n = read(fd, text + len, CONF_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			buf_printf(errs, "%s: %s\n", path, strerror(errno));
			close(fd);
			free(text);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONF_FILE_MAX) {
		buf_printf(errs, "%s: file too large (over %d bytes)\n", path,
		    CONF_FILE_MAX);
		free(text);
		return -1;
	}
	*textp = text;
	*lenp = len;
	return 0;
}

/* conf_load() and conf_load_sections(). */
static int
conf_load_any(const struct conf_def *defs, void *dst,
    void *(*sect_fn)(const char *, void *, const char **), void *arg,
    const char *path, struct buf *errs)
{
	char	*text;
	size_t	 len;
	int	 nerr;

	if (conf_read(path, &text, &len, errs) == -1)
		return 1;
	nerr = conf_parse_any(defs, dst, sect_fn, arg, path, text, len, errs);
	free(text);
	return nerr;
}

int
conf_load(const struct conf_def *defs, void *dst, const char *path,
    struct buf *errs)
{
	return conf_load_any(defs, dst, NULL, NULL, path, errs);
}

int
conf_load_sections(const struct conf_def *defs, void *dst,
    void *(*sect_fn)(const char *, void *, const char **), void *arg,
    const char *path, struct buf *errs)
{
	return conf_load_any(defs, dst, sect_fn, arg, path, errs);
}
