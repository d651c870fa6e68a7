/*
 * auth_secret.c - a login's secret against a user's entry (auth_secret.h):
 * APOP's MD5 digest (RFC 1939 section 7) against a plaintext entry; a
 * password through the credential cache (authcache.c), bound to the
 * entry as stored, else through the hash (hashcost.c, which also makes an
 * unknown user cost what a known one does).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth_secret.h"
#include "authcache.h"
#include "ipc.h"
#include "keyhash.h"

/* APOP: digest is hex MD5 of timestamp + secret (RFC 1939 section 7). */
static int
apop_check(const char *secret, const char *ts, const char *digest)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];
	int		 ok = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1) {
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		ok = strlen(digest) == 2 * mdlen &&
		    CRYPTO_memcmp(hex, digest, 2 * mdlen) == 0;
	}
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(hex, sizeof(hex));
	return ok;
}

/*
 * What a cached pair is bound to: the entry as it is stored (hash,
 * scheme, lock), so that a new password or a lock misses the cache at
 * the next login, while anything else - another user's edit, a reload
 * of the passwd-file, the same row read again from the database - keeps
 * it.  Never 0.
 */
static uint64_t
entry_tag(const struct passwd_entry *e)
{
	uint64_t	v[2];

	v[0] = keyhash(e->hash, strlen(e->hash));
	v[1] = (uint64_t)e->scheme << 1 | (e->locked ? 1 : 0);
	v[0] = keyhash(v, sizeof(v));
	return v[0] != 0 ? v[0] : 1;
}

int
auth_secret_check(const struct auth_req *q, const struct passwd_entry *e,
    struct hashcost *hc, int *cached)
{
	uint64_t	tag;
	int		ok = 0;

	*cached = 0;
	if (q->mech == AUTH_MECH_APOP) {
		/* An unknown user or a hashed entry: the same digest work. */
		if (e != NULL && e->scheme == PASSWD_SCHEME_PLAIN && !e->locked)
			ok = apop_check(e->hash, q->apop_ts, q->secret);
		else
			(void)apop_check("", q->apop_ts, q->secret);
	} else if (e != NULL) {
		tag = entry_tag(e);
		if (!e->locked && authcache_check(q->user, q->secret, tag))
			ok = *cached = 1;
		else if ((ok = hashcost_verify(hc, e, q->secret)) == 1)
			authcache_put(q->user, q->secret, tag);
	} else
		(void)hashcost_verify(hc, NULL, q->secret);
	return ok;
}
