/*
 * fuzz_pop3_resp.c - libFuzzer target for pop3_resp.c, pop3fetch's
 * parsers of server input.  The input is split into lines; each goes to
 * every parser, whole and cut short.  Checks: results stay inside the
 * line, codes and UIDs obey their limits, numbers are in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3fetch/pop3_resp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
one(const char *l, size_t len)
{
	struct pop3_resp	 r;
	struct pop3_capa	 c;
	char			 uid[FETCH_UID_MAX + 1];
	uint64_t		 a, b;
	const char		*e;
	size_t			 i;

	if (pop3_resp_parse(l, len, &r, &e) == 0) {
		if (len > FETCH_LINE_MAX || r.text < l ||
		    r.text + r.textlen > l + len ||
		    strlen(r.code) > POP3_RESP_CODE_MAX)
			abort();
		if (pop3_resp_stat(r.text, r.textlen, &a, &b, &e) == 0 &&
		    a > FETCH_MAX_MSGS)
			abort();
	}
	if (pop3_resp_uidl(l, len, &a, uid, &e) == 0) {
		if (a == 0 || a > FETCH_MAX_MSGS || strlen(uid) == 0 ||
		    strlen(uid) > FETCH_UID_MAX)
			abort();
		for (i = 0; uid[i] != '\0'; i++)
			if ((unsigned char)uid[i] < 0x21 ||
			    (unsigned char)uid[i] > 0x7e)
				abort();
	}
	if (pop3_resp_list(l, len, &a, &b, &e) == 0 &&
	    (a == 0 || a > FETCH_MAX_MSGS))
		abort();
	memset(&c, 0, sizeof(c));
	(void)pop3_resp_capa(l, len, &c, &e);
	if (c.sasl & ~(POP3_SASL_PLAIN | POP3_SASL_XOAUTH2 |
	    POP3_SASL_OAUTHBEARER))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl;
	char		*copy;
	size_t		 len;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end - 1;
		len = (size_t)(nl - p) + 1;
		/* Exactly sized copies, so ASan sees any overread. */
		copy = malloc(len);
		memcpy(copy, p, len);
		one(copy, len);
		one(copy, len - 1);
		free(copy);
		p = nl + 1;
	}
	return 0;
}
