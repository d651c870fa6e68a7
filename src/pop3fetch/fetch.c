/*
 * fetch.c - pop3fetch's client state machine (curl lib/pop3.c):
 * perform_<cmd>() queues a command and enters its state, resp_<state>()
 * handles the reply; fetch_enter_state() is the only writer of the state
 * and traces it (fetch_io.c, with the command and reply I/O).  Blocking
 * I/O with timeouts (net.c).  The way in (connect, TLS, CAPA, login) is
 * fetch_login.c's, the message list (STAT, UIDL, LIST) fetch_list.c's;
 * here the session's course, and the plan, RETR, delivery, commit and
 * DELE that make it exactly-once.
 *
 * Exactly-once.  Steps for a Maildir, per message: (1) RETR into memory;
 * (2) write tmp/F (F carrying the key SHA-256(account, UIDL)) and start
 * its writeback.  Per batch of up to FETCH_BATCH_MAX messages, once no
 * RETR is in flight or the batch is full: (3) for each F, fsync F, then
 * rename tmp/F to new/F; (4) fsync new/ once; (5) one SQLite transaction
 * marks the batch "done", durable on commit (WAL, synchronous = FULL);
 * (6) the batch's DELEs; (7) QUIT, with which the server deletes.  The
 * fsyncs of (3) mostly share one journal commit.  Two rules:
 *   A. A DELE is sent only after (4): every message the server may delete
 *      has its content and name on disk.  Nothing is lost.
 *   B. Every run, before fetching, looks up each UIDL the server lists
 *      that is not recorded "done" by its key in the destination (one
 *      scan of new/ and cur/, or of the mbox's From_ lines, into a sorted
 *      set); a key found is recorded "done" and not fetched.  A message
 *      is fetched again only if neither a "done" row nor a file with its
 *      key exists.  So no state write is the only record of a delivery.
 * Crash points (kill -9 keeps what was written; power loss may undo any
 * write not yet fsynced):
 *   - before F's rename in (3): no file in new/ (perhaps one in tmp/,
 *     never read, removed by the next run), no row, no DELE: the next
 *     run fetches it, once.
 *   - between F's rename and (4): kill -9 keeps the rename: B finds it.
 *     Power loss keeps it (the file was fsynced, so it is whole: B finds
 *     it) or undoes it (no file: fetched again, once).  No DELE was sent.
 *   - between (4) and the commit of (5): the file is durable, the row
 *     missing: B finds the key.  No DELE was sent.
 *   - after (5), before QUIT is answered: rows and files durable; the
 *     server deleted nothing (RFC 1939: only QUIT commits): the next run
 *     sees "done" and, with keep = no, sends DELE again.  A row lost all
 *     the same (a deleted or restored state file) falls back to B.
 *   - after QUIT: deleted on the server, durable here.
 * Left open: a row missing (crash between (4) and (5)) for a message the
 * user moved out of new/ and cur/ before the next run, which the server
 * still has: fetched again.  The same window existed with a "pending" row.
 * mbox: (2)-(4) are one append and fsync per message under the mbox locks
 * (a failed append is truncated away); the key is in the From_ line.  A
 * kill in the append leaves the dotlock with the PID and the offset where
 * the append began; the next run's key scan takes that lock over and
 * cuts the partial record off (mbox.c), and B then finds no key: the
 * message is fetched again, once.  A whole record counts, done or not.
 * MDA (cannot be asked): a "pending" row, durable, before the MDA starts;
 * exit status 0; "done", durable, before the DELE (a batch of one).  A
 * crash in between leaves "pending": the next run warns and delivers
 * again with the same POP3FETCH_KEY, so the MDA can drop the duplicate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "deliver.h"
#include "deliver_key.h"
#include "dot.h"
#include "fetch.h"
#include "fetch_io.h"
#include "fetch_list.h"
#include "fetch_login.h"
#include "log.h"
#include "net.h"
#include "pop3_resp.h"
#include "tls.h"
#include "uidlcache.h"
#include "xmalloc.h"

static uint64_t
fetch_limit(const struct fetch *f)
{
	return f->a->size_limit > 0 ? (uint64_t)f->a->size_limit :
	    FETCH_MSG_MAX;
}

/*
 * Whether message i, not recorded "done", is in the destination after all
 * (rule B at the top): 1, 0, or -1 (error recorded).  The keys are read
 * once, at the first call.  An MDA cannot be asked: 0, with a warning for
 * a "pending" one (its MDA run began; it is delivered again).
 */
