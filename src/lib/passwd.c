/*
 * passwd.c - the passwd-file ("user:{SCHEME}hash[:extra...]", Dovecot
 * passwd-file compatible in its first two fields): line parsing, the
 * sorted in-memory database, hashing (yescrypt) and verification with
 * libxcrypt's crypt_rn.  Runs in pop3d's auth process (several threads
 * call passwd_verify) and later in pop3ctl.
 */
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "passwd.h"
#include "xmalloc.h"

/*
 * Hashed when there is nothing real to hash (unknown scheme), so that a
 * failure costs as much as a yescrypt check (popa3d's dummy crypt).
 */
#define PASSWD_DUMMY_SETTING	"$y$j9T$6qV7O00lS1iHCtgXunxcc."

const char *
passwd_scheme_str(enum passwd_scheme s)
{
	switch (s) {
	case PASSWD_SCHEME_UNKNOWN:
		return "unknown";
	case PASSWD_SCHEME_YESCRYPT:
		return "YESCRYPT";
	case PASSWD_SCHEME_SHA512_CRYPT:
		return "SHA512-CRYPT";
	case PASSWD_SCHEME_SHA256_CRYPT:
		return "SHA256-CRYPT";
	case PASSWD_SCHEME_BCRYPT:
		return "BLF-CRYPT";
	case PASSWD_SCHEME_PLAIN:
		return "PLAIN";
	}
	return "unknown";
}

/* Scheme from a crypt(3) string's prefix. */
static enum passwd_scheme
passwd_crypt_scheme(const char *h)
{
	if (strncmp(h, "$y$", 3) == 0)
		return PASSWD_SCHEME_YESCRYPT;
	if (strncmp(h, "$6$", 3) == 0)
		return PASSWD_SCHEME_SHA512_CRYPT;
	if (strncmp(h, "$5$", 3) == 0)
		return PASSWD_SCHEME_SHA256_CRYPT;
	if (strncmp(h, "$2b$", 4) == 0 || strncmp(h, "$2y$", 4) == 0 ||
	    strncmp(h, "$2a$", 4) == 0)
		return PASSWD_SCHEME_BCRYPT;
	return PASSWD_SCHEME_UNKNOWN;
}

/*
 * Scheme from a "{NAME}" tag (name, nlen: between the braces) and the
 * hash after it.  A crypt scheme whose hash does not carry the matching
 * prefix is UNKNOWN: it would not be checked with the named algorithm.
 */
static enum passwd_scheme
passwd_tag_scheme(const char *name, size_t nlen, const char *hash)
{
	static const struct {
		const char		*name;
		enum passwd_scheme	 scheme;
	} tags[] = {
		{ "YESCRYPT", PASSWD_SCHEME_YESCRYPT },
		{ "SHA512-CRYPT", PASSWD_SCHEME_SHA512_CRYPT },
		{ "SHA256-CRYPT", PASSWD_SCHEME_SHA256_CRYPT },
		{ "BLF-CRYPT", PASSWD_SCHEME_BCRYPT },
		{ "PLAIN", PASSWD_SCHEME_PLAIN },
		{ "CLEARTEXT", PASSWD_SCHEME_PLAIN },
	};
	size_t	 i;

	if (nlen == 5 && strncasecmp(name, "CRYPT", 5) == 0)
		return passwd_crypt_scheme(hash);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (strlen(tags[i].name) != nlen ||
		    strncasecmp(name, tags[i].name, nlen) != 0)
			continue;
		if (tags[i].scheme == PASSWD_SCHEME_PLAIN ||
		    passwd_crypt_scheme(hash) == tags[i].scheme)
			return tags[i].scheme;
		return PASSWD_SCHEME_UNKNOWN;
	}
	return PASSWD_SCHEME_UNKNOWN;
}

