/*
 * fuzz_pop3_cmd.c - libFuzzer target for pop3_cmd.c: command lines
 * parsed leniently and strictly with each argument bound the server
 * uses (RFC 1939's 40, user names' 64), then every argument as a
 * message number and a line count; a lenient parse followed by
 * pop3_cmd_check() against the strict parse; the raw rest of a PASS
 * line.  Aborts when a parse result breaks its contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/pop3_cmd.h"

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

/* Lenient parse, then the strict checks: what the strict parse says. */
static void
check_split(const uint8_t *data, size_t size, size_t argmax)
{
	static struct pop3_cmd	 strict, cmd;
	const char		*e1 = NULL, *e2 = NULL;
	int			 r1, r2;

	r1 = pop3_cmd_parse(&strict, (const char *)data, size, argmax, &e1);
	r2 = pop3_cmd_parse(&cmd, (const char *)data, size, 0, &e2);
	if (r2 == 0)
		r2 = pop3_cmd_check(&cmd, argmax, &e2);
	if (r1 != r2 || (r1 == -1 && strcmp(e1, e2) != 0))
		abort();
}

/* POP3_CMD_RAW: rest is the line's tail after the verb and one SP. */
static void
check_raw(const uint8_t *data, size_t size)
{
	static struct pop3_cmd	 cmd;
	const char		*err = NULL;
	char			 verb[5];
	size_t			 off;

	if (pop3_cmd_parse(&cmd, (const char *)data, size, POP3_CMD_RAW,
	    &err) == -1) {
		if (err == NULL || strlen(err) == 0)
			abort();
		return;
	}
	if (pop3_cmd_verb((const char *)data, size, verb) == -1 ||
	    strcmp(verb, cmd.verb) != 0)
		abort();
	off = (size_t)(cmd.rest - cmd.line);
	if (off > size || strlen(cmd.rest) != size - off ||
	    memcmp(cmd.rest, data + off, size - off) != 0 ||
	    cmd.argc != (cmd.rest[0] != '\0'))
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
		if (argmax > 0)
			check_split(data, size, argmax);
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
	check_raw(data, size);
	return 0;
}
