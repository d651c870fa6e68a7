/*
 * dovecot_fmt.c - expands a Dovecot 2.3 pop3_uidl_format (dovecot_fmt.h):
 * the var_expand syntax re-implemented, for the UIDLs of
 * dovecot_uidlist.c.  Pure; any thread.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "dovecot_fmt.h"
#include "pop3_limits.h"

/* One expanded value: a field, escaped (E doubles it) or hashed. */
#define VAL_MAX		(2 * DUIDL_FIELD_MAX + 64)
/* Dovecot's MAX_MODIFIER_COUNT. */
#define MOD_MAX		10

/* A growing string bounded by max (VAL_MAX or the UIDL's room). */
struct sbuf {
	char	*p;
	size_t	 len, max;
	int	 over;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (n > b->max - b->len) {
		n = b->max - b->len;
		b->over = 1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Value of a variable into v: 1, 0 unknown, -1 %m (not computable). */
static int
var_value(const struct dfmt_vals *vals, const char *key, size_t klen,
    struct sbuf *v)
{
#define IS(k)	(klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
	if (IS("u") || IS("uid"))
		sb_add(v, vals->uid, strlen(vals->uid));
	else if (IS("v") || IS("uidvalidity"))
		sb_add(v, vals->uidvalidity, strlen(vals->uidvalidity));
	else if (IS("f") || IS("filename"))
		sb_add(v, vals->filename, vals->filename_len);
	else if ((IS("g") || IS("guid")) && vals->guid != NULL)
		sb_add(v, vals->guid, strlen(vals->guid));
	else if (IS("g") || IS("guid"))
		sb_add(v, vals->filename, vals->filename_len);
	else if (IS("m") || IS("md5"))
		return -1;
	else if (IS("%"))
		sb_add(v, "%", 1);
	else
		return 0;
	return 1;
#undef IS
}

/* Applies modifier m to v in place (through tmp).  0, or -1 with *why. */
static int
modify(char m, struct sbuf *v, char *tmp, const char **why)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	unsigned long long l = 0;
	size_t		 n = v->len, k;
	char		*p = v->p;

	switch (m) {
	case 'L':
	case 'U':
		for (k = 0; k < n; k++)
			if (m == 'L' && p[k] >= 'A' && p[k] <= 'Z')
				p[k] = (char)(p[k] - 'A' + 'a');
			else if (m == 'U' && p[k] >= 'a' && p[k] <= 'z')
				p[k] = (char)(p[k] - 'a' + 'A');
		return 0;
	case 'R':
		for (k = 0; k < n / 2; k++) {
			char c = p[k];
			p[k] = p[n - 1 - k];
			p[n - 1 - k] = c;
		}
		return 0;
	case 'T':
		while (v->len > 0 && strchr(" \t\n\v\f\r", p[v->len - 1]) != NULL)
			v->len--;
		return 0;
	case 'X':
		/* Dovecot: the decimal number in hex, 0 if not a number. */
		for (k = 0; k < n && p[k] >= '0' && p[k] <= '9'; k++) {
			if (l > (~0ULL - 9) / 10) {
				k = 0;
				break;
			}
			l = l * 10 + (unsigned long long)(p[k] - '0');
		}
		if (k != n || n == 0)
			l = 0;
		v->len = 0;
		k = (size_t)snprintf(tmp, VAL_MAX, "%llx", l);
		sb_add(v, tmp, k);
		return 0;
	case 'E':
		for (k = 0, i = 0; k < n; k++) {
			if (i + 2 >= VAL_MAX) {
				*why = "a value too long";
				return -1;
			}
			if (p[k] == '"' || p[k] == '\\' || p[k] == '\'')
				tmp[i++] = '\\';
			tmp[i++] = p[k];
		}
		v->len = 0;
		sb_add(v, tmp, i);
		return 0;
	case 'M':
		if (EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) != 1) {
			*why = "MD5 failed";
			return -1;
		}
		v->len = 0;
		for (i = 0; i < mdlen; i++) {
			snprintf(tmp, 3, "%02x", md[i]);
			sb_add(v, tmp, 2);
		}
		return 0;
	}
	*why = "the format uses a modifier pop3d does not implement "
	    "(H, N or D)";
	return -1;
}

