/*
 * stats.c - pop3ctl stats: the running server's numbers for a person.
 * Reads pop3d's config for metrics_listen, asks the master over HTTP
 * (GET /metrics, the text pop3d(8) METRICS describes), parses the
 * Prometheus text format and prints one line per metric, with its
 * labels and, for a histogram, its mean and quantiles.  The answer is
 * untrusted input: bounded in size, time and number of samples.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "buf.h"
#include "ctl.h"

#define STATS_TIMEOUT		5		/* seconds: connect, each read */
#define STATS_ANSWER_MAX	(1024 * 1024)	/* pop3d sends some 8 KB */
#define STATS_SAMPLES_MAX	512
#define STATS_NAME_MAX		128

struct sample {
	char	name[STATS_NAME_MAX];
	char	labels[STATS_NAME_MAX];	/* inside the braces, or "" */
	double	v;
};

static struct sample	samples[STATS_SAMPLES_MAX];
static size_t		nsamples;

static const char usage_text[] =
    "usage: pop3ctl [-c file] stats [--raw]\n"
    "  The running server's counters (metrics_listen): sessions, logins,\n"
    "  auth time, cache hits, commands, bytes, RETR sizes, [IN-USE], commit\n"
    "  failures, restarts.  --raw prints the Prometheus text as received.\n"
    "  Exit 0; 69 if the server does not answer; 76 if the answer is not\n"
    "  pop3d's metrics; 78 if the config is wrong or metrics_listen unset.\n";

/*
 * Connects to spec ("ADDR:PORT", "[V6]:PORT", "*:PORT"), a wildcard
 * taken as loopback.  The fd, or -1 after a message.
 */
static int
stats_connect(const char *spec)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	struct timeval	 tv = { STATS_TIMEOUT, 0 };
	char		 host[256];
	const char	*colon = strrchr(spec, ':');
	size_t		 hlen = (size_t)(colon - spec);
	int		 fd = -1, e;

	if (spec[0] == '[') {
		spec++;
		hlen -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hlen, spec);
	if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, sizeof(host), "::1");
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		ctl_warnx("metrics_listen %s: %s", spec, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd == -1)
		ctl_warnx("cannot connect to pop3d's metrics at %s:%s: %s "
		    "(is pop3d running?)", host, colon + 1, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

/* The body of the answer to GET /metrics into body; a sysexits code. */
static int
stats_fetch(int fd, struct buf *body)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n"
	    "User-Agent: pop3ctl\r\n\r\n";
	struct buf	 in;
	char		 chunk[16384];
	char		*end;
	ssize_t		 n;
	int		 rv = EX_OK;

	buf_init(&in, STATS_ANSWER_MAX);
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		ctl_warnx("sending to pop3d's metrics: %s", strerror(errno));
		buf_clear(&in);
		return EX_UNAVAILABLE;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_add(&in, chunk, (size_t)n) == -1) {
			ctl_warnx("the metrics answer is over %d octets",
			    STATS_ANSWER_MAX);
			buf_clear(&in);
			return EX_PROTOCOL;
		}
		/* Another server there (POP3 waits for more): stop now. */
		if (in.len >= 7 && strncmp((char *)in.data, "HTTP/1.", 7) != 0)
			break;
	}
	if (n == -1 && in.len == 0) {
		ctl_warnx("reading pop3d's metrics: %s", errno == EAGAIN ?
		    "no answer in time" : strerror(errno));
		rv = EX_UNAVAILABLE;
	} else if (n == -1 && strncmp((char *)in.data, "HTTP/1.", 7) == 0) {
		ctl_warnx("reading pop3d's metrics: %s", errno == EAGAIN ?
		    "the answer stopped" : strerror(errno));
		rv = EX_PROTOCOL;
	} else if (in.len == 0 || strncmp((char *)in.data, "HTTP/1.", 7) != 0 ||
	    strncmp((char *)in.data + 8, " 200 ", 5) != 0 ||
	    (end = strstr((char *)in.data, "\r\n\r\n")) == NULL) {
		ctl_warnx("not pop3d's metrics: \"%.40s\"", in.len > 0 ?
		    (char *)in.data : "(nothing)");
		rv = EX_PROTOCOL;
	} else if (buf_addstr(body, end + 4) == -1)
		rv = EX_PROTOCOL;
	buf_clear(&in);
	return rv;
}

