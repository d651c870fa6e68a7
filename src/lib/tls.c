/*
 * tls.c - the one OpenSSL policy: TLS 1.2 or newer, ECDHE with AEAD
 * ciphers only for TLS 1.2, no compression, no renegotiation, server
 * cipher preference, session cache and tickets for resumption, ALPN
 * "pop3" (RFC 8314 and the ALPACA lesson: refuse other protocols).
 * Context creation runs in pop3d's master; handshakes in the workers.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "tls.h"
#include "xmalloc.h"

/* Mozilla "intermediate" TLS 1.2 list: forward secret, AEAD only. */
#define TLS_CIPHERS_12 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Session cache scope: sessions of another service never resume here. */
#define TLS_SID_CTX	"pop3d"

/* ALPN wire format: length-prefixed protocol names. */
static const unsigned char tls_alpn[] = { 4, 'p', 'o', 'p', '3' };

char *
tls_errstr(void)
{
	struct buf	 b;
	unsigned long	 e;
	char		 one[256];

	buf_init(&b, 4096);
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		(void)buf_printf(&b, "%s%s", b.len > 0 ? "; " : "", one);
	}
	if (b.len == 0)
		(void)buf_addstr(&b, "unknown TLS error");
	return (char *)buf_take(&b, NULL);
}

/*
 * A client that offers ALPN must offer "pop3" (RFC 7301: otherwise a
 * fatal no_application_protocol alert); one that offers none is fine.
 */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char	*sel;

	if (SSL_select_next_proto(&sel, outlen, tls_alpn, sizeof(tls_alpn),
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
tls_fail(SSL_CTX *ctx, char **errp, const char *what)
{
	char	*e = tls_errstr();

	xasprintf(errp, "%s: %s", what, e);
	free(e);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_server_ctx(const char *cert_file, const char *key_file, char **errp)
{
	SSL_CTX	*ctx;

	*errp = NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return tls_fail(NULL, errp, "SSL_CTX_new");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return tls_fail(ctx, errp, "TLS minimum version");
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1)
		return tls_fail(ctx, errp, "TLS 1.2 cipher list");
	/* An idle connection gives its 34 KiB of record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* One TLS 1.3 ticket per handshake is enough for a mail client. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SID_CTX, sizeof(TLS_SID_CTX) - 1) != 1)
		return tls_fail(ctx, errp, "session id context");
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return tls_fail(ctx, errp, cert_file);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		return tls_fail(ctx, errp, key_file);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail(ctx, errp, key_file);
	return ctx;
}

SSL_CTX *
tls_client_ctx(const char *ca_file, char **errp)
{
	SSL_CTX	*ctx;

	*errp = NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return tls_fail(NULL, errp, "SSL_CTX_new");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return tls_fail(ctx, errp, "TLS minimum version");
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1)
		return tls_fail(ctx, errp, "TLS 1.2 cipher list");
	/* RFC 7301: a server that does not know ALPN ignores it. */
	if (SSL_CTX_set_alpn_protos(ctx, tls_alpn, sizeof(tls_alpn)) != 0)
		return tls_fail(ctx, errp, "ALPN");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL && ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
			return tls_fail(ctx, errp, ca_file);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		return tls_fail(ctx, errp, "system certificate store");
	return ctx;
}

/* Accepts any chain: the pin is compared after the handshake. */
static int
tls_verify_pinned(int ok, X509_STORE_CTX *x)
{
	return 1;
}

SSL *
tls_client_ssl(SSL_CTX *ctx, const char *host, int pinned, char **errp)
{
	SSL		*ssl;
	X509_VERIFY_PARAM *vp;
	unsigned char	 addr[16];
	int		 is_ip;
	char		*e;

	*errp = NULL;
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL)
		goto fail;
	is_ip = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (pinned)
		SSL_set_verify(ssl, SSL_VERIFY_PEER, tls_verify_pinned);
	else {
		vp = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) :
		    X509_VERIFY_PARAM_set1_host(vp, host, 0)) != 1)
			goto fail;
	}
	return ssl;
 fail:
	e = tls_errstr();
	xasprintf(errp, "TLS setup for %s: %s", host, e);
	free(e);
	SSL_free(ssl);
	return NULL;
}

int
tls_peer_fingerprint(SSL *ssl, unsigned char *out)
{
	X509		*cert;
	unsigned int	 n = 0;
	int		 r;

	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL)
		return -1;
	r = X509_digest(cert, EVP_sha256(), out, &n) == 1 && n == 32 ? 0 : -1;
	X509_free(cert);
	return r;
}

static int
tls_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
tls_fingerprint_parse(const char *s, unsigned char *out)
{
	const unsigned char	*u;
	int			 hi, lo;
	size_t			 i;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	u = (const unsigned char *)s;
	for (i = 0; i < 32; i++) {
		if (i > 0 && *u == ':')
			u++;
		if ((hi = tls_hexval(u[0])) == -1 ||
		    (lo = tls_hexval(u[1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
		u += 2;
	}
	return *u == '\0' ? 0 : -1;
}
