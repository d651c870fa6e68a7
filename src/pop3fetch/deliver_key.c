/*
 * deliver_key.c - the delivery key of a message (deliver_key.h), the
 * name under which every destination records it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "deliver_key.h"

void
deliver_key(const char *account, const char *uid, char *key)
{
	static const char	 hex[] = "0123456789abcdef";
	EVP_MD_CTX		*c;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 n = 0, i;

	c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, account, strlen(account) + 1) != 1 ||
	    EVP_DigestUpdate(c, uid, strlen(uid)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &n) != 1 || n < DELIVER_KEY_LEN / 2) {
		/* OpenSSL cannot fail here short of running out of memory. */
		abort();
	}
	EVP_MD_CTX_free(c);
	for (i = 0; i < DELIVER_KEY_LEN / 2; i++) {
		key[2 * i] = hex[md[i] >> 4];
		key[2 * i + 1] = hex[md[i] & 0xf];
	}
	key[DELIVER_KEY_LEN] = '\0';
}
