/*
 * fuzz_maildir.c - libFuzzer target for maildir.c's name functions:
 * Maildir file names are chosen by whoever delivers mail.  Checks the
 * UIDL contract (1..70 octets in 0x21..0x7E) and the parse bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			 name[POP3_MDNAME_MAX + 64];
	char			 uidl[POP3_UIDL_MAX + 1];
	struct maildir_name	 n, m;
	size_t			 i, len;

	if (size >= sizeof(name))
		size = sizeof(name) - 1;
	memcpy(name, data, size);
	name[size] = '\0';
	len = strlen(name);

	if (maildir_name_parse(name, &n) == 0) {
		if (len == 0 || len > POP3_MDNAME_MAX || name[0] == '.' ||
		    strchr(name, '/') != NULL || n.base_len > len)
			abort();
		if (maildir_name_cmp(name, &n, name, &n) != 0)
			abort();
		/* Antisymmetric, as qsort needs. */
		if (maildir_name_parse("1.M1P1.h", &m) == 0 &&
		    sign(maildir_name_cmp(name, &n, "1.M1P1.h", &m)) !=
		    -sign(maildir_name_cmp("1.M1P1.h", &m, name, &n)))
			abort();
	}
	maildir_uidl(name, uidl);
	len = strlen(uidl);
	if (len < 1 || len > POP3_UIDL_MAX)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)uidl[i] < 0x21 ||
		    (unsigned char)uidl[i] > 0x7e)
			abort();
	return 0;
}
