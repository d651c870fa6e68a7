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

/* Drains OpenSSL's error queue into one allocated string (caller frees). */
char	*tls_errstr(void);

#endif
