/*
 * sasl.h - base64 (RFC 4648, strict) and SASL PLAIN (RFC 4616) framing.
 * Input is untrusted.
 */
#ifndef POP3_SASL_H
#define POP3_SASL_H

#include <stddef.h>

/*
 * Strict base64 decode: alphabet A-Z a-z 0-9 + /, '=' padding only at the
 * end and only to a multiple of 4, no whitespace, and the unused bits
 * before the padding must be zero (one encoding per value).  out must hold
 * (len / 4) * 3 bytes.  Returns the decoded length, or -1 if malformed.
 * An empty input decodes to 0 bytes.
 */
long	base64_decode(const char *in, size_t len, unsigned char *out);
/*
 * Encodes len bytes into out (4 * ((len + 2) / 3) + 1 bytes), with
 * padding, NUL-terminated.  Returns the length without the NUL.
 */
size_t	base64_encode(const unsigned char *in, size_t len, char *out);

/* The longest field of a PLAIN message (the passwd-file's secret bound). */
#define SASL_PLAIN_FIELD_MAX	255

struct sasl_plain {
	char	authzid[SASL_PLAIN_FIELD_MAX + 1];	/* may be empty */
	char	authcid[SASL_PLAIN_FIELD_MAX + 1];
	/* secret: caller wipes with sasl_plain_wipe() */
	char	passwd[SASL_PLAIN_FIELD_MAX + 1];
};

/*
 * Parses a decoded PLAIN message "authzid NUL authcid NUL passwd".
 * Returns 0, or -1 with *errstr one of "malformed PLAIN message"
 * (not exactly two NULs), "empty user name", "field too long
 * (at most 255 octets)" (a field over SASL_PLAIN_FIELD_MAX).  The input is not modified.
 */
int	sasl_plain_parse(const unsigned char *in, size_t len,
	    struct sasl_plain *out, const char **errstr);
void	sasl_plain_wipe(struct sasl_plain *);

#endif