static int
fetch_found(struct fetch *f, size_t i, enum uidl_state st, int *loaded)
{
	char	 key[DELIVER_KEY_LEN + 1], *e = NULL;

	deliver_key(f->a->name, f->msgs[i].uid, key);
	if (f->a->dest_type == FETCH_DEST_MDA) {
		if (st == UIDL_PENDING)
			log_warn("%s: message %s was being delivered to the "
			    "MDA when pop3fetch stopped; delivering it again "
			    "(POP3FETCH_KEY=%s lets the MDA drop a duplicate)",
			    f->a->name, f->msgs[i].uid, key);
		return 0;
	}
	if (!*loaded) {
		if (deliver_keys_load(f->dv, &e) == -1) {
			fetch_fail(f, EX_CANTCREAT, "%s", e);
			free(e);
			return -1;
		}
		*loaded = 1;
	}
	return deliver_has_key(f->dv, key);
}

/*
 * Decides per message: fetch, delete only (done before, keep = no or
 * old enough), or nothing.  What is found in the destination is recorded
 * "done" (one transaction).
 */
static int
fetch_plan(struct fetch *f)
{
	enum uidl_state	 st;
	int64_t		 fetched;
	time_t		 now = time(NULL);
	size_t		 i;
	int		 r, loaded = 0, intx = 0;

	f->retr = xcalloc(f->nmsgs + 1, sizeof(*f->retr));
	f->dele = xcalloc(f->nmsgs + 1, sizeof(*f->dele));
	for (i = 0; i < f->nmsgs; i++) {
		if (f->msgs[i].uid[0] == '\0')
			continue;	/* not in the UIDL answer */
		if (uidlcache_get(f->uc, f->msgs[i].uid, &st, &fetched) == -1)
			goto dberr;
		if (st != UIDL_DONE) {
			if ((r = fetch_found(f, i, st, &loaded)) == -1)
				goto fail;
			if (r == 1 && !f->o->check) {
				if (!intx && uidlcache_begin(f->uc) == -1)
					goto dberr;
				intx = 1;
				if (uidlcache_done(f->uc, f->msgs[i].uid) == -1)
					goto dberr;
			}
			if (r == 1 && st == UIDL_NONE)
				fetched = (int64_t)now;
			st = r == 1 ? UIDL_DONE : UIDL_NONE;
		}
		if (st == UIDL_DONE) {
			if (!f->a->keep || (f->a->delete_after_days > 0 &&
			    fetched <= (int64_t)now -
			    f->a->delete_after_days * 86400))
				f->dele[f->ndele++] = i;
			continue;
		}
		if (f->msgs[i].size > fetch_limit(f)) {
			f->res->skipped++;
			log_warn("%s: message %zu (%llu bytes) is over "
			    "size_limit: left on the server", f->a->name,
			    i + 1, (unsigned long long)f->msgs[i].size);
			continue;
		}
		f->retr[f->nretr++] = i;
		f->res->total_msgs++;
		f->res->total_bytes += f->msgs[i].size;
	}
	if (intx && uidlcache_commit(f->uc) == -1)
		goto dberr;
	return 0;
 dberr:
	fetch_fail(f, EX_IOERR, "state: %s", uidlcache_errstr(f->uc));
 fail:
	if (intx)
		uidlcache_rollback(f->uc);
	return -1;
}

static int
fetch_push(struct fetch *f, enum fetch_state st, size_t m)
{
	struct fetch_inflight	*q;

	q = &f->q[(f->qhead + f->qlen) % FETCH_PIPELINE_MAX];
	q->st = st;
	q->m = m;
	f->qlen++;
	fetch_enter_state(f, st);
	return 0;
}

static int
perform_retr(struct fetch *f, size_t m)
{
	fetch_push(f, FETCH_RETR, m);
	f->qretr++;
	return fetch_send(f, NULL, "RETR %zu", m + 1);
}

static int
perform_dele(struct fetch *f, size_t m)
{
	fetch_push(f, FETCH_DELE, m);
	return fetch_send(f, NULL, "DELE %zu", m + 1);
}

/* Appends a decoded body line to the message, CRLF made LF. */
static int
fetch_append(struct fetch *f, const unsigned char *p, size_t len)
{
	if (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n') {
		return buf_add(&f->msg, p, len - 2) == -1 ||
		    buf_addc(&f->msg, '\n') == -1 ? -1 : 0;
	}
	return buf_add(&f->msg, p, len);
}

