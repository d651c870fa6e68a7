/*
 * pgsql.c - the PostgreSQL client of pop3d's auth process and pop3ctl
 * (pgsql.h): the conninfo check, connecting with the timeout, and
 * statements with parameters under a deadline (libpq's asynchronous
 * calls in non-blocking mode and poll(2), so a hanging server cannot
 * block past it; only a host name's lookup is not bounded).
 * Messages are libpq's, made one line; none holds the conninfo.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgsql.h"

/* msg (libpq's, maybe several lines) as one line into err. */
static void
pgsql_msg(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t	i, n;

	n = (size_t)snprintf(err, errlen, "%s%s%s", what,
	    *what != '\0' && msg != NULL && *msg != '\0' ? ": " : "",
	    msg != NULL ? msg : "");
	if (n >= errlen)
		n = errlen - 1;
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (i = 0; i < n; i++)
		if (err[i] == '\n' || err[i] == '\t' || err[i] == '\r')
			err[i] = ' ';
}

/*
 * Whether s may hold a password that libpq's parse message would quote:
 * a password key, or a URI with a user part (user:secret@host).
 */
static int
conninfo_secret(const char *s)
{
	const char	*at, *slash;

	if (strstr(s, "password") != NULL)
		return 1;
	if (strncmp(s, "postgresql://", 13) != 0 &&
	    strncmp(s, "postgres://", 11) != 0)
		return 0;
	s = strchr(s, '/') + 2;
	at = strchr(s, '@');
	slash = strchr(s, '/');
	return at != NULL && (slash == NULL || at < slash);
}

int
pgsql_config_check(const struct config *cfg, struct buf *errs)
{
	PQconninfoOption	*opts;
	char			*msg = NULL, line[PGSQL_ERR_MAX];
	size_t			 ln;

	if (cfg->auth_backend != AUTH_BACKEND_PGSQL)
		return 0;
	if ((opts = PQconninfoParse(cfg->pg_conninfo, &msg)) != NULL) {
		PQconninfoFree(opts);
		return 0;
	}
	if (msg != NULL && !conninfo_secret(cfg->pg_conninfo))
		pgsql_msg(line, sizeof(line), "", msg);
	else
		snprintf(line, sizeof(line), "%s", msg != NULL ?
		    "not a libpq connection string (key=value ... or "
		    "postgresql://...)" : "out of memory");
	PQfreemem(msg);
	if ((ln = config_key_line(cfg->path, "conninfo")) > 0)
		buf_printf(errs, "%s:%zu: conninfo: %s\n", cfg->path, ln, line);
	else
		buf_printf(errs, "%s: conninfo: %s\n", cfg->path, line);
	return 1;
}

