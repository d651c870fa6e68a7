/*
 * tls.h - one OpenSSL policy for servers and clients: TLS 1.2 or newer,
 * forward-secret AEAD ciphers, no compression, no renegotiation,
 * session tickets and a session cache for resumption, ALPN "pop3".
 */
#ifndef POP3_TLS_H
#define POP3_TLS_H

#include <openssl/ssl.h>

/*
 * Server context from a PEM chain file and a PEM key file.  Returns the
 * context, or NULL with *errp set to an allocated message naming the
 * file and OpenSSL's reason (caller frees).
 */
SSL_CTX	*tls_server_ctx(const char *cert_file, const char *key_file,
	    char **errp);

/*
 * Client context (pop3fetch): TLS 1.2 or newer, the same TLS 1.2 ciphers,
 * ALPN "pop3", peer verification on (SSL_VERIFY_PEER) against ca_file or,
 * when ca_file is NULL or "", the system store.  The host name is checked
 * per connection by tls_client_ssl().  Returns NULL with *errp allocated
 * (caller frees) on failure.
 */
SSL_CTX	*tls_client_ctx(const char *ca_file, char **errp);

/*
 * A client SSL for host: SNI (unless host is an IP address), and the
 * certificate must name host (DNS name or IP address).  With pin (32
 * bytes of SHA-256 over the certificate's DER), the chain is not checked
 * against the store; the caller compares tls_peer_fingerprint() after
 * the handshake instead.  NULL with *errp allocated on failure.
 */
SSL	*tls_client_ssl(SSL_CTX *, const char *host, int pinned, char **errp);

/* SHA-256 of the peer certificate's DER into out[32]; 0 or -1 (none). */
int	tls_peer_fingerprint(SSL *, unsigned char *out);

/*
 * Parses a SHA-256 fingerprint: 64 hex digits, optionally in pairs
 * separated by ':' (as "openssl x509 -fingerprint -sha256" prints),
 * optionally prefixed "sha256:" or "SHA256:".  0, or -1 if malformed.
 */
int	tls_fingerprint_parse(const char *, unsigned char *out);

/* Drains OpenSSL's error queue into one allocated string (caller frees). */
char	*tls_errstr(void);

#endif
