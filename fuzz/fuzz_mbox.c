/*
 * fuzz_mbox.c - libFuzzer target for pop3fetch's mbox key scan
 * (mbox.c: mbox_scan_keys), which reads a whole mbox that other
 * programs (an MDA, a mail reader, the user) write too: any bytes, any
 * line length.  Each input is an mbox file; every key handed on must be
 * one of ours (DELIVER_KEY_LEN bytes, the key of a From_ line of the
 * form pop3fetch writes), and a cut-short last record must point at a
 * From_ line inside the file.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3fetch/deliver_key.h"
#include "pop3fetch/mbox.h"
#include "pop3fetch/mbox_lock.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t	*in;
static size_t		 in_len;

static int
add(void *arg, const char *key, size_t len)
{
	size_t	*n = arg;

	/* The key is copied out of the file: its text is in the input. */
	if (len != DELIVER_KEY_LEN || memmem(in, in_len, key, len) == NULL)
		abort();
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	path[] = "/tmp/fuzz_mbox.XXXXXX";
	static int	fd = -1;
	off_t		cut = -1;
	size_t		n = 0;
	int		rc;

	if (fd == -1 && (fd = mkstemp(path)) == -1)
		abort();
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	in = data;
	in_len = size;
	rc = mbox_scan_keys(fd, add, &n, &cut);
	if (rc == -1)
		abort();
	if (rc == 1 && (cut < 0 || (size_t)cut + 5 > size ||
	    memcmp(data + cut, "From ", 5) != 0))
		abort();
	/* Each record takes a From_ line of at least 5 + key bytes. */
	if (n > size / (5 + DELIVER_KEY_LEN))
		abort();
	return 0;
}
