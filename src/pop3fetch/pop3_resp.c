/*
 * pop3_resp.c - parsers for what a POP3 server sends to a client
 * (pop3fetch): response lines, STAT, LIST, UIDL and CAPA lines.  Every
 * byte is untrusted; numbers are digits only, without sign or overflow.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pop3_resp.h"

/* Strips "\r\n" or "\n"; -1 if the line has neither. */
static int
resp_unterminate(const char *line, size_t *len)
{
	if (*len == 0 || line[*len - 1] != '\n')
		return -1;
	(*len)--;
	if (*len > 0 && line[*len - 1] == '\r')
		(*len)--;
	return 0;
}

static int
resp_isblank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Decimal digits at *p (up to end) into *out, at most max; advances *p.
 * -1 if none, or over max.
 */
static int
resp_number(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const unsigned char	*u = (const unsigned char *)*p;
	uint64_t		 v = 0;
	size_t			 n = 0;

	while ((const char *)u < end && *u >= '0' && *u <= '9') {
		if (v > (max - (uint64_t)(*u - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*u - '0');
		u++;
		n++;
	}
	if (n == 0)
		return -1;
	*p = (const char *)u;
	*out = v;
	return 0;
}

static const char *
resp_skip_blanks(const char *p, const char *end)
{
	while (p < end && resp_isblank((unsigned char)*p))
		p++;
	return p;
}

int
pop3_resp_parse(const char *line, size_t len, struct pop3_resp *out,
    const char **errstr)
{
	const char	*p, *end, *q;
	size_t		 n;

	memset(out, 0, sizeof(*out));
	if (len > FETCH_LINE_MAX) {
		*errstr = "response line too long";
		return -1;
	}
	if (resp_unterminate(line, &len) == -1) {
		*errstr = "response line not terminated";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*errstr = "NUL in response line";
		return -1;
	}
	end = line + len;
	if (len >= 3 && strncasecmp(line, "+OK", 3) == 0 &&
	    (len == 3 || resp_isblank((unsigned char)line[3]))) {
		out->status = POP3_RESP_OK;
		p = line + 3;
	} else if (len >= 4 && strncasecmp(line, "-ERR", 4) == 0 &&
	    (len == 4 || resp_isblank((unsigned char)line[4]))) {
		out->status = POP3_RESP_ERR;
		p = line + 4;
	} else if (len >= 1 && line[0] == '+' &&
	    (len == 1 || line[1] == ' ')) {
		/* RFC 5034: "+ " and base64 (or nothing) */
		out->status = POP3_RESP_CONT;
		p = line + 1;
	} else {
		*errstr = "malformed status indicator";
		return -1;
	}
	p = resp_skip_blanks(p, end);
	/* "[CODE]" (RFC 2449 section 8): printable, no ']' inside. */
	if (out->status != POP3_RESP_CONT && p < end && *p == '[') {
		for (q = p + 1; q < end && *q != ']' &&
		    (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f; q++)
			;
		n = (size_t)(q - p - 1);
		if (q < end && *q == ']' && n > 0 && n <= POP3_RESP_CODE_MAX) {
			memcpy(out->code, p + 1, n);
			out->code[n] = '\0';
			p = resp_skip_blanks(q + 1, end);
		}
	}
	out->text = p;
	out->textlen = (size_t)(end - p);
	return 0;
}

int
pop3_resp_stat(const char *text, size_t len, uint64_t *count, uint64_t *size,
    const char **errstr)
{
	const char	*p = text, *end = text + len;

	if (resp_number(&p, end, UINT64_MAX, count) == -1 || p == end ||
	    !resp_isblank((unsigned char)*p)) {
		*errstr = "malformed STAT answer";
		return -1;
	}
	p = resp_skip_blanks(p, end);
	if (resp_number(&p, end, UINT64_MAX, size) == -1 ||
	    (p < end && !resp_isblank((unsigned char)*p))) {
		*errstr = "malformed STAT answer";
		return -1;
	}
	if (*count > FETCH_MAX_MSGS) {
		*errstr = "too many messages";
		return -1;
	}
	return 0;
}

/* "<msgno> " at the start of a body line; msgno in 1..FETCH_MAX_MSGS. */
static int
resp_msgno(const char **p, const char *end, uint64_t *msgno,
    const char **errstr, const char *malformed)
{
	if (*p == end || **p < '0' || **p > '9') {
		*errstr = malformed;
		return -1;
	}
	if (resp_number(p, end, FETCH_MAX_MSGS, msgno) == -1 || *msgno == 0) {
		*errstr = "bad message number";
		return -1;
	}
	if (*p == end || !resp_isblank((unsigned char)**p)) {
		*errstr = malformed;
		return -1;
	}
	*p = resp_skip_blanks(*p, end);
	return 0;
}

int
pop3_resp_uidl(const char *line, size_t len, uint64_t *msgno, char *uid,
    const char **errstr)
{
	const char		*p = line, *end, *u;
	size_t			 n;

	if (len > FETCH_LINE_MAX || resp_unterminate(line, &len) == -1) {
		*errstr = "malformed UIDL line";
		return -1;
	}
	end = line + len;
	if (resp_msgno(&p, end, msgno, errstr, "malformed UIDL line") == -1)
		return -1;
	for (u = p; p < end && (unsigned char)*p >= 0x21 &&
	    (unsigned char)*p <= 0x7e; p++)
		;
	n = (size_t)(p - u);
	/* Trailing blanks are tolerated; anything else is not. */
	if (resp_skip_blanks(p, end) != end || n == 0 || n > FETCH_UID_MAX) {
		*errstr = "bad unique-id";
		return -1;
	}
	memcpy(uid, u, n);
	uid[n] = '\0';
	return 0;
}

int
pop3_resp_list(const char *line, size_t len, uint64_t *msgno, uint64_t *size,
    const char **errstr)
{
	const char	*p = line, *end;

	if (len > FETCH_LINE_MAX || resp_unterminate(line, &len) == -1) {
		*errstr = "malformed LIST line";
		return -1;
	}
	end = line + len;
	if (resp_msgno(&p, end, msgno, errstr, "malformed LIST line") == -1)
		return -1;
	if (resp_number(&p, end, UINT64_MAX, size) == -1 ||
	    (p < end && !resp_isblank((unsigned char)*p))) {
		*errstr = "malformed LIST line";
		return -1;
	}
	return 0;
}

/* Next blank-separated word of [*p, end): its start and length. */
static int
resp_word(const char **p, const char *end, const char **w, size_t *wlen)
{
	const char	*q;

	*p = resp_skip_blanks(*p, end);
	if (*p == end)
		return 0;
	for (q = *p; q < end && !resp_isblank((unsigned char)*q); q++)
		;
	*w = *p;
	*wlen = (size_t)(q - *p);
	*p = q;
	return 1;
}

static int
resp_is(const char *w, size_t wlen, const char *name)
{
	return wlen == strlen(name) && strncasecmp(w, name, wlen) == 0;
}

int
pop3_resp_capa(const char *line, size_t len, struct pop3_capa *c,
    const char **errstr)
{
	const char	*p = line, *end, *w;
	size_t		 wlen, i;

	if (len > FETCH_LINE_MAX || resp_unterminate(line, &len) == -1) {
		*errstr = "malformed CAPA line";
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
			*errstr = "malformed CAPA line";
			return -1;
		}
	end = line + len;
	if (!resp_word(&p, end, &w, &wlen))
		return 0;
	if (resp_is(w, wlen, "STLS"))
		c->stls = 1;
	else if (resp_is(w, wlen, "USER"))
		c->user = 1;
	else if (resp_is(w, wlen, "UIDL"))
		c->uidl = 1;
	else if (resp_is(w, wlen, "TOP"))
		c->top = 1;
	else if (resp_is(w, wlen, "PIPELINING"))
		c->pipelining = 1;
	else if (resp_is(w, wlen, "SASL")) {
		c->sasl_any = 1;
		while (resp_word(&p, end, &w, &wlen)) {
			if (resp_is(w, wlen, "PLAIN"))
				c->sasl |= POP3_SASL_PLAIN;
			else if (resp_is(w, wlen, "XOAUTH2"))
				c->sasl |= POP3_SASL_XOAUTH2;
			else if (resp_is(w, wlen, "OAUTHBEARER"))
				c->sasl |= POP3_SASL_OAUTHBEARER;
		}
	}
	return 0;
}
