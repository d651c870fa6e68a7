/*
 * fuzz_sasl.c - libFuzzer target for sasl.c: strict base64 must be
 * canonical (what decodes re-encodes to the same text), encoding must
 * round-trip, and SASL PLAIN parsing of raw and decoded input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_SASL_MAX	8192

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char	 dec[FUZZ_SASL_MAX];
	static char		 enc[FUZZ_SASL_MAX * 2];
	struct sasl_plain	 sp;
	const char		*err;
	long			 n;
	size_t			 e;

	if (size > FUZZ_SASL_MAX)
		size = FUZZ_SASL_MAX;

	n = base64_decode((const char *)data, size, dec);
	if (n >= 0) {
		if ((size_t)n > size / 4 * 3)
			abort();
		e = base64_encode(dec, (size_t)n, enc);
		if (e != size || memcmp(enc, data, size) != 0)
			abort();
		if (sasl_plain_parse(dec, (size_t)n, &sp, &err) == 0 &&
		    sp.authcid[0] == '\0')
			abort();
		sasl_plain_wipe(&sp);
	}

	e = base64_encode(data, size, enc);
	if (e != 4 * ((size + 2) / 3) || enc[e] != '\0')
		abort();
	if (base64_decode(enc, e, dec) != (long)size ||
	    memcmp(dec, data, size) != 0)
		abort();

	if (sasl_plain_parse(data, size, &sp, &err) == 0) {
		if (strlen(sp.authzid) + strlen(sp.authcid) +
		    strlen(sp.passwd) + 2 != size)
			abort();
	} else if (err == NULL)
		abort();
	sasl_plain_wipe(&sp);
	return 0;
}
