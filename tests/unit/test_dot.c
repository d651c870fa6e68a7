/*
 * test_dot.c - unit tests for dot.c: the multi-line encoder (RETR and
 * TOP), each case encoded whole, byte by byte and split at every offset
 * (and every pair of offsets), CRLF size counting, and the decoder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dot.h"

struct enc_case {
	const char	*in;
	const char	*out;		/* including the final ".\r\n" */
	int		 top;
	uint64_t	 lines;
	size_t		 inlen, outlen;	/* 0: strlen (set for NULs) */
};

static const struct enc_case enc_cases[] = {
	{ "", ".\r\n", 0, 0, 0, 0 },
	{ "a", "a\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\n", "a\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\r\n", "a\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\nb\n", "a\r\nb\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\r\nb\r\n", "a\r\nb\r\n.\r\n", 0, 0, 0, 0 },
	{ "\n\n", "\r\n\r\n.\r\n", 0, 0, 0, 0 },
	{ "\r\n\r\n", "\r\n\r\n.\r\n", 0, 0, 0, 0 },
	{ "\n\r\n\n", "\r\n\r\n\r\n.\r\n", 0, 0, 0, 0 },
	{ ".", "..\r\n.\r\n", 0, 0, 0, 0 },
	{ ".\n", "..\r\n.\r\n", 0, 0, 0, 0 },
	{ ".\r\n", "..\r\n.\r\n", 0, 0, 0, 0 },
	{ "..\n", "...\r\n.\r\n", 0, 0, 0, 0 },
	{ "a.\n.b\n", "a.\r\n..b\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\n.\nb", "a\r\n..\r\nb\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\r\n.\r\n", "a\r\n..\r\n.\r\n", 0, 0, 0, 0 },
	/* A lone CR passes as is, and does not start a line. */
	{ "a\rb\n", "a\rb\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\r.b\n", "a\r.b\r\n.\r\n", 0, 0, 0, 0 },
	{ "\r", "\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\r", "a\r\n.\r\n", 0, 0, 0, 0 },
	{ "a\r\r\n", "a\r\r\n.\r\n", 0, 0, 0, 0 },
	{ "\r\r\r", "\r\r\r\n.\r\n", 0, 0, 0, 0 },
	{ "\n.", "\r\n..\r\n.\r\n", 0, 0, 0, 0 },
	{ "x\0y\n", "x\0y\r\n.\r\n", 0, 0, 4, 8 },	/* NUL passes */

	/* TOP n: header, the empty line, then n body lines. */
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", "H: 1\r\nH: 2\r\n\r\n.\r\n",
	  1, 0, 0, 0 },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n",
	  1, 1, 0, 0 },
	{ "H: 1\r\n\r\nb1\r\nb2\r\n", "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n",
	  1, 2, 0, 0 },
	{ "H: 1\r\n\r\nb1\r\nb2\r\n", "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n",
	  1, 9, 0, 0 },
	{ "H: 1\r\n\r\nb1\r\nb2", "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n", 1, 9, 0, 0 },
	{ "H: 1\n\n.b1\n.b2\n", "H: 1\r\n\r\n..b1\r\n.\r\n", 1, 1, 0, 0 },
	{ "H: 1\n\n\n\nx\n", "H: 1\r\n\r\n\r\n.\r\n", 1, 1, 0, 0 },
	{ "H: 1\nH: 2\n", "H: 1\r\nH: 2\r\n.\r\n", 1, 0, 0, 0 },
	{ "H: 1\nH: 2", "H: 1\r\nH: 2\r\n.\r\n", 1, 0, 0, 0 },
	{ "\nbody\n", "\r\n.\r\n", 1, 0, 0, 0 },
	{ "\r\nbody\n", "\r\n.\r\n", 1, 0, 0, 0 },
	{ "\r\nbody\n", "\r\nbody\r\n.\r\n", 1, 1, 0, 0 },
	/* "\r\r\n" is not an empty line. */
	{ "H\n\r\r\nb\n\nc\n", "H\r\n\r\r\nb\r\n\r\n.\r\n", 1, 0, 0, 0 },
	/* A lone CR does not end a body line. */
	{ "H\n\na\rb\nc\n", "H\r\n\r\na\rb\r\n.\r\n", 1, 1, 0, 0 },
	{ "", ".\r\n", 1, 5, 0, 0 },
	{ "H: x\n\nb\n", "H: x\r\n\r\nb\r\n.\r\n", 1, UINT64_MAX, 0, 0 },
};

