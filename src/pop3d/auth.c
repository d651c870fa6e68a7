/*
 * auth.c - the auth process.  Runs as auth_user; with the passwd-file
 * it never touches the network.  The main thread polls the master's
 * control channel and one channel per worker; requests go to a queue
 * that a few threads drain, because a yescrypt check takes milliseconds
 * and must not stall the others.  Each request is checked (a banned
 * address), verified (the passwd-file, loaded here; or, with backend =
 * pgsql, handed to a second queue whose pool threads check the ban
 * again and ask PostgreSQL, auth_pgsql.c, so a slow database holds up
 * no ban or penalty answer; one that waited past the timeout there is
 * [SYS/TEMP]),
 * recorded and answered; the failure counters are penalty.c's, one
 * table for every worker, so a brute-force attempt is slowed no matter
 * which worker it lands on.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "auth.h"
#include "auth_pgsql.h"
#include "auth_req.h"
#include "auth_secret.h"
#include "authcache.h"
#include "cpus.h"
#include "ipc.h"
#include "log.h"
#include "mailpath.h"
#include "metrics.h"
#include "msg.h"
#include "passwd.h"
#include "penalty.h"
#include "privsep.h"
#include "hashcost.h"
#include "sandbox.h"
#include "xmalloc.h"

#define AUTH_CHANS_MAX		256	/* worker channels, all generations */
#define AUTH_QUEUE_MAX		4096	/* requests waiting for a thread */

struct auth_conf {
	char			 passwd_file[4096];
	struct penalty_conf	 pen;
	uint64_t		 cache_ttl;
};

struct chan {
	int		 fd;
	int		 pending;	/* requests in the queue or in a thread */
	int		 dead;		/* EOF seen; close when pending == 0 */
};

struct areq {
	struct chan	*ch;
	struct auth_req	 q;		/* as the worker sent it */
	struct timespec	 t0;		/* when it came: metrics' latency */
	long long	 stamp;		/* handed to the pool (pgsql) */
	struct areq	*next;
};

/* What became of one request; each maps to one enum auth_result, and
   in this order to enum metrics_login. */
enum auth_verdict {
	AV_OK,			/* the secret is right, the login allowed */
	AV_FAILED,		/* bad password, unknown or locked user */
	AV_BANNED,		/* the address is banned (not verified) */
	AV_LOGIN_DELAY,		/* right, but the last login is too recent */
	AV_TEMPFAIL,		/* no passwd-file loaded, or the database
				   did not answer (not counted) */
};
_Static_assert((int)AV_LOGIN_DELAY == METRICS_LOGIN_DELAY &&
    (int)AV_TEMPFAIL == METRICS_LOGIN_TEMPFAIL, "verdicts as metrics");

/* Lines named at a load for a field left out (the rest: not logged). */
#define AUTH_LOAD_WARN_MAX	20

/* Requests waiting for a thread: the hash threads', the pool's. */
struct aqueue {
	struct areq	*head, *tail;
	size_t		 len;
	pthread_cond_t	 cond;
};

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;	/* queues, chans, conf */
static struct aqueue	 hashq = { NULL, NULL, 0, PTHREAD_COND_INITIALIZER };
static struct aqueue	 dbq = { NULL, NULL, 0, PTHREAD_COND_INITIALIZER };
static int		 use_pgsql;	/* backend = pgsql (fixed at start) */
static struct chan	*chans[AUTH_CHANS_MAX];	/* pointers: jobs hold them */
static size_t		 nchans;
static char		 passwd_file[sizeof(((struct auth_conf *)0)->passwd_file)];

static pthread_mutex_t	 reflock = PTHREAD_MUTEX_INITIALIZER;	/* db_st, loads */
static pthread_rwlock_t	 dblock = PTHREAD_RWLOCK_INITIALIZER;
static struct passwd_db	 db;
static struct hashcost *hcost;	/* what a failed login costs */
static int		 db_ok;
static struct stat	 db_st;

/*
 * Loads the passwd-file if it changed: a stat for every request, so the
 * login after an edit (pop3ctl renames a new file into place: a new
 * inode) sees it.  Any thread; loads are one at a time, and requests
 * wait for the one under way.
 */