/*
 * Expands fmt into out (at most out->max octets: more sets out->over).
 * vals NULL: only checks.  0, or -1 with *why.  *nvars counts the
 * variables used.
 */
static int
expand(const char *fmt, const struct dfmt_vals *vals, struct sbuf *out,
    int *nvars, const char **why)
{
	char		 vbuf[VAL_MAX], tmp[VAL_MAX];
	struct sbuf	 v;
	const char	*s = fmt, *key, *val;
	char		 mods[MOD_MAX];
	size_t		 klen, nmod, i, len;
	long		 width, offset;
	int		 sign, zero, depth, esc, r;
	static const struct dfmt_vals check = {
		"1", "1", "name", 4, NULL
	};

	if (vals == NULL)
		vals = &check;
	*nvars = 0;
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			sb_add(out, s, 1);
			continue;
		}
		s++;
		sign = 1;
		zero = 0;
		width = offset = 0;
		if (*s == '-') {
			sign = -1;
			s++;
		}
		if (*s == '0') {
			zero = 1;
			s++;
		}
		for (; *s >= '0' && *s <= '9' && width < 100000; s++)
			width = width * 10 + (*s - '0');
		if (*s == '.') {
			offset = sign * width;
			sign = 1;
			width = 0;
			zero = 0;
			s++;
			if (*s == '0') {
				zero = 1;
				s++;
			}
			if (*s == '-') {
				sign = -1;
				s++;
			}
			for (; *s >= '0' && *s <= '9' && width < 100000; s++)
				width = width * 10 + (*s - '0');
			width *= sign;
		}
		for (nmod = 0; nmod < MOD_MAX && *s != '\0' &&
		    strchr("LUEXRHNMDT", *s) != NULL; s++)
			mods[nmod++] = *s;
		if (*s == '\0')
			break;		/* Dovecot ignores a trailing '%' */
		if (*s == '{' && strchr(s, '}') != NULL) {
			key = s + 1;
			for (depth = 1, esc = 0, s++; *s != '\0'; s++) {
				if (esc)
					esc = 0;
				else if (*s == '\\')
					esc = 1;
				else if (*s == '{')
					depth++;
				else if (*s == '}' && --depth == 0)
					break;
			}
			if (*s == '\0') {
				*why = "unbalanced braces in the format";
				return -1;
			}
			klen = (size_t)(s - key);
		} else {
			key = s;
			klen = 1;
		}
		v.p = vbuf;
		v.len = 0;
		v.max = VAL_MAX - 1;
		v.over = 0;
		r = var_value(vals, key, klen, &v);
		if (r == -1) {
			*why = "the format uses %m (the header MD5), which "
			    "pop3d cannot compute";
			return -1;
		}
		if (r == 0) {
			*why = "the format uses an unknown variable (pop3d "
			    "knows %u %v %f %g)";
			return -1;
		}
		if (!(klen == 1 && *key == '%'))
			(*nvars)++;
		for (i = 0; i < nmod; i++)
			if (modify(mods[i], &v, tmp, why) == -1)
				return -1;
		if (v.over) {
			*why = "a value too long";
			return -1;
		}
		val = v.p;
		len = v.len;
		if (offset < 0) {
			if (len > (size_t)-offset) {
				val += len - (size_t)-offset;
				len = (size_t)-offset;
			}
		} else {
			i = (size_t)offset < len ? (size_t)offset : len;
			val += i;
			len -= i;
		}
		if (width == 0)
			sb_add(out, val, len);
		else if (!zero) {
			if (width < 0)	/* all but the last -width */
				width = (long)len + width;
			if (width >= 0 && (size_t)width < len)
				len = (size_t)width;
			sb_add(out, val, len);
		} else {
			for (; width > 0 && (size_t)width > len; width--)
				sb_add(out, "0", 1);
			sb_add(out, val, len);
		}
	}
	return 0;
}

int
dfmt_expand(const char *fmt, const struct dfmt_vals *vals, char *out,
    size_t max, size_t *len, int *nvars, const char **why)
{
	struct sbuf	o = { out, 0, max, 0 };

	if (expand(fmt, vals, &o, nvars, why) == -1)
		return -1;
	out[o.len] = '\0';
	*len = o.len;
	return !o.over;
}
