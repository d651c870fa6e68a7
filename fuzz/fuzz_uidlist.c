/*
 * fuzz_uidlist.c - libFuzzer target for dovecot_uidlist.c: the input's
 * first line is a pop3_uidl_format, the rest a dovecot-uidlist (the
 * mail user writes both the list and, as admin, not the format; both
 * are parsed here).  Checks the bounds (entries, names), that every
 * entry is found by its own name, the POP3 order is a total order, and
 * the UIDL contract (1..70 octets in 0x21..0x7E) of every answer.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovecot_uidlist.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	dirfd = -1;
static char	dirpath[] = "/tmp/fuzz-uidlist.XXXXXX";

static void
cleanup(void)
{
	unlinkat(dirfd, DUIDL_FILE, 0);
	rmdir(dirpath);
}

static void
check_uidl(const char *s)
{
	size_t	i, len = strlen(s);

	if (len < 1 || len > POP3_UIDL_MAX)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char				 fmt[256], out[POP3_UIDL_MAX + 1];
	const uint8_t			*nl;
	const struct duidl_entry	*e;
	const char			*why;
	struct duidl			 d;
	char				*err = NULL;
	size_t				 flen, i;
	int				 fd, r;

	if (dirfd == -1) {
		if (mkdtemp(dirpath) == NULL ||
		    (dirfd = open(dirpath, O_RDONLY | O_DIRECTORY)) == -1)
			abort();
		atexit(cleanup);
	}
	nl = memchr(data, '\n', size);
	flen = nl != NULL ? (size_t)(nl - data) : 0;
	if (flen >= sizeof(fmt))
		flen = sizeof(fmt) - 1;
	memcpy(fmt, data, flen);
	fmt[flen] = '\0';
	if (nl != NULL) {
		size -= (size_t)(nl + 1 - data);
		data = nl + 1;
	}
	if (strlen(fmt) == 0 || duidl_format_check(fmt, &why) == -1)
		strcpy(fmt, DUIDL_DEFAULT_FORMAT);

	if ((fd = openat(dirfd, DUIDL_FILE, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	r = duidl_load(dirfd, &d, &err);
	if (r == -1) {
		if (err == NULL || strncmp(err, DUIDL_FILE, 15) != 0)
			abort();
		free(err);
	} else if (err != NULL) {
		abort();
	}
	if (r != 1 && d.n != 0)
		abort();
	if (d.n > POP3_MAILDROP_MAX)
		abort();
	for (i = 0; i < d.n; i++) {
		if (d.v[i].name == NULL || strlen(d.v[i].name) == 0 ||
		    strlen(d.v[i].name) > POP3_MDNAME_MAX ||
		    strchr(d.v[i].name, '/') != NULL)
			abort();
		if (i > 0 && d.v[i].uid <= d.v[i - 1].uid)
			abort();
		if ((e = duidl_find(&d, d.v[i].name)) == NULL ||
		    strcspn(e->name, ":") != strcspn(d.v[i].name, ":") ||
		    strncmp(e->name, d.v[i].name, strcspn(e->name, ":")) != 0)
			abort();
		if (duidl_pop3_cmp(&d.v[i], &d.v[i]) != 0)
			abort();
		if (i > 0 && duidl_pop3_cmp(&d.v[i], &d.v[i - 1]) !=
		    -duidl_pop3_cmp(&d.v[i - 1], &d.v[i]))
			abort();
		if (duidl_uidl(&d, &d.v[i], fmt, d.v[i].name, out,
		    sizeof(out), &why) == 1)
			check_uidl(out);
		else if (why == NULL)
			abort();
	}
	duidl_free(&d);
	return 0;
}