static void
db_refresh(int force)
{
	struct passwd_db	 ndb;
	struct stat		 st;
	char			*err = NULL;
	char			 path[sizeof(passwd_file)];
	struct hashcost		*nhc, *ohc;
	char			 cls[64], esc[POP3_USER_MAX * 4 + 8];
	size_t			 i, nwarn;
	uint32_t		 uexp, umin;

	pthread_mutex_lock(&reflock);
	pthread_mutex_lock(&lock);
	memcpy(path, passwd_file, strlen(passwd_file) + 1);
	pthread_mutex_unlock(&lock);
	if (stat(path, &st) == -1) {
		if (db_ok || force)
			log_err("passwd_file %s: %s", path, strerror(errno));
		pthread_rwlock_wrlock(&dblock);
		db_ok = 0;
		pthread_rwlock_unlock(&dblock);
		memset(&db_st, 0, sizeof(db_st));
		goto out;
	}
	/* Two edits in one second with the same size differ in inode or
	   in the nanoseconds of the time.  A file that did not load is not
	   tried again until it changes either (db_st is its stat then). */
	if (!force && st.st_ino == db_st.st_ino &&
	    st.st_dev == db_st.st_dev && st.st_size == db_st.st_size &&
	    st.st_mtim.tv_sec == db_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == db_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == db_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == db_st.st_ctim.tv_nsec)
		goto out;
	memset(&ndb, 0, sizeof(ndb));
	if (passwd_db_load(&ndb, path, &err) == -1) {
		/* Keep serving with the old data; say why once per change. */
		log_err("passwd_file not loaded: %s", err);
		free(err);
		db_st = st;
		goto out;
	}
	/* A bad home or expire_days leaves that field out; say so. */
	for (i = 0, nwarn = 0, uexp = 0, umin = UINT32_MAX; i < ndb.n; i++) {
		if (ndb.v[i].expire_days != -1)
			uexp = 1;
		if (ndb.v[i].expire_days >= 0 &&
		    (uint32_t)ndb.v[i].expire_days < umin)
			umin = (uint32_t)ndb.v[i].expire_days;
		if (ndb.v[i].warn != NULL && nwarn < AUTH_LOAD_WARN_MAX) {
			log_escape(ndb.v[i].user, strlen(ndb.v[i].user), esc,
			    sizeof(esc));
			log_warn("passwd_file %s: user %s: %s", path, esc,
			    ndb.v[i].warn);
			nwarn++;
		}
	}
	auth_set_user_expire(uexp, umin);
	/* Timed before dblock: requests already past db_refresh() verify
	   meanwhile; new ones wait on reflock, as for the load itself. */
	nhc = hashcost_new(&ndb);
	pthread_rwlock_wrlock(&dblock);
	passwd_db_free(&db);
	db = ndb;
	db_ok = 1;
	db_st = st;
	ohc = hcost;
	hcost = nhc;
	pthread_rwlock_unlock(&dblock);
	hashcost_free(ohc);
	log_info("passwd_file loaded path=%s users=%zu failure_cost=%s", path,
	    db.n, hashcost_dummy_class(nhc, cls, sizeof(cls)));
out:
	pthread_mutex_unlock(&reflock);
}

static const char *
mech_str(uint32_t mech)
{
	switch (mech) {
	case AUTH_MECH_PASS:
		return "USER";
	case AUTH_MECH_PLAIN:
		return "PLAIN";
	case AUTH_MECH_APOP:
		return "APOP";
	}
	return "?";
}

/* What the worker needs of a user who logged in (IPC_AUTH_RES). */
struct auth_user {
	char		home[POP3_HOME_MAX];
	uint32_t	expire_days;
	int		cached;		/* answered by the credential cache */
};

/* Sends the answer to a request: IPC_AUTH_RES (u may be NULL). */
static int
send_result(int fd, uint64_t sid, enum auth_result result, uint32_t delay,
    const struct auth_user *u)
{
	struct msg	m;

	auth_res_encode(&m, sid, result, delay, u != NULL ? u->home : NULL,
	    u != NULL ? u->expire_days : AUTH_EXPIRE_UNSET);
	return msg_send(fd, &m);
}

/* The user settings of e into u. */
static void
user_settings(const struct passwd_entry *e, struct auth_user *u)
{
	snprintf(u->home, sizeof(u->home), "%s",
	    e->home != NULL && strlen(e->home) < sizeof(u->home) ?
	    e->home : "");
	u->expire_days = e->expire_days == -1 ? AUTH_EXPIRE_UNSET :
	    e->expire_days == -2 ? AUTH_EXPIRE_NEVER :
	    (uint32_t)e->expire_days;
}