static int
resp_retr(struct fetch *f, size_t m)
{
	struct pop3_resp	 r;
	struct dot_dec		 d;
	const unsigned char	*p;
	char			 key[DELIVER_KEY_LEN + 1], *e = NULL;
	char			 esc[256];
	const char		*uid = f->msgs[m].uid;
	size_t			 len;
	int			 end, over = 0;

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK) {
		log_warn("%s: RETR %zu: %s", f->a->name, m + 1,
		    fetch_text(&r, esc, sizeof(esc)));
		return 0;
	}
	buf_reset(&f->msg);
	dot_dec_init(&d);
	while ((end = fetch_body_line(f, &d, FETCH_MSG_MAX + 2, &p,
	    &len)) == 0)
		if (!over && (f->msg.len + len > fetch_limit(f) ||
		    fetch_append(f, p, len) == -1))
			over = 1;	/* read on, deliver nothing */
	if (end == -1)
		return -1;
	if (f->stop)
		return 0;	/* an earlier delivery failed: drain only */
	if (over) {
		f->res->skipped++;
		log_warn("%s: message %zu is over size_limit: left on the "
		    "server", f->a->name, m + 1);
		return 0;
	}
	deliver_key(f->a->name, uid, key);
	/* Only an MDA needs the row first: nothing else can tell later. */
	if (f->a->dest_type == FETCH_DEST_MDA &&
	    uidlcache_pending(f->uc, uid) == -1) {
		f->stop = 1;
		fetch_fail(f, EX_IOERR, "state: %s", uidlcache_errstr(f->uc));
		return 0;
	}
	if (deliver_msg(f->dv, key, uid, f->msg.data, f->msg.len, &e) == -1) {
		/* Nothing was delivered: forget it, stop, commit the rest. */
		if (f->a->dest_type == FETCH_DEST_MDA)
			(void)uidlcache_forget(f->uc, uid);
		f->stop = 1;
		fetch_fail(f, EX_CANTCREAT, "%s", e);
		free(e);
		return 0;
	}
	f->batch[f->nbatch++] = m;
	f->batch_bytes += f->msg.len;
	return 0;
}

/*
 * Makes the batch durable (one fsync of new/), records it "done" in one
 * transaction, and only then queues its DELEs (rules A and B at the top).
 * On failure nothing of the batch is deleted; the next run finds the
 * keys of what got to disk.  Sets f->stop and records the error on
 * failure.
 */
static void
fetch_commit(struct fetch *f)
{
	char	*e = NULL;
	size_t	 i, n = f->nbatch;

	if (n == 0)
		return;
	f->nbatch = 0;
	if (deliver_sync(f->dv, &e) == -1) {
		f->stop = 1;
		fetch_fail(f, EX_CANTCREAT, "%s", e);
		free(e);
		return;
	}
	f->res->fetched += n;
	f->res->bytes += f->batch_bytes;
	f->batch_bytes = 0;
	if (uidlcache_begin(f->uc) == -1)
		goto dberr;
	for (i = 0; i < n; i++)
		if (uidlcache_done(f->uc, f->msgs[f->batch[i]].uid) == -1)
			goto dberr;
	if (uidlcache_commit(f->uc) == -1)
		goto dberr;
	if (!f->a->keep)
		for (i = 0; i < n; i++)
			f->dele[f->ndele++] = f->batch[i];
	if (f->o->progress != NULL)
		f->o->progress(f->a, f->res);
	return;
 dberr:
	f->stop = 1;
	fetch_fail(f, EX_IOERR, "state: %s", uidlcache_errstr(f->uc));
	uidlcache_rollback(f->uc);
}

static int
resp_dele(struct fetch *f, size_t m)
{
	struct pop3_resp	 r;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status == POP3_RESP_OK)
		f->res->deleted++;
	else
		log_warn("%s: DELE %zu: %s", f->a->name, m + 1,
		    fetch_text(&r, esc, sizeof(esc)));
	return 0;
}

/*
 * RETR and DELE, up to window commands in flight.  Delivered messages
 * are committed (fetch_commit) in batches: when FETCH_BATCH_MAX are
 * waiting (1 for an MDA), when no RETR is in flight, and when a delivery
 * failed; a DELE goes out only for a committed message (or one done on
 * an earlier run), also after a failure, until the queue drains.
 */
