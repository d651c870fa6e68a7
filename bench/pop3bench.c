/*
 * pop3bench.c - the benchmark's load generator (bench/run.sh drives it).
 * One process, one epoll loop over non-blocking sockets (OpenSSL for
 * implicit TLS, full handshakes only: no session reuse, no tickets).
 * Every response is checked: +OK, counts (STAT vs UIDL/LIST), RETR sizes
 * against LIST, the terminator; any failure is an error and reported.
 * Prints one machine-readable line per run on stdout.
 *
 * Modes:
 *   sessions  connect, USER, PASS, STAT, UIDL, QUIT, wait for close; loop
 *   retr      login, LIST, RETR every message (size checked), QUIT; loop
 *   idle      hold K authenticated sessions, report the server's PSS per
 *             session (-P PID: the server's process tree), and meanwhile
 *             time new logins (probes: login, STAT, QUIT)
 *   bigbox    sequential sessions: login, STAT, UIDL, LIST, QUIT; prints
 *             the first session's time and the median of the others
 *   dele      login, STAT, DELE 1..n (pipelined), QUIT; then a new session
 *             checks that STAT says 0
 *   raw       the loopback limit: request/response of -S bytes over plain
 *             TCP (or TLS with -t) against "rawserve" (no POP3)
 *   rawserve  the other side of "raw": forks a child per connection,
 *             answers each "N\r\n" line with N bytes
 * Not part of the server: a client tool, run as the benchmark user.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pop3_limits.h"
#include "xmalloc.h"

#define IN_MIN_FREE	(64 * 1024)	/* room kept free for each read */
#define IN_MAX		(4 * 1024 * 1024)	/* a response line never gets near */
#define LINE_MAX_RESP	512		/* a status or list line */
#define CONN_TIMEOUT	30.0		/* seconds without progress: error */
#define DELE_WINDOW	64		/* DELE commands in flight */
#define MAX_CONNS	20000
#define MAX_PROBES	10000
#define MAX_MSGS	POP3_MAILDROP_MAX

enum mode { M_SESSIONS, M_RETR, M_IDLE, M_BIGBOX, M_DELE, M_RAW };

enum step {
	ST_CONNECT, ST_HANDSHAKE, ST_GREET, ST_USER, ST_PASS, ST_STAT,
	ST_UIDL, ST_LIST, ST_RETR_STATUS, ST_RETR_BODY, ST_DELE, ST_QUIT,
	ST_EOF, ST_IDLE, ST_RAW, ST_DONE
};

enum kind { K_MAIN, K_PROBE, K_CHECK };

struct conn {
	int		 fd;
	SSL		*ssl;
	enum step	 step;
	enum kind	 kind;
	int		 slot;
	int		 want_write;	/* epoll interest includes EPOLLOUT */
	int		 ssl_want_write;
	unsigned char	*in;
	size_t		 inoff, inlen, incap;
	char		*out;
	size_t		 outoff, outlen, outcap;
	double		 t_start, t_last;
	long		 user;
	/* response parsing */
	int		 ml_started;	/* multi-line: status line seen */
	uint64_t	 nlines;	/* multi-line: data lines seen */
	uint64_t	 stat_n;
	uint64_t	*sizes;		/* from LIST, 1-based */
	uint64_t	 nsizes;
	uint64_t	 cur;		/* message being retrieved / deleted */
	uint64_t	 acked;
	uint64_t	 got;		/* body bytes, dot-stuffing removed */
	int		 bol;
	int		 probe_counted;
	uint64_t	 raw_left;
};

static struct {
	enum mode	 mode;
	const char	*host;
	int		 port;
	int		 tls;
	const char	*ufmt;
	int		 uwidth;
	long		 ufirst, ucount;
	const char	*pass;
	double		 duration;
	long		 count;
	int		 conc;
	long		 idle_k;
	long		 probes;
	long		 probe_first, probe_count;
	pid_t		 server_pid;
	size_t		 raw_size;
	const char	*cert, *key;
	double		 idle_hold;
} opt = {
	.mode = M_SESSIONS, .host = "127.0.0.1", .port = 110,
	.ufmt = "u", .uwidth = 5, .ufirst = 0, .ucount = 1, .pass = "benchpass",
	.duration = 5.0, .count = 0, .conc = 8, .idle_k = 1000,
	.probes = 100, .probe_first = -1, .probe_count = 0,
	.raw_size = 8192, .idle_hold = 2.0,
};

static struct {
	long	 ok, err, msgs, started, no_close_notify;
	uint64_t bytes;
	long	 errs_by_step[ST_DONE + 1];
	char	 first_err[256];
	char	 cipher[64];
} st;

