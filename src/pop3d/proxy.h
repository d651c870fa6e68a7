/*
 * proxy.h - pop3d's parser of the PROXY protocol header (HAProxy's
 * doc/proxy-protocol.txt, versions 1 and 2) that a load balancer sends
 * as the first bytes of a connection, before pop3d's greeting and
 * before a TLS handshake.  Pure functions, no I/O; input is untrusted.
 *
 * A header is read without reading past it (the bytes after it are the
 * client's: a TLS ClientHello): the reader peeks at what the socket
 * holds, proxy_take() says how many of those bytes belong to the header,
 * the reader consumes exactly that many, and proxy_parse() on what it
 * has gathered answers whether the header is complete, wants more, or
 * is refused.
 */
#ifndef POP3D_PROXY_H
#define POP3D_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* Version 1: "PROXY ..." up to and including CRLF, at most 107 octets. */
#define PROXY_V1_MAX	107
/*
 * Version 2: the 16-octet fixed part and an address block of at most
 * 216 octets (AF_UNIX) plus 296 of TLVs; a longer header is refused.
 */
#define PROXY_V2_MAX	(16 + 216 + 296)
/* A buffer that holds any header pop3d accepts. */
#define PROXY_HDR_MAX	PROXY_V2_MAX

struct proxy_hdr {
	int			version;	/* 1 or 2 */
	int			local;		/* 1: keep the connection's
						   own addresses (v1 UNKNOWN,
						   v2 LOCAL, AF_UNSPEC, AF_UNIX) */
	struct sockaddr_storage	src;		/* the client (if !local) */
	struct sockaddr_storage	dst;		/* where it connected to */
	socklen_t		srclen, dstlen;
	size_t			len;		/* octets of the header */
};

/*
 * buf holds n octets, the first of the connection.  Returns 1 and
 * fills h when they begin with a complete valid header (h->len octets
 * long, which may be fewer than n), 0 when they are a proper prefix of
 * a header that may still be valid, -1 when no valid header can begin
 * with them (an error message in *err).
 */
int	proxy_parse(const unsigned char *buf, size_t n, struct proxy_hdr *h,
	    const char **err);

/*
 * buf holds have octets gathered so far followed by avail octets that
 * the socket holds next (peeked, not yet consumed).  Returns how many
 * of those avail octets the reader may consume without consuming any
 * octet after the header: all of them up to the end of a v1 line, of
 * the v2 fixed part, or of the v2 header whose length is known.
 */
size_t	proxy_take(const unsigned char *buf, size_t have, size_t avail);

#endif
