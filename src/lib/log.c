/*
 * log.c - log lines to stderr or syslog(LOG_MAIL), and log_escape() for
 * untrusted bytes.  The only src/lib file that writes logs or exits
 * (fatal, fatalx: for programs only).  Used by every process; log_msg()
 * may be called from several threads once log_init() and log_role() are
 * done (each line is one fprintf or one syslog call).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

/* A log line longer than this is cut; callers escape and bound fields. */
#define LOG_LINE_MAX	1024

static char	 log_ident[32] = "pop3d";
static char	 log_rolename[32];
static int	 log_syslog;
static int	 log_verbose;

void
log_init(const char *ident, int to_syslog, int verbose)
{
	if (ident != NULL)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_verbose = verbose;
	if (to_syslog && !log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!to_syslog && log_syslog)
		closelog();
	log_syslog = to_syslog;
}

void
log_role(const char *role)
{
	snprintf(log_rolename, sizeof(log_rolename), "%s",
	    role != NULL ? role : "");
}

static int
log_prio(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR:
		return LOG_ERR;
	case LOG_LVL_WARN:
		return LOG_WARNING;
	case LOG_LVL_INFO:
		return LOG_INFO;
	case LOG_LVL_DEBUG:
		return LOG_DEBUG;
	}
	return LOG_ERR;
}

/*
 * Writes one finished line.  Control characters that slipped through
 * unescaped become '?', so one event is always one line.
 */
static void
log_line(enum log_level lvl, char *msg)
{
	unsigned char	*p;

	for (p = (unsigned char *)msg; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_syslog) {
		if (log_rolename[0] != '\0')
			syslog(log_prio(lvl), "%s: %s", log_rolename, msg);
		else
			syslog(log_prio(lvl), "%s", msg);
		return;
	}
	if (log_rolename[0] != '\0')
		fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident, (long)getpid(),
		    log_rolename, msg);
	else
		fprintf(stderr, "%s[%ld]: %s\n", log_ident, (long)getpid(),
		    msg);
}

static void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];

	if (lvl == LOG_LVL_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_line(lvl, msg);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[LOG_LINE_MAX];
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERR, "%s: %s", msg, strerror(saved));
	exit(1);
}

char *
log_escape(const char *in, size_t len, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0, mark = 0, cap, need, k;
	unsigned char		 c;

	if (outlen == 0)
		return out;
	cap = outlen - 1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		need = (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') ?
		    1 : 4;
		if (o + need > cap)
			goto trunc;
		if (need == 1)
			out[o++] = (char)c;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
		/* The last place where "..." would still fit. */
		if (o + 3 <= cap)
			mark = o;
	}
	out[o] = '\0';
	return out;
 trunc:
	o = mark;
	for (k = 0; k < 3 && o < cap; k++)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}