static SSL_CTX	*sslctx;
static int	 epfd = -1;
static long	 nopen;
static long	 next_user;
static long	 idle_authed;
static long	 probes_done, probes_started;
static double	*probe_ms;
static double	*sess_ms;
static long	 nsess_ms;
static int	 stopping;
static unsigned char rawbuf[1 << 20];

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
step_str(enum step s)
{
	switch (s) {
	case ST_CONNECT:	return "connect";
	case ST_HANDSHAKE:	return "handshake";
	case ST_GREET:		return "greeting";
	case ST_USER:		return "user";
	case ST_PASS:		return "pass";
	case ST_STAT:		return "stat";
	case ST_UIDL:		return "uidl";
	case ST_LIST:		return "list";
	case ST_RETR_STATUS:	return "retr";
	case ST_RETR_BODY:	return "retr-body";
	case ST_DELE:		return "dele";
	case ST_QUIT:		return "quit";
	case ST_EOF:		return "close";
	case ST_IDLE:		return "idle";
	case ST_RAW:		return "raw";
	case ST_DONE:		return "done";
	}
	return "?";
}

static void
usage(void)
{
	fprintf(stderr,
"usage: pop3bench -m MODE [options]\n"
"  -m sessions|retr|idle|bigbox|dele|raw|rawserve\n"
"  -h HOST (127.0.0.1)  -p PORT (110)  -t  implicit TLS\n"
"  -u PREFIX -W WIDTH  user names: PREFIX and the number, zero-padded\n"
"           to WIDTH digits (u, 5: u00000)\n"
"  -f N -N N  first user number and how many users (0, 1)\n"
"  -w PASS  password (benchpass)\n"
"  -d SECS  duration (5)   -n N  sessions instead of a duration\n"
"  -c N     concurrent connections (8)\n"
"  -K N     idle: sessions to hold (1000)  -H SECS  hold time (2)\n"
"  -r N     idle: probe logins (100), users -R FIRST:COUNT\n"
"  -P PID   idle: server root pid for PSS\n"
"  -S BYTES raw: response size (8192)\n"
"  -C CERT -k KEY  rawserve -t: certificate and key\n");
	exit(2);
}

static void
note_err(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note_err(struct conn *c, const char *fmt, ...)
{
	va_list	ap;
	char	msg[200];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st.err++;
	st.errs_by_step[c->step]++;
	if (st.first_err[0] == '\0')
		snprintf(st.first_err, sizeof(st.first_err), "%s:%s",
		    step_str(c->step), msg);
}

/* ---- connections ---- */

static void
set_events(struct conn *c)
{
	struct epoll_event	ev;
	int			ww = (c->outlen > c->outoff) ||
				    c->ssl_want_write || c->step == ST_CONNECT;

	if (ww == c->want_write)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (ww ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_write = ww;
}

static void
conn_free(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	free(c->in);
	free(c->out);
	free(c->sizes);
	free(c);
	nopen--;
}

static void
send_cmd(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_cmd(struct conn *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outcap - c->outlen < 512) {
		c->outcap = c->outcap * 2 + 1024;
		c->out = xreallocarray(c->out, 1, c->outcap);
	}
	va_start(ap, fmt);
	n = vsnprintf(c->out + c->outlen, c->outcap - c->outlen, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < c->outcap - c->outlen)
		c->outlen += (size_t)n;
}

static struct conn *
conn_new(enum kind kind, int slot, long user)
{
	struct conn		*c;
	struct sockaddr_in	 sin;
	struct epoll_event	 ev;
	int			 one = 1;

	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->slot = slot;
	c->user = user;
	c->step = ST_CONNECT;
	c->t_start = c->t_last = now();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	nopen++;
	st.started += kind == K_MAIN;
	if (c->fd == -1) {
		note_err(c, "socket: %s", strerror(errno));
		conn_free(c);
		return NULL;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)opt.port);
	inet_pton(AF_INET, opt.host, &sin.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		note_err(c, "connect: %s", strerror(errno));
		conn_free(c);
		return NULL;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	c->want_write = 1;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		note_err(c, "epoll_ctl: %s", strerror(errno));
		conn_free(c);
		return NULL;
	}
	return c;
}

static void start_main(int slot);

/* The session ended (well or not): start the next one if there is one. */
static void
conn_end(struct conn *c, int ok)
{
	enum kind	kind = c->kind;
	int		slot = c->slot;
	double		ms = (now() - c->t_start) * 1000.0;

	if (ok && kind == K_MAIN) {
		st.ok++;
		if (sess_ms != NULL && nsess_ms < opt.count)
			sess_ms[nsess_ms++] = ms;
	}
	conn_free(c);
	if (kind == K_MAIN && !stopping &&
	    (opt.mode == M_SESSIONS || opt.mode == M_RETR ||
	    opt.mode == M_BIGBOX))
		start_main(slot);
	if (kind == K_MAIN && opt.mode == M_DELE && ok && !stopping) {
		/* the check session: the maildrop must be empty now */
		struct conn *k = conn_new(K_CHECK, 0, opt.ufirst);
		(void)k;
	}
	if (kind == K_CHECK)
		stopping = 1;
}

static void
conn_fail(struct conn *c, const char *why)
{
	note_err(c, "%s", why);
	if (c->kind == K_PROBE && !c->probe_counted)
		probes_done++;
	conn_end(c, 0);
}

static int
flush_out(struct conn *c)
{
	ssize_t	n;
	int	r, e;

	c->ssl_want_write = 0;
	while (c->outoff < c->outlen) {
		size_t len = c->outlen - c->outoff;
		if (c->ssl != NULL) {
			ERR_clear_error();
			r = SSL_write(c->ssl, c->out + c->outoff, (int)len);
			if (r <= 0) {
				e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE) {
					c->ssl_want_write = 1;
					return 0;
				}
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				return -1;
			}
			n = r;
		} else {
			n = send(c->fd, c->out + c->outoff, len, MSG_NOSIGNAL);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				return -1;
			}
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/* Reads what is there; 1 on EOF, -1 on error, 0 otherwise. */
static int
fill_in(struct conn *c)
{
	ssize_t	n;
	int	r, e, loops;

	for (loops = 0; loops < 64; loops++) {
		if (c->inoff > 0 && (c->inoff == c->inlen ||
		    c->incap - c->inlen < IN_MIN_FREE)) {
			memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
			c->inlen -= c->inoff;
			c->inoff = 0;
		}
		if (c->incap - c->inlen < IN_MIN_FREE) {
			if (c->incap >= IN_MAX)
				return -1;
			c->incap = c->incap == 0 ? 2 * IN_MIN_FREE :
			    c->incap * 2;
			c->in = xreallocarray(c->in, 1, c->incap);
		}
		if (c->ssl != NULL) {
			ERR_clear_error();
			r = SSL_read(c->ssl, c->in + c->inlen,
			    (int)(c->incap - c->inlen));
			if (r <= 0) {
				e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->ssl_want_write = 1;
					return 0;
				}
				if (e == SSL_ERROR_ZERO_RETURN)
					return 1;
				/*
				 * EOF without close_notify: OpenSSL 3 says
				 * SSL_ERROR_SSL "unexpected eof"; counted
				 * apart (no_close_notify=), fine after QUIT.
				 */
				if ((e == SSL_ERROR_SYSCALL && errno == 0) ||
				    (e == SSL_ERROR_SSL &&
				    ERR_GET_REASON(ERR_peek_error()) ==
				    SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
					st.no_close_notify++;
					return 1;
				}
				return -1;
			}
			n = r;
		} else {
			n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen,
			    0);
			if (n == 0)
				return 1;
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				return -1;
			}
		}
		c->inlen += (size_t)n;
		c->t_last = now();
		if (c->ssl == NULL && (size_t)n < c->incap - c->inlen)
			return 0;
	}
	return 0;
}

