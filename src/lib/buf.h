/*
 * buf.h - bounded, growable byte buffers.  Every buffer has a maximum
 * fixed at init; appending past it fails instead of growing.
 */
#ifndef POP3_BUF_H
#define POP3_BUF_H

#include <stddef.h>

struct buf {
	unsigned char	*data;	/* owned; always NUL-terminated after len */
	size_t		 len;
	size_t		 cap;
	size_t		 max;	/* ceiling for len */
};

/* Empty buffer that may hold up to max bytes.  Allocates nothing yet. */
void	buf_init(struct buf *, size_t max);
/* Frees the storage; the buffer is empty and may be reused. */
void	buf_clear(struct buf *);
/* Like buf_clear, but explicit_bzero()s the bytes first (secrets). */
void	buf_wipe(struct buf *);
/* Drops the content, keeps the storage. */
void	buf_reset(struct buf *);
/* Append; 0, or -1 (nothing appended) when len would exceed max. */
int	buf_add(struct buf *, const void *, size_t);
int	buf_addstr(struct buf *, const char *);
int	buf_addc(struct buf *, unsigned char);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes (n <= len). */
void	buf_consume(struct buf *, size_t n);
/*
 * Transfers ownership of the bytes (NUL-terminated) to the caller, who
 * frees them; *lenp gets the length if not NULL.  The buffer is empty.
 */
unsigned char *buf_take(struct buf *, size_t *lenp);

#endif