PGconn *
pgsql_connect(const struct config *cfg, const char *appname, char *err,
    size_t errlen)
{
	/* Later keys override earlier ones: the conninfo may turn GSS
	   encryption back on (off by default: libkrb5 probes files and
	   directories at every connect); the connect_timeout is ours.
	   libpq counts it for each address it tries (at least 2 s), so a
	   silent first host of several is passed over for the next. */
	const char	*keys[] = { "gssencmode", "dbname", "connect_timeout",
			    "fallback_application_name", NULL };
	const char	*vals[5];
	char		 tmo[32], set[64];
	PGconn		*c;
	PGresult	*r;
	long long	 ms = cfg->pg_timeout * 1000;
	int		 broken;

	snprintf(tmo, sizeof(tmo), "%lld", cfg->pg_timeout);
	vals[0] = "disable";
	vals[1] = cfg->pg_conninfo;	/* expand_dbname: the whole string */
	vals[2] = tmo;
	vals[3] = appname;
	vals[4] = NULL;
	if ((c = PQconnectdbParams(keys, vals, 1)) == NULL) {
		snprintf(err, errlen, "connect: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pgsql_msg(err, errlen, "connect", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	/* Sends (and PQfinish's goodbye) never wait on a full socket. */
	if (PQsetnonblocking(c, 1) == -1) {
		pgsql_msg(err, errlen, "connect", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	/* The server stops a statement that runs too long as well. */
	snprintf(set, sizeof(set), "SET statement_timeout = %lld", ms);
	if ((r = pgsql_exec(c, NULL, set, 0, NULL, (int)ms, &broken, err,
	    errlen)) == NULL) {
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}

long long
pgsql_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Sends what is buffered and reads until libpq has a result (or the
 * end of the answer) at hand, until deadline.  0, or -1 with err and
 * *broken as pgsql_exec.
 */
static int
wait_ready(PGconn *c, long long deadline, int timeout_ms, int *broken,
    char *err, size_t errlen)
{
	struct pollfd	 pfd;
	long long	 left;
	int		 n, fl;

	while ((fl = PQflush(c)) == 1 || PQisBusy(c)) {
		if (fl == -1)
			break;
		left = deadline - pgsql_now_ms();
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN | (fl == 1 ? POLLOUT : 0);
		if (left <= 0 || (n = poll(&pfd, 1, (int)left)) == 0) {
			snprintf(err, errlen, "no answer within %d ms",
			    timeout_ms);
			*broken = PGSQL_TIMEDOUT;
			return -1;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || PQconsumeInput(c) == 0) {
			pgsql_msg(err, errlen, "", n == -1 ? strerror(errno) :
			    PQerrorMessage(c));
			*broken = 1;
			return -1;
		}
	}
	if (fl == -1) {
		pgsql_msg(err, errlen, "", PQerrorMessage(c));
		*broken = 1;
		return -1;
	}
	return 0;
}

/*
 * Waits for the answer to what was sent on c, until deadline (timeout_ms
 * for the message).  The result of the one statement, or NULL as
 * pgsql_exec.  No PQgetResult is called before libpq has its answer at
 * hand: the last one (NULL) waits for the server's ReadyForQuery.
 */
static PGresult *
pgsql_wait(PGconn *c, long long deadline, int timeout_ms, int *broken,
    char *err, size_t errlen)
{
	PGresult	*r, *res = NULL;

	for (;;) {
		if (wait_ready(c, deadline, timeout_ms, broken, err,
		    errlen) == -1) {
			PQclear(res);
			return NULL;
		}
		if ((r = PQgetResult(c)) == NULL)
			break;
		if (res == NULL)
			res = r;
		else
			PQclear(r);
	}
	if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)) {
		pgsql_msg(err, errlen, "", res != NULL ?
		    PQresultErrorMessage(res) : PQerrorMessage(c));
		PQclear(res);
		*broken = PQstatus(c) != CONNECTION_OK;
		return NULL;
	}
	return res;
}

PGresult *
pgsql_exec(PGconn *c, const char *name, const char *sql, int n,
    const char *const *params, int timeout_ms, int *broken, char *err,
    size_t errlen)
{
	int	ok;

	*broken = 0;
	if (name != NULL)
		ok = PQsendQueryPrepared(c, name, n, params, NULL, NULL, 0);
	else
		ok = PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (!ok) {
		pgsql_msg(err, errlen, "", PQerrorMessage(c));
		*broken = PQstatus(c) != CONNECTION_OK;
		return NULL;
	}
	return pgsql_wait(c, pgsql_now_ms() + timeout_ms, timeout_ms, broken,
	    err, errlen);
}

PGresult *
pgsql_prepare(PGconn *c, const char *name, const char *sql, int n,
    int timeout_ms, int *broken, char *err, size_t errlen)
{
	PGresult	*r;
	long long	 deadline = pgsql_now_ms() + timeout_ms;

	*broken = 0;
	if (!PQsendPrepare(c, name, sql, n, NULL)) {
		pgsql_msg(err, errlen, "prepare", PQerrorMessage(c));
		*broken = PQstatus(c) != CONNECTION_OK;
		return NULL;
	}
	/* Both answers within the one timeout. */
	if ((r = pgsql_wait(c, deadline, timeout_ms, broken, err,
	    errlen)) == NULL)
		return NULL;
	PQclear(r);
	if (!PQsendDescribePrepared(c, name)) {
		pgsql_msg(err, errlen, "describe", PQerrorMessage(c));
		*broken = PQstatus(c) != CONNECTION_OK;
		return NULL;
	}
	return pgsql_wait(c, deadline, timeout_ms, broken, err, errlen);
}

void
pgsql_wipe(PGresult *res)
{
	int	 i, j;
	char	*v;

	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++)
		for (j = 0; j < PQnfields(res); j++)
			if (!PQgetisnull(res, i, j) &&
			    (v = PQgetvalue(res, i, j)) != NULL)
				explicit_bzero(v, (size_t)PQgetlength(res, i,
				    j));
}