/* Next complete line (without CRLF) or NULL; -1 in *err if too long. */
static char *
get_line(struct conn *c, size_t *lenp, int *err)
{
	unsigned char	*p, *nl;
	size_t		 avail = c->inlen - c->inoff;

	p = c->in + c->inoff;
	nl = memchr(p, '\n', avail);
	if (nl == NULL) {
		if (avail > LINE_MAX_RESP)
			*err = 1;
		return NULL;
	}
	c->inoff += (size_t)(nl - p) + 1;
	if (nl > p && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	*lenp = (size_t)(nl - p);
	return (char *)p;
}

static void
user_name(long u, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%0*ld", opt.ufmt, opt.uwidth, u);
}

static void
send_retr_next(struct conn *c)
{
	c->cur++;
	c->got = 0;
	c->bol = 1;
	c->ml_started = 0;
	c->step = ST_RETR_STATUS;
	send_cmd(c, "RETR %" PRIu64 "\r\n", c->cur);
}

static void
send_dele_more(struct conn *c)
{
	uint64_t	k;

	for (k = 0; k < DELE_WINDOW && c->cur < c->stat_n &&
	    c->cur - c->acked < DELE_WINDOW; k++) {
		c->cur++;
		send_cmd(c, "DELE %" PRIu64 "\r\n", c->cur);
	}
}

/* After PASS +OK: the mode's work. */
static void
after_login(struct conn *c)
{
	if (c->kind == K_PROBE) {
		if (probes_done < MAX_PROBES && probe_ms != NULL)
			probe_ms[probes_done] = (now() - c->t_start) * 1000;
		probes_done++;
		c->probe_counted = 1;
		c->step = ST_QUIT;
		send_cmd(c, "QUIT\r\n");
		return;
	}
	switch (opt.mode) {
	case M_IDLE:
		c->step = ST_IDLE;
		idle_authed++;
		return;
	case M_RETR:
		c->step = ST_LIST;
		c->ml_started = 0;
		c->nsizes = 0;
		send_cmd(c, "LIST\r\n");
		return;
	default:
		c->step = ST_STAT;
		send_cmd(c, "STAT\r\n");
		return;
	}
}

/* Multi-line list (UIDL or LIST): 1 when done, 0 more, -1 error. */
static int
handle_ml(struct conn *c, int is_list)
{
	char		*line, *sp, *end;
	size_t		 len;
	int		 err = 0, loops;
	uint64_t	 num, size;

	for (loops = 0; loops < 1 << 24; loops++) {
		if ((line = get_line(c, &len, &err)) == NULL)
			return err ? -1 : 0;
		if (!c->ml_started) {
			if (strncmp(line, "+OK", 3) != 0)
				return -1;
			c->ml_started = 1;
			c->nlines = 0;
			continue;
		}
		if (len == 1 && line[0] == '.')
			return 1;
		c->nlines++;
		errno = 0;
		num = strtoull(line, &sp, 10);
		if (errno != 0 || sp == line || *sp != ' ' || num != c->nlines)
			return -1;
		if (!is_list) {
			if (sp[1] == '\0' || len - (size_t)(sp + 1 - line) >
			    POP3_UIDL_MAX)
				return -1;
			continue;
		}
		size = strtoull(sp + 1, &end, 10);
		if (end == sp + 1 || *end != '\0')
			return -1;
		if (opt.mode == M_RETR) {
			if (c->nlines > MAX_MSGS)
				return -1;
			if (c->nlines >= c->nsizes) {
				c->nsizes = c->nsizes == 0 ? 256 :
				    c->nsizes * 2;
				c->sizes = xreallocarray(c->sizes, c->nsizes + 1,
				    sizeof(*c->sizes));
			}
			c->sizes[c->nlines] = size;
		}
	}
	return -1;
}

/*
 * RETR body: counts unstuffed bytes; 1 at the terminator.  Only a '.'
 * at the start of a line needs a look (a stuffed dot or the end), so
 * the scan jumps from '.' to '.' with memchr instead of from line to
 * line: the client must not be what limits the measurement.
 */
static int
handle_body(struct conn *c)
{
	unsigned char	*p = c->in + c->inoff, *end = c->in + c->inlen;
	unsigned char	*q, *d;

	while (p < end) {
		if (c->bol && *p == '.') {
			if (end - p < 3)
				break;		/* the end, or a stuffed dot? */
			if (p[1] == '\r' && p[2] == '\n') {
				p += 3;
				c->inoff = (size_t)(p - c->in);
				return 1;
			}
			p++;			/* the stuffed dot */
			c->bol = 0;
		}
		/* The next '.' that starts a line, or the end of the data. */
		for (q = p; (d = memchr(q, '.', (size_t)(end - q))) != NULL &&
		    (d == p || d[-1] != '\n'); q = d + 1)
			;
		if (d == NULL)
			d = end;
		if (d > p) {
			c->got += (uint64_t)(d - p);
			c->bol = d[-1] == '\n';
			p = d;
		}
	}
	c->inoff = (size_t)(p - c->in);
	return 0;
}

/* One response step; 1 if it made progress and may go on, 0 wait, -1 fail. */
static int
proto_step(struct conn *c)
{
	char		*line;
	size_t		 len;
	int		 err = 0, r;
	char		 u[128];
	unsigned long long n, m;

	switch (c->step) {
	case ST_RETR_BODY:
		if ((r = handle_body(c)) <= 0)
			return r;
		if (c->cur > c->nsizes || c->got != c->sizes[c->cur]) {
			note_err(c, "RETR %" PRIu64 ": %" PRIu64
			    " bytes, LIST said %" PRIu64, c->cur, c->got,
			    c->cur <= c->nsizes ? c->sizes[c->cur] : 0);
			return -2;
		}
		st.msgs++;
		st.bytes += c->got;
		if (c->cur < c->stat_n)
			send_retr_next(c);
		else {
			c->step = ST_QUIT;
			send_cmd(c, "QUIT\r\n");
		}
		return 1;
	case ST_UIDL:
	case ST_LIST:
		if ((r = handle_ml(c, c->step == ST_LIST)) <= 0)
			return r;
		if (c->step == ST_UIDL && c->nlines != c->stat_n) {
			note_err(c, "UIDL: %" PRIu64 " lines, STAT said %"
			    PRIu64, c->nlines, c->stat_n);
			return -2;
		}
		if (c->step == ST_UIDL && opt.mode == M_BIGBOX) {
			c->step = ST_LIST;
			c->ml_started = 0;
			send_cmd(c, "LIST\r\n");
			return 1;
		}
		if (c->step == ST_LIST && opt.mode == M_RETR) {
			c->stat_n = c->nlines;
			if (c->stat_n == 0) {
				c->step = ST_QUIT;
				send_cmd(c, "QUIT\r\n");
			} else
				send_retr_next(c);
			return 1;
		}
		if (c->step == ST_LIST && c->nlines != c->stat_n) {
			note_err(c, "LIST: %" PRIu64 " lines, STAT said %"
			    PRIu64, c->nlines, c->stat_n);
			return -2;
		}
		c->step = ST_QUIT;
		send_cmd(c, "QUIT\r\n");
		return 1;
	default:
		break;
	}

	if ((line = get_line(c, &len, &err)) == NULL)
		return err ? -1 : 0;
	if (c->step == ST_IDLE)
		return -1;	/* nothing may arrive while idle */
	if (strncmp(line, "+OK", 3) != 0) {
		note_err(c, "%.100s", line);
		return -2;
	}
	switch (c->step) {
	case ST_GREET:
		user_name(c->user, u, sizeof(u));
		c->step = ST_USER;
		send_cmd(c, "USER %s\r\n", u);
		return 1;
	case ST_USER:
		c->step = ST_PASS;
		send_cmd(c, "PASS %s\r\n", opt.pass);
		return 1;
	case ST_PASS:
		after_login(c);
		return 1;
	case ST_STAT:
		if (sscanf(line, "+OK %llu %llu", &n, &m) != 2)
			return -1;
		c->stat_n = n;
		if (c->kind == K_CHECK) {
			if (n != 0) {
				note_err(c, "maildrop not empty after "
				    "DELE+QUIT: %llu", n);
				return -2;
			}
			c->step = ST_QUIT;
			send_cmd(c, "QUIT\r\n");
			return 1;
		}
		if (opt.mode == M_DELE) {
			c->cur = c->acked = 0;
			c->t_start = now();	/* time the DELEs and QUIT */
			if (n == 0) {
				c->step = ST_QUIT;
				send_cmd(c, "QUIT\r\n");
				return 1;
			}
			c->step = ST_DELE;
			send_dele_more(c);
			return 1;
		}
		c->step = ST_UIDL;
		c->ml_started = 0;
		send_cmd(c, "UIDL\r\n");
		return 1;
	case ST_RETR_STATUS:
		c->step = ST_RETR_BODY;
		return 1;
	case ST_DELE:
		c->acked++;
		if (c->acked == c->stat_n) {
			c->step = ST_QUIT;
			send_cmd(c, "QUIT\r\n");
		} else
			send_dele_more(c);
		return 1;
	case ST_QUIT:
		c->step = ST_EOF;
		return 1;
	default:
		return -1;
	}
}

static void
start_tls(struct conn *c)
{
	c->ssl = SSL_new(sslctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_fail(c, "SSL_new");
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->step = ST_HANDSHAKE;
}

/* Drives a connection as far as it goes without blocking. */
static void
conn_drive(struct conn *c, uint32_t events)
{
	int		r, e, loops;
	socklen_t	sl;

	if (c->step == ST_CONNECT) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		sl = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1 ||
		    e != 0) {
			conn_fail(c, e != 0 ? strerror(e) : "SO_ERROR");
			return;
		}
		if (opt.mode == M_RAW) {
			c->step = ST_RAW;
			send_cmd(c, "%zu\r\n", opt.raw_size);
			c->raw_left = opt.raw_size;
		} else
			c->step = ST_GREET;
		if (opt.tls) {
			start_tls(c);
			if (c->ssl == NULL)
				return;
		}
	}
	if (c->step == ST_HANDSHAKE) {
		ERR_clear_error();
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE) {
				c->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
				set_events(c);
				return;
			}
			conn_fail(c, "TLS handshake failed");
			return;
		}
		c->ssl_want_write = 0;
		if (st.cipher[0] == '\0')
			snprintf(st.cipher, sizeof(st.cipher), "%s/%s",
			    SSL_get_version(c->ssl), SSL_get_cipher(c->ssl));
		c->step = opt.mode == M_RAW ? ST_RAW : ST_GREET;
		c->t_last = now();
	}
	if (flush_out(c) == -1) {
		conn_fail(c, "write failed");
		return;
	}
	for (loops = 0; loops < 1000000; loops++) {
		r = fill_in(c);
		if (r == -1) {
			conn_fail(c, "read failed");
			return;
		}
		if (opt.mode == M_RAW && c->step == ST_RAW) {
			size_t av = c->inlen - c->inoff;
			if (av > c->raw_left) {
				conn_fail(c, "raw: too many bytes");
				return;
			}
			c->raw_left -= av;
			c->inoff = c->inlen;
			if (c->raw_left == 0) {
				st.msgs++;
				st.bytes += opt.raw_size;
				if (stopping) {
					conn_end(c, 1);
					return;
				}
				send_cmd(c, "%zu\r\n", opt.raw_size);
				c->raw_left = opt.raw_size;
			}
		} else {
			int pr, steps;
			for (steps = 0; steps < 1 << 20; steps++) {
				if (c->step == ST_EOF)
					break;
				pr = proto_step(c);
				if (pr == 0)
					break;
				if (pr < 0) {
					if (pr == -1)
						note_err(c, "bad response");
					if (c->kind == K_PROBE &&
					    !c->probe_counted)
						probes_done++;
					conn_end(c, 0);
					return;
				}
			}
		}
		if (r == 1) {
			if (c->step == ST_EOF) {
				conn_end(c, 1);
				return;
			}
			conn_fail(c, "unexpected close");
			return;
		}
		if (flush_out(c) == -1) {
			conn_fail(c, "write failed");
			return;
		}
		/* More input is only certain if the read filled the buffer. */
		if (c->ssl == NULL || SSL_pending(c->ssl) == 0)
			break;
	}
	set_events(c);
}

