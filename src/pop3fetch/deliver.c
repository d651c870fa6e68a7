/*
 * deliver.c - pop3fetch's delivery into Maildir, mbox or an MDA (mbox and
 * MDA durable before it returns, Maildir after deliver_sync()), and the
 * set of message keys already in the destination, read once per run
 * (Maildir: the file names; mbox: the From_ lines).  Maildir batches
 * (tmp/, fsyncs side by side, rename, one fsync of new/) and the MDA
 * are here; the mbox is mbox.c's.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "fsutil.h"
#include "maildir.h"
#include "mbox.h"
#include "pop3_limits.h"
#include "xmalloc.h"

/*
 * Threads fsyncing a Maildir batch side by side: the file system groups
 * concurrent fsyncs into shared journal commits.
 */
#define DELIVER_SYNC_THREADS	8

struct deliver {
	int		 type;		/* enum fetch_dest */
	int		 dirfd;		/* Maildir */
	char		*path;		/* mbox path, or the MDA command */
	const char	*account;
	/* Maildir: written to tmp/, not yet fsynced and renamed. */
	struct maildir_tx tx[FETCH_BATCH_MAX];
	size_t		 ntx;
	/* Keys found by deliver_keys_load(), sorted; DELIVER_KEY_LEN each. */
	char		*keys;
	size_t		 nkeys, capkeys;
};

