/*
 * pop3_cmd.h - pop3d's parsing of POP3 command lines (RFC 1939, RFC 2449) and
 * of message numbers.  Pure functions, no I/O; input is untrusted.  A
 * line is parsed once: its verb looked up (pop3_cmd_verb), the line
 * split as that command wants (pop3_cmd_parse), its arguments checked
 * after their count (pop3_cmd_check).
 */
#ifndef POP3_CMD_H
#define POP3_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "pop3_limits.h"

struct pop3_cmd {
	char	 verb[5];		/* upper-cased, NUL-terminated */
	int	 argc;			/* 0..POP3_ARGS_MAX */
	char	*argv[POP3_ARGS_MAX];	/* point into args[], NUL-terminated */
	char	*rest;			/* everything after the verb and one SP,
					   or "" (for PASS, whose secret may hold
					   spaces, and for AUTH); points into
					   line[], left intact by the split */
	int	 nargs;			/* private: arguments on the line */
	size_t	 xlen;			/* private: length of the first one
					   beyond argv[] */
	char	 line[POP3_SASL_LINE_MAX + 1];
	char	 args[POP3_SASL_LINE_MAX + 1];	/* private: argv storage */
	char	 err[64];		/* private: an error naming a limit */
};

/*
 * Parses one command line of len octets without its CRLF (a lone LF was
 * already stripped by the caller as well).  Fills cmd; every pointer in
 * it points into cmd itself and is valid until the next parse into it.
 * The caller enforces POP3_CMD_MAX while reading; the parser itself
 * accepts up to POP3_SASL_LINE_MAX octets (AUTH initial responses).
 * SPs at the end of the line are dropped first: clients send "LIST 1 "
 * and "USER alice ", and rest never ends in SP (a PASS secret that may
 * end in spaces is parsed with argmax POP3_CMD_RAW, below).
 * Returns 0, or -1 with *errstr set to a reason suitable for an -ERR
 * reply (checked in this order):
 *   "empty command", "line too long", "line contains NUL",
 *   "command contains a control character", "unknown command" (verb not
 *   3-4 alphabetic characters), "too many arguments", "argument too long
 *   (at most N octets)", "empty argument" (two spaces in a row).
 * Arguments are separated by exactly one SP (RFC 1939); a verb is 3 or 4
 * letters, matched case-insensitively.  argmax 0 parses leniently: more
 * than POP3_ARGS_MAX arguments are no error (rest still holds them all,
 * argv[] the first POP3_ARGS_MAX), nor are empty or long arguments.
 * argmax > 0 is strict: at most POP3_ARGS_MAX arguments, none empty,
 * each at most argmax octets (POP3_ARG_MAX, RFC 1939's 40, or
 * POP3_USER_MAX for user names); *errstr then points into cmd.
 * Octets 0x80 and above are allowed in arguments; other control
 * characters never are.
 */
int	pop3_cmd_parse(struct pop3_cmd *cmd, const char *line, size_t len,
	    size_t argmax, const char **errstr);

/*
 * argmax for pop3_cmd_parse(): the argument is the rest of the line as
 * sent, a PASS secret (RFC 1939 section 7: it may hold spaces, even two
 * in a row or at the end).  Nothing after the verb and its SP is dropped,
 * nor refused but NUL: "line too long", "line contains NUL", "unknown
 * command" (and "empty command").  argc is 1 with argv[0] == rest, or 0
 * when rest is "".
 */
#define POP3_CMD_RAW	((size_t)-1)

/*
 * The verb a line starts with (3 or 4 letters, then SP or the end),
 * upper-cased into verb, so that the caller can look up how to parse
 * the line.  Returns 0, or -1 (verb "") if the line starts with none.
 */
int	pop3_cmd_verb(const char *line, size_t len, char verb[5]);

/*
 * The strict checks of pop3_cmd_parse() with argmax > 0 (same errors,
 * same order), on a line it parsed leniently (argmax 0): the caller
 * checks the argument count in between without parsing the line again.
 */
int	pop3_cmd_check(struct pop3_cmd *cmd, size_t argmax,
	    const char **errstr);

/*
 * Parses a message number: digits only (no sign, no space, no leading
 * '+'/'-'), no overflow, value in 1..max.  Returns 0 and sets *out; -1
 * with *errstr "invalid message number" when s is not digits; -2 with
 * *errstr "no such message" when the number is 0 or beyond max
 * (including values beyond 2^64).
 */
int	pop3_msgnum(const char *s, uint64_t max, uint64_t *out,
	    const char **errstr);

/*
 * Parses a non-negative line count for TOP: digits only, no overflow;
 * values beyond UINT64_MAX are clamped to UINT64_MAX (a huge count means
 * "the whole body").  Returns 0, or -1 with *errstr "invalid line count".
 */
int	pop3_linecount(const char *s, uint64_t *out, const char **errstr);

#endif
