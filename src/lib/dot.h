/*
 * dot.h - the POP3 multi-line encoding (RFC 1939 section 3): bare LF
 * becomes CRLF, a line starting with '.' gets another '.', and the end is
 * ".\r\n" (after a CRLF that is added if the data does not end in one).
 * Streaming: the message arrives in chunks of any size, split anywhere,
 * and the output is the same as for one chunk.  Also the decoder used by
 * clients (pop3fetch, tests).
 */
#ifndef POP3_DOT_H
#define POP3_DOT_H

#include <stddef.h>
#include <stdint.h>

/* Private: the fields belong to dot.c. */
struct dot_enc {
	int	bol;		/* at the beginning of a line */
	int	cr;		/* last byte seen was CR */
	int	in_body;	/* TOP: past the header/body blank line */
	int	hdr_nl;		/* TOP: what the current line holds so far
				   (empty, only a CR, text) */
	uint64_t lines_left;	/* TOP: body lines still to send */
	int	top;		/* TOP mode: stop after lines_left body lines */
	int	done;		/* TOP: limit reached, ignore further input */
	int	wire;		/* input has CRLF line ends: stuff dots only */
	uint64_t dots_left;	/* wire: dots it may still add */
};

/* Full message (RETR). */
void	dot_enc_init(struct dot_enc *);
/*
 * Full message whose lines all end in CRLF (a Maildir file named with
 * ,S= equal to ,W= and a ,D=): only the dots need stuffing, so the
 * encoder copies the runs between lines that start with '.', which is
 * far cheaper than a look at every line end.  Output on such input is
 * that of dot_enc_init(); on other input a bare LF stays bare (a '.'
 * after it is still doubled, so the end of the answer stays where it
 * is).  maxdots is how many lines start with '.' (the name's ,D=): the
 * encoder adds no more dots than that, so dot_enc_wire_bound() is the
 * room it needs, and input with more such lines gets DOT_ENC_OVER.
 */
void	dot_enc_init_wire(struct dot_enc *, uint64_t maxdots);
/* Room dot_enc_chunk() needs for len bytes of a wire encoder's input. */
#define dot_enc_wire_bound(e, len)					\
	((len) + ((e)->dots_left < (len) ? (size_t)(e)->dots_left : (len)))
/*
 * What dot_enc_chunk() returns when a wire encoder meets more lines
 * starting with '.' than its maxdots.  It then wrote at most
 * dot_enc_wire_bound() bytes, which are no answer; the encoder is
 * spent.
 */
#define DOT_ENC_OVER	((size_t)-1)
/*
 * TOP: header lines up to and including the first empty line ("\n" or
 * "\r\n"), then at most nlines body lines.  A message without an empty
 * line is all header and is sent whole.
 */
void	dot_enc_init_top(struct dot_enc *, uint64_t nlines);

/*
 * Encodes len input bytes into out, which must have room for
 * dot_enc_bound(len) bytes.  Returns the number of bytes written.
 * "\r\n" stays, a bare "\n" becomes "\r\n", a lone "\r" passes as is,
 * and a '.' at the start of a line is doubled.
 */
size_t	dot_enc_chunk(struct dot_enc *, const unsigned char *in, size_t len,
	    unsigned char *out);
/* Worst-case output size for len input bytes (every byte an LF: 3x). */
#define dot_enc_bound(len)	((len) * 3 + 2)
/*
 * Writes the end: CRLF if the last line was not terminated (only the LF
 * if the data ended in a lone CR), then ".\r\n".  out must hold 5
 * bytes.  Returns bytes written.
 */
size_t	dot_enc_finish(struct dot_enc *, unsigned char *out);
/*
 * True when a TOP encoder has sent all it will send (the caller may stop
 * reading), and after dot_enc_finish().
 */
int	dot_enc_done(const struct dot_enc *);

/*
 * CRLF size of a message: len plus one for each LF not preceded by CR.
 * Streaming: keep *state (init to 0) across chunks.
 */
uint64_t dot_crlf_size(const unsigned char *in, size_t len, int *state);

/*
 * Decoder for a multi-line response body (client side).  Feed it whole
 * lines (including their CRLF or LF); it strips one leading '.' of a
 * stuffed line and reports the terminating ".".
 */
struct dot_dec {
	int	ended;
};
void	dot_dec_init(struct dot_dec *);
/*
 * line/len is one line with its terminator.  Returns 1 if this was the
 * terminator line (".\r\n" or ".\n"; nothing to output), 0 otherwise
 * with *outp and *outlen set to the unstuffed line (pointing into line).
 * Once the terminator was seen every further line also returns 1.
 */
int	dot_dec_line(struct dot_dec *, const unsigned char *line, size_t len,
	    const unsigned char **outp, size_t *outlen);

#endif
