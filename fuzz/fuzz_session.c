/*
 * fuzz_session.c - libFuzzer target for a whole POP3 session in a
 * worker: the input is what a client sends, fed through a socketpair to
 * session_new() on a real event loop with pop3d's connection layer,
 * command table, handlers, job threads and a scratch Maildir, until the
 * session ends.  The auth channel is a socketpair too: the harness
 * decodes each request with the auth process's own decoder and answers
 * as a passwd-file with one user would (user "fuzz", password "fuzz"),
 * so inputs reach TRANSACTION and the commit at QUIT.  STLS gets a real
 * TLS context (a throwaway self-signed key), so the handshake code sees
 * what follows it.  A session that does not end within a bound of loop
 * turns after the client's input is done aborts (a hang).
 */
/* links: pop3d/cmd_auth pop3d/cmd_trans pop3d/conn_plain pop3d/md_commit pop3d/md_dovecot pop3d/md_expire pop3d/md_trash */
/* links: pop3d/md_courier pop3d/courier_uidl pop3d/metrics */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "maildir.h"
#include "pop3d_config.h"
#include "pop3d/addrlimit.h"
#include "pop3d/auth_req.h"
#include "pop3d/conn.h"
#include "pop3d/ipc.h"
#include "pop3d/jobs.h"
#include "pop3d/maildrop.h"
#include "pop3d/msg.h"
#include "pop3d/pop3_cmd.h"
#include "pop3d/registry.h"
#include "pop3d/session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define TURNS_MAX	20000	/* loop turns for one session, at most */

static struct config	 cfg;
static int		 authsp[2] = { -1, -1 };
static char		 root[] = "/tmp/fuzz_session.XXXXXX";
static int		 mdfd = -1;

/* A throwaway self-signed EC key and certificate: STLS can start. */
static SSL_CTX *
tls_ctx(void)
{
	EVP_PKEY	*k;
	X509		*x;
	SSL_CTX		*ctx;

	if ((k = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (X509_sign(x, k, EVP_sha256()) == 0 ||
	    (ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1)
		abort();
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

static int
count(const char *sub)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = openat(mdfd, sub, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (d = fdopendir(fd)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Tops the Maildir up to three messages (a QUIT may delete them). */
static void
refill(void)
{
	static const unsigned char msg[] = "Subject: fuzz\n\nbody\n.dot\n";
	char	name[256];
	int	n;

	for (n = count("new") + count("cur"); n < 3; n++)
		if (maildir_deliver(mdfd, msg, sizeof(msg) - 1, name,
		    sizeof(name)) == -1)
			abort();
}

static void
setup(void)
{
	char	path[128];

	log_init("fuzz_session", 1, 0);		/* syslog: quiet here */
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz", root);
	if (mkdir(path, 0700) == -1 || (mdfd = open(path, O_RDONLY |
	    O_DIRECTORY)) == -1 || mkdirat(mdfd, "new", 0700) == -1 ||
	    mkdirat(mdfd, "cur", 0700) == -1 || mkdirat(mdfd, "tmp", 0700) ==
	    -1)
		abort();
	conf_defaults(config_defs, &cfg);
	free(cfg.mail_root);
	cfg.mail_root = strdup(root);
	cfg.allow_plaintext_auth = PLAINTEXT_YES;
	cfg.apop = 1;
	memset(&wenv, 0, sizeof(wenv));
	wenv.cfg = &cfg;
	wenv.tls = tls_ctx();
	snprintf(wenv.hostname, sizeof(wenv.hostname), "fuzz.invalid");
	if ((wenv.base = event_base_new()) == NULL ||
	    jobs_init(wenv.base, 1) == -1)
		abort();
	registry_init(4);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, authsp) == -1)
		abort();
	(void)fcntl(authsp[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(authsp[1], F_SETFL, O_NONBLOCK);
	wenv.authfd = authsp[0];
}

/* Plays the auth process: one user, "fuzz" with password "fuzz". */
static int
serve_auth(void)
{
	struct msg	 m, r;
	struct auth_req	 q;
	int		 did = 0;
	uint32_t	 res;

	while (msg_recv(authsp[1], &m) > 0) {
		did = 1;
		if (auth_req_decode(&m, &q) == -1)
			abort();	/* the worker sent what it must not */
		res = strcmp(q.user, "fuzz") == 0 &&
		    q.mech != AUTH_MECH_APOP && strcmp(q.secret, "fuzz") == 0 ?
		    AUTH_RES_OK : AUTH_RES_FAIL;
		auth_res_encode(&r, q.sid, res, 0, "", AUTH_EXPIRE_UNSET);
		if (msg_send(authsp[1], &r) == -1)
			abort();
		explicit_bzero(&q, sizeof(q));
	}
	/* The worker's side of the channel, as worker.c reads it. */
	while (msg_recv(authsp[0], &m) > 0) {
		did = 1;
		if (session_auth_answer(&m) == -1)
			abort();
	}
	return did;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 ready;
	struct sockaddr_in	 sin;
	char			 sink[65536];
	size_t			 off = 0;
	ssize_t			 n;
	int			 sp[2], turns, quiet = 0;

	if (!ready) {
		setup();
		ready = 1;
	}
	refill();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
	(void)fcntl(sp[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(sp[1], F_SETFL, O_NONBLOCK);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (session_new(sp[0], (struct sockaddr *)&sin, sizeof(sin), 0) ==
	    NULL)
		abort();
	for (turns = 0; registry_count() > 0; turns++) {
		if (turns > TURNS_MAX)
			abort();	/* the session does not end */
		if (off < size) {
			n = write(sp[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				(void)shutdown(sp[1], SHUT_WR);
		} else if (size == 0 && turns == 0)
			(void)shutdown(sp[1], SHUT_WR);
		while (read(sp[1], sink, sizeof(sink)) > 0)
			;
		event_base_loop(wenv.base, EVLOOP_NONBLOCK);
		if (!serve_auth() && off == size) {
			/* Job threads, timers: give them a moment. */
			if (++quiet > 2)
				usleep(100);
		} else
			quiet = 0;
	}
	close(sp[1]);
	return 0;
}