static int
fetch_transfer(struct fetch *f)
{
	struct fetch_inflight	 q;
	size_t			 window = 1, bmax = FETCH_BATCH_MAX;
	int			 r;

	if (f->a->pipelining && f->capa.pipelining)
		window = FETCH_PIPELINE_MAX;
	if (f->a->dest_type == FETCH_DEST_MDA)
		bmax = 1;
	for (;;) {
		while (f->qlen < window) {
			if (f->dele_next < f->ndele) {
				if (perform_dele(f, f->dele[f->dele_next++]))
					return -1;
			} else if (!f->stop && f->retr_next < f->nretr) {
				if (perform_retr(f, f->retr[f->retr_next++]))
					return -1;
			} else
				break;
		}
		if (f->nbatch > 0 && (f->nbatch >= bmax || f->qretr == 0 ||
		    f->stop)) {
			fetch_commit(f);
			continue;
		}
		if (f->qlen == 0)
			return 0;
		q = f->q[f->qhead];
		f->qhead = (f->qhead + 1) % FETCH_PIPELINE_MAX;
		f->qlen--;
		if (q.st == FETCH_RETR)
			f->qretr--;
		r = q.st == FETCH_RETR ? resp_retr(f, q.m) : resp_dele(f, q.m);
		if (r == -1) {
			/* The connection is gone: no DELE, but keep the rows. */
			fetch_commit(f);
			return -1;
		}
	}
}

static int
perform_quit(struct fetch *f)
{
	fetch_enter_state(f, FETCH_QUIT);
	return fetch_send(f, NULL, "QUIT");
}

static int
resp_quit(struct fetch *f)
{
	struct pop3_resp	 r;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1) {
		free(f->err);
		f->err = NULL;
		return fetch_fail(f, EX_TEMPFAIL, "%s: no answer to QUIT: "
		    "the server keeps every message of this session (none "
		    "is fetched twice)", f->a->host);
	}
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_TEMPFAIL, "%s: QUIT failed (%s): the "
		    "server keeps every message of this session (none is "
		    "fetched twice)", f->a->host, fetch_text(&r, esc,
		    sizeof(esc)));
	fetch_enter_state(f, FETCH_DONE);
	return 0;
}

static int
fetch_session(struct fetch *f)
{
	if (fetch_login(f) == -1 || fetch_list(f) == -1)
		return -1;
	if (f->nmsgs > 0) {
		if (fetch_plan(f) == -1)
			return -1;
		if (!f->o->check && fetch_transfer(f) == -1)
			return -1;
	}
	if (perform_quit(f) == -1 || resp_quit(f) == -1)
		return -1;
	return f->err != NULL ? -1 : 0;
}

int
fetch_account(const struct account *a, const struct fetch_opts *o,
    struct fetch_result *res, char **errp)
{
	struct fetch	 f;
	char		*e = NULL;
	int		 busy;

	memset(&f, 0, sizeof(f));
	memset(res, 0, sizeof(*res));
	f.a = a;
	f.o = o;
	f.res = res;
	f.net.fd = -1;
	buf_init(&f.line, FETCH_MSG_MAX + 2);
	buf_init(&f.msg, FETCH_MSG_MAX);
	*errp = NULL;

	if (a->tls == FETCH_TLS_OFF)
		log_warn("%s: tls = off: the password and all mail cross the "
		    "network in plaintext", a->name);
	if (a->tls != FETCH_TLS_OFF && (f.ctx = tls_client_ctx(a->has_pin ?
	    NULL : a->tls_ca_file, &e)) == NULL) {
		fetch_fail(&f, EX_SOFTWARE, "%s", e);
		free(e);
		goto out;
	}
	if ((f.uc = uidlcache_open(o->state_dir, a->name, &busy, &e)) ==
	    NULL) {
		fetch_fail(&f, busy ? EX_TEMPFAIL : EX_IOERR, "state: %s", e);
		free(e);
		goto out;
	}
	/* --check opens it too: a pending message is looked up there. */
	if ((f.dv = deliver_open(a, &e)) == NULL) {
		fetch_fail(&f, EX_CANTCREAT, "%s", e);
		free(e);
		goto out;
	}
	(void)fetch_session(&f);
 out:
	net_close(&f.net);
	SSL_CTX_free(f.ctx);
	uidlcache_free(&f.uc);
	deliver_free(&f.dv);
	buf_wipe(&f.line);
	buf_clear(&f.msg);
	free(f.msgs);
	free(f.retr);
	free(f.dele);
	if (f.err != NULL) {
		*errp = f.err;
		return f.code;
	}
	return EX_OK;
}