static long slot_round[MAX_CONNS];

static void
start_main(int slot)
{
	long	u;

	if (opt.count > 0 && st.started >= opt.count)
		return;
	switch (opt.mode) {
	case M_RETR:
		/* slot s owns users s, s+c, s+2c, ...: no lock conflicts */
		if (opt.ucount < opt.conc)
			u = opt.ufirst + slot % opt.ucount;
		else
			u = opt.ufirst + (slot + (long)opt.conc *
			    slot_round[slot]++) % opt.ucount;
		break;
	default:
		u = opt.ufirst + next_user++ % opt.ucount;
		break;
	}
	conn_new(K_MAIN, slot, u);
}

/* ---- memory of the server's process tree ---- */

static long
pss_kib(pid_t pid)
{
	char	path[64], line[256];
	FILE	*f;
	long	v = -1;
	int	n;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	for (n = 0; n < 64 && fgets(line, sizeof(line), f) != NULL; n++)
		if (strncmp(line, "Pss:", 4) == 0) {
			v = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

struct pp {
	pid_t	pid, ppid;
	int	in;
};

static int
cmp_pp(const void *a, const void *b)
{
	const struct pp *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/*
 * Sum of PSS of root and all its descendants (a scan of /proc/N/stat for
 * parent links); *nproc gets their number.
 */
static long
server_pss(pid_t root, long *nproc)
{
	static struct pp v[400000];
	DIR		*d;
	struct dirent	*de;
	long		 n = 0, i, total = 0, cnt = 0, pass, pv;
	char		 path[300], buf[512], *p;
	FILE		*f;
	int		 changed, ppid;
	char		 stc;
	struct pp	 key, *par;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && n < 400000) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %c %d", &stc, &ppid) == 2) {
			v[n].pid = (pid_t)atol(de->d_name);
			v[n].ppid = ppid;
			v[n].in = v[n].pid == root;
			n++;
		}
		fclose(f);
	}
	closedir(d);
	qsort(v, (size_t)n, sizeof(v[0]), cmp_pp);
	for (pass = 0, changed = 1; changed && pass < 64; pass++) {
		changed = 0;
		for (i = 0; i < n; i++) {
			if (v[i].in)
				continue;
			key.pid = v[i].ppid;
			par = bsearch(&key, v, (size_t)n, sizeof(v[0]), cmp_pp);
			if (par != NULL && par->in) {
				v[i].in = 1;
				changed = 1;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (!v[i].in || (pv = pss_kib(v[i].pid)) < 0)
			continue;
		total += pv;
		cnt++;
	}
	*nproc = cnt;
	return total;
}

/* ---- raw server ---- */

static void
rawserve_child(int fd, SSL_CTX *sctx)
{
	SSL	*ssl = NULL;
	char	 line[128];
	size_t	 ll = 0, want;
	ssize_t	 n;
	long	 rounds;

	if (sctx != NULL) {
		ssl = SSL_new(sctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1)
			_exit(1);
	}
	for (rounds = 0; rounds < 1000000000L; rounds++) {
		char	 rb[64], *nl;

		/* the client sends its next request only after the answer */
		n = ssl != NULL ? SSL_read(ssl, rb, (int)sizeof(rb)) :
		    read(fd, rb, sizeof(rb));
		if (n <= 0)
			_exit(0);
		if (ll + (size_t)n >= sizeof(line))
			_exit(1);
		memcpy(line + ll, rb, (size_t)n);
		ll += (size_t)n;
		line[ll] = '\0';
		if ((nl = strchr(line, '\n')) == NULL)
			continue;
		ll = 0;
		want = (size_t)strtoul(line, NULL, 10);
		while (want > 0) {
			size_t k = want < sizeof(rawbuf) ? want : sizeof(rawbuf);
			n = ssl != NULL ? SSL_write(ssl, rawbuf, (int)k) :
			    write(fd, rawbuf, k);
			if (n <= 0)
				_exit(1);
			want -= (size_t)n;
		}
	}
	_exit(0);
}

static int
rawserve(void)
{
	struct sockaddr_in	 sin;
	SSL_CTX			*sctx = NULL;
	int			 lfd, fd, one = 1;
	long			 i;

	memset(rawbuf, 'x', sizeof(rawbuf));
	if (opt.tls) {
		if (opt.cert == NULL || opt.key == NULL)
			usage();
		sctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
		if (SSL_CTX_use_certificate_chain_file(sctx, opt.cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(sctx, opt.key,
		    SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "rawserve: cannot load cert/key\n");
			return 1;
		}
	}
	signal(SIGCHLD, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)opt.port);
	inet_pton(AF_INET, opt.host, &sin.sin_addr);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 128) == -1) {
		perror("rawserve: bind/listen");
		return 1;
	}
	for (i = 0; i < 100000000L; i++) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fork() == 0) {
			close(lfd);
			rawserve_child(fd, sctx);
		}
		close(fd);
	}
	return 0;
}

