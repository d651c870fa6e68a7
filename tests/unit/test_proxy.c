/*
 * test_proxy.c - unit tests for proxy.c: the PROXY protocol's examples
 * (v1 TCP4, TCP6, UNKNOWN; v2 TCP4, TCP6, UNIX, LOCAL, with TLVs),
 * every prefix of a valid header wanting more, malformed headers
 * refused (as a table), and proxy_take() never consuming an octet after
 * the header whatever the chunks the socket delivers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "pop3d/proxy.h"

#define L(s)	(const unsigned char *)s, sizeof(s) - 1

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static int
parse(const unsigned char *b, size_t n, struct proxy_hdr *h)
{
	const char	*err;

	return proxy_parse(b, n, h, &err);
}

static void
assert_v4(const struct sockaddr_storage *ss, const char *addr, int port)
{
	const struct sockaddr_in	*s = (const struct sockaddr_in *)ss;
	char				 buf[INET_ADDRSTRLEN];

	assert_int_equal(s->sin_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	assert_int_equal(ntohs(s->sin_port), port);
}

static void
assert_v6(const struct sockaddr_storage *ss, const char *addr, int port)
{
	const struct sockaddr_in6	*s = (const struct sockaddr_in6 *)ss;
	char				 buf[INET6_ADDRSTRLEN];

	assert_int_equal(s->sin6_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	assert_int_equal(ntohs(s->sin6_port), port);
}

/* Every proper prefix wants more; the whole parses; trailing data stays. */
static void
assert_complete(const unsigned char *b, size_t n, struct proxy_hdr *h)
{
	unsigned char	buf[PROXY_HDR_MAX + 16];
	size_t		i;

	for (i = 0; i < n; i++)
		assert_int_equal(parse(b, i, h), 0);
	memcpy(buf, b, n);
	memcpy(buf + n, "\x16\x03\x01", 3);	/* a ClientHello after it */
	assert_int_equal(parse(buf, n + 3, h), 1);
	assert_int_equal(h->len, n);
	assert_int_equal(parse(b, n, h), 1);
	assert_int_equal(h->len, n);
}

