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

int
pop3_cmd_parse(struct pop3_cmd *cmd, const char *line, size_t len,
    size_t argmax, const char **errstr)
{
	const unsigned char	*u = (const unsigned char *)line;
	size_t			 i, vlen, restlen;
	char			*p, *end;
	unsigned char		 c;

	cmd->verb[0] = '\0';
	cmd->argc = 0;
	cmd->argv[0] = cmd->argv[1] = NULL;
	cmd->line[0] = '\0';
	cmd->rest = cmd->line;

	while (len > 0 && line[len - 1] == ' ')
		len--;		/* trailing SPs: "LIST 1 " */
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
	for (i = 0; i < len; i++) {
		c = u[i];
		if (c < 0x20 || c == 0x7f) {
			*errstr = "command contains a control character";
			return -1;
		}
	}

	for (vlen = 0; vlen < len && u[vlen] != ' '; vlen++)
		if (!cmd_isalpha(u[vlen]) || vlen >= 4)
			break;
	if (vlen < 3 || (vlen < len && u[vlen] != ' ')) {
		*errstr = "unknown command";
		return -1;
	}
	for (i = 0; i < vlen; i++)
		cmd->verb[i] = (char)(u[i] & ~0x20);	/* ASCII upper case */
	cmd->verb[vlen] = '\0';

	memcpy(cmd->line, line, len);
	cmd->line[len] = '\0';
	if (vlen == len) {
		cmd->rest = cmd->line + len;	/* no arguments: rest is "" */
		return 0;
	}

	/* One SP after the verb; everything after it is rest. */
	cmd->rest = cmd->line + vlen + 1;
	restlen = len - vlen - 1;
	memcpy(cmd->args, cmd->rest, restlen + 1);

	/* Split a copy, so rest stays intact for PASS and AUTH. */
	p = cmd->args;
	end = cmd->args + restlen;
	for (;;) {
		char	*sp = memchr(p, ' ', (size_t)(end - p));
		size_t	 alen = (sp != NULL ? sp : end) - p;

		if (argmax > 0) {
			if (alen == 0) {
				*errstr = "empty argument";
				return -1;
			}
			if (cmd->argc == POP3_ARGS_MAX) {
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
		if (cmd->argc < POP3_ARGS_MAX)
			cmd->argv[cmd->argc++] = p;
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
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
