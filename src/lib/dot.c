/*
 * dot.c - the POP3 multi-line encoding (RFC 1939 section 3): streaming
 * encoder for RETR and TOP (LF -> CRLF, dot-stuffing, the final "."),
 * CRLF size counting, and the client-side decoder.  Pure functions, no
 * I/O; the encoder runs on pop3d worker threads over maildrop files.
 *
 * The encoder's output never depends on how the input is split: every
 * decision is made from the current byte and the state left by the
 * previous one (a CR is emitted at once; an LF adds a CR only when the
 * previous byte was not one).
 */
#include <stdint.h>
#include <string.h>

#include "dot.h"

/* What the current line holds so far, for TOP's "empty line" test. */
#define LINE_EMPTY	0	/* nothing yet */
#define LINE_CR		1	/* only a CR: "\r\n" is still an empty line */
#define LINE_TEXT	2	/* anything else */

void
dot_enc_init(struct dot_enc *e)
{
	memset(e, 0, sizeof(*e));
	e->bol = 1;
	e->in_body = 1;		/* RETR: no header/body distinction */
}

void
dot_enc_init_wire(struct dot_enc *e, uint64_t maxdots)
{
	dot_enc_init(e);
	e->wire = 1;
	e->dots_left = maxdots;
}

void
dot_enc_init_top(struct dot_enc *e, uint64_t nlines)
{
	memset(e, 0, sizeof(*e));
	e->bol = 1;
	e->top = 1;
	e->lines_left = nlines;
}

/*
 * RETR: copy whole line segments with memchr/memcpy; only line starts
 * and line ends need a look.  Same output as the byte loop below.
 */
static size_t
enc_fast(struct dot_enc *e, const unsigned char *in, size_t len,
    unsigned char *out)
{
	const unsigned char	*p = in, *end = in + len, *nl;
	unsigned char		*o = out;
	size_t			 seg;

	while (p < end) {
		if (e->bol && *p == '.')
			*o++ = '.';
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (size_t)((nl != NULL ? nl : end) - p);
		if (seg > 0) {
			memcpy(o, p, seg);
			o += seg;
			e->cr = p[seg - 1] == '\r';
			e->bol = 0;
		}
		if (nl == NULL)
			break;
		if (!e->cr)
			*o++ = '\r';
		*o++ = '\n';
		e->cr = 0;
		e->bol = 1;
		p = nl + 1;
	}
	return (size_t)(o - out);
}

/*
 * RETR of CRLF input: a '.' right after an LF (or first in the message)
 * is doubled; everything else is copied in runs.  The run before a
 * stuffed dot ends just before it, and the next run starts at it, so
 * the extra '.' is the only byte written that is not a copy.  At most
 * e->dots_left dots are added: one more is DOT_ENC_OVER, so a file with
 * more lines starting with '.' than its name says cannot overrun the
 * room dot_enc_wire_bound() gave.
 */
static size_t
enc_wire(struct dot_enc *e, const unsigned char *in, size_t len,
    unsigned char *out)
{
	const unsigned char	*end = in + len, *run = in, *p = in, *d;
	unsigned char		*o = out;
	size_t			 n;

	if (len == 0)
		return 0;
	if (e->bol && *in == '.') {
		if (e->dots_left == 0)
			return DOT_ENC_OVER;
		e->dots_left--;
		*o++ = '.';
		p++;
	}
	while (p < end && (d = memchr(p, '.', (size_t)(end - p))) != NULL) {
		if (d > in && d[-1] == '\n') {
			if (e->dots_left == 0)
				return DOT_ENC_OVER;
			e->dots_left--;
			n = (size_t)(d - run);
			memcpy(o, run, n);
			o += n;
			*o++ = '.';
			run = d;
		}
		p = d + 1;
	}
	n = (size_t)(end - run);
	memcpy(o, run, n);
	o += n;
	e->bol = end[-1] == '\n';
	e->cr = end[-1] == '\r';
	return (size_t)(o - out);
}

size_t
dot_enc_chunk(struct dot_enc *e, const unsigned char *in, size_t len,
    unsigned char *out)
{
	unsigned char	*o = out;
	size_t		 i;
	unsigned char	 c;

	if (e->wire)
		return enc_wire(e, in, len, out);
	if (!e->top)
		return enc_fast(e, in, len, out);
	for (i = 0; i < len && !e->done; i++) {
		c = in[i];
		if (c == '\n') {
			if (!e->cr)
				*o++ = '\r';
			*o++ = '\n';
			e->cr = 0;
			e->bol = 1;
			if (!e->top)
				continue;
			if (!e->in_body) {
				/* An empty line ends the header. */
				if (e->hdr_nl != LINE_TEXT) {
					e->in_body = 1;
					if (e->lines_left == 0)
						e->done = 1;
				}
			} else if (--e->lines_left == 0)
				e->done = 1;
			e->hdr_nl = LINE_EMPTY;
			continue;
		}
		if (e->bol && c == '.')
			*o++ = '.';
		*o++ = c;
		/* hdr_nl: what this line holds (TOP's blank-line test). */
		e->hdr_nl = (c == '\r' && e->hdr_nl == LINE_EMPTY) ?
		    LINE_CR : LINE_TEXT;
		e->cr = (c == '\r');
		e->bol = 0;
	}
	return (size_t)(o - out);
}

size_t
dot_enc_finish(struct dot_enc *e, unsigned char *out)
{
	unsigned char	*o = out;

	if (!e->bol) {
		/* A trailing lone CR is completed rather than doubled. */
		if (!e->cr)
			*o++ = '\r';
		*o++ = '\n';
	}
	memcpy(o, ".\r\n", 3);
	o += 3;
	e->bol = 1;
	e->cr = 0;
	e->done = 1;
	return (size_t)(o - out);
}

int
dot_enc_done(const struct dot_enc *e)
{
	return e->done;
}

uint64_t
dot_crlf_size(const unsigned char *in, size_t len, int *state)
{
	uint64_t	 n = len;
	size_t		 i;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && !*state)
			n++;
		*state = (in[i] == '\r');
	}
	return n;
}

void
dot_dec_init(struct dot_dec *d)
{
	d->ended = 0;
}

int
dot_dec_line(struct dot_dec *d, const unsigned char *line, size_t len,
    const unsigned char **outp, size_t *outlen)
{
	*outp = line;
	*outlen = 0;
	if (d->ended)
		return 1;
	if ((len == 3 && memcmp(line, ".\r\n", 3) == 0) ||
	    (len == 2 && memcmp(line, ".\n", 2) == 0)) {
		d->ended = 1;
		return 1;
	}
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	*outp = line;
	*outlen = len;
	return 0;
}