static void
test_v1_examples(void **state)
{
	struct proxy_hdr	h;

	assert_complete(L("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n"),
	    &h);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.local, 0);
	assert_v4(&h.src, "192.0.2.7", 56324);
	assert_v4(&h.dst, "198.51.100.1", 110);

	assert_complete(L("PROXY TCP6 2001:db8::7 2001:db8::1 65535 995\r\n"),
	    &h);
	assert_int_equal(h.local, 0);
	assert_v6(&h.src, "2001:db8::7", 65535);
	assert_v6(&h.dst, "2001:db8::1", 995);

	assert_complete(L("PROXY UNKNOWN\r\n"), &h);
	assert_int_equal(h.local, 1);
	/* UNKNOWN: the rest of the line is ignored. */
	assert_complete(L("PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 0 0\r\n"), &h);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.len, 43);

	/* The spec's worst case is 107 octets, accepted. */
	assert_complete(L("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), &h);
	assert_int_equal(h.len, PROXY_V1_MAX);
	assert_int_equal(h.local, 1);
	assert_complete(L("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), &h);
	assert_int_equal(h.len, 104);
	assert_int_equal(h.local, 0);
}

/* Builds a v2 header: fixed part, block of blen octets. */
static size_t
v2(unsigned char *b, int vc, int fam, const unsigned char *blk,
    size_t blen)
{
	memcpy(b, sig, 12);
	b[12] = (unsigned char)vc;
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)(blen >> 8);
	b[15] = (unsigned char)blen;
	memcpy(b + 16, blk, blen);
	return 16 + blen;
}

static const unsigned char blk4[] = {
	192, 0, 2, 7,  198, 51, 100, 1,  0xdc, 0x04,  0x00, 0x6e,
	/* TLVs: PP2_TYPE_ALPN "pop3", PP2_TYPE_NOOP of 0 octets */
	0x01, 0x00, 0x04, 'p', 'o', 'p', '3',  0x04, 0x00, 0x00
};

static void
test_v2_examples(void **state)
{
	struct proxy_hdr	h;
	unsigned char		b[PROXY_HDR_MAX], blk[PROXY_HDR_MAX];
	size_t			n;

	n = v2(b, 0x21, 0x11, blk4, 12);
	assert_complete(b, n, &h);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 0);
	assert_v4(&h.src, "192.0.2.7", 56324);
	assert_v4(&h.dst, "198.51.100.1", 110);

	n = v2(b, 0x21, 0x11, blk4, sizeof(blk4));	/* with TLVs */
	assert_complete(b, n, &h);
	assert_int_equal(h.len, 16 + sizeof(blk4));
	assert_v4(&h.src, "192.0.2.7", 56324);

	memset(blk, 0, 36);
	blk[0] = 0x20; blk[1] = 0x01; blk[2] = 0x0d; blk[3] = 0xb8;
	blk[15] = 7;
	blk[16] = 0x20; blk[17] = 0x01; blk[18] = 0x0d; blk[19] = 0xb8;
	blk[31] = 1;
	blk[32] = 0x12; blk[33] = 0x34; blk[35] = 110;
	n = v2(b, 0x21, 0x21, blk, 36);
	assert_complete(b, n, &h);
	assert_int_equal(h.local, 0);
	assert_v6(&h.src, "2001:db8::7", 0x1234);
	assert_v6(&h.dst, "2001:db8::1", 110);

	/* LOCAL (a health check), whatever its block: the peer stays. */
	n = v2(b, 0x20, 0x00, blk, 0);
	assert_complete(b, n, &h);
	assert_int_equal(h.local, 1);
	n = v2(b, 0x20, 0x11, blk4, 5);
	assert_complete(b, n, &h);
	assert_int_equal(h.local, 1);

	/* PROXY over AF_UNSPEC or AF_UNIX: no usable address, peer stays. */
	n = v2(b, 0x21, 0x00, blk4, 7);
	assert_complete(b, n, &h);
	assert_int_equal(h.local, 1);
	memset(blk, 'x', 216);
	n = v2(b, 0x21, 0x31, blk, 216);
	assert_complete(b, n, &h);
	assert_int_equal(h.local, 1);

	/* The longest accepted: TLVs filling the bound. */
	memcpy(blk, blk4, 12);
	blk[12] = 0x04;
	blk[13] = (unsigned char)((PROXY_V2_MAX - 16 - 15) >> 8);
	blk[14] = (unsigned char)(PROXY_V2_MAX - 16 - 15);
	n = v2(b, 0x21, 0x11, blk, PROXY_V2_MAX - 16);
	assert_int_equal(parse(b, n, &h), 1);
	assert_int_equal(h.len, PROXY_V2_MAX);
}

static const char *const v1_bad[] = {
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\n",	/* bare LF */
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",		/* 4 fields */
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324 110 1\r\n",	/* 6 */
	"PROXY TCP4  192.0.2.7 198.51.100.1 56324 110\r\n",	/* 2 SP */
	"PROXY TCP4 192.0.2.7 198.51.100.1 56324 110 \r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 65536 110\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 056324 110\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 01 110\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 -1 110\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1 +1 110\r\n",
	"PROXY TCP4 192.0.2.7 198.51.100.1  110\r\n",
	"PROXY TCP4 192.0.2.256 198.51.100.1 1 110\r\n",
	"PROXY TCP4 192.0.2 198.51.100.1 1 110\r\n",
	"PROXY TCP4 2001:db8::7 198.51.100.1 1 110\r\n",
	"PROXY TCP6 192.0.2.7 2001:db8::1 1 110\r\n",
	"PROXY TCP5 192.0.2.7 198.51.100.1 1 110\r\n",
	"PROXY tcp4 192.0.2.7 198.51.100.1 1 110\r\n",
	"PROXY UDP4 192.0.2.7 198.51.100.1 1 110\r\n",
	"PROXY UNKNOWNX\r\n",
	"PROXY \r\n",
	"PROXY\r\n",
	"PROXY  UNKNOWN\r\n",
	"PROXY TCP4 192.0.2.7\t198.51.100.1 1 110\r\n",
	"proxy TCP4 192.0.2.7 198.51.100.1 1 110\r\n",
	"USER alice\r\n",
	"\x16\x03\x01\x02\x00",
	"CAPA\r\n",
};

static void
test_v1_malformed(void **state)
{
	struct proxy_hdr	h;
	const char		*err;
	unsigned char		b[256];
	size_t			i;

	for (i = 0; i < sizeof(v1_bad) / sizeof(v1_bad[0]); i++) {
		err = NULL;
		if (proxy_parse((const unsigned char *)v1_bad[i],
		    strlen(v1_bad[i]), &h, &err) != -1)
			fail_msg("accepted: %s", v1_bad[i]);
		assert_true(err != NULL && *err != '\0');
	}
	/* A NUL inside the line. */
	memcpy(b, "PROXY UNKNOWN\0\r\n", 16);
	assert_int_equal(parse(b, 16, &h), -1);
	/* No LF within 107 octets: refused at 107, not before. */
	memset(b, 'A', sizeof(b));
	memcpy(b, "PROXY UNKNOWN ", 14);
	assert_int_equal(parse(b, PROXY_V1_MAX - 1, &h), 0);
	assert_int_equal(parse(b, PROXY_V1_MAX, &h), -1);
	assert_int_equal(parse(b, sizeof(b), &h), -1);
	b[PROXY_V1_MAX - 2] = '\r';
	b[PROXY_V1_MAX - 1] = '\n';
	assert_int_equal(parse(b, sizeof(b), &h), 1);
	b[PROXY_V1_MAX - 1] = '\r';
	b[PROXY_V1_MAX] = '\n';
	assert_int_equal(parse(b, sizeof(b), &h), -1);
}

static void
test_v2_malformed(void **state)
{
	struct proxy_hdr	h;
	unsigned char		b[PROXY_HDR_MAX + 64], blk[PROXY_HDR_MAX];
	size_t			n;

	/* Version not 2, command not LOCAL or PROXY. */
	n = v2(b, 0x11, 0x11, blk4, 12);
	assert_int_equal(parse(b, 13, &h), -1);
	n = v2(b, 0x31, 0x11, blk4, 12);
	assert_int_equal(parse(b, n, &h), -1);
	n = v2(b, 0x22, 0x11, blk4, 12);
	assert_int_equal(parse(b, 13, &h), -1);
	/* Families and protocols outside the spec, datagrams. */
	n = v2(b, 0x21, 0x41, blk4, 12);
	assert_int_equal(parse(b, 14, &h), -1);
	n = v2(b, 0x21, 0x13, blk4, 12);
	assert_int_equal(parse(b, n, &h), -1);
	n = v2(b, 0x21, 0x12, blk4, 12);
	assert_int_equal(parse(b, n, &h), -1);
	n = v2(b, 0x21, 0x10, blk4, 12);
	assert_int_equal(parse(b, n, &h), -1);
	n = v2(b, 0x20, 0x41, blk4, 12);	/* LOCAL checks it too */
	assert_int_equal(parse(b, n, &h), -1);
	/* Address blocks shorter than the family's addresses. */
	n = v2(b, 0x21, 0x11, blk4, 11);
	assert_int_equal(parse(b, n, &h), -1);
	memset(blk, 0, sizeof(blk));
	n = v2(b, 0x21, 0x21, blk, 35);
	assert_int_equal(parse(b, n, &h), -1);
	n = v2(b, 0x21, 0x31, blk, 215);
	assert_int_equal(parse(b, n, &h), -1);
	/* TLVs truncated or overrunning the block. */
	n = v2(b, 0x21, 0x11, blk4, 14);
	assert_int_equal(parse(b, n, &h), -1);
	n = v2(b, 0x21, 0x11, blk4, 18);
	assert_int_equal(parse(b, n, &h), -1);
	memcpy(blk, blk4, sizeof(blk4));
	blk[14] = 5;
	n = v2(b, 0x21, 0x11, blk, sizeof(blk4));
	assert_int_equal(parse(b, n, &h), -1);
	/* Longer than the bound: refused from the length alone. */
	n = v2(b, 0x21, 0x11, blk, PROXY_V2_MAX - 16);
	b[15]++;
	assert_int_equal(parse(b, 16, &h), -1);
	b[14] = 0xff;
	b[15] = 0xff;
	assert_int_equal(parse(b, 16, &h), -1);
	/* A damaged signature, octet by octet. */
	for (n = 0; n < 12; n++) {
		v2(b, 0x21, 0x11, blk4, 12);
		b[n] ^= 0x40;
		assert_int_equal(parse(b, 28, &h), -1);
		assert_int_equal(parse(b, n + 1, &h), -1);
	}
}

/*
 * A reader that peeks chunks of the given size and consumes what
 * proxy_take() allows ends exactly at the header, never past it.
 */
static size_t
read_chunked(const unsigned char *in, size_t n, size_t chunk,
    struct proxy_hdr *h)
{
	unsigned char	buf[PROXY_HDR_MAX + 512];
	size_t		have = 0, avail, take;
	int		r = 0, rounds;

	for (rounds = 0; rounds < 4096; rounds++) {
		avail = n - have < chunk ? n - have : chunk;
		memcpy(buf + have, in + have, avail);
		take = proxy_take(buf, have, avail);
		assert_true(take <= avail);
		have += take;
		assert_true(have <= PROXY_HDR_MAX);
		if ((r = parse(buf, have, h)) != 0)
			break;
		if (take == 0)
			break;
	}
	assert_int_equal(r, 1);
	assert_int_equal(h->len, have);
	return have;
}

static void
test_take(void **state)
{
	struct proxy_hdr	h;
	unsigned char		b[PROXY_HDR_MAX + 64];
	size_t			n, chunk;
	static const char	v1[] =
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\nUSER x\r\n";

	for (chunk = 1; chunk < 80; chunk++)
		assert_int_equal(read_chunked((const unsigned char *)v1,
		    sizeof(v1) - 1, chunk, &h), 45);
	n = v2(b, 0x21, 0x11, blk4, sizeof(blk4));
	memset(b + n, 0x16, 64);	/* the client's TLS record after it */
	for (chunk = 1; chunk < 80; chunk++)
		assert_int_equal(read_chunked(b, n + 64, chunk, &h), n);
	/* Something else: one octet taken, enough to refuse. */
	assert_int_equal(proxy_take((const unsigned char *)"USER", 0, 4), 1);
	assert_int_equal(proxy_take((const unsigned char *)"USER", 0, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_examples),
		cmocka_unit_test(test_v2_examples),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
