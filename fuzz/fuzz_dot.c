/*
 * fuzz_dot.c - libFuzzer target for dot.c: the encoder's output must not
 * depend on how the input is chunked (RETR and TOP), must decode back to
 * the CRLF form of the input, and must agree with dot_crlf_size(); the
 * wire encoder on that CRLF form must give the same answer.
 * The first two input bytes pick the chunk sizes and the TOP line count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dot.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Input beyond this is ignored: keeps each run fast. */
#define FUZZ_DOT_MAX	65536

static size_t
encode(struct dot_enc *e, const uint8_t *in, size_t len, unsigned seed,
    unsigned char *out)
{
	size_t	 i = 0, o = 0, step;

	while (i < len) {
		/* 0-length chunks too: they must change nothing. */
		if (seed != 0 && (i & 3) == 0)
			o += dot_enc_chunk(e, in + i, 0, out + o);
		step = seed == 0 ? len - i : 1 + (seed * (i + 7)) % 13;
		if (step > len - i)
			step = len - i;
		o += dot_enc_chunk(e, in + i, step, out + o);
		i += step;
	}
	o += dot_enc_finish(e, out + o);
	return o;
}

/* The encoded output decoded line by line; returns the length. */
static size_t
decode(const unsigned char *enc, size_t n, unsigned char *out)
{
	struct dot_dec		 d;
	const unsigned char	*p;
	size_t			 i, start = 0, o = 0, pl;
	int			 ended = 0;

	dot_dec_init(&d);
	for (i = 0; i < n; i++) {
		if (enc[i] != '\n')
			continue;
		if (ended)
			abort();	/* data after the terminator */
		if (dot_dec_line(&d, enc + start, i + 1 - start, &p, &pl))
			ended = 1;
		else {
			memcpy(out + o, p, pl);
			o += pl;
		}
		start = i + 1;
	}
	if (!ended || start != n)
		abort();
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char	 a[FUZZ_DOT_MAX * 3 + 8], b[sizeof(a)];
	static unsigned char	 dec[sizeof(a)], want[sizeof(a)];
	struct dot_enc		 e;
	unsigned		 seed;
	uint64_t		 lines, crlf;
	size_t			 na, nb, nd, i, w = 0, dots;
	int			 top, st = 0;

	if (size < 2)
		return 0;
	seed = data[0];
	top = data[1] & 0x80;
	lines = data[1] & 0x7f;
	data += 2;
	size -= 2;
	if (size > FUZZ_DOT_MAX)
		size = FUZZ_DOT_MAX;

	if (top)
		dot_enc_init_top(&e, lines);
	else
		dot_enc_init(&e);
	na = encode(&e, data, size, 0, a);
	if (top)
		dot_enc_init_top(&e, lines);
	else
		dot_enc_init(&e);
	nb = encode(&e, data, size, seed | 1, b);
	if (na != nb || memcmp(a, b, na) != 0)
		abort();
	if (na > dot_enc_bound(size) + 5)
		abort();
	/*
	 * RETR takes a fast path; TOP with an unbounded line count sends
	 * the whole message through the byte loop: they must agree.
	 */
	if (!top) {
		dot_enc_init_top(&e, UINT64_MAX);
		nb = encode(&e, data, size, seed | 1, b);
		if (na != nb || memcmp(a, b, na) != 0)
			abort();
	}
	/* No bare LF in the output. */
	for (i = 0; i < na; i++)
		if (a[i] == '\n' && (i == 0 || a[i - 1] != '\r'))
			abort();

	nd = decode(a, na, dec);
	if (top)
		return 0;	/* TOP output is a prefix: checked above */

	/* RETR: decoding gives the input with bare LFs made CRLF. */
	crlf = dot_crlf_size(data, size, &st);
	for (i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			want[w++] = '\r';
		want[w++] = data[i];
	}
	if (w != crlf)
		abort();
	if (w > 0 && want[w - 1] != '\n') {
		if (want[w - 1] != '\r')
			want[w++] = '\r';
		want[w++] = '\n';
	}
	if (nd != w || memcmp(dec, want, w) != 0)
		abort();

	/*
	 * want is the wire form (CRLF lines) of the input: the wire encoder
	 * (a stored ,D= file), in any chunks, must answer what the general
	 * one did for the input.
	 */
	for (dots = 0, i = 0; i < w; i++)
		dots += want[i] == '.' && (i == 0 || want[i - 1] == '\n');
	dot_enc_init_wire(&e, dots);
	nb = encode(&e, want, w, seed | 1, b);
	if (na != nb || memcmp(a, b, na) != 0)
		abort();
	return 0;
}
