/*
 * auth.c - pop3fetch's secrets (password or OAuth2 token from a command
 * or the terminal) and SASL initial responses.  Secrets stay in buffers
 * that callers wipe right after the AUTH or PASS line is written.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "pop3_limits.h"
#include "sasl.h"
#include "xmalloc.h"

const char *
auth_mech_str(int m)
{
	switch (m) {
	case FETCH_AUTH_OAUTHBEARER:
		return "OAUTHBEARER";
	case FETCH_AUTH_XOAUTH2:
		return "XOAUTH2";
	case FETCH_AUTH_PLAIN:
		return "PLAIN";
	case FETCH_AUTH_USER:
		return "USER";
	}
	return "?";
}

/* Cuts secret at its first line end; -1 if nothing is left. */
static int
auth_first_line(struct buf *s)
{
	size_t	 n = strcspn((char *)s->data, "\r\n");

	explicit_bzero(s->data + n, s->len - n);
	s->len = n;
	return n > 0 ? 0 : -1;
}

int
auth_command(const char *command, struct buf *secret, char **errp)
{
	unsigned char	 chunk[512];
	pid_t		 pid;
	ssize_t		 n;
	int		 p[2], st, over = 0;

	buf_wipe(secret);
	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		xasprintf(errp, "\"%s\": %s", command, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (dup2(p[1], 1) == -1)
			_exit(127);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		n = read(p[0], chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!over && buf_add(secret, chunk, (size_t)n) == -1)
			over = 1;	/* read on, so the command can finish */
	}
	explicit_bzero(chunk, sizeof(chunk));
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		buf_wipe(secret);
		xasprintf(errp, "\"%s\" failed (status %d)", command,
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return -1;
	}
	if (over || secret->len == 0 || auth_first_line(secret) == -1) {
		buf_wipe(secret);
		xasprintf(errp, "\"%s\": %s", command, over ? "output too long" :
		    "printed nothing");
		return -1;
	}
	return 0;
}

int
auth_prompt(const struct account *a, struct buf *secret, char **errp)
{
	struct termios	 t, old;
	char		 c;
	int		 fd, echo_off = 0;
	ssize_t		 n;

	buf_wipe(secret);
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1) {
		xasprintf(errp, "no password_command, and no terminal to ask "
		    "for the password on");
		return -1;
	}
	dprintf(fd, "pop3fetch: password for %s@%s (account %s): ", a->user,
	    a->host, a->name);
	if (tcgetattr(fd, &old) == 0) {
		t = old;
		t.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
	}
	while ((n = read(fd, &c, 1)) == 1 && c != '\n' && c != '\r')
		if (buf_addc(secret, (unsigned char)c) == -1)
			break;
	c = 0;
	if (echo_off)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	if (secret->len == 0) {
		xasprintf(errp, "no password given");
		return -1;
	}
	return 0;
}

int
auth_sasl_response(int mech, const struct account *a,
    const struct buf *secret, struct buf *out)
{
	struct buf	 raw;
	char		*enc;
	size_t		 enclen;
	int		 r = -1;

	buf_init(&raw, 2 * FETCH_SECRET_MAX);
	switch (mech) {
	case FETCH_AUTH_PLAIN:
		/* authzid empty, authcid, passwd */
		if (buf_addc(&raw, 0) == -1 || buf_addstr(&raw, a->user) ||
		    buf_addc(&raw, 0) == -1 ||
		    buf_add(&raw, secret->data, secret->len) == -1)
			goto out;
		break;
	case FETCH_AUTH_XOAUTH2:
		if (buf_printf(&raw, "user=%s\001auth=Bearer ", a->user) ||
		    buf_add(&raw, secret->data, secret->len) == -1 ||
		    buf_addstr(&raw, "\001\001") == -1)
			goto out;
		break;
	case FETCH_AUTH_OAUTHBEARER:
		if (buf_printf(&raw, "n,a=%s,\001host=%s\001port=%lld\001auth="
		    "Bearer ", a->user, a->host, a->port) ||
		    buf_add(&raw, secret->data, secret->len) == -1 ||
		    buf_addstr(&raw, "\001\001") == -1)
			goto out;
		break;
	default:
		goto out;
	}
	enclen = 4 * ((raw.len + 2) / 3) + 1;
	enc = xmalloc(enclen);
	base64_encode(raw.data, raw.len, enc);
	r = buf_addstr(out, enc);
	explicit_bzero(enc, enclen);
	free(enc);
 out:
	buf_wipe(&raw);
	return r;
}
