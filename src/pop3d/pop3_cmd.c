/*
 * pop3_cmd.c - parsing of POP3 command lines and of message numbers and
 * line counts.  Pure functions over untrusted input, no I/O; used by the
 * pop3d workers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pop3_cmd.h"

static int
cmd_isalpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Length of the verb a line starts with: 3 or 4 letters, then SP or the
 * end.  0 if it starts with none.
 */
static size_t
verb_len(const unsigned char *u, size_t len)
{
	size_t	n;

	for (n = 0; n < len && n < 4 && cmd_isalpha(u[n]); n++)
		;
	if (n < 3 || (n < len && u[n] != ' '))
		return 0;
	return n;
}

static void
verb_copy(char *verb, const unsigned char *u, size_t vlen)
{
	size_t	i;

	for (i = 0; i < vlen; i++)
		verb[i] = (char)(u[i] & ~0x20);	/* ASCII upper case */
	verb[vlen] = '\0';
}

int
pop3_cmd_verb(const char *line, size_t len, char verb[5])
{
	size_t	vlen = verb_len((const unsigned char *)line, len);

	verb_copy(verb, (const unsigned char *)line, vlen);
	return vlen == 0 ? -1 : 0;
}

int
pop3_cmd_parse(struct pop3_cmd *cmd, const char *line, size_t len,
    size_t argmax, const char **errstr)
{
	const unsigned char	*u = (const unsigned char *)line;
	size_t			 i, vlen, restlen;
	char			*p, *end;
	unsigned char		 c;
	int			 raw = argmax == POP3_CMD_RAW;

	cmd->verb[0] = '\0';
	cmd->argc = cmd->nargs = 0;
	cmd->argv[0] = cmd->argv[1] = NULL;
	cmd->xlen = 0;
	cmd->line[0] = '\0';
	cmd->rest = cmd->line;

	/* Trailing SPs: "LIST 1 ".  A raw rest (a secret) keeps them. */
	while (!raw && len > 0 && line[len - 1] == ' ')
		len--;
	if (len == 0) {
		*errstr = "empty command";
		return -1;
	}
	if (len > POP3_SASL_LINE_MAX) {
		*errstr = "line too long";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*errstr = "line contains NUL";
		return -1;
	}
	for (i = 0; !raw && i < len; i++) {
		c = u[i];
		if (c < 0x20 || c == 0x7f) {
			*errstr = "command contains a control character";
			return -1;
		}
	}
	if ((vlen = verb_len(u, len)) == 0) {
		*errstr = "unknown command";
		return -1;
	}
	verb_copy(cmd->verb, u, vlen);

	memcpy(cmd->line, line, len);
	cmd->line[len] = '\0';
	if (vlen == len) {
		cmd->rest = cmd->line + len;	/* no arguments: rest is "" */
		return 0;
	}

	/* One SP after the verb; everything after it is rest. */
	cmd->rest = cmd->line + vlen + 1;
	restlen = len - vlen - 1;
	if (raw) {
		if (restlen > 0) {
			cmd->argv[0] = cmd->rest;
			cmd->argc = cmd->nargs = 1;
		}
		return 0;
	}
	memcpy(cmd->args, cmd->rest, restlen + 1);

	/*
	 * Split a copy, so rest stays intact for PASS and AUTH: argv[]
	 * takes the first POP3_ARGS_MAX arguments, nargs counts them all,
	 * xlen keeps the length of the first one beyond argv[].
	 */
	p = cmd->args;
	end = cmd->args + restlen;
	for (;;) {
		char	*sp = memchr(p, ' ', (size_t)(end - p));
		size_t	 alen = (sp != NULL ? sp : end) - p;

		if (cmd->argc < POP3_ARGS_MAX)
			cmd->argv[cmd->argc++] = p;
		else if (cmd->nargs == POP3_ARGS_MAX)
			cmd->xlen = alen;
		cmd->nargs++;
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return argmax > 0 ? pop3_cmd_check(cmd, argmax, errstr) : 0;
}

int
pop3_cmd_check(struct pop3_cmd *cmd, size_t argmax, const char **errstr)
{
	size_t	alen;
	int	i;

	for (i = 0; i < cmd->nargs && i <= POP3_ARGS_MAX; i++) {
		alen = i < cmd->argc ? strlen(cmd->argv[i]) : cmd->xlen;
		if (alen == 0) {
			*errstr = "empty argument";
			return -1;
		}
		if (i == POP3_ARGS_MAX) {
			*errstr = "too many arguments";
			return -1;
		}
		if (alen > argmax) {
			snprintf(cmd->err, sizeof(cmd->err), "argument "
			    "too long (at most %zu octets)", argmax);
			*errstr = cmd->err;
			return -1;
		}
	}
	return 0;
}

/*
 * Digits only, no overflow.  Returns 0 with the value, 1 if the digits
 * are valid but the value passes UINT64_MAX, -1 if not all digits.
 */
static int
cmd_number(const char *s, uint64_t *out)
{
	const unsigned char	*u = (const unsigned char *)s;
	uint64_t		 v = 0;
	int			 over = 0;

	if (*u == '\0')
		return -1;
	for (; *u != '\0'; u++) {
		if (*u < '0' || *u > '9')
			return -1;
		if (v > (UINT64_MAX - (*u - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (*u - '0');
	}
	*out = over ? UINT64_MAX : v;
	return over;
}

int
pop3_msgnum(const char *s, uint64_t max, uint64_t *out, const char **errstr)
{
	uint64_t	 v;
	int		 r;

	if ((r = cmd_number(s, &v)) == -1) {
		*errstr = "invalid message number";
		return -1;
	}
	if (r == 1 || v == 0 || v > max) {
		*errstr = "no such message";
		return -2;
	}
	*out = v;
	return 0;
}

int
pop3_linecount(const char *s, uint64_t *out, const char **errstr)
{
	uint64_t	 v;

	if (cmd_number(s, &v) == -1) {
		*errstr = "invalid line count";
		return -1;
	}
	*out = v;		/* clamped to UINT64_MAX on overflow */
	return 0;
}
