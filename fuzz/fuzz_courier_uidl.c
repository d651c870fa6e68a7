/*
 * fuzz_courier_uidl.c - libFuzzer target for the courierpop3dsizelist
 * reader (pop3d's courier_uidl.c: cuidl_parse, cuidl_find, cuidl_uidl).
 * The list sits in the Maildir, which the mail user owns: whatever
 * writes there as that user (Courier, an LDA, a restore script) can
 * leave any bytes, and every login reads them.  A parse must keep the
 * reader's contract: entries and skipped lines within the input's
 * lines, names non-empty and at most POP3_MDNAME_MAX octets, each found
 * again by its own name, and every UIDL given 1..70 octets of
 * 0x21..0x7e (RFC 1939).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/courier_uidl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cuidl_entry	*e;
	struct cuidl			 c;
	char				 out[POP3_UIDL_MAX + 1], *err = NULL;
	size_t				 i, k, lines = 0, len;
	int				 rv;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	rv = cuidl_parse((const char *)data, size, &c, &err);
	if (rv != 1) {
		if (c.n != 0 || c.v != NULL || (rv == -1) != (err != NULL))
			abort();
		free(err);
		return 0;
	}
	if (err != NULL || c.n + c.skipped > lines || c.version > 3)
		abort();
	for (i = 0; i < c.n; i++) {
		len = strlen(c.v[i].name);
		if (len == 0 || len > POP3_MDNAME_MAX)
			abort();
		/* The first entry of the same name up to ':' answers. */
		if ((e = cuidl_find_name(&c, c.v[i].name)) == NULL ||
		    e > &c.v[i] || strcspn(e->name, ":") !=
		    strcspn(c.v[i].name, ":") || memcmp(e->name, c.v[i].name,
		    strcspn(e->name, ":")) != 0 ||
		    cuidl_find(&c, c.v[i].name) != e)
			abort();
		if (cuidl_uidl(&c.v[i], out, sizeof(out))) {
			len = strlen(out);
			if (len == 0 || len > POP3_UIDL_MAX)
				abort();
			for (k = 0; k < len; k++)
				if ((unsigned char)out[k] < 0x21 ||
				    (unsigned char)out[k] > 0x7e)
					abort();
		} else if (c.v[i].uid != 0)
			abort();	/* "UID<n>[-<v>]" always fits */
	}
	cuidl_free(&c);
	return 0;
}