static size_t
case_len(const struct enc_case *c)
{
	return c->inlen != 0 ? c->inlen : strlen(c->in);
}

static size_t
case_outlen(const struct enc_case *c)
{
	return c->outlen != 0 ? c->outlen : strlen(c->out);
}

/* Encodes in[0..len) split at the offsets in cuts[] (sorted). */
static size_t
encode_split(const struct enc_case *c, const unsigned char *in, size_t len,
    const size_t *cuts, size_t ncuts, unsigned char *out)
{
	struct dot_enc	 e;
	size_t		 o = 0, prev = 0, i, end;

	if (c->top)
		dot_enc_init_top(&e, c->lines);
	else
		dot_enc_init(&e);
	for (i = 0; i <= ncuts; i++) {
		end = i < ncuts ? cuts[i] : len;
		o += dot_enc_chunk(&e, in + prev, end - prev, out + o);
		prev = end;
	}
	o += dot_enc_finish(&e, out + o);
	return o;
}

static void
check(const struct enc_case *c, size_t idx, const unsigned char *got,
    size_t glen, const char *how)
{
	size_t	 wlen = case_outlen(c);

	if (glen != wlen || memcmp(got, c->out, wlen) != 0)
		fail_msg("case %zu (%s): output differs (len %zu, want %zu)",
		    idx, how, glen, wlen);
}

static void
test_encode_table(void **state)
{
	unsigned char	 out[dot_enc_bound(256) + 5];
	size_t		 i, len, a, b, o, cuts[256];

	for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];
		const unsigned char *in = (const unsigned char *)c->in;

		len = case_len(c);
		assert_true(len < 256);
		/* Whole. */
		o = encode_split(c, in, len, NULL, 0, out);
		check(c, i, out, o, "whole");
		/* Byte by byte. */
		for (a = 0; a + 1 < len; a++)
			cuts[a] = a + 1;
		o = encode_split(c, in, len, cuts, len > 0 ? len - 1 : 0, out);
		check(c, i, out, o, "byte by byte");
		/* Every offset and every pair of offsets (empty chunks too). */
		for (a = 0; a <= len; a++) {
			cuts[0] = a;
			o = encode_split(c, in, len, cuts, 1, out);
			check(c, i, out, o, "split");
			for (b = a; b <= len; b++) {
				cuts[1] = b;
				o = encode_split(c, in, len, cuts, 2, out);
				check(c, i, out, o, "split twice");
			}
		}
	}
}

/*
 * Encodes in chunks of 1..maxstep bytes (random; maxstep 0: one chunk)
 * and finishes; returns the output length.
 */
static size_t
encode_chunks(struct dot_enc *e, const unsigned char *in, size_t len,
    unsigned maxstep, unsigned int *seed, unsigned char *out)
{
	size_t	i, o = 0, step;

	for (i = 0; i < len; i += step) {
		step = maxstep == 0 ? len - i : 1 + (size_t)(rand_r(seed) %
		    maxstep);
		if (step > len - i)
			step = len - i;
		o += dot_enc_chunk(e, in + i, step, out + o);
	}
	return o + dot_enc_finish(e, out + o);
}

/* Pseudo-random messages: chunking never changes the output. */
static void
test_encode_random(void **state)
{
	static const unsigned char alphabet[] = { '\r', '\n', '.', 'a', ' ' };
	unsigned char	 in[200], whole[dot_enc_bound(200) + 5];
	unsigned char	 part[dot_enc_bound(200) + 5];
	struct dot_enc	 e;
	unsigned int	 seed = 1;
	size_t		 len, i, o, p, n;
	int		 round, top;

	for (round = 0; round < 2000; round++) {
		len = (size_t)(rand_r(&seed) % sizeof(in));
		for (i = 0; i < len; i++)
			in[i] = alphabet[rand_r(&seed) % sizeof(alphabet)];
		top = round % 2;
		n = (size_t)(rand_r(&seed) % 5);
		if (top)
			dot_enc_init_top(&e, n);
		else
			dot_enc_init(&e);
		o = dot_enc_chunk(&e, in, len, whole);
		o += dot_enc_finish(&e, whole + o);
		assert_true(o <= dot_enc_bound(len) + 5);

		if (top)
			dot_enc_init_top(&e, n);
		else
			dot_enc_init(&e);
		p = encode_chunks(&e, in, len, 7, &seed, part);
		assert_int_equal(p, o);
		assert_memory_equal(part, whole, o);
	}
}

