/*
 * fuzz_proxy.c - libFuzzer target for proxy.c: a header parsed from the
 * whole input is never longer than the input or than its version's
 * bound; a proper prefix of an accepted header wants more; a reader
 * that peeks chunks (sized by the first input octet) and consumes what
 * proxy_take() allows reaches the same answer and never consumes an
 * octet after the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char	 buf[PROXY_HDR_MAX + 1024];
	struct proxy_hdr	 h, h2;
	const char		*err;
	size_t			 chunk, have = 0, avail, take, rounds;
	int			 r, r2 = 0;

	if (size < 1)
		return 0;
	chunk = 1 + data[0] % 64;
	data++;
	size--;
	if (size > sizeof(buf))
		size = sizeof(buf);

	r = proxy_parse(data, size, &h, &err);
	if (r == 1) {
		if (h.len > size || h.len > PROXY_HDR_MAX ||
		    (h.version == 1 && h.len > PROXY_V1_MAX))
			abort();
		if (h.len > 0 && proxy_parse(data, h.len - 1, &h2, &err) != 0)
			abort();
		if (!h.local && h.src.ss_family != AF_INET &&
		    h.src.ss_family != AF_INET6)
			abort();
	} else if (r == -1 && (err == NULL || *err == '\0'))
		abort();

	for (rounds = 0; rounds <= sizeof(buf); rounds++) {
		avail = size - have < chunk ? size - have : chunk;
		memcpy(buf + have, data + have, avail);
		take = proxy_take(buf, have, avail);
		if (take > avail)
			abort();
		have += take;
		if ((r2 = proxy_parse(buf, have, &h2, &err)) != 0 || take == 0)
			break;
	}
	if (r2 != r && !(r == -1 && r2 == 0))
		abort();
	if (r2 == 1 && (h2.len != have || h2.len != h.len ||
	    h2.local != h.local || memcmp(&h2.src, &h.src, sizeof(h.src))))
		abort();
	return 0;
}
