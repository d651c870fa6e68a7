/*
 * fuzz_conf.c - libFuzzer target for conf.c: conf_parse() over a table
 * with every type, then conf_free().  The error count must match the
 * lines appended to the error buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fconf {
	char		*s, *top;
	long long	 i, sz, t;
	int		 b, e;
	struct conf_list l;
};

static const char *const fchoices[] = { "no", "loopback", "yes", NULL };

#define OFF(f)	offsetof(struct fconf, f)
static const struct conf_def fdefs[] = {
	{ "", "top", CONF_STR, 0, 0, NULL, NULL, OFF(top), "" },
	{ "server", "name", CONF_STR, 0, 0, "x", NULL, OFF(s), "" },
	{ "server", "workers", CONF_INT, -10, 64, "0", NULL, OFF(i), "" },
	{ "server", "verbose", CONF_BOOL, 0, 0, "no", NULL, OFF(b), "" },
	{ "auth", "mode", CONF_ENUM, 0, 0, "no", fchoices, OFF(e), "" },
	{ "server", "listen", CONF_LIST, 0, 0, "a b", NULL, OFF(l), "" },
	{ "tls", "size", CONF_SIZE, 0, 1LL << 50, "1k", NULL, OFF(sz), "" },
	{ "tls", "timeout", CONF_TIME, 0, 1LL << 40, "1m", NULL, OFF(t), "" },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, NULL }
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fconf	 c;
	struct buf	 errs;
	size_t		 i, lines = 0;
	int		 n;

	memset(&c, 0, sizeof(c));
	conf_defaults(fdefs, &c);
	buf_init(&errs, 1024 * 1024);
	n = conf_parse(fdefs, &c, "fuzz", (const char *)data, size, &errs);
	for (i = 0; i < errs.len; i++)
		if (errs.data[i] == '\n')
			lines++;
	/* Each error is one line (unless the error buffer filled up). */
	if (n < 0 || ((size_t)n != lines && errs.len + 4096 < errs.max))
		abort();
	if (c.i < -10 || c.i > 64 || c.b < 0 || c.b > 1 || c.e < 0 ||
	    c.e > 2 || c.sz < 0 || c.t < 0 || c.s == NULL)
		abort();
	conf_free(fdefs, &c);
	buf_clear(&errs);
	return 0;
}
