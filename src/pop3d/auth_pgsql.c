/*
 * auth_pgsql.c - accounts in PostgreSQL for the auth process
 * (auth_pgsql.h).  Each pool thread owns one slot: a connection with
 * the user_query prepared on it and where its columns are.  The state
 * of the database is shared: the first failure marks it down and is
 * logged; while down, logins are answered [SYS/TEMP] without a try
 * for a second, then one thread at a time tries to connect again; the
 * first answer marks it up again (logged).  So an outage costs a log
 * line per change, not per login; other repeated complaints (logins
 * too late for a pool thread, a user with two rows) are logged once a
 * minute, the server's notices at debug level.  The pool connects only
 * once the sandbox is on (authpg_go), any statement error closes the
 * connection, and each hash class a row brings is timed for what a
 * failed login costs (authpg_learn).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_pgsql.h"
#include "auth_req.h"
#include "hashcost.h"
#include "log.h"
#include "pgsql.h"
#include "xmalloc.h"

#define AUTHPG_RETRY_MS	1000		/* down: answer at once this long */
#define AUTHPG_NAG_MS	60000		/* a repeated complaint: once this long */
#define AUTHPG_STMT	"pop3d_user"	/* the prepared user_query */

struct slot {
	PGconn	*c;
	int	 fpass, fhome, fexp;	/* columns; -1: none */
};

static const struct config	*pgcfg;
static struct slot		*slots;
static size_t			 nslots;

static pthread_mutex_t	 stlock = PTHREAD_MUTEX_INITIALIZER;
static int		 down;		/* the last try failed */
static int		 seen;		/* it answered once */
static long long	 fail_ms;	/* when */
static int		 probing;	/* a thread tries while down */
static int		 going;		/* the sandbox is on: connect */
static long long	 late_ms = -AUTHPG_NAG_MS;	/* logged: too late */
static long long	 rows_ms = -AUTHPG_NAG_MS;	/* logged: rows > 1 */
static long long	 stmt_ms = -AUTHPG_NAG_MS;	/* logged: a refused query */
static pthread_cond_t	 gocond = PTHREAD_COND_INITIALIZER;

/* One entry of each hash class seen, to time (learnlock). */
#define AUTHPG_SAMPLES	16
static pthread_mutex_t		 learnlock = PTHREAD_MUTEX_INITIALIZER;
static struct passwd_entry	 samples[AUTHPG_SAMPLES];
static struct passwd_db		 sampledb = { samples, 0 };

/* A copy of e's hash into the samples (learnlock); 0, or -1 if full. */
static int
sample_add(const struct passwd_entry *e)
{
	struct passwd_entry	*c;

	if (sampledb.n >= AUTHPG_SAMPLES)
		return -1;
	c = &samples[sampledb.n++];
	memset(c, 0, sizeof(*c));
	c->user = xstrdup("sample");
	c->hash = xstrdup(e->hash);
	c->scheme = e->scheme;
	c->expire_days = -1;
	return 0;
}

struct hashcost *
authpg_start(const struct config *cfg, void *(*pool_fn)(void *))
{
	struct passwd_entry	 e;
	struct hashcost		*hc;
	char			 hash[256];
	const char		*why;
	pthread_t		 t;
	size_t			 i;

	pgcfg = cfg;
	nslots = (size_t)cfg->pg_pool;
	slots = xcalloc(nslots, sizeof(*slots));
	for (i = 0; i < nslots; i++)
		slots[i].fpass = slots[i].fhome = slots[i].fexp = -1;
	/* The reference: a yescrypt hash as pop3ctl writes, timed; the
	   classes of the rows are added as logins bring them. */
	if (passwd_hash("reference: never a password", hash,
	    sizeof(hash)) == 0 &&
	    passwd_entry_fields(&e, "reference", hash, NULL, NULL, &why) == 0) {
		(void)sample_add(&e);
		passwd_entry_clear(&e);
	}
	explicit_bzero(hash, sizeof(hash));
	hc = hashcost_new(&sampledb);
	for (i = 0; i < nslots; i++)
		if (pthread_create(&t, NULL, pool_fn, (void *)(uintptr_t)i) !=
		    0)
			fatalx("cannot start pgsql threads");
	log_info("pgsql accounts pool=%zu timeout=%llds failure_cost=%s",
	    nslots, cfg->pg_timeout, hashcost_dummy_class(hc, hash,
	    sizeof(hash)));
	return hc;
}

static void
state_down(const char *why)
{
	pthread_mutex_lock(&stlock);
	if (!down)
		log_err("pgsql: database unavailable: %s", why);
	down = 1;
	fail_ms = pgsql_now_ms();
	pthread_mutex_unlock(&stlock);
}

