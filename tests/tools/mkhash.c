/*
 * mkhash.c - test and demo helper: reads one password line from stdin
 * and prints its hash for a passwd-file.  Default: passwd_hash()
 * (yescrypt); "-s PREFIX" (e.g. "$6$", "$2b$") uses a crypt_gensalt_rn()
 * salt with that prefix instead, for Dovecot-style imported hashes.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mkhash [-s PREFIX] < password\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	char			 pw[POP3_SECRET_MAX + 2];
	char			 out[CRYPT_OUTPUT_SIZE];
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*prefix = NULL, *h;
	struct crypt_data	*cd;
	size_t			 n;

	if (argc == 3 && strcmp(argv[1], "-s") == 0)
		prefix = argv[2];
	else if (argc != 1)
		usage();

	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "mkhash: no password on stdin\n");
		return 1;
	}
	n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == sizeof(pw) - 1) {
		fprintf(stderr, "mkhash: password longer than %d octets\n",
		    POP3_SECRET_MAX);
		return 1;
	}
	pw[n] = '\0';

	if (prefix == NULL) {
		if (passwd_hash(pw, out, sizeof(out)) == -1) {
			perror("mkhash: passwd_hash");
			return 1;
		}
		h = out;
	} else {
		if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
		    sizeof(salt)) == NULL) {
			perror("mkhash: crypt_gensalt_rn");
			return 1;
		}
		if ((cd = calloc(1, sizeof(*cd))) == NULL) {
			perror("mkhash");
			return 1;
		}
		h = crypt_rn(pw, salt, cd, (int)sizeof(*cd));
		if (h == NULL || h[0] == '*') {
			fprintf(stderr, "mkhash: crypt failed for %s\n",
			    prefix);
			return 1;
		}
		snprintf(out, sizeof(out), "%s", h);
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		h = out;
	}
	explicit_bzero(pw, sizeof(pw));
	printf("%s\n", h);
	return 0;
}
