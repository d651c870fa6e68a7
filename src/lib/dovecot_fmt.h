/*
 * dovecot_fmt.h - Dovecot 2.3's var_expand, the part a pop3_uidl_format
 * uses: %u %v %f %g (and %{uid} %{uidvalidity} %{filename} %{guid}),
 * %%, [-][0]width and [offset.]width, the modifiers X U L R T E M; %m
 * and the modifiers H N D are known but not implemented.  Re-implemented
 * from reading Dovecot's lib/var-expand.c and checked against the real
 * Dovecot (tests/unit/test_dovecot_uidlist.c).  Pure; any thread.  The
 * half of dovecot_uidlist.c that expands formats.
 */
#ifndef POP3_DOVECOT_FMT_H
#define POP3_DOVECOT_FMT_H

#include <stddef.h>

/* What the variables stand for (Dovecot's values, decimal for numbers). */
struct dfmt_vals {
	char		 uid[16], uidvalidity[16];
	const char	*filename;	/* the list's name, up to ':' */
	size_t		 filename_len;
	const char	*guid;		/* NUL-terminated, or NULL: the name */
};

/*
 * Expands fmt into out (room for max octets and a NUL): 1 with *len, 0
 * if the result is longer than max, -1 with *why (static) if fmt cannot
 * be expanded (unknown variable or modifier, %m, unbalanced braces, a
 * value too long).  vals NULL: checks fmt with stand-in values.  *nvars
 * counts the variables fmt uses (%% not counted).
 */
int	dfmt_expand(const char *fmt, const struct dfmt_vals *vals, char *out,
	    size_t max, size_t *len, int *nvars, const char **why);

#endif
