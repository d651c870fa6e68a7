/*
 * xmalloc.h - allocation that aborts on out-of-memory.  Every input is
 * bounded, so a client cannot cause it; this is the only place in src/lib
 * allowed to abort.
 */
#ifndef POP3_XMALLOC_H
#define POP3_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
