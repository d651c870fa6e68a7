/*
 * pop3_resp.h - the client side of POP3 (pop3fetch): server response
 * lines (RFC 1939, RFC 2449 response codes, RFC 5034 continuations) and
 * the lines of STAT, LIST, UIDL and CAPA answers.  All input is
 * untrusted: a hostile server chooses every byte.  No I/O, no state.
 */
#ifndef POP3_RESP_H
#define POP3_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "pop3_limits.h"

enum pop3_resp_status {
	POP3_RESP_OK,		/* "+OK" */
	POP3_RESP_ERR,		/* "-ERR" */
	POP3_RESP_CONT,		/* "+ " SASL continuation (RFC 5034) */
};

/* Longest response code we keep, e.g. "SYS/TEMP" (RFC 2449 section 8). */
#define POP3_RESP_CODE_MAX	40

struct pop3_resp {
	enum pop3_resp_status	 status;
	char			 code[POP3_RESP_CODE_MAX + 1];	/* "" if none */
	const char		*text;	/* into the line; valid as long as it */
	size_t			 textlen;	/* without the line end */
};

/*
 * Parses one response line: len bytes including the "\r\n" (a bare
 * "\n" is accepted).  Fills out; text is what follows the status word
 * and the response code, blanks skipped.  Returns 0, or -1 with *errstr:
 * "response line too long" (over FETCH_LINE_MAX), "response line not
 * terminated", "NUL in response line", "malformed status indicator".
 * A '[' that does not make a valid code is left in text, not an error.
 */
int	pop3_resp_parse(const char *line, size_t len, struct pop3_resp *out,
	    const char **errstr);

/*
 * "+OK <count> <size>[ ...]" text (from pop3_resp_parse) of STAT: count
 * at most FETCH_MAX_MSGS.  0, or -1 with *errstr "malformed STAT
 * answer" or "too many messages".
 */
int	pop3_resp_stat(const char *text, size_t len, uint64_t *count,
	    uint64_t *size, const char **errstr);

/*
 * One line of a UIDL answer (dot-decoded, with its line end):
 * "<msgno> <uid>".  msgno is 1..FETCH_MAX_MSGS, uid 1..FETCH_UID_MAX
 * characters in 0x21..0x7E (RFC 1939), copied NUL-terminated into uid
 * (FETCH_UID_MAX + 1 bytes).  0, or -1 with *errstr "malformed UIDL
 * line", "bad message number" or "bad unique-id".
 */
int	pop3_resp_uidl(const char *line, size_t len, uint64_t *msgno,
	    char *uid, const char **errstr);

/*
 * One line of a LIST answer: "<msgno> <size>[ ...]".  0, or -1 with
 * *errstr "malformed LIST line" or "bad message number".
 */
int	pop3_resp_list(const char *line, size_t len, uint64_t *msgno,
	    uint64_t *size, const char **errstr);

/* SASL mechanisms pop3fetch knows (bits of pop3_capa.sasl). */
#define POP3_SASL_PLAIN		0x01
#define POP3_SASL_XOAUTH2	0x02
#define POP3_SASL_OAUTHBEARER	0x04

/* What a CAPA answer says (RFC 2449). */
struct pop3_capa {
	int	 stls, user, uidl, top, pipelining, sasl_any;
	int	 sasl;		/* POP3_SASL_* offered */
};

/*
 * Adds one CAPA answer line (dot-decoded, with its line end) to c.
 * Unknown capabilities are ignored.  0, or -1 with *errstr "malformed
 * CAPA line" (over FETCH_LINE_MAX, NUL or control characters).
 */
int	pop3_resp_capa(const char *line, size_t len, struct pop3_capa *c,
	    const char **errstr);

#endif
