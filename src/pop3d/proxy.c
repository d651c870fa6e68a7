/*
 * proxy.c - the PROXY protocol header, versions 1 (a text line) and 2
 * (binary), as HAProxy's doc/proxy-protocol.txt defines them: parsed
 * from the first octets of a connection, bounded, anything malformed
 * refused.  What a header means for a connection (who may send one,
 * when) is the worker's (proxy_conn.c); here only the octets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

static const unsigned char v1_sig[6] = "PROXY ";
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V2_FIXED	16
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_AF_UNSPEC	0x0
#define V2_AF_INET	0x1
#define V2_AF_INET6	0x2
#define V2_AF_UNIX	0x3
#define V2_STREAM	0x1
#define V2_DGRAM	0x2

static int
fail(const char **err, const char *msg)
{
	*err = msg;
	return -1;
}

static size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* A decimal port, 0..65535, without a sign or a leading zero. */
static int
v1_port(const char *s, in_port_t *port)
{
	unsigned long	v = 0;
	size_t		i, n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

static int
v1_addr(int af, const char *a, const char *p, struct sockaddr_storage *ss,
    socklen_t *len)
{
	in_port_t	port;

	memset(ss, 0, sizeof(*ss));
	if (v1_port(p, &port) == -1)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, a, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = port;
		*len = sizeof(*s6);
	}
	return 0;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY UNKNOWN...\r\n". */
static int
parse_v1(const unsigned char *buf, size_t n, struct proxy_hdr *h,
    const char **err)
{
	char		 line[PROXY_V1_MAX + 1], *f[6], *p;
	const char	*nl;
	size_t		 len, i;
	int		 nf, af;

	if (memcmp(buf, v1_sig, min_sz(n, sizeof(v1_sig))) != 0)
		return fail(err, "not a PROXY protocol header");
	nl = memchr(buf, '\n', min_sz(n, PROXY_V1_MAX));
	if (nl == NULL)
		return n >= PROXY_V1_MAX ?
		    fail(err, "PROXY v1 line too long") : 0;
	len = (size_t)(nl - (const char *)buf) + 1;
	if (len < sizeof(v1_sig) + 2 || buf[len - 2] != '\r')
		return fail(err, "PROXY v1 line not ended by CRLF");
	/* The fields: printable US-ASCII, one SP between two. */
	for (i = 0; i < len - 2; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return fail(err, "PROXY v1 line holds a control octet");
	memcpy(line, buf, len - 2);
	line[len - 2] = '\0';
	h->version = 1;
	h->len = len;
	p = line + sizeof(v1_sig);
	if (strncmp(p, "UNKNOWN", 7) == 0 && (p[7] == '\0' || p[7] == ' ')) {
		/* The rest of the line is ignored (the spec says so). */
		h->local = 1;
		return 1;
	}
	for (nf = 0; nf < 6; nf++) {
		f[nf] = p;
		if ((p = strchr(p, ' ')) == NULL) {
			nf++;
			break;
		}
		*p++ = '\0';
	}
	if (nf != 5 || p != NULL)
		return fail(err, "PROXY v1 line has not 5 fields");
	if (strcmp(f[0], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		af = AF_INET6;
	else
		return fail(err, "PROXY v1 protocol unknown");
	if (v1_addr(af, f[1], f[3], &h->src, &h->srclen) == -1 ||
	    v1_addr(af, f[2], f[4], &h->dst, &h->dstlen) == -1)
		return fail(err, "PROXY v1 address or port invalid");
	return 1;
}

/* The address block of a v2 PROXY command; TLVs after it checked. */
static int
v2_addrs(const unsigned char *blk, size_t blen, int af,
    struct proxy_hdr *h, const char **err)
{
	size_t	alen, off, tl;

	if (af == V2_AF_INET) {
		struct sockaddr_in	*s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in	*d = (struct sockaddr_in *)&h->dst;

		if ((alen = 12) > blen)
			return fail(err, "PROXY v2 address block too short");
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, blk, 4);
		memcpy(&d->sin_addr, blk + 4, 4);
		memcpy(&s->sin_port, blk + 8, 2);
		memcpy(&d->sin_port, blk + 10, 2);
		h->srclen = h->dstlen = sizeof(*s);
	} else if (af == V2_AF_INET6) {
		struct sockaddr_in6	*s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6	*d = (struct sockaddr_in6 *)&h->dst;

		if ((alen = 36) > blen)
			return fail(err, "PROXY v2 address block too short");
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, blk, 16);
		memcpy(&d->sin6_addr, blk + 16, 16);
		memcpy(&s->sin6_port, blk + 32, 2);
		memcpy(&d->sin6_port, blk + 34, 2);
		h->srclen = h->dstlen = sizeof(*s);
	} else if (af == V2_AF_UNIX) {
		/* No address pop3d could use: the connection's stays. */
		if ((alen = 216) > blen)
			return fail(err, "PROXY v2 address block too short");
		h->local = 1;
	} else {
		alen = 0;	/* AF_UNSPEC: ignore the block */
		h->local = 1;
		return 1;
	}
	/* TLVs: type, 16-bit length, value; skipped, each in bounds. */
	for (off = alen; off < blen; off += 3 + tl) {
		if (blen - off < 3)
			return fail(err, "PROXY v2 TLV truncated");
		tl = (size_t)blk[off + 1] << 8 | blk[off + 2];
		if (tl > blen - off - 3)
			return fail(err, "PROXY v2 TLV overruns the header");
	}
	return 1;
}

static int
parse_v2(const unsigned char *buf, size_t n, struct proxy_hdr *h,
    const char **err)
{
	size_t	blen;
	int	cmd = 0, af = 0, proto = 0;

	if (memcmp(buf, v2_sig, min_sz(n, sizeof(v2_sig))) != 0)
		return fail(err, "not a PROXY protocol header");
	if (n > 12) {
		if (buf[12] >> 4 != 2)
			return fail(err, "PROXY v2 version not 2");
		cmd = buf[12] & 0xf;
		if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
			return fail(err, "PROXY v2 command unknown");
	}
	if (n > 13) {
		af = buf[13] >> 4;
		proto = buf[13] & 0xf;
		if (af > V2_AF_UNIX || proto > V2_DGRAM)
			return fail(err, "PROXY v2 family unknown");
		if (cmd == V2_CMD_PROXY && proto == V2_DGRAM)
			return fail(err, "PROXY v2 datagram, not a stream");
		if (cmd == V2_CMD_PROXY && af != V2_AF_UNSPEC &&
		    proto != V2_STREAM)
			return fail(err, "PROXY v2 family without a protocol");
	}
	if (n < V2_FIXED)
		return 0;
	blen = (size_t)buf[14] << 8 | buf[15];
	if (blen > PROXY_V2_MAX - V2_FIXED)
		return fail(err, "PROXY v2 header too long");
	if (n < V2_FIXED + blen)
		return 0;
	h->version = 2;
	h->len = V2_FIXED + blen;
	if (cmd == V2_CMD_LOCAL) {
		/* A health check: the block is discarded. */
		h->local = 1;
		return 1;
	}
	return v2_addrs(buf + V2_FIXED, blen, af, h, err);
}

int
proxy_parse(const unsigned char *buf, size_t n, struct proxy_hdr *h,
    const char **err)
{
	memset(h, 0, sizeof(*h));
	*err = "";
	if (n == 0)
		return 0;
	if (buf[0] == v1_sig[0])
		return parse_v1(buf, n, h, err);
	if (buf[0] == v2_sig[0])
		return parse_v2(buf, n, h, err);
	return fail(err, "not a PROXY protocol header");
}

size_t
proxy_take(const unsigned char *buf, size_t have, size_t avail)
{
	const unsigned char	*nl;
	size_t			 need;

	if (avail == 0)
		return 0;
	if (have == 0 && buf[0] != v1_sig[0] && buf[0] != v2_sig[0])
		return 1;	/* enough to refuse */
	if (buf[0] == v1_sig[0]) {
		if (have >= PROXY_V1_MAX)
			return 0;
		avail = min_sz(avail, PROXY_V1_MAX - have);
		nl = memchr(buf + have, '\n', avail);
		return nl == NULL ? avail : (size_t)(nl - (buf + have)) + 1;
	}
	need = V2_FIXED;
	if (have + avail >= V2_FIXED)
		need += (size_t)buf[14] << 8 | buf[15];
	need = min_sz(need, PROXY_V2_MAX);
	return need > have ? min_sz(avail, need - have) : 0;
}