static void
state_up(void)
{
	pthread_mutex_lock(&stlock);
	if (down || !seen)
		log_info("pgsql: database available%s", seen ? " again" : "");
	down = 0;
	seen = 1;
	pthread_mutex_unlock(&stlock);
}

int
authpg_ready(void)
{
	int	r;

	pthread_mutex_lock(&stlock);
	r = !down || pgsql_now_ms() - fail_ms >= AUTHPG_RETRY_MS;
	pthread_mutex_unlock(&stlock);
	return r;
}

/* Whether a complaint last made at *last is due again (then now). */
static int
nag_due(long long *last)
{
	long long	now = pgsql_now_ms();
	int		due;

	pthread_mutex_lock(&stlock);
	if ((due = now - *last >= AUTHPG_NAG_MS))
		*last = now;
	pthread_mutex_unlock(&stlock);
	return due;
}

long long
authpg_stamp(void)
{
	return pgsql_now_ms();
}

int
authpg_late(long long stamp)
{
	if (pgsql_now_ms() - stamp <= pgcfg->pg_timeout * 1000)
		return 0;
	if (nag_due(&late_ms))
		log_warn("pgsql: logins waited longer than timeout for a pool "
		    "thread, answered [SYS/TEMP] (database slow, or pool too "
		    "small)");
	return 1;
}

/*
 * Whether this thread may connect now: 1; while down, one thread when
 * due: 2 (it is the probe, and calls probe_done); else 0.
 */
static int
may_connect(void)
{
	int	r = 1;

	pthread_mutex_lock(&stlock);
	if (down) {
		if (probing || pgsql_now_ms() - fail_ms < AUTHPG_RETRY_MS)
			r = 0;
		else {
			probing = 1;
			r = 2;
		}
	}
	pthread_mutex_unlock(&stlock);
	return r;
}

static void
probe_done(void)
{
	pthread_mutex_lock(&stlock);
	probing = 0;
	pthread_mutex_unlock(&stlock);
}

/*
 * The server's NOTICE and WARNING messages (a RAISE in a function the
 * query calls): to the debug log, one line, escaped, cut to a line's
 * room - never raw to stderr, libpq's default.
 */
static void
notice(void *arg, const char *msg)
{
	char	esc[512];
	size_t	n = strlen(msg);

	(void)arg;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	log_escape(msg, n, esc, sizeof(esc));
	log_debug("pgsql: server notice: %s", esc);
}

/* Connects slot s and prepares the query.  0, or -1 with err. */
static int
slot_open(struct slot *s, char *err, size_t errlen)
{
	PGresult	*d;
	int		 broken;

	/* The connect has its timeout per address (a silent host is
	   passed over for the next); the prepare and describe, one. */
	if ((s->c = pgsql_connect(pgcfg, "pop3d", err, errlen)) == NULL)
		return -1;
	(void)PQsetNoticeProcessor(s->c, notice, NULL);
	if ((d = pgsql_prepare(s->c, AUTHPG_STMT, pgcfg->pg_user_query, 1,
	    (int)(pgcfg->pg_timeout * 1000), &broken, err, errlen)) == NULL) {
		PQfinish(s->c);
		s->c = NULL;
		return -1;
	}
	if (PQnfields(d) == 0) {
		snprintf(err, errlen, "user_query returns no column");
		PQclear(d);
		PQfinish(s->c);
		s->c = NULL;
		return -1;
	}
	if ((s->fpass = PQfnumber(d, "password")) < 0)
		s->fpass = 0;
	s->fhome = PQfnumber(d, "home");
	s->fexp = PQfnumber(d, "expire_days");
	PQclear(d);
	/* Any user may have any expire_days: CAPA says "EXPIRE 0 USER". */
	if (s->fexp >= 0)
		auth_set_user_expire(1, 0);
	return 0;
}

static const char *
col(const PGresult *r, int f)
{
	return f >= 0 && !PQgetisnull(r, 0, f) ? PQgetvalue(r, 0, f) : NULL;
}

/* The row of r (one at most) into e. */
static enum authpg_res
row_entry(const struct slot *s, PGresult *r, const char *user,
    struct passwd_entry *e)
{
	char		 esc[POP3_USER_MAX * 4 + 8];
	const char	*hash, *why;