/* ---- main loop ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, long n, double p)
{
	long	i;

	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	i = (long)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static void
loop_until(double deadline, int (*done)(void))
{
	struct epoll_event	evs[256];
	int			n, i;
	double			t;
	long			iter;

	for (iter = 0; iter < 100000000L; iter++) {
		if (done != NULL && done())
			return;
		t = now();
		if (t >= deadline)
			return;
		n = epoll_wait(epfd, evs, 256, 50);
		if (n == -1 && errno != EINTR)
			return;
		for (i = 0; i < n; i++)
			conn_drive(evs[i].data.ptr, evs[i].events);
	}
}

static long	 want_authed;
static int
idle_ready(void)
{
	return idle_authed + st.err >= want_authed || nopen == 0;
}
static int
nothing_open(void)
{
	return nopen == 0;
}
static int
count_done(void)
{
	return opt.count > 0 && st.started >= opt.count && nopen == 0;
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_max < 65536) {
		struct rlimit hi = { 65536, 65536 };
		if (setrlimit(RLIMIT_NOFILE, &hi) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void
print_errs(void)
{
	int	s;

	if (st.err == 0)
		return;
	printf(" first_err=\"%s\" err_steps=", st.first_err);
	for (s = 0; s <= ST_DONE; s++)
		if (st.errs_by_step[s] > 0)
			printf("%s:%ld,", step_str((enum step)s),
			    st.errs_by_step[s]);
}

int
main(int argc, char *argv[])
{
	int	 ch, i;
	double	 t0, t1, secs;
	char	*colon;

	while ((ch = getopt(argc, argv, "m:h:p:tu:W:f:N:w:d:n:c:K:H:r:R:P:S:C:k:"))
	    != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "sessions") == 0)
				opt.mode = M_SESSIONS;
			else if (strcmp(optarg, "retr") == 0)
				opt.mode = M_RETR;
			else if (strcmp(optarg, "idle") == 0)
				opt.mode = M_IDLE;
			else if (strcmp(optarg, "bigbox") == 0)
				opt.mode = M_BIGBOX;
			else if (strcmp(optarg, "dele") == 0)
				opt.mode = M_DELE;
			else if (strcmp(optarg, "raw") == 0)
				opt.mode = M_RAW;
			else if (strcmp(optarg, "rawserve") == 0)
				opt.mode = (enum mode)-1;
			else
				usage();
			break;
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 't': opt.tls = 1; break;
		case 'u': opt.ufmt = optarg; break;
		case 'W': opt.uwidth = atoi(optarg); break;
		case 'f': opt.ufirst = atol(optarg); break;
		case 'N': opt.ucount = atol(optarg); break;
		case 'w': opt.pass = optarg; break;
		case 'd': opt.duration = atof(optarg); break;
		case 'n': opt.count = atol(optarg); break;
		case 'c': opt.conc = atoi(optarg); break;
		case 'K': opt.idle_k = atol(optarg); break;
		case 'H': opt.idle_hold = atof(optarg); break;
		case 'r': opt.probes = atol(optarg); break;
		case 'R':
			opt.probe_first = atol(optarg);
			if ((colon = strchr(optarg, ':')) == NULL)
				usage();
			opt.probe_count = atol(colon + 1);
			break;
		case 'P': opt.server_pid = (pid_t)atol(optarg); break;
		case 'S': opt.raw_size = (size_t)atol(optarg); break;
		case 'C': opt.cert = optarg; break;
		case 'k': opt.key = optarg; break;
		default: usage();
		}
	}
	if (opt.conc < 1 || opt.conc > MAX_CONNS || opt.ucount < 1 ||
	    opt.idle_k < 0 || opt.idle_k > MAX_CONNS ||
	    opt.probes < 0 || opt.probes > MAX_PROBES ||
	    opt.raw_size == 0 || opt.raw_size > (1u << 30))
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((int)opt.mode == -1)
		return rawserve();
	raise_nofile();
	if (opt.tls) {
		sslctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(sslctx, SSL_VERIFY_NONE, NULL);
		/* full handshakes only: no cache, no tickets */
		SSL_CTX_set_session_cache_mode(sslctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(sslctx, SSL_OP_NO_TICKET);
	}
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epoll_create1");
		return 1;
	}

	t0 = now();
	switch (opt.mode) {
	case M_SESSIONS:
	case M_RETR:
	case M_RAW:
		for (i = 0; i < opt.conc; i++)
			if (opt.mode == M_RAW)
				conn_new(K_MAIN, i, 0);
			else
				start_main(i);
		if (opt.count > 0)
			loop_until(t0 + 3600, count_done);
		else
			loop_until(t0 + opt.duration, NULL);
		t1 = now();
		stopping = 1;
		secs = t1 - t0;
		if (opt.mode == M_SESSIONS)
			printf("mode=sessions tls=%s conc=%d ok=%ld err=%ld "
			    "secs=%.2f rate=%.1f", opt.tls ? "yes" : "no",
			    opt.conc, st.ok, st.err, secs, (double)st.ok / secs);
		else
			printf("mode=%s tls=%s conc=%d ok=%ld err=%ld msgs=%ld "
			    "bytes=%" PRIu64 " secs=%.2f mbps=%.1f",
			    opt.mode == M_RAW ? "raw" : "retr",
			    opt.tls ? "yes" : "no", opt.conc, st.ok, st.err,
			    st.msgs, st.bytes, secs, (double)st.bytes / secs / 1e6);
		break;
	case M_BIGBOX:
		opt.conc = 1;
		if (opt.count <= 0)
			opt.count = 3;
		sess_ms = xcalloc((size_t)opt.count, sizeof(*sess_ms));
		start_main(0);
		loop_until(t0 + 3600, count_done);
		secs = now() - t0;
		printf("mode=bigbox tls=%s ok=%ld err=%ld first_ms=%.1f "
		    "later_ms=%.1f", opt.tls ? "yes" : "no", st.ok, st.err,
		    nsess_ms > 0 ? sess_ms[0] : 0.0,
		    nsess_ms > 1 ? pct(sess_ms + 1, nsess_ms - 1, 0.5) : 0.0);
		break;
	case M_DELE: {
		struct conn *c;
		opt.count = 1;
		sess_ms = xcalloc(1, sizeof(*sess_ms));
		c = conn_new(K_MAIN, 0, opt.ufirst);
		st.started = 1;
		(void)c;
		loop_until(t0 + 3600, nothing_open);
		printf("mode=dele tls=%s ok=%ld err=%ld ms=%.1f",
		    opt.tls ? "yes" : "no", st.ok, st.err,
		    nsess_ms > 0 ? sess_ms[0] : 0.0);
		break;
	}
	case M_IDLE: {
		long base, after, np0, np1, k;
		double p50, p99, hold_end;
		if (opt.server_pid <= 0)
			usage();
		base = server_pss(opt.server_pid, &np0);
		want_authed = opt.idle_k;
		/* open in batches of 200 so the server's backlog holds */
		for (k = 0; k < opt.idle_k; k++) {
			conn_new(K_MAIN, (int)k, opt.ufirst + k % opt.ucount);
			if (k % 200 == 199) {
				long target = k + 1;
				double dl = now() + 120;
				int it;
				for (it = 0; it < 100000 && idle_authed +
				    st.err < target && now() < dl; it++)
					loop_until(now() + 0.05, NULL);
			}
		}
		loop_until(now() + 300, idle_ready);
		/* let the server settle, then measure */
		hold_end = now() + opt.idle_hold;
		loop_until(hold_end, NULL);
		after = server_pss(opt.server_pid, &np1);
		/* probes: sequential new logins while all are held */
		probe_ms = xcalloc((size_t)opt.probes + 1, sizeof(double));
		if (opt.probe_first < 0) {
			opt.probe_first = opt.ufirst + opt.idle_k;
			opt.probe_count = opt.probes > 0 ? opt.probes : 1;
		}
		for (k = 0; k < opt.probes; k++) {
			probes_started++;
			conn_new(K_PROBE, 0, opt.probe_first +
			    k % opt.probe_count);
			{
				long target = k + 1;
				int it;
				for (it = 0; it < 10000 && probes_done <
				    target; it++)
					loop_until(now() + 0.05, NULL);
			}
		}
		p50 = pct(probe_ms, probes_done < opt.probes ? probes_done :
		    opt.probes, 0.5);
		p99 = pct(probe_ms, probes_done < opt.probes ? probes_done :
		    opt.probes, 0.99);
		/* idle sessions must all still be there */
		printf("mode=idle tls=%s k=%ld ok=%ld err=%ld base_kib=%ld "
		    "pss_kib=%ld procs=%ld per_session_kib=%.1f probes=%ld "
		    "probe_p50_ms=%.1f probe_p99_ms=%.1f",
		    opt.tls ? "yes" : "no", opt.idle_k, idle_authed, st.err,
		    base, after, np1,
		    idle_authed > 0 ? (double)(after - base) / (double)idle_authed :
		    0.0, probes_done, p50, p99);
		(void)np0;
		break;
	}
	}
	if (st.cipher[0] != '\0')
		printf(" cipher=%s no_close_notify=%ld", st.cipher,
		    st.no_close_notify);
	print_errs();
	printf("\n");
	fflush(stdout);
	return st.err > 0 ? 1 : 0;
}