int
passwd_valid_user(const char *user, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	if (len == 0 || len > POP3_USER_MAX || user[0] == '.' ||
	    user[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)user[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '@' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

/* An expire_days value (n octets at f) into e: days, or never. */
static void
passwd_expire_value(const char *f, size_t n, struct passwd_entry *e)
{
	char			 num[8];
	long			 v;
	char			*end;

	if (n == 5 && memcmp(f, "never", 5) == 0) {
		e->expire_days = -2;
		return;
	}
	if (n == 0 || n >= sizeof(num) || f[0] < '0' || f[0] > '9')
		goto bad;
	memcpy(num, f, n);
	num[n] = '\0';
	errno = 0;
	v = strtol(num, &end, 10);
	if (*end != '\0' || errno != 0 || v > PASSWD_EXPIRE_MAX)
		goto bad;
	e->expire_days = (int)v;
	return;
 bad:
	e->warn = "bad expire_days (a number of days up to 36500, or never): "
	    "ignored";
}

/* One extra field ("key=value", "userdb_" dropped) into e. */
static void
passwd_extra(const char *f, size_t n, struct passwd_entry *e)
{
	static const char	 key[] = "expire_days=";

	if (n > 7 && memcmp(f, "userdb_", 7) == 0) {
		f += 7;
		n -= 7;
	}
	if (n < sizeof(key) - 1 || memcmp(f, key, sizeof(key) - 1) != 0)
		return;
	passwd_expire_value(f + sizeof(key) - 1, n - (sizeof(key) - 1), e);
}

/* A home (n octets at f, n > 0) into e: absolute and short enough. */
static void
passwd_home_value(const char *f, size_t n, struct passwd_entry *e)
{
	if (*f != '/' || n >= POP3_HOME_MAX || memchr(f, '\0', n) != NULL)
		e->warn = "home is not an absolute path shorter than 512 "
		    "octets: ignored";
	else
		e->home = xstrndup(f, n);
}

/*
 * The fields after the hash: uid:gid:gecos:home:shell:extra (Dovecot's
 * passwd-file).  Only home and the extra fields are used; a bad one is
 * left out with e->warn set, and the line stays valid (the rest of the
 * file, and this user's login, do not depend on it).
 */
static void
passwd_parse_rest(const char *p, size_t len, struct passwd_entry *e)
{
	const char	*end = p + len, *f, *fe;
	size_t		 field;

	for (field = 2, f = p; field <= 7 && f <= end; field++, f = fe + 1) {
		if (field == 7)
			fe = end;	/* extra fields may hold ':' */
		else if ((fe = memchr(f, ':', (size_t)(end - f))) == NULL)
			fe = end;
		if (field == 5 && fe > f)
			passwd_home_value(f, (size_t)(fe - f), e);
		if (field == 7) {
			while (f < fe) {
				const char *sp = memchr(f, ' ',
				    (size_t)(fe - f));
				if (sp == NULL)
					sp = fe;
				if (sp > f)
					passwd_extra(f, (size_t)(sp - f), e);
				f = sp + 1;
			}
		}
		if (fe == end)
			break;
	}
}

/*
 * The hash field (h up to hend) into e: its lock mark, scheme tag and
 * hash.  0, or -1 with *errstr ("empty hash").
 */
static int
passwd_hash_field(const char *h, const char *hend, struct passwd_entry *e,
    const char **errstr)
{
	const char	*rb, *tag = NULL;
	size_t		 taglen = 0;
	int		 locked = 0;

	if (h < hend && *h == '!') {
		locked = 1;
		h++;
	}
	if (h < hend && *h == '{' &&
	    (rb = memchr(h, '}', (size_t)(hend - h))) != NULL) {
		tag = h + 1;
		taglen = (size_t)(rb - tag);
		h = rb + 1;
		/*
		 * Also "{SCHEME}!hash", as a lock tool might write it; but
		 * a PLAIN secret may itself start with '!'.
		 */
		if (h < hend && *h == '!' && passwd_tag_scheme(tag, taglen,
		    "") != PASSWD_SCHEME_PLAIN) {
			locked = 1;
			h++;
		}
	}
	e->hash = xstrndup(h, (size_t)(hend - h));
	e->scheme = tag != NULL ? passwd_tag_scheme(tag, taglen, e->hash) :
	    passwd_crypt_scheme(e->hash);
	if (e->hash[0] == '\0') {
		free(e->hash);
		e->hash = NULL;
		*errstr = "empty hash";
		return -1;
	}
	e->locked = locked;
	return 0;
}

int
passwd_entry_fields(struct passwd_entry *e, const char *user,
    const char *hash, const char *home, const char *expire_days,
    const char **errstr)
{
	size_t	len = strlen(hash);

	memset(e, 0, sizeof(*e));
	e->expire_days = -1;
	if (!passwd_valid_user(user, strlen(user))) {
		*errstr = "invalid user name";
		return -1;
	}
	if (len > PASSWD_LINE_MAX) {
		*errstr = "hash too long";
		return -1;
	}
	if (passwd_hash_field(hash, hash + len, e, errstr) == -1)
		return -1;
	if (home != NULL && *home != '\0')
		passwd_home_value(home, strlen(home), e);
	if (expire_days != NULL)
		passwd_expire_value(expire_days, strlen(expire_days), e);
	e->user = xstrdup(user);
	return 0;
}

int
passwd_parse_line(const char *line, size_t len, struct passwd_entry *e,
    const char **errstr)
{
	const char	*colon, *h, *hend;
	size_t		 i, ulen;

	memset(e, 0, sizeof(*e));
	if (len > PASSWD_LINE_MAX) {
		*errstr = "line too long";
		return -1;
	}
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || line[i] == '#')
		return 1;
	if (memchr(line, '\0', len) != NULL) {
		*errstr = "line contains NUL";
		return -1;
	}
	if ((colon = memchr(line, ':', len)) == NULL) {
		*errstr = "missing ':'";
		return -1;
	}
	ulen = (size_t)(colon - line);
	if (!passwd_valid_user(line, ulen)) {
		*errstr = "invalid user name";
		return -1;
	}
	h = colon + 1;
	if ((hend = memchr(h, ':', len - ulen - 1)) == NULL)
		hend = line + len;
	if (passwd_hash_field(h, hend, e, errstr) == -1)
		return -1;
	e->expire_days = -1;
	if (hend < line + len)
		passwd_parse_rest(hend + 1, (size_t)(line + len - hend - 1), e);
	e->user = xstrndup(line, ulen);
	return 0;
}

void
passwd_entry_clear(struct passwd_entry *e)
{
	if (e->hash != NULL) {
		/* A PLAIN "hash" is the secret itself. */
		explicit_bzero(e->hash, strlen(e->hash));
		free(e->hash);
	}
	free(e->user);
	free(e->home);
	memset(e, 0, sizeof(*e));
}

/* Constant time whatever the lengths: compares SHA-256 digests. */
static int
passwd_plain_equal(const char *a, const char *b)
{
	unsigned char	 da[32], db[32];
	unsigned int	 la = 0, lb = 0;
	int		 eq;

	if (EVP_Digest(a, strlen(a), da, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, strlen(b), db, &lb, EVP_sha256(), NULL) != 1 ||
	    la != sizeof(da) || lb != sizeof(db))
		return 0;
	eq = CRYPTO_memcmp(da, db, sizeof(da)) == 0;
	explicit_bzero(da, sizeof(da));
	explicit_bzero(db, sizeof(db));
	return eq;
}

int
passwd_verify(const struct passwd_entry *e, const char *secret)
{
	struct crypt_data	*cd;
	const char		*setting, *out;
	size_t			 hlen;
	int			 ok = 0;

	if (e->scheme == PASSWD_SCHEME_PLAIN)
		return passwd_plain_equal(e->hash, secret) && !e->locked;

	/* Hash even when the answer is known to be no (locked, unknown). */
	setting = e->scheme == PASSWD_SCHEME_UNKNOWN ? PASSWD_DUMMY_SETTING :
	    e->hash;
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_rn(secret, setting, cd, (int)sizeof(*cd));
	if (out != NULL && out[0] != '*' && e->scheme !=
	    PASSWD_SCHEME_UNKNOWN) {
		hlen = strlen(e->hash);
		ok = strlen(out) == hlen &&
		    CRYPTO_memcmp(out, e->hash, hlen) == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok && !e->locked;
}

int
passwd_hash(const char *secret, char *out, size_t outlen)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;
	const char		*h;
	int			 ret = -1;

	/* NULL random bytes: libxcrypt reads the system's random source. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_rn(secret, salt, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] == '*')
		errno = EINVAL;
	else if (strlen(h) >= outlen)
		errno = ERANGE;
	else {
		memcpy(out, h, strlen(h) + 1);
		ret = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

/* While loading: each entry with its line, for duplicate messages. */
struct passwd_ld {
	struct passwd_entry	 e;
	size_t			 line;
};

static int
passwd_ld_cmp(const void *a, const void *b)
{
	const struct passwd_ld	*x = a, *y = b;
	int			 r;

	if ((r = strcmp(x->e.user, y->e.user)) != 0)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
passwd_entry_cmp(const void *key, const void *elem)
{
	const struct passwd_entry	*e = elem;

	return strcmp(key, e->user);
}

int
passwd_db_load(struct passwd_db *db, const char *path, char **errp)
{
	struct passwd_ld	*v = NULL;
	size_t			 n = 0, cap = 0, lineno = 0, llen = 0, i, k;
	char			 line[PASSWD_LINE_MAX + 1];
	unsigned char		 chunk[65536];
	const char		*errstr;
	ssize_t			 r;
	int			 fd, toolong = 0, eof = 0, rv;
	struct passwd_entry	 e;

	db->v = NULL;
	db->n = 0;
	*errp = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(errp, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!eof) {
		if ((r = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(errp, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0) {
			eof = 1;
			if (llen == 0 && !toolong)
				break;
			chunk[0] = '\n';	/* terminate the last line */
			r = 1;
		}
		for (k = 0; k < (size_t)r; k++) {
			if (chunk[k] != '\n') {
				if (llen < PASSWD_LINE_MAX)
					line[llen++] = (char)chunk[k];
				else
					toolong = 1;
				continue;
			}
			lineno++;
			if (llen > 0 && line[llen - 1] == '\r')
				llen--;
			if (toolong) {
				errstr = "line too long";
				goto badline;
			}
			rv = passwd_parse_line(line, llen, &e, &errstr);
			llen = 0;
			if (rv == -1)
				goto badline;
			if (rv == 1)
				continue;
			if (n == PASSWD_USERS_MAX) {
				passwd_entry_clear(&e);
				errstr = "too many users";
				goto badline;
			}
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[n].e = e;
			v[n].line = lineno;
			n++;
		}
	}
	close(fd);
	fd = -1;

	if (n > 0)
		qsort(v, n, sizeof(*v), passwd_ld_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1].e.user, v[i].e.user) == 0) {
			xasprintf(errp, "%s:%zu: duplicate user %s (first on "
			    "line %zu)", path, v[i].line, v[i].e.user,
			    v[i - 1].line);
			goto fail;
		}
	db->v = xreallocarray(NULL, n, sizeof(*db->v));
	for (i = 0; i < n; i++)
		db->v[i] = v[i].e;
	db->n = n;
	free(v);
	explicit_bzero(line, sizeof(line));
	explicit_bzero(chunk, sizeof(chunk));
	return 0;

 badline:
	xasprintf(errp, "%s:%zu: %s", path, lineno, errstr);
 fail:
	if (fd != -1)
		close(fd);
	for (i = 0; i < n; i++)
		passwd_entry_clear(&v[i].e);
	free(v);
	explicit_bzero(line, sizeof(line));
	explicit_bzero(chunk, sizeof(chunk));
	return -1;
}

const struct passwd_entry *
passwd_db_find(const struct passwd_db *db, const char *user)
{
	if (db->n == 0)
		return NULL;
	return bsearch(user, db->v, db->n, sizeof(*db->v), passwd_entry_cmp);
}

void
passwd_db_free(struct passwd_db *db)
{
	size_t	 i;

	for (i = 0; i < db->n; i++)
		passwd_entry_clear(&db->v[i]);
	free(db->v);
	db->v = NULL;
	db->n = 0;
}
