/*
 * log.c - log lines to stderr, syslog(LOG_MAIL) or a file, and
 * log_escape() for untrusted bytes.  The only src/lib file that writes
 * logs or exits (fatal, fatalx: for programs only).  Used by every
 * process; log_msg() may be called from several threads once log_init()
 * and log_role() are done (each line is one fprintf, one syslog call or
 * one write).
 *
 * A log file is written only by the process that opened it (pop3d's
 * master, as root), with O_APPEND and one write() per line.  The
 * children it forks afterwards write each line, timestamp first, with
 * one write() into a pipe that the master drains into the file
 * (log_drain() from its event loop): a pipe write of at most PIPE_BUF
 * bytes is atomic, so lines of several processes never mix, and
 * log_reopen() (SIGUSR1, after logrotate) moves them all to the new file
 * at once, although the children could not open it themselves.  No
 * thread: the master forks.  The pipe never blocks a child: a line that
 * does not fit (the master not draining) is dropped and counted, and the
 * count is logged with the next line that fits.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

/* A log line longer than this is cut; callers escape and bound fields. */
#define LOG_LINE_MAX	1024
/* With the timestamp, ident and role: one atomic pipe write. */
#define LOG_FILE_LINE_MAX (LOG_LINE_MAX + 128)
_Static_assert(LOG_FILE_LINE_MAX <= PIPE_BUF, "a line is one atomic write");
/* The pipe holds this much while the master is busy (a reload). */
#define LOG_PIPE_SIZE	(1024 * 1024)
/* At exit, how long the master waits for the children's last lines. */
#define LOG_DRAIN_MS	2000

static char	 log_ident[32] = "pop3d";
static char	 log_rolename[32];
static int	 log_syslog;
static int	 log_verbose;

/* log = file: set up by log_open_file(). */
static int	 log_file_fd = -1;	/* the file, O_APPEND (master only) */
static int	 log_pipe_r = -1;	/* the children's lines (master only) */
static int	 log_pipe_w = -1;	/* children write their lines here */
/* Lines a child could not send because the pipe was full. */
static atomic_ulong	 log_dropped;
static char	 log_path[PATH_MAX];
/* Pipe bytes read but not yet written: the start of an unfinished line. */
static char	 log_part[LOG_FILE_LINE_MAX];
static size_t	 log_partlen;

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

/* Writes all of buf to the file; a failure (disk full) drops it. */
static void
log_file_write(const char *buf, size_t len)
{
	(void)write_all(log_file_fd, buf, len);
}

/*
 * One line for the log file in line (LOG_FILE_LINE_MAX bytes):
 * "2026-12-05T03:48:40.123+0000 pop3d[PID]: role: msg", local time with
 * its UTC offset (ISO 8601, which fail2ban's date detector reads).
 * Returns its length, newline included; a long one is cut.
 */
static size_t
log_file_format(const char *msg, char *line)
{
	char		 stamp[32], zone[8];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
	    strftime(zone, sizeof(zone), "%z", &tm) == 0) {
		snprintf(stamp, sizeof(stamp), "1970-01-01T00:00:00");
		snprintf(zone, sizeof(zone), "+0000");
	}
	n = snprintf(line, LOG_FILE_LINE_MAX, "%s.%03ld%s %s[%ld]: %s%s%s\n",
	    stamp, ts.tv_nsec / 1000000, zone, log_ident, (long)getpid(),
	    log_rolename, log_rolename[0] != '\0' ? ": " : "", msg);
	if (n < 0)
		return 0;
	if (n >= LOG_FILE_LINE_MAX) {	/* cut, but still one line */
		n = LOG_FILE_LINE_MAX - 1;
		line[n - 1] = '\n';
	}
	return (size_t)n;
}

/* One whole line into the pipe: 0, or -1 if it is full (or gone). */
static int
log_pipe_write(const char *line, size_t len)
{
	ssize_t	 w;

	while ((w = write(log_pipe_w, line, len)) == -1 && errno == EINTR)
		;
	return w == (ssize_t)len ? 0 : -1;
}

/*
 * Writes msg as one line with one write(): the master into the file, a
 * child into the pipe.  The pipe does not block: when the master does
 * not drain it (a hung log disk, a stopped master) the line is dropped
 * and counted rather than stopping a loop thread, and the next line that
 * fits is preceded by the count.
 */
static void
log_file_line(const char *msg)
{
	char		 line[LOG_FILE_LINE_MAX], note[96];
	unsigned long	 lost;
	size_t		 n;

	if ((n = log_file_format(msg, line)) == 0)
		return;
	if (log_file_fd != -1) {
		log_file_write(line, n);
		return;
	}
	if ((lost = atomic_exchange(&log_dropped, 0)) > 0) {
		char	 nline[LOG_FILE_LINE_MAX];
		size_t	 nn;

		snprintf(note, sizeof(note), "log: %lu lines dropped (the "
		    "master did not drain the log pipe)", lost);
		nn = log_file_format(note, nline);
		if (nn == 0 || log_pipe_write(nline, nn) == -1)
			atomic_fetch_add(&log_dropped, lost);
	}
	if (log_pipe_write(line, n) == -1)
		atomic_fetch_add(&log_dropped, 1);
}

