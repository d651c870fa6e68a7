/*
 * fuzz_passwd.c - libFuzzer target for the passwd-file line parser
 * (passwd.c: passwd_parse_line, passwd_valid_user).  The file is root's,
 * but a webmail password form or a provisioning script may write lines
 * into it, so every line is parsed as hostile.  The input is split at
 * LF into lines, as passwd_db_load does; each result must keep the
 * parser's contract, or the target aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_line(const char *line, size_t len)
{
	struct passwd_entry	 e;
	const char		*errstr = NULL;
	size_t			 ulen;
	int			 rv;

	rv = passwd_parse_line(line, len, &e, &errstr);
	switch (rv) {
	case 1:
		/* Blank or comment: nothing filled. */
		if (e.user != NULL || e.hash != NULL)
			abort();
		break;
	case 0:
		if (e.user == NULL || e.hash == NULL || e.hash[0] == '\0')
			abort();
		ulen = strlen(e.user);
		/* The user is the line's first field, a safe path part. */
		if (!passwd_valid_user(e.user, ulen) || ulen >= len ||
		    memcmp(e.user, line, ulen) != 0 || line[ulen] != ':')
			abort();
		/* The hash is a part of the line, without ':' or NUL. */
		if (strchr(e.hash, ':') != NULL ||
		    strlen(e.hash) > len - ulen - 1)
			abort();
		if ((unsigned)e.scheme > PASSWD_SCHEME_PLAIN ||
		    passwd_scheme_str(e.scheme) == NULL)
			abort();
		break;
	case -1:
		if (errstr == NULL || e.user != NULL || e.hash != NULL)
			abort();
		break;
	default:
		abort();
	}
	passwd_entry_clear(&e);
	if (e.user != NULL || e.hash != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		check_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	return 0;
}