static int
dv_maildir_open(struct deliver *d, const char *path, char **errp)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	size_t	 i;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		goto fail;
	if ((d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	for (i = 0; i < 3; i++)
		if (mkdirat(d->dirfd, subs[i], 0700) == -1 && errno != EEXIST)
			goto fail;
	/* Files a killed run left in tmp/ (never read: only tidiness). */
	(void)maildir_tmp_reap(d->dirfd);
	return 0;
 fail:
	xasprintf(errp, "maildir %s: %s", path, strerror(errno));
	return -1;
}

struct deliver *
deliver_open(const struct account *a, char **errp)
{
	struct deliver	*d = xcalloc(1, sizeof(*d));

	d->type = a->dest_type;
	d->dirfd = -1;
	d->account = a->name;
	d->path = xstrdup(a->dest_arg);
	if (d->type == FETCH_DEST_MAILDIR &&
	    dv_maildir_open(d, a->dest_arg, errp) == -1)
		deliver_free(&d);
	return d;
}

/* Drops the files of an unsynced Maildir batch from tmp/. */
static void
dv_tx_abort(struct deliver *d)
{
	while (d->ntx > 0)
		maildir_tx_abort(&d->tx[--d->ntx]);
}

void
deliver_free(struct deliver **dp)
{
	struct deliver	*d = *dp;

	if (d == NULL)
		return;
	dv_tx_abort(d);
	if (d->dirfd != -1)
		close(d->dirfd);
	free(d->path);
	free(d->keys);
	free(d);
	*dp = NULL;
}


/* Adds a key candidate of DELIVER_KEY_LEN characters to the set. */
static int
dv_key_add(void *arg, const char *key, size_t len)
{
	struct deliver	*d = arg;

	if (len != DELIVER_KEY_LEN)
		return 0;	/* not one of ours */
	if (d->nkeys == d->capkeys) {
		d->capkeys = d->capkeys == 0 ? 1024 : d->capkeys * 2;
		d->keys = xreallocarray(d->keys, d->capkeys, DELIVER_KEY_LEN);
	}
	memcpy(d->keys + d->nkeys++ * DELIVER_KEY_LEN, key, DELIVER_KEY_LEN);
	return 0;
}

static int
dv_keycmp(const void *a, const void *b)
{
	return memcmp(a, b, DELIVER_KEY_LEN);
}

/* Runs the MDA with the message on stdin; exit status 0 required. */
static int
dv_mda(struct deliver *d, const char *key, const char *uid,
    const unsigned char *data, size_t len, char **errp)
{
	struct sigaction	 sa, old;
	pid_t			 pid;
	int			 p[2], st, saved, wfail = 0;

	if (pipe2(p, O_CLOEXEC) == -1) {
		xasprintf(errp, "mda: pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		xasprintf(errp, "mda: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(p[0], 0) == -1)
			_exit(127);
		/* The MDA may deduplicate on these. */
		setenv("POP3FETCH_ACCOUNT", d->account, 1);
		setenv("POP3FETCH_UIDL", uid, 1);
		setenv("POP3FETCH_KEY", key, 1);
		execl("/bin/sh", "sh", "-c", d->path, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old);
	if (write_all(p[1], data, len) == -1) {
		saved = errno;
		wfail = saved != EPIPE;
	}
	close(p[1]);
	sigaction(SIGPIPE, &old, NULL);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			xasprintf(errp, "mda: wait: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !wfail)
		return 0;
	if (WIFEXITED(st))
		xasprintf(errp, "mda \"%s\" exited with status %d", d->path,
		    WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		xasprintf(errp, "mda \"%s\" killed by signal %d", d->path,
		    WTERMSIG(st));
	else
		xasprintf(errp, "mda \"%s\": write failed", d->path);
	return -1;
}

int
deliver_msg(struct deliver *d, const char *key, const char *uid,
    const unsigned char *data, size_t len, char **errp)
{
	switch ((enum fetch_dest)d->type) {
	case FETCH_DEST_MAILDIR:
		/* A full batch (the fetcher commits before): sync it now. */
		if (d->ntx == FETCH_BATCH_MAX && deliver_sync(d, errp) == -1)
			return -1;
		if (maildir_tx_begin_key(&d->tx[d->ntx], d->dirfd, key) ==
		    -1 || maildir_tx_write(&d->tx[d->ntx], data, len) == -1) {
			xasprintf(errp, "maildir %s: %s", d->path,
			    strerror(errno));
			return -1;
		}
		maildir_tx_writeback(&d->tx[d->ntx++]);
		return 0;
	case FETCH_DEST_MBOX:
		return mbox_deliver(d->path, key, data, len, errp);
	case FETCH_DEST_MDA:
		return dv_mda(d, key, uid, data, len, errp);
	}
	return -1;
}

/* One fsync thread's share of a batch: every nth file from first. */
struct dv_syncjob {
	struct deliver	*d;
	size_t		 first, step;
	int		 err;		/* the first errno, or 0 */
	pthread_t	 tid;
};

static void *
dv_sync_thread(void *arg)
{
	struct dv_syncjob	*j = arg;
	size_t			 i;

	for (i = j->first; i < j->d->ntx; i += j->step)
		if (fsync(j->d->tx[i].fd) == -1 && j->err == 0)
			j->err = errno;
	return NULL;
}

/*
 * fsyncs the batch's files on up to DELIVER_SYNC_THREADS threads (the
 * caller's share on its own thread if one cannot start).  0, or -1 with
 * errno: a failed fsync is reported once, so the batch must be dropped.
 */
static int
dv_sync_files(struct deliver *d)
{
	struct dv_syncjob	 j[DELIVER_SYNC_THREADS];
	size_t			 i, n = d->ntx < DELIVER_SYNC_THREADS ?
				    d->ntx : DELIVER_SYNC_THREADS;
	int			 err = 0;

	for (i = 0; i < n; i++) {
		j[i].d = d;
		j[i].first = i;
		j[i].step = n;
		j[i].err = 0;
		if (i == 0 || pthread_create(&j[i].tid, NULL, dv_sync_thread,
		    &j[i]) != 0) {
			j[i].tid = pthread_self();
			(void)dv_sync_thread(&j[i]);
		}
	}
	for (i = 0; i < n; i++) {
		if (!pthread_equal(j[i].tid, pthread_self()))
			pthread_join(j[i].tid, NULL);
		if (err == 0)
			err = j[i].err;
	}
	errno = err;
	return err == 0 ? 0 : -1;
}

int
deliver_sync(struct deliver *d, char **errp)
{
	size_t	 i;

	if (d->type != FETCH_DEST_MAILDIR)
		return 0;	/* mbox and MDA are durable per message */
	/*
	 * Each file fsynced before its rename (a name with a key never
	 * points at a partial file), then new/ once.  The writeback began
	 * at delivery and the fsyncs run side by side, so they mostly share
	 * journal commits; commit's own fsync then finds nothing to do.
	 */
	if (d->ntx > 0 && dv_sync_files(d) == -1) {
		xasprintf(errp, "maildir %s: fsync: %s", d->path,
		    strerror(errno));
		dv_tx_abort(d);
		return -1;
	}
	for (i = 0; i < d->ntx; i++)
		if (maildir_tx_commit_nosync(&d->tx[i], NULL, 0) == -1) {
			xasprintf(errp, "maildir %s: %s", d->path,
			    strerror(errno));
			goto fail;
		}
	d->ntx = 0;
	if (maildir_sync_new(d->dirfd) == -1) {
		xasprintf(errp, "maildir %s: fsync of new/: %s", d->path,
		    strerror(errno));
		return -1;
	}
	return 0;
 fail:
	/* tx[i] cleaned up after itself; the later ones were not moved. */
	while (++i < d->ntx)
		maildir_tx_abort(&d->tx[i]);
	d->ntx = 0;
	return -1;
}

int
deliver_keys_load(struct deliver *d, char **errp)
{
	int	 r = 0;

	d->nkeys = 0;
	switch ((enum fetch_dest)d->type) {
	case FETCH_DEST_MAILDIR:
		if ((r = maildir_scan_keys(d->dirfd, dv_key_add, d)) == -1)
			xasprintf(errp, "maildir %s: %s", d->path,
			    strerror(errno));
		break;
	case FETCH_DEST_MBOX:
		r = mbox_keys(d->path, dv_key_add, d, errp);
		break;
	case FETCH_DEST_MDA:
		xasprintf(errp, "an MDA cannot be asked");
		return -1;
	}
	if (r == -1)
		return -1;
	if (d->nkeys > 0)
		qsort(d->keys, d->nkeys, DELIVER_KEY_LEN, dv_keycmp);
	return 0;
}

int
deliver_has_key(const struct deliver *d, const char *key)
{
	return d->nkeys > 0 && bsearch(key, d->keys, d->nkeys,
	    DELIVER_KEY_LEN, dv_keycmp) != NULL;
}