/*
 * Opens the log file as root: O_NONBLOCK so that a FIFO put at the path
 * cannot hold the master in open(), and only a regular file with no
 * other link (a hard link would make root append to another file), so
 * anything else is EINVAL.
 */
static int
log_file_open(const char *path)
{
	struct stat	 st;
	int		 fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
	    O_NOFOLLOW | O_NONBLOCK, 0640);
	if (fd == -1) {
		if (errno == ENXIO)	/* a FIFO without reader, a device */
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    fcntl(fd, F_SETFL, O_APPEND) == -1) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* A forked child writes to the pipe and holds nothing else of the file. */
static void
log_atfork_child(void)
{
	if (log_pipe_r != -1)
		close(log_pipe_r);
	if (log_file_fd != -1)
		close(log_file_fd);
	log_pipe_r = log_file_fd = -1;
	log_partlen = 0;
	atomic_store(&log_dropped, 0);
}

static void
log_atexit(void)
{
	log_close();
}

const char *
log_open_strerror(int err)
{
	return err == EINVAL ? "not a regular file with a single link "
	    "(refused)" : strerror(err);
}

int
log_open_file(const char *path)
{
	static int	 registered;
	int		 p[2], e;

	if (log_file_fd != -1 || log_pipe_w != -1 ||
	    strlen(path) >= sizeof(log_path)) {
		errno = strlen(path) >= sizeof(log_path) ? ENAMETOOLONG : EBUSY;
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((log_file_fd = log_file_open(path)) == -1) {
		e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	(void)fcntl(p[1], F_SETPIPE_SZ, LOG_PIPE_SIZE);
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	/* Never a blocked loop thread for a log line (log_file_line()). */
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	log_pipe_r = p[0];
	log_pipe_w = p[1];
	snprintf(log_path, sizeof(log_path), "%s", path);
	tzset();	/* read the zone before the children drop root */
	if (!registered) {
		registered = 1;
		pthread_atfork(NULL, NULL, log_atfork_child);
		atexit(log_atexit);
	}
	return 0;
}

int
log_pipe_fd(void)
{
	return log_pipe_r;
}

int
log_drain(void)
{
	char	 buf[64 * 1024], *nl;
	size_t	 have, whole;
	ssize_t	 n;
	int	 k;

	if (log_pipe_r == -1)
		return 0;
	/* Bounded, so that a flood of lines cannot hold the master. */
	for (k = 0; k < 16; k++) {
		memcpy(buf, log_part, log_partlen);
		have = log_partlen;
		n = read(log_pipe_r, buf + have, sizeof(buf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return 0;	/* every child is gone */
		if (n == -1)
			return errno == EAGAIN ? 1 : 0;
		have += (size_t)n;
		/* A line read in part waits for its end, so a reopen never
		 * splits it between two files. */
		whole = (nl = memrchr(buf, '\n', have)) != NULL ?
		    (size_t)(nl - buf) + 1 : 0;
		if (have - whole >= sizeof(log_part))	/* no line is this long */
			whole = have;
		log_file_write(buf, whole);
		log_partlen = have - whole;
		memcpy(log_part, buf + whole, log_partlen);
	}
	return 1;
}

int
log_reopen(void)
{
	int	fd, e;

	if (log_file_fd == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = log_file_open(log_path)) == -1)
		return -1;
	if (dup2(fd, log_file_fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

void
log_close(void)
{
	struct pollfd	pfd;
	int		i;

	if (log_pipe_w != -1)
		close(log_pipe_w);
	log_pipe_w = -1;
	if (log_file_fd == -1)
		return;		/* a child */
	/*
	 * The pipe ends when the last child is gone; one that still runs
	 * (the master exits in error) must not hold us long.
	 */
	pfd.fd = log_pipe_r;
	pfd.events = POLLIN;
	for (i = 0; i < LOG_DRAIN_MS / 100 && log_drain() == 1; i++)
		(void)poll(&pfd, 1, 100);
	if (log_partlen > 0)
		log_file_write(log_part, log_partlen);
	log_partlen = 0;
	close(log_pipe_r);
	close(log_file_fd);
	log_pipe_r = log_file_fd = -1;
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
	if (log_file_fd != -1 || log_pipe_w != -1) {
		log_file_line(msg);
		/* Errors (a start that fails) also show where pop3d runs. */
		if (lvl != LOG_LVL_ERR)
			return;
	}
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