/*
 * The wire encoder (CRLF input) gives what the general one gives, for
 * every split, including splits between an LF and a '.' and between a
 * CR and its LF.
 */
static void
test_encode_wire(void **state)
{
	static const char *const words[] = { "\r\n", ".", "a", " ", "..",
	    "\r" };
	unsigned char	 in[300], want[dot_enc_bound(300) + 5];
	unsigned char	 got[dot_enc_bound(300) + 5];
	struct dot_enc	 e;
	unsigned int	 seed = 7;
	size_t		 len, w, o, p, i, dots;
	int		 round;

	for (round = 0; round < 3000; round++) {
		len = 0;
		while (len < sizeof(in) - 3 && rand_r(&seed) % 60 != 0) {
			const char *wd = words[rand_r(&seed) % 6];

			w = strlen(wd);
			memcpy(in + len, wd, w);
			len += w;
		}
		/* Wire form ends in CRLF; a lone CR must not precede it. */
		for (i = 0; i < len; i++)
			if (in[i] == '\r' && (i + 1 == len || in[i + 1] != '\n'))
				in[i] = 'c';
		for (i = 0; i < len; i++)
			if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
				in[i] = 'n';
		memcpy(in + len, "\r\n", 2);
		len += 2;

		dot_enc_init(&e);
		o = dot_enc_chunk(&e, in, len, want);
		o += dot_enc_finish(&e, want + o);

		/* The name's ,D=: the lines that start with '.'. */
		for (dots = 0, i = 0; i < len; i++)
			dots += in[i] == '.' && (i == 0 || in[i - 1] == '\n');
		dot_enc_init_wire(&e, dots);
		p = encode_chunks(&e, in, len, round % 3 == 0 ? 0 : 9, &seed,
		    got);
		assert_int_equal(p, o);
		assert_memory_equal(got, want, o);
		assert_int_equal(o, len + dots + 3);
	}
}

/*
 * A wire file with more lines starting with '.' than its name says
 * (changed after delivery) gets DOT_ENC_OVER, and the encoder writes
 * no byte past dot_enc_wire_bound() of what it was given.
 */
static void
test_encode_wire_over(void **state)
{
	static const unsigned char in[] = "a\r\n.b\r\n.c\r\n..d\r\n";
	const size_t	 len = sizeof(in) - 1;
	unsigned char	 out[64];
	struct dot_enc	 e;
	size_t		 k, i, bound;
	uint64_t	 maxdots;

	(void)state;
	dot_enc_init_wire(&e, 3);
	assert_true(dot_enc_wire_bound(&e, len) == len + 3);
	k = dot_enc_chunk(&e, in, len, out);
	assert_int_equal(k, len + 3);
	assert_memory_equal(out, "a\r\n..b\r\n..c\r\n...d\r\n", k);
	for (maxdots = 0; maxdots < 3; maxdots++) {
		/* Whole, and byte by byte. */
		dot_enc_init_wire(&e, maxdots);
		bound = dot_enc_wire_bound(&e, len);
		memset(out, 0xa5, sizeof(out));
		assert_true(dot_enc_chunk(&e, in, len, out) == DOT_ENC_OVER);
		for (i = bound; i < sizeof(out); i++)
			assert_int_equal(out[i], 0xa5);
		dot_enc_init_wire(&e, maxdots);
		for (i = 0, k = 0; i < len; i++) {
			bound = dot_enc_wire_bound(&e, 1);
			if ((k = dot_enc_chunk(&e, in + i, 1, out)) ==
			    DOT_ENC_OVER)
				break;
			assert_true(k <= bound);
		}
		assert_true(k == DOT_ENC_OVER);
	}
}

