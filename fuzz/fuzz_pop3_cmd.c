/*
 * fuzz_pop3_cmd.c - libFuzzer target for pop3_cmd.c: command lines in
 * strict and non-strict mode, then every argument as a message number
 * and a line count.  Aborts when a parse result breaks its contract.
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
	/* rest points into line and holds no control characters. */
	if (c->rest < c->line || c->rest > c->line + sizeof(c->line))
		abort();
	for (i = 0; c->rest[i] != '\0'; i++)
		if ((unsigned char)c->rest[i] < 0x20 ||
		    (unsigned char)c->rest[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pop3_cmd	 cmd;
	const char		*err;
	uint64_t		 v;
	int			 strict, i;

	for (strict = 0; strict <= 1; strict++) {
		if (pop3_cmd_parse(&cmd, (const char *)data, size, strict,
		    &err) == -1) {
			if (err == NULL)
				abort();
			continue;
		}
		check(&cmd);
		for (i = 0; i < cmd.argc; i++) {
			if (strict && (strlen(cmd.argv[i]) == 0 ||
			    strlen(cmd.argv[i]) > POP3_ARG_MAX))
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
