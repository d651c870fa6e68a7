/*
 * fetch_io.c - the command and reply I/O of pop3fetch's session with one
 * server: commands queued (a secret masked in the --verbose trace) and
 * flushed, status lines read and parsed, multi-line bodies decoded line
 * by line; the only writer of the session's state, which it traces; and
 * the first error, kept with its sysexits code (fetch_fail).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "fetch_io.h"
#include "log.h"
#include "xmalloc.h"

static const char *
fetch_state_str(enum fetch_state s)
{
	switch (s) {
	case FETCH_CONNECT:
		return "CONNECT";
	case FETCH_GREETING:
		return "GREETING";
	case FETCH_CAPA:
		return "CAPA";
	case FETCH_STLS:
		return "STLS";
	case FETCH_AUTH:
		return "AUTH";
	case FETCH_USER:
		return "USER";
	case FETCH_PASS:
		return "PASS";
	case FETCH_STAT:
		return "STAT";
	case FETCH_UIDL:
		return "UIDL";
	case FETCH_LIST:
		return "LIST";
	case FETCH_RETR:
		return "RETR";
	case FETCH_DELE:
		return "DELE";
	case FETCH_QUIT:
		return "QUIT";
	case FETCH_DONE:
		return "DONE";
	}
	return "?";
}

/* The only writer of f->state. */
void
fetch_enter_state(struct fetch *f, enum fetch_state to)
{
	if (f->o->verbose && f->state != to)
		fprintf(stderr, "pop3fetch: %s: state %s -> %s\n", f->a->name,
		    fetch_state_str(f->state), fetch_state_str(to));
	f->state = to;
}

/* Records the first error; returns -1. */
int
fetch_fail(struct fetch *f, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (f->err == NULL) {
		f->err = s != NULL ? s : xstrdup("out of memory");
		f->code = code;
	} else
		free(s);
	return -1;
}

/* Queues a command; shown (secret masked) with --verbose. */
int
fetch_send(struct fetch *f, const char *shown, const char *fmt, ...)
{
	struct buf	 cmd;
	va_list		 ap;
	int		 r;

	buf_init(&cmd, 4 * FETCH_SECRET_MAX);
	va_start(ap, fmt);
	if (vasprintf((char **)&cmd.data, fmt, ap) == -1)
		cmd.data = NULL;
	va_end(ap);
	if (cmd.data == NULL)
		return fetch_fail(f, EX_OSERR, "out of memory");
	cmd.len = cmd.cap = strlen((char *)cmd.data);
	if (f->o->verbose)
		fprintf(stderr, "pop3fetch: %s: C: %s\n", f->a->name,
		    shown != NULL ? shown : (char *)cmd.data);
	r = net_queue(&f->net, (char *)cmd.data, cmd.len) == -1 ||
	    net_queue(&f->net, "\r\n", 2) == -1;
	buf_wipe(&cmd);
	return r ? fetch_fail(f, EX_SOFTWARE, "command too long") : 0;
}

int
fetch_flush(struct fetch *f)
{
	const char	*e;

	if (net_flush(&f->net, &e) == -1)
		return fetch_fail(f, EX_TEMPFAIL, "%s: %s", f->a->host, e);
	return 0;
}

/* Reads and parses a status line into r. */
int
fetch_reply(struct fetch *f, struct pop3_resp *r)
{
	const char	*e;
	char		 esc[FETCH_LINE_MAX * 4];

	if (fetch_flush(f) == -1)
		return -1;
	if (net_readline(&f->net, &f->line, FETCH_LINE_MAX, &e) == -1)
		return fetch_fail(f, strcmp(e, "line too long") == 0 ?
		    EX_PROTOCOL : EX_TEMPFAIL, "%s: %s (in %s)", f->a->host, e,
		    fetch_state_str(f->state));
	if (f->o->verbose)
		fprintf(stderr, "pop3fetch: %s: S: %s\n", f->a->name,
		    log_escape((char *)f->line.data, f->line.len -
		    (f->line.len >= 2 && f->line.data[f->line.len - 2] ==
		    '\r' ? 2 : 1), esc, sizeof(esc)));
	if (pop3_resp_parse((char *)f->line.data, f->line.len, r, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s (in %s)", f->a->host,
		    e, fetch_state_str(f->state));
	return 0;
}

/* Escaped server text of the last reply, for error messages. */
const char *
fetch_text(const struct pop3_resp *r, char *out, size_t outlen)
{
	return log_escape(r->text, r->textlen, out, outlen);
}

/*
 * Next line of a multi-line body, decoded, into *p and *len (valid until the
 * next read).  1 at the terminator, 0 for a line, -1 on error.
 */
int
fetch_body_line(struct fetch *f, struct dot_dec *d, size_t max,
    const unsigned char **p, size_t *len)
{
	const char	*e;

	if (net_readline(&f->net, &f->line, max, &e) == -1)
		return fetch_fail(f, strcmp(e, "line too long") == 0 ?
		    EX_PROTOCOL : EX_TEMPFAIL, "%s: %s (in %s)", f->a->host, e,
		    fetch_state_str(f->state));
	return dot_dec_line(d, f->line.data, f->line.len, p, len);
}

/*
 * Reads a multi-line body of short lines (CAPA, UIDL, LIST) to its
 * terminator, handing each decoded line (CRLF included, valid during the
 * call) to each(); counts them in f->nbody.  0, or -1 (error recorded).
 */
int
fetch_body(struct fetch *f, int (*each)(struct fetch *, const char *,
    size_t))
{
	struct dot_dec		 d;
	const unsigned char	*p;
	size_t			 len;
	int			 end;

	f->nbody = 0;
	dot_dec_init(&d);
	while ((end = fetch_body_line(f, &d, FETCH_LINE_MAX, &p, &len)) == 0) {
		f->nbody++;
		if (each(f, (const char *)p, len) == -1)
			return -1;
	}
	return end == -1 ? -1 : 0;
}