/* Each sample line of text into samples[]; -1 at a malformed one. */
static int
stats_parse(char *text)
{
	struct sample	*s;
	char		*line, *save = NULL, *sp, *brace, *endp;
	size_t		 nl;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (nsamples == STATS_SAMPLES_MAX ||
		    (sp = strrchr(line, ' ')) == NULL)
			return -1;
		s = &samples[nsamples];
		*sp = '\0';
		s->v = strtod(sp + 1, &endp);
		if (*endp != '\0' || endp == sp + 1)
			return -1;
		s->labels[0] = '\0';
		if ((brace = strchr(line, '{')) != NULL) {
			nl = strlen(brace + 1);
			if (nl == 0 || brace[nl] != '}' ||
			    nl > sizeof(s->labels))
				return -1;
			snprintf(s->labels, sizeof(s->labels), "%.*s",
			    (int)nl - 1, brace + 1);
			*brace = '\0';
		}
		if (strlen(line) >= sizeof(s->name) ||
		    strncmp(line, "pop3d_", 6) != 0)
			return -1;
		snprintf(s->name, sizeof(s->name), "%s", line);
		nsamples++;
	}
	return 0;
}

/* The value of name{labels} (labels "" for none), or -1 if absent. */
static double
value(const char *name, const char *labels)
{
	size_t	i;

	for (i = 0; i < nsamples; i++)
		if (strcmp(samples[i].name, name) == 0 &&
		    strcmp(samples[i].labels, labels) == 0)
			return samples[i].v;
	return -1;
}

/* The label's value in labels ("key=\"v\""), into out. */
static const char *
label_value(const char *labels, char *out, size_t len)
{
	const char	*q = strchr(labels, '"'), *e;

	if (q == NULL || (e = strchr(q + 1, '"')) == NULL)
		snprintf(out, len, "%s", labels);
	else
		snprintf(out, len, "%.*s", (int)(e - q - 1), q + 1);
	return out;
}

/* "title  total   a 1, b 2" for a labelled counter (all or non-zero). */
static void
print_labelled(const char *title, const char *name, int all)
{
	char	 v[STATS_NAME_MAX], more[1024] = "";
	double	 t = 0;
	size_t	 i, used = 0;

	for (i = 0; i < nsamples; i++) {
		if (strcmp(samples[i].name, name) != 0)
			continue;
		t += samples[i].v;
		if ((all || samples[i].v != 0) && used < sizeof(more))
			used += (size_t)snprintf(more + used, sizeof(more) -
			    used, "%s%s %.0f", used ? ", " : "",
			    label_value(samples[i].labels, v, sizeof(v)),
			    samples[i].v);
	}
	printf("%-22s %12.0f   %s\n", title, t, more);
}

/* A histogram: count, mean and the bounds under which half and 90% lie. */
static void
print_histogram(const char *title, const char *name, const char *unit)
{
	char	 bucket[STATS_NAME_MAX], sum[STATS_NAME_MAX],
		 cnt[STATS_NAME_MAX], le[64], q[2][64];
	double	 count, total;
	size_t	 i;
	int	 k;

	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	snprintf(sum, sizeof(sum), "%s_sum", name);
	snprintf(cnt, sizeof(cnt), "%s_count", name);
	count = value(cnt, "");
	total = value(sum, "");
	if (count <= 0) {
		printf("%-22s %12.0f\n", title, count < 0 ? 0 : count);
		return;
	}
	for (k = 0; k < 2; k++) {
		snprintf(q[k], sizeof(q[k]), "?");
		for (i = 0; i < nsamples; i++)
			if (strcmp(samples[i].name, bucket) == 0 &&
			    samples[i].v >= count * (k == 0 ? 0.5 : 0.9)) {
				snprintf(q[k], sizeof(q[k]), "%s",
				    label_value(samples[i].labels, le,
				    sizeof(le)));
				break;
			}
	}
	printf("%-22s %12.0f   mean %.*f %s, half <= %s, 90%% <= %s\n",
	    title, count, strcmp(unit, "s") == 0 ? 3 : 0, total / count, unit,
	    q[0], q[1]);
}

