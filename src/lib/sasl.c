/*
 * sasl.c - strict base64 (RFC 4648 section 4) and SASL PLAIN (RFC 4616)
 * message parsing.  Pure functions over untrusted input; used by the
 * pop3d workers (AUTH PLAIN) and clients.
 */
#include <string.h>

#include "pop3_limits.h"
#include "sasl.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 alphabet character, or -1. */
static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *in, size_t len, unsigned char *out)
{
	const unsigned char	*u = (const unsigned char *)in;
	size_t			 i, o = 0, pad = 0;
	unsigned long		 v;
	int			 k, d;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && u[len - 1] == '=')
		pad = (len > 1 && u[len - 2] == '=') ? 2 : 1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			/* '=' only as the last pad characters of the input. */
			if (i + k >= len - pad && u[i + k] == '=') {
				v <<= 6;
				continue;
			}
			if ((d = b64val(u[i + k])) == -1)
				return -1;
			v = (v << 6) | (unsigned long)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (unsigned char)v;
		/* Canonical only: the bits under the padding must be zero. */
		if (i + 4 == len && ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0)))
			return -1;
	}
	return (long)o;
}

size_t
base64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t		 i, o = 0;
	unsigned long	 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned long)in[i] << 16;
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

_Static_assert(SASL_PLAIN_FIELD_MAX >= POP3_SECRET_MAX &&
    SASL_PLAIN_FIELD_MAX >= POP3_USER_MAX,
    "a PLAIN field holds any name and secret the passwd-file takes");

#define SASL_STR(x)	SASL_STR2(x)
#define SASL_STR2(x)	#x

/* Copies one field; -1 if it is over SASL_PLAIN_FIELD_MAX octets. */
static int
plain_field(char *dst, const unsigned char *src, size_t len)
{
	if (len > SASL_PLAIN_FIELD_MAX)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int
sasl_plain_parse(const unsigned char *in, size_t len, struct sasl_plain *out,
    const char **errstr)
{
	const unsigned char	*n1, *n2;
	size_t			 zlen, clen, plen;

	memset(out, 0, sizeof(*out));
	if ((n1 = memchr(in, '\0', len)) == NULL ||
	    (n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 - in))) == NULL ||
	    memchr(n2 + 1, '\0', len - (size_t)(n2 + 1 - in)) != NULL) {
		*errstr = "malformed PLAIN message";
		return -1;
	}
	zlen = (size_t)(n1 - in);
	clen = (size_t)(n2 - n1 - 1);
	plen = len - (size_t)(n2 + 1 - in);
	if (clen == 0) {
		*errstr = "empty user name";
		return -1;
	}
	if (plain_field(out->authzid, in, zlen) == -1 ||
	    plain_field(out->authcid, n1 + 1, clen) == -1 ||
	    plain_field(out->passwd, n2 + 1, plen) == -1) {
		sasl_plain_wipe(out);
		*errstr = "field too long (at most "
		    SASL_STR(SASL_PLAIN_FIELD_MAX) " octets)";
		return -1;
	}
	return 0;
}

void
sasl_plain_wipe(struct sasl_plain *p)
{
	explicit_bzero(p, sizeof(*p));
}
