/*
 * test_tls.c - unit tests for tls.c: a server context from a certificate
 * generated at run time, errors that name the file, the protocol floor,
 * and ALPN over an in-memory handshake ("pop3" or none is accepted,
 * anything else refused).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

static char	 dir[64], certf[128], keyf[128], key2f[128];

static EVP_PKEY *
write_key(const char *path)
{
	EVP_PKEY	*pk;
	FILE		*f;

	pk = EVP_EC_gen("P-256");
	if (pk == NULL || (f = fopen(path, "w")) == NULL)
		return NULL;
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return pk;
}

static int
setup(void **state)
{
	EVP_PKEY	*pk, *pk2;
	X509		*x;
	X509_NAME	*n;
	FILE		*f;

	strcpy(dir, "/tmp/test_tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(certf, sizeof(certf), "%s/cert.pem", dir);
	snprintf(keyf, sizeof(keyf), "%s/key.pem", dir);
	snprintf(key2f, sizeof(key2f), "%s/other.pem", dir);
	if ((pk = write_key(keyf)) == NULL || (pk2 = write_key(key2f)) == NULL)
		return -1;
	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, n);
	if (X509_sign(x, pk, EVP_sha256()) == 0 ||
	    (f = fopen(certf, "w")) == NULL)
		return -1;
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(pk2);
	return 0;
}

static int
teardown(void **state)
{
	unlink(certf);
	unlink(keyf);
	unlink(key2f);
	return rmdir(dir);
}

static void
test_ctx(void **state)
{
	SSL_CTX	*ctx;
	char	*err = NULL;

	ctx = tls_server_ctx(certf, keyf, &err);
	assert_non_null(ctx);
	assert_null(err);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_options(ctx) &
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_true(SSL_CTX_get_session_cache_mode(ctx) &
	    SSL_SESS_CACHE_SERVER);
	SSL_CTX_free(ctx);
}

static void
test_ctx_errors(void **state)
{
	SSL_CTX	*ctx;
	char	*err = NULL;

	ctx = tls_server_ctx("/nonexistent/cert.pem", keyf, &err);
	assert_null(ctx);
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent/cert.pem: "));
	free(err);

	ctx = tls_server_ctx(certf, "/nonexistent/key.pem", &err);
	assert_null(ctx);
	assert_non_null(strstr(err, "/nonexistent/key.pem: "));
	free(err);

	/* A key that does not belong to the certificate. */
	ctx = tls_server_ctx(certf, key2f, &err);
	assert_null(ctx);
	assert_non_null(strstr(err, key2f));
	free(err);

	/* A key file given as the certificate. */
	ctx = tls_server_ctx(keyf, keyf, &err);
	assert_null(ctx);
	assert_non_null(strstr(err, keyf));
	free(err);

	/* The error queue is drained, and an empty one still says something. */
	err = tls_errstr();
	assert_string_equal(err, "unknown TLS error");
	free(err);
}

/*
 * Client and server over a memory BIO pair.  Returns 1 if the handshake
 * completed; *alpn gets the selected protocol ("" if none).
 */
static int
handshake(const unsigned char *protos, unsigned int plen, int maxver,
    char *alpn, size_t alpnlen)
{
	SSL_CTX			*sctx, *cctx;
	SSL			*s, *c;
	BIO			*sb, *cb;
	const unsigned char	*sel;
	unsigned int		 sellen;
	char			*err;
	int			 i, rs = 0, rc = 0, ok;

	assert_non_null(sctx = tls_server_ctx(certf, keyf, &err));
	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	if (maxver != 0)
		SSL_CTX_set_max_proto_version(cctx, maxver);
	SSL_CTX_set_min_proto_version(cctx, 0);
	SSL_CTX_set_security_level(cctx, 0);
	if (protos != NULL)
		SSL_CTX_set_alpn_protos(cctx, protos, plen);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	BIO_new_bio_pair(&sb, 0, &cb, 0);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (i = 0; i < 20; i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1)
			break;
		if ((rc <= 0 && SSL_get_error(c, rc) == SSL_ERROR_SSL) ||
		    (rs <= 0 && SSL_get_error(s, rs) == SSL_ERROR_SSL))
			break;
	}
	ok = rc == 1 && rs == 1;
	alpn[0] = '\0';
	if (ok) {
		SSL_get0_alpn_selected(s, &sel, &sellen);
		snprintf(alpn, alpnlen, "%.*s", (int)sellen, sel);
	}
	ERR_clear_error();
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return ok;
}

static void
test_alpn(void **state)
{
	static const unsigned char pop3[] = "\x08http/1.1\x04pop3";
	static const unsigned char http[] = "\x08http/1.1";
	char	 alpn[32];

	assert_int_equal(handshake(pop3, sizeof(pop3) - 1, 0, alpn,
	    sizeof(alpn)), 1);
	assert_string_equal(alpn, "pop3");
	assert_int_equal(handshake(NULL, 0, 0, alpn, sizeof(alpn)), 1);
	assert_string_equal(alpn, "");
	/* ALPACA: another protocol's client is refused. */
	assert_int_equal(handshake(http, sizeof(http) - 1, 0, alpn,
	    sizeof(alpn)), 0);
	/* TLS 1.2 works; TLS 1.1 and older do not. */
	assert_int_equal(handshake(NULL, 0, TLS1_2_VERSION, alpn,
	    sizeof(alpn)), 1);
	assert_int_equal(handshake(NULL, 0, TLS1_1_VERSION, alpn,
	    sizeof(alpn)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx),
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_alpn),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