static void
stats_print(const char *where)
{
	double		start = value("pop3d_start_time_seconds", "");
	long long	up = 0;
	char		ver[64] = "?";
	size_t		i;

	for (i = 0; i < nsamples; i++)
		if (strcmp(samples[i].name, "pop3d_build_info") == 0)
			label_value(samples[i].labels, ver, sizeof(ver));
	if (start > 0 && (double)time(NULL) > start)
		up = (long long)((double)time(NULL) - start);
	printf("pop3d %s at %s, up %lldd %lldh %lldm\n\n", ver, where,
	    up / 86400, up % 86400 / 3600, up % 3600 / 60);
	printf("%-22s %12.0f\n", "Sessions open",
	    value("pop3d_sessions_open", ""));
	print_labelled("Sessions ended", "pop3d_sessions_total", 1);
	print_labelled("Logins", "pop3d_logins_total", 1);
	print_histogram("Auth time", "pop3d_auth_duration_seconds", "s");
	printf("%-22s %12.0f\n", "Auth cache hits",
	    value("pop3d_auth_cache_hits_total", ""));
	print_labelled("Commands", "pop3d_commands_total", 0);
	printf("%-22s %12.0f\n", "Bytes sent",
	    value("pop3d_sent_bytes_total", ""));
	print_histogram("RETR sizes", "pop3d_retr_size_bytes", "bytes");
	printf("%-22s %12.0f\n", "[IN-USE] refusals",
	    value("pop3d_in_use_refusals_total", ""));
	printf("%-22s %12.0f\n", "Commit failures",
	    value("pop3d_commit_failures_total", ""));
	print_labelled("Restarts", "pop3d_restarts_total", 1);
}

int
stats_main(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "raw", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	 cfg;
	struct buf	 body;
	const char	*spec = NULL;
	size_t		 i;
	int		 ch, raw = 0, fd, rv;

	while ((ch = getopt_long(argc, argv, "hr", longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage_text, stdout);
			return EX_OK;
		}
		if (ch != 'r') {
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
		raw = 1;
	}
	if (argc != optind) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	if (ctl_config(conf, &cfg) == -1)
		return EX_CONFIG;
	for (i = 0; i < cfg.metrics_listen.n && spec == NULL; i++)
		if (cfg.metrics_listen.v[i][0] != '\0')
			spec = cfg.metrics_listen.v[i];
	if (spec == NULL) {
		ctl_warnx("%s: metrics_listen is not set: pop3d serves no "
		    "metrics (pop3d.conf(5))", conf);
		config_free(&cfg);
		return EX_CONFIG;
	}
	buf_init(&body, STATS_ANSWER_MAX);
	if ((fd = stats_connect(spec)) == -1)
		rv = EX_UNAVAILABLE;
	else {
		rv = stats_fetch(fd, &body);
		close(fd);
	}
	if (rv == EX_OK && raw)
		fwrite(body.data, 1, body.len, stdout);
	else if (rv == EX_OK && (body.len == 0 ||
	    stats_parse((char *)body.data) == -1 ||
	    value("pop3d_sessions_open", "") < 0)) {
		ctl_warnx("the answer from %s is not pop3d's metrics", spec);
		rv = EX_PROTOCOL;
	} else if (rv == EX_OK)
		stats_print(spec);
	buf_clear(&body);
	config_free(&cfg);
	return rv;
}