	log_escape(user, strlen(user), esc, sizeof(esc));
	if (PQntuples(r) > 1) {
		/* Every login of that user: said once a minute. */
		if (nag_due(&rows_ms))
			log_err("pgsql: user_query gives %d rows for user %s",
			    PQntuples(r), esc);
		return AUTHPG_DOWN;
	}
	if (PQntuples(r) == 0 || (hash = col(r, s->fpass)) == NULL)
		return AUTHPG_NOUSER;
	if (passwd_entry_fields(e, user, hash, col(r, s->fhome),
	    col(r, s->fexp), &why) == -1) {
		log_warn("pgsql: user %s: %s", esc, why);
		return AUTHPG_NOUSER;
	}
	if (e->warn != NULL)
		log_warn("pgsql: user %s: %s", esc, e->warn);
	return AUTHPG_FOUND;
}

void
authpg_go(void)
{
	pthread_mutex_lock(&stlock);
	going = 1;
	pthread_cond_broadcast(&gocond);
	pthread_mutex_unlock(&stlock);
}

void
authpg_open(size_t slot)
{
	struct slot	*s = &slots[slot];
	char		 err[PGSQL_ERR_MAX];
	int		 rc, probe;

	/* Not before the filter: a call it lacks must show in the tests,
	   never depend on whether a connect was quicker than the setup. */
	pthread_mutex_lock(&stlock);
	while (!going)
		pthread_cond_wait(&gocond, &stlock);
	pthread_mutex_unlock(&stlock);
	if (s->c != NULL || (probe = may_connect()) == 0)
		return;
	rc = slot_open(s, err, sizeof(err));
	if (probe == 2)
		probe_done();
	if (rc == -1)
		state_down(err);
	else
		state_up();
}

enum authpg_res
authpg_lookup(size_t slot, const char *user, struct passwd_entry *e)
{
	struct slot	*s = &slots[slot];
	PGresult	*r = NULL;
	char		 err[PGSQL_ERR_MAX];
	enum authpg_res	 res;
	int		 attempt, broken, fresh, rc, probe;

	memset(e, 0, sizeof(*e));
	for (attempt = 0; attempt < 2 && r == NULL; attempt++) {
		fresh = 0;
		if (s->c == NULL) {
			if ((probe = may_connect()) == 0)
				return AUTHPG_DOWN;
			rc = slot_open(s, err, sizeof(err));
			if (probe == 2)	/* only the probe's own flag */
				probe_done();
			if (rc == -1) {
				state_down(err);
				return AUTHPG_DOWN;
			}
			fresh = 1;
		}
		r = pgsql_exec(s->c, AUTHPG_STMT, NULL, 1, &user,
		    (int)pgcfg->pg_timeout * 1000, &broken, err, sizeof(err));
		if (r != NULL)
			break;
		/* Refused on a connection just made and prepared: this user's
		   row (a cast, a RAISE, a subquery of two rows), not the
		   database - this login fails, the others go on. */
		if (fresh && broken == 0) {
			if (nag_due(&stmt_ms))
				log_err("pgsql: user_query failed: %s (that "
				    "login: [SYS/TEMP])", err);
			return AUTHPG_DOWN;
		}
		/* Any error closes the connection: a statement the server
		   refused (the table changed under the prepared query: "cached
		   plan must not change result type") would fail again on it. */
		PQfinish(s->c);
		s->c = NULL;
		/* An old connection that broke (the server restarted, an
		   idle timeout) or whose statement failed gets one more try
		   on a new one; a database too slow to answer does not get a
		   second wait. */
		if (broken == PGSQL_TIMEDOUT || fresh) {
			state_down(err);
			return AUTHPG_DOWN;
		}
	}
	if (r == NULL)
		return AUTHPG_DOWN;
	state_up();
	res = row_entry(s, r, user, e);
	pgsql_wipe(r);
	PQclear(r);
	return res;
}

void
authpg_learn(const struct passwd_entry *e, pthread_rwlock_t *lk,
    struct hashcost **hcp)
{
	struct hashcost	*nhc, *ohc;
	char		 cls[64];
	int		 known;

	pthread_rwlock_rdlock(lk);
	known = hashcost_knows(*hcp, e);
	pthread_rwlock_unlock(lk);
	if (known)
		return;
	pthread_mutex_lock(&learnlock);
	/* Another thread may have timed it meanwhile. */
	pthread_rwlock_rdlock(lk);
	known = hashcost_knows(*hcp, e);
	pthread_rwlock_unlock(lk);
	if (!known && sample_add(e) == 0) {
		/* Slow (every class timed again): outside lk, as a load. */
		nhc = hashcost_new(&sampledb);
		pthread_rwlock_wrlock(lk);
		ohc = *hcp;
		*hcp = nhc;
		pthread_rwlock_unlock(lk);
		hashcost_free(ohc);
		log_info("pgsql: a new hash class, failure_cost=%s",
		    hashcost_dummy_class(nhc, cls, sizeof(cls)));
	}
	pthread_mutex_unlock(&learnlock);
}