static void
test_top_done(void **state)
{
	struct dot_enc	 e;
	unsigned char	 out[64];
	const char	*m = "H\n\nb1\nb2\n";

	dot_enc_init_top(&e, 1);
	assert_false(dot_enc_done(&e));
	dot_enc_chunk(&e, (const unsigned char *)m, 3, out);
	assert_false(dot_enc_done(&e));
	dot_enc_chunk(&e, (const unsigned char *)m + 3, 3, out);
	assert_true(dot_enc_done(&e));
	/* More input after done produces nothing. */
	assert_int_equal(dot_enc_chunk(&e, (const unsigned char *)m + 6, 3,
	    out), 0);

	dot_enc_init(&e);
	dot_enc_chunk(&e, (const unsigned char *)m, strlen(m), out);
	assert_false(dot_enc_done(&e));
}

static void
test_crlf_size(void **state)
{
	static const struct {
		const char	*in;
		uint64_t	 size;
	} cases[] = {
		{ "", 0 },
		{ "a", 1 },
		{ "a\n", 3 },
		{ "a\r\n", 3 },
		{ "\n\n", 4 },
		{ "\r\n\n", 4 },
		{ "\r", 1 },
		{ "\r\r\n", 3 },
		{ ".\n", 3 },	/* dot-stuffing is not counted */
	};
	size_t		 i, k, len;
	uint64_t	 n;
	int		 st;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].in);
		st = 0;
		n = dot_crlf_size((const unsigned char *)cases[i].in, len, &st);
		assert_true(n == cases[i].size);
		/* Split at every offset. */
		for (k = 0; k <= len; k++) {
			st = 0;
			n = dot_crlf_size((const unsigned char *)cases[i].in, k,
			    &st);
			n += dot_crlf_size((const unsigned char *)cases[i].in +
			    k, len - k, &st);
			assert_true(n == cases[i].size);
		}
	}
}

static void
test_decode(void **state)
{
	struct dot_dec		 d;
	const unsigned char	*o;
	size_t			 ol;

	dot_dec_init(&d);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)"abc\r\n", 5,
	    &o, &ol), 0);
	assert_int_equal(ol, 5);
	assert_memory_equal(o, "abc\r\n", 5);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)"..\r\n", 4,
	    &o, &ol), 0);
	assert_int_equal(ol, 3);
	assert_memory_equal(o, ".\r\n", 3);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)".x\n", 3,
	    &o, &ol), 0);
	assert_int_equal(ol, 2);
	assert_memory_equal(o, "x\n", 2);
	/* "." without terminator is not the end (e.g. cut off). */
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)".", 1,
	    &o, &ol), 0);
	assert_int_equal(ol, 0);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)"\r\n", 2,
	    &o, &ol), 0);
	assert_int_equal(ol, 2);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)".\r\n", 3,
	    &o, &ol), 1);
	assert_int_equal(ol, 0);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)"x\r\n", 3,
	    &o, &ol), 1);

	dot_dec_init(&d);
	assert_int_equal(dot_dec_line(&d, (const unsigned char *)".\n", 2,
	    &o, &ol), 1);
}

/* Encoding then decoding gives back the CRLF form of the message. */
static void
test_round_trip(void **state)
{
	const char	*m = "a\n.b\n..\n\nx\r\n.\n";
	const char	*want = "a\r\n.b\r\n..\r\n\r\nx\r\n.\r\n";
	unsigned char	 enc[128], dec[128];
	struct dot_enc	 e;
	struct dot_dec	 d;
	const unsigned char *o;
	size_t		 n, i, start, dl = 0, ol;
	int		 ended = 0;

	dot_enc_init(&e);
	n = dot_enc_chunk(&e, (const unsigned char *)m, strlen(m), enc);
	n += dot_enc_finish(&e, enc + n);
	dot_dec_init(&d);
	for (i = 0, start = 0; i < n; i++) {
		if (enc[i] != '\n')
			continue;
		if (dot_dec_line(&d, enc + start, i + 1 - start, &o, &ol)) {
			ended = 1;
			assert_int_equal(i + 1, n);
		} else {
			memcpy(dec + dl, o, ol);
			dl += ol;
		}
		start = i + 1;
	}
	assert_true(ended);
	assert_int_equal(dl, strlen(want));
	assert_memory_equal(dec, want, dl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_table),
		cmocka_unit_test(test_encode_random),
		cmocka_unit_test(test_encode_wire),
		cmocka_unit_test(test_encode_wire_over),
		cmocka_unit_test(test_top_done),
		cmocka_unit_test(test_crlf_size),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