/* Step 1: refused before any secret is looked at?  AV_OK: go on. */
static enum auth_verdict
step_check(const struct areq *r, time_t now)
{
	switch (penalty_check(r->q.rip, r->q.user, now)) {
	case PENALTY_PASS:
		break;
	case PENALTY_BANNED:
		return AV_BANNED;
	}
	return AV_OK;
}

/*
 * The secret of r against e (NULL: no such user): auth_secret_check.
 * Under dblock (hcost).  1 if right (u filled), else 0.
 */
static int
check_secret(const struct areq *r, const struct passwd_entry *e,
    struct auth_user *u)
{
	int	ok;

	if ((ok = auth_secret_check(&r->q, e, hcost, &u->cached)) == 1)
		user_settings(e, u);
	return ok;
}

/* Step 2: the secret against the passwd-file. */
static enum auth_verdict
step_verify(const struct areq *r, struct auth_user *u)
{
	const struct passwd_entry	*e = NULL;
	int				 ok, valid;

	/* The answer follows the file as it is now: an edit that is done
	   (pop3ctl has returned) counts for this request. */
	db_refresh(0);
	valid = passwd_valid_user(r->q.user, strlen(r->q.user));
	pthread_rwlock_rdlock(&dblock);
	if (!db_ok) {
		pthread_rwlock_unlock(&dblock);
		return AV_TEMPFAIL;
	}
	if (valid)
		e = passwd_db_find(&db, r->q.user);
	ok = check_secret(r, e, u);
	pthread_rwlock_unlock(&dblock);
	return ok ? AV_OK : AV_FAILED;
}

/* Step 2 with backend = pgsql, on pool thread slot: the row, the secret. */
static enum auth_verdict
step_verify_pgsql(const struct areq *r, size_t slot, struct auth_user *u)
{
	struct passwd_entry	 e;
	enum authpg_res		 res = AUTHPG_NOUSER;
	int			 ok;

	if (passwd_valid_user(r->q.user, strlen(r->q.user)))
		res = authpg_lookup(slot, r->q.user, &e);
	if (res == AUTHPG_DOWN)
		return AV_TEMPFAIL;
	if (res == AUTHPG_FOUND)
		authpg_learn(&e, &dblock, &hcost);
	pthread_rwlock_rdlock(&dblock);
	ok = check_secret(r, res == AUTHPG_FOUND ? &e : NULL, u);
	pthread_rwlock_unlock(&dblock);
	if (res == AUTHPG_FOUND)
		passwd_entry_clear(&e);
	return ok ? AV_OK : AV_FAILED;
}

/* Step 3: the outcome of a verification goes into the failure table. */
static enum auth_verdict
step_record(const struct areq *r, enum auth_verdict v, time_t now,
    uint32_t *fails, uint32_t *delay)
{
	if (v == AV_OK)
		return penalty_record_success(r->q.rip, r->q.user, now) == -1 ?
		    AV_LOGIN_DELAY : AV_OK;
	*fails = penalty_record_failure(r->q.rip, r->q.user, now, delay);
	return AV_FAILED;
}

/* Step 4: the log line, and the answer with the delay the worker waits
   before passing a refusal on. */
static void
step_reply(const struct areq *r, enum auth_verdict v, uint32_t fails,
    uint32_t delay, const struct auth_user *u)
{
	char			 esc[POP3_USER_MAX * 4 + 8];
	enum auth_result	 result = AUTH_RES_FAIL;

	log_escape(r->q.user, strlen(r->q.user), esc, sizeof(esc));
	switch (v) {
	case AV_OK:
		result = AUTH_RES_OK;
		log_info(SID_FMT " auth ok user=%s rip=%s mech=%s%s",
		    SID_ARG(r->q.sid), esc, r->q.rip, mech_str(r->q.mech),
		    u->cached ? " cached=yes" : "");
		break;
	case AV_FAILED:
		result = AUTH_RES_FAIL;
		/* fail2ban: "auth failed user=\S* rip=<HOST>" */
		log_warn(SID_FMT " auth failed user=%s rip=%s mech=%s fails=%u",
		    SID_ARG(r->q.sid), esc, r->q.rip, mech_str(r->q.mech),
		    fails);
		break;
	case AV_BANNED:
		result = AUTH_RES_BANNED;
		delay = penalty_delay(1);
		log_info(SID_FMT " auth refused user=%s rip=%s reason=banned",
		    SID_ARG(r->q.sid), esc, r->q.rip);
		break;
	case AV_LOGIN_DELAY:
		result = AUTH_RES_LOGIN_DELAY;
		log_info(SID_FMT " auth refused user=%s rip=%s reason=login_delay",
		    SID_ARG(r->q.sid), esc, r->q.rip);
		break;
	case AV_TEMPFAIL:
		result = AUTH_RES_TEMPFAIL;
		/* The database's outage is logged once (auth_pgsql.c). */
		if (use_pgsql)
			log_debug(SID_FMT " auth tempfail user=%s rip=%s "
			    "reason=pgsql", SID_ARG(r->q.sid), esc, r->q.rip);
		else
			log_err(SID_FMT " auth tempfail user=%s rip=%s "
			    "reason=passwd_file", SID_ARG(r->q.sid), esc,
			    r->q.rip);
		break;
	}
	/* Counted first: a scrape after the client's next step sees it. */
	metrics_login((enum metrics_login)v, &r->t0);
	if (send_result(r->ch->fd, r->q.sid, result, delay,
	    result == AUTH_RES_OK ? u : NULL) == -1 &&
	    errno != EPIPE)
		log_warn("auth reply: %s", strerror(errno));
}

