/*
 * fuzz_pop3_cmd.c - libFuzzer target for pop3_cmd.c: command lines
 * parsed leniently and strictly with each argument bound the server
 * uses (RFC 1939's 40, user names' 64), then every argument as a
 * message number and a line count.  Aborts when a parse result breaks
 * its contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct pop3_cmd *c)
{
	size_t	 i, vlen = strlen(c->verb);

	if (vlen < 3 || vlen > 4 || c->argc < 0 || c->argc > POP3_ARGS_MAX)
		abort();
	for (i = 0; i < vlen; i++)
		if (c->verb[i] < 'A' || c->verb[i] > 'Z')
			abort();
	/*
	 * rest points into line, holds no control characters and does
	 * not end in SP (trailing SPs are dropped).
	 */
	if (c->rest < c->line || c->rest > c->line + sizeof(c->line))
		abort();
	for (i = 0; c->rest[i] != '\0'; i++)
		if ((unsigned char)c->rest[i] < 0x20 ||
		    (unsigned char)c->rest[i] == 0x7f)
			abort();
	if (i > 0 && c->rest[i - 1] == ' ')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 bounds[] = { 0, POP3_ARG_MAX, POP3_USER_MAX };
	static struct pop3_cmd	 cmd;
	const char		*err;
	uint64_t		 v;
	size_t			 b, argmax;
	int			 i;

	for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
		argmax = bounds[b];
		err = NULL;
		if (pop3_cmd_parse(&cmd, (const char *)data, size, argmax,
		    &err) == -1) {
			if (err == NULL || strlen(err) == 0)
				abort();
			continue;
		}
		check(&cmd);
		for (i = 0; i < cmd.argc; i++) {
			if (argmax > 0 && (strlen(cmd.argv[i]) == 0 ||
			    strlen(cmd.argv[i]) > argmax))
				abort();
			if (pop3_msgnum(cmd.argv[i], 1000, &v, &err) == 0 &&
			    (v < 1 || v > 1000))
				abort();
			(void)pop3_msgnum(cmd.argv[i], UINT64_MAX, &v, &err);
			(void)pop3_linecount(cmd.argv[i], &v, &err);
		}
	}
	return 0;
}