/* Appends r to q; 0 if q is full.  Under lock. */
static int
queue_push(struct aqueue *q, struct areq *r)
{
	if (q->len >= AUTH_QUEUE_MAX)
		return 0;
	r->next = NULL;
	if (q->tail != NULL)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->len++;
	pthread_cond_signal(&q->cond);
	return 1;
}

/* The next request of q, waiting for one. */
static struct areq *
queue_pop(struct aqueue *q)
{
	struct areq	*r;

	pthread_mutex_lock(&lock);
	while (q->head == NULL)
		pthread_cond_wait(&q->cond, &lock);
	r = q->head;
	q->head = r->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->len--;
	pthread_mutex_unlock(&lock);
	return r;
}

/* r is answered: its channel may close, its secret goes. */
static void
request_done(struct areq *r)
{
	pthread_mutex_lock(&lock);
	r->ch->pending--;
	pthread_mutex_unlock(&lock);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

/*
 * One request, on a hash thread: check, verify, record, reply.  With
 * pgsql the verification is the pool's (pool_main): returns 1 when r
 * went there, else 0 (answered).
 */
static int
process(struct areq *r)
{
	enum auth_verdict	 v;
	struct auth_user	 u;
	uint32_t		 fails = 0, delay = 0;
	time_t			 now = time(NULL);
	int			 queued = 0;

	memset(&u, 0, sizeof(u));
	if ((v = step_check(r, now)) == AV_OK && use_pgsql) {
		/* A database known to be down is not waited for. */
		if (authpg_ready()) {
			r->stamp = authpg_stamp();
			pthread_mutex_lock(&lock);
			queued = queue_push(&dbq, r);
			pthread_mutex_unlock(&lock);
		}
		if (queued)
			return 1;
		v = AV_TEMPFAIL;
	} else if (v == AV_OK && (v = step_verify(r, &u)) != AV_TEMPFAIL)
		v = step_record(r, v, now, &fails, &delay);
	step_reply(r, v, fails, delay, &u);
	return 0;
}

static void *
thread_main(void *arg)
{
	struct areq	*r;

	for (;;) {
		r = queue_pop(&hashq);
		if (process(r) == 0)
			request_done(r);
	}
	return NULL;
}

/* A pool thread (backend = pgsql): its own connection, slot arg. */
static void *
pool_main(void *arg)
{
	size_t			 slot = (size_t)(uintptr_t)arg;
	enum auth_verdict	 v;
	struct auth_user	 u;
	struct areq		*r;
	uint32_t		 fails, delay;

	authpg_open(slot);
	for (;;) {
		r = queue_pop(&dbq);
		memset(&u, 0, sizeof(u));
		fails = delay = 0;
		/* Checked again: failures verified while r waited may have
		   banned its address (or its user) since. */
		if (authpg_late(r->stamp))
			v = AV_TEMPFAIL;
		else if ((v = step_check(r, time(NULL))) == AV_OK &&
		    (v = step_verify_pgsql(r, slot, &u)) != AV_TEMPFAIL)
			v = step_record(r, v, time(NULL), &fails, &delay);
		step_reply(r, v, fails, delay, &u);
		explicit_bzero(&u, sizeof(u));
		request_done(r);
	}
	return NULL;
}

/* Reads one request from a worker channel.  Returns -1 on EOF/error. */
static int
read_request(struct chan *ch)
{
	struct msg	 m;
	struct areq	*r;
	uint64_t	 sid;
	long		 n;

	n = msg_recv(ch->fd, &m);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	r = xcalloc(1, sizeof(*r));
	if (auth_req_decode(&m, &r->q) == -1) {
		/* A worker is unprivileged but ours: a bug, or taken over. */
		msg_wipe(&m);
		free(r);
		log_err("malformed request from a worker; dropping its channel");
		return -1;
	}
	msg_wipe(&m);
	sid = r->q.sid;
	r->ch = ch;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	pthread_mutex_lock(&lock);
	if (!queue_push(&hashq, r)) {
		pthread_mutex_unlock(&lock);
		/* Overloaded: answer at once rather than queue without bound. */
		metrics_login(METRICS_LOGIN_TEMPFAIL, &r->t0);
		(void)send_result(ch->fd, sid, AUTH_RES_TEMPFAIL, 0, NULL);
		explicit_bzero(r, sizeof(*r));
		free(r);
		return 0;
	}
	ch->pending++;
	pthread_mutex_unlock(&lock);
	return 0;
}

/*
 * Puts settings into effect (start, and each IPC_AUTH_CONF).  Returns 1
 * if passwd_file is another file than before, else 0.
 */
static int
conf_apply(const struct auth_conf *c)
{
	int	changed;

	authcache_init(c->cache_ttl);
	penalty_configure(&c->pen);
	pthread_mutex_lock(&lock);
	changed = strcmp(passwd_file, c->passwd_file) != 0;
	memcpy(passwd_file, c->passwd_file, sizeof(passwd_file));
	pthread_mutex_unlock(&lock);
	return changed;
}

static int
read_conf(struct msg *m)
{
	struct auth_conf c;
	uint32_t	 v6;

	memset(&c, 0, sizeof(c));
	if (msg_get_str(m, c.passwd_file, sizeof(c.passwd_file)) == -1 ||
	    msg_get_u64(m, &c.pen.fail_delay_ms) == -1 ||
	    msg_get_u64(m, &c.pen.fail_delay_max_ms) == -1 ||
	    msg_get_u64(m, &c.pen.ban_threshold) == -1 ||
	    msg_get_u64(m, &c.pen.ban_time) == -1 ||
	    msg_get_u64(m, &c.pen.login_delay) == -1 ||
	    msg_get_u64(m, &c.pen.user_fail_limit) == -1 ||
	    msg_get_u64(m, &c.pen.table_max) == -1 ||
	    msg_get_u32(m, &v6) == -1 ||
	    msg_get_u64(m, &c.cache_ttl) == -1 || msg_end(m) == -1)
		return -1;
	c.pen.ipv6_prefix = (int)v6;
	return conf_apply(&c);
}

/* The master sends settings (a message) or a worker channel (an fd). */
static void
read_ctl(int ctlfd)
{
	struct msg	m;
	uint32_t	type;
	uint64_t	sid;
	int		fd = -1;
	long		n;

	n = msg_recv_fd(ctlfd, &m, &fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		_exit(0);	/* the master is gone: nothing left to serve */
	if (msg_begin(&m, &type, &sid) == -1)
		fatalx("control channel: malformed message");
	if (type == IPC_AUTH_CONF) {
		if (fd != -1)
			close(fd);
		switch (read_conf(&m)) {
		case -1:
			fatalx("control channel: malformed settings");
		case 1:
			if (!use_pgsql)
				db_refresh(1);	/* another passwd_file */
			break;
		}
		return;
	}
	if (type != IPC_CHAN || fd == -1 || msg_end(&m) == -1)
		fatalx("control channel: unexpected message type %u", type);
	pthread_mutex_lock(&lock);
	if (nchans >= AUTH_CHANS_MAX) {
		pthread_mutex_unlock(&lock);
		log_err("too many worker channels; refusing one");
		close(fd);
		return;
	}
	chans[nchans] = xcalloc(1, sizeof(struct chan));
	chans[nchans]->fd = fd;
	nchans++;
	pthread_mutex_unlock(&lock);
}

int
auth_send_conf(int ctlfd, const struct config *cfg)
{
	struct msg	m;

	msg_init(&m, IPC_AUTH_CONF, 0);
	msg_put_str(&m, cfg->passwd_file);
	msg_put_u64(&m, (uint64_t)cfg->fail_delay_ms);
	msg_put_u64(&m, (uint64_t)cfg->fail_delay_max_ms);
	msg_put_u64(&m, (uint64_t)cfg->ban_threshold);
	msg_put_u64(&m, (uint64_t)cfg->ban_time);
	msg_put_u64(&m, (uint64_t)cfg->login_delay);
	msg_put_u64(&m, (uint64_t)cfg->user_fail_limit);
	msg_put_u64(&m, (uint64_t)cfg->fail_table_max);
	msg_put_u32(&m, (uint32_t)cfg->ipv6_prefix);
	msg_put_u64(&m, (uint64_t)cfg->auth_cache_ttl);
	return msg_send(ctlfd, &m);
}

/* Closes channels whose worker is gone once no thread still answers on them. */
static void
reap_chans(void)
{
	size_t	i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nchans; ) {
		if (chans[i]->dead && chans[i]->pending == 0) {
			close(chans[i]->fd);
			free(chans[i]);
			chans[i] = chans[--nchans];
		} else
			i++;
	}
	pthread_mutex_unlock(&lock);
}

void
auth_main(const struct config *cfg, int ctlfd)
{
	struct auth_conf c;
	struct pollfd	 pfd[AUTH_CHANS_MAX + 1];
	struct chan	*map[AUTH_CHANS_MAX + 1];
	pthread_t	 t;
	const char	*errstr;
	time_t		 last_check = 0;
	size_t		 i, n, nb;
	long long	 k, nthreads;

	log_role("auth");
	/*
	 * Ctrl-C, or a pkill of every pop3d, reaches us too: the master
	 * decides when auth ends, by closing the control channel.
	 */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	if (privsep_drop(cfg->auth_user, &errstr) == -1)
		fatalx("auth_user %s: %s", cfg->auth_user, errstr);
	privsep_die_with_parent(SIGKILL);

	memset(&c, 0, sizeof(c));
	snprintf(c.passwd_file, sizeof(c.passwd_file), "%s",
	    cfg->passwd_file != NULL ? cfg->passwd_file : "");
	c.pen.fail_delay_ms = (uint64_t)cfg->fail_delay_ms;
	c.pen.fail_delay_max_ms = (uint64_t)cfg->fail_delay_max_ms;
	c.pen.ban_threshold = (uint64_t)cfg->ban_threshold;
	c.pen.ban_time = (uint64_t)cfg->ban_time;
	c.pen.login_delay = (uint64_t)cfg->login_delay;
	c.pen.user_fail_limit = (uint64_t)cfg->user_fail_limit;
	c.pen.table_max = (uint64_t)cfg->fail_table_max;
	c.pen.ipv6_prefix = (int)cfg->ipv6_prefix;
	c.cache_ttl = (uint64_t)cfg->auth_cache_ttl;
	(void)conf_apply(&c);
	if ((nb = penalty_bans_restore(time(NULL))) > 0)
		log_info("auth bans restored=%zu", nb);
	if (cfg->auth_backend == AUTH_BACKEND_PGSQL) {
		use_pgsql = 1;
		hcost = authpg_start(cfg, pool_main);
	} else
		db_refresh(1);

	/* One hash at a time per thread: by default one per core. */
	if ((nthreads = cfg->auth_threads) == 0)
		nthreads = cpus_usable(64);
	for (k = 0; k < nthreads; k++)
		if (pthread_create(&t, NULL, thread_main, NULL) != 0)
			fatalx("cannot start auth threads");
	if (sandbox_enter(use_pgsql ? SANDBOX_AUTH_PGSQL : SANDBOX_AUTH,
	    cfg->sandbox, &errstr) == -1)
		fatalx("sandbox: %s", errstr);
	if (use_pgsql)
		authpg_go();

	for (;;) {
		pfd[0].fd = ctlfd;
		pfd[0].events = POLLIN;
		n = 1;
		pthread_mutex_lock(&lock);
		for (i = 0; i < nchans; i++) {
			if (chans[i]->dead)
				continue;
			pfd[n].fd = chans[i]->fd;
			pfd[n].events = POLLIN;
			map[n] = chans[i];
			n++;
		}
		pthread_mutex_unlock(&lock);
		if (poll(pfd, n, 1000) == -1 && errno != EINTR)
			fatal("poll");
		/* Requests check the file themselves; this loads a change
		   (and logs it) within a second when no request comes. */
		if (!use_pgsql && time(NULL) != last_check) {
			last_check = time(NULL);
			db_refresh(0);
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				if (read_request(map[i]) == -1) {
					pthread_mutex_lock(&lock);
					map[i]->dead = 1;
					pthread_mutex_unlock(&lock);
				}
		/* Last: map[] must stay valid until here. */
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_ctl(ctlfd);
		reap_chans();
	}
}
