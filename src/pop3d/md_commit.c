/*
 * md_commit.c - the commit of QUIT (maildrop_commit, pop3d(8) UPDATE):
 * the deleted messages are unlinked, or, when a session deleted nearly
 * all of new/ or cur/, the directory is swapped for an empty one and
 * the old files are removed after the answer by a purge job.  What the
 * swap leaves in tmp/, and its recovery, is md_trash.c's; EXPIRE's
 * part of the commit (implicit DELEs before, retrieval marks after) is
 * md_expire.c's.  Worker processes, job threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "jobs.h"
#include "log.h"
#include "maildir.h"
#include "md_priv.h"
#include "xmalloc.h"

/*
 * One exchange of the directory with an empty one replaces an unlink
 * per message.  Below MD_SWAP_MIN deletions the unlink loop is as
 * cheap as the swap's extra directory fsyncs; above deleted /
 * MD_SWAP_KEEP_DIV kept messages, renaming them back (a rename costs
 * about an unlink) eats the gain.
 */
#define MD_SWAP_MIN		256
#define MD_SWAP_KEEP_DIV	8
/* Entries a purge job handles before it lets other jobs have the
   thread: some 10 ms of unlinks. */
#define MD_PURGE_SLICE		2048

/* One subdirectory in maildrop_commit(). */
struct md_swap {
	const char	*sub;		/* "new" or "cur" */
	size_t		 nscan;		/* messages of the session in it */
	size_t		 ndel;		/* of those, deleted */
	enum {
		SW_NONE,		/* not swapped: the unlink loop */
		SW_DONE,		/* swapped, the old one in trash */
		SW_FAILED,		/* undone, or left in tmp/ for the
					   recovery */
	}		 state;
	int		 oldfd;		/* the old directory, flocked */
	int		 newfd;		/* the new one, now at sub */
	struct md_nameset del;		/* names deleted in sub */
	int		 unlisted;	/* a deleted name has a newline */
	char		 trash[MD_PATH_MAX];	/* "tmp/<trash pfx><sub>.<u>" */
};

/*
 * After a commit: removes the trash on job threads, MD_PURGE_SLICE
 * entries per run, then queues itself again, so that the logins and
 * commits of other sessions get the threads in between.
 */
struct md_purge {
	struct job	 job;
	int		 dirfd;		/* the Maildir */
	char		*path;
	struct md_swap	 sw[2];
	struct md_msg	*msgs;		/* the names sw[].del points into */
	size_t		 n;
	size_t		 cur;		/* sw[] being purged */
	int		 started;	/* t is set up for sw[cur] */
	int		 finished;
	struct md_trash	 t;
	struct timespec	 t0;		/* when QUIT could be answered */
	size_t		 removed;
	size_t		 moved;
};

static void
swap_clear(struct md_swap *sw)
{
	if (sw->oldfd != -1)
		close(sw->oldfd);	/* releases the flock */
	if (sw->newfd != -1)
		close(sw->newfd);
	sw->oldfd = sw->newfd = -1;
	md_nameset_clear(&sw->del);
}

/* Unique within the host (time, pid, counter) and, for shared storage,
   across hosts (random). */
static void
swap_unique(char *out, size_t len)
{
	static unsigned long	 counter;
	struct timespec		 ts;
	uint32_t		 rnd = 0;
	unsigned long		 q;

	clock_gettime(CLOCK_REALTIME, &ts);
	q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	(void)getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
	snprintf(out, len, "%lld.%09ld.P%ldQ%luR%08x", (long long)ts.tv_sec,
	    ts.tv_nsec, (long)getpid(), q, rnd);
}

/* The directory fd, just made, gets the owner and mode of st. */
static int
same_owner_mode(int fd, const struct stat *st)
{
	struct stat	now;

	if (fstat(fd, &now) == -1)
		return -1;
	if ((now.st_uid != st->st_uid || now.st_gid != st->st_gid) &&
	    fchown(fd, st->st_uid, st->st_gid) == -1)
		return -1;
	if ((now.st_mode & 07777) != (st->st_mode & 07777) &&
	    fchmod(fd, st->st_mode & 07777) == -1)
		return -1;
	return 0;
}

/*
 * Undoes what swap_sub() did before its commit point, with the old
 * directory (deleted files, perhaps the manifest) at swap and the new
 * one at sw->sub: a second exchange puts the old one back in place, and
 * what was renamed into the new one (the kept messages, mail delivered
 * since) goes back into it.  No deleted file moves, and the old
 * directory has room for the names that left it: this works on a full
 * disk, where a new directory may not grow.  If that exchange fails,
 * everything goes back into the new directory, as the recovery does.
 * -1 with errno when something stays in tmp/ for the next login.
 */
static int
swap_undo(int dirfd, const char *swap, struct md_swap *sw, size_t *moved)
{
	if ((unlinkat(sw->oldfd, MD_MANIFEST, 0) == 0 || errno == ENOENT) &&
	    renameat2(dirfd, swap, dirfd, sw->sub, RENAME_EXCHANGE) == 0)
		return md_unswap(dirfd, swap, sw->newfd, sw->oldfd, moved);
	return md_unswap(dirfd, swap, sw->oldfd, sw->newfd, moved);
}

/*
 * Steps 1-5 of the swap for sw->sub (pop3d(8), UPDATE): an empty
 * directory takes its place in one renameat2(RENAME_EXCHANGE), what
 * the session did not delete is renamed back, the manifest of the
 * deleted names is written into the old directory, and that becomes
 * tmp/<MD_TRASH_PFX><sub>.<u>: the commit point (durable once the
 * caller has synced tmp/ and the Maildir).  Returns the new state:
 * SW_NONE when nothing changed (no RENAME_EXCHANGE here, say: the
 * caller unlinks), or when a later step found no room (ENOSPC, EDQUOT:
 * the manifest, say) and the swap was undone, since deleting is what
 * frees room; SW_FAILED when a later step failed otherwise (undone at
 * once by swap_undo(); what cannot be stays in the swap directory for
 * the next login's recovery), SW_DONE with oldfd, newfd and del kept
 * for the purge.
 */
static int
swap_sub(int dirfd, const char *path, struct md_swap *sw)
{
	char		 uniq[64], swap[MD_PATH_MAX];
	struct stat	 st;
	size_t		 moved = 0;
	int		 e, undone;

	swap_unique(uniq, sizeof(uniq));
	if (snprintf(swap, sizeof(swap), "tmp/%s%s.%s", MD_SWAP_PFX, sw->sub,
	    uniq) >= (int)sizeof(swap) || snprintf(sw->trash,
	    sizeof(sw->trash), "tmp/%s%s.%s", MD_TRASH_PFX, sw->sub, uniq) >=
	    (int)sizeof(sw->trash))
		goto none;
	if ((sw->oldfd = md_open_subdir(dirfd, sw->sub)) == -1 ||
	    fstat(sw->oldfd, &st) == -1 ||
	    flock(sw->oldfd, LOCK_EX | LOCK_NB) == -1 ||
	    mkdirat(dirfd, swap, st.st_mode & 07777) == -1)
		goto none;
	if ((sw->newfd = md_open_subdir(dirfd, swap)) == -1 ||
	    same_owner_mode(sw->newfd, &st) == -1 ||
	    renameat2(dirfd, swap, dirfd, sw->sub, RENAME_EXCHANGE) == -1) {
		log_debug("maildrop %s: no swap of %s/ (%s): unlinking",
		    path, sw->sub, strerror(errno));
		(void)unlinkat(dirfd, swap, AT_REMOVEDIR);
		goto none;
	}
	/* sub is the empty directory now, the old one is at swap. */
	if (md_move_back(sw->oldfd, sw->newfd, &sw->del, &moved) == -1 ||
	    (moved > 0 && fsync(sw->newfd) == -1) ||
	    md_manifest_write(sw->oldfd, &sw->del) == -1 ||
	    renameat(dirfd, swap, dirfd, sw->trash) == -1) {
		e = errno;
		moved = 0;
		undone = swap_undo(dirfd, swap, sw, &moved) == 0;
		if (undone && (e == ENOSPC || e == EDQUOT)) {
			log_info("maildrop %s: no room for the swap of %s/ "
			    "(%s); undone (%zu file%s back), unlinking", path,
			    sw->sub, strerror(e), moved, moved == 1 ? "" : "s");
			goto none;
		}
		if (undone)
			log_warn("maildrop %s: commit of %s/ failed (%s); "
			    "undone, %zu file%s back", path, sw->sub,
			    strerror(e), moved, moved == 1 ? "" : "s");
		else
			log_warn("maildrop %s: commit of %s/ failed (%s), and "
			    "undoing it (%s); %s is left for the next login",
			    path, sw->sub, strerror(e), strerror(errno), swap);
		swap_clear(sw);
		return SW_FAILED;
	}
	log_debug("maildrop %s: %s/ swapped, %zu kept moved back", path,
	    sw->sub, moved);
	return SW_DONE;
none:
	swap_clear(sw);
	return SW_NONE;
}

static void
purge_run(struct job *j)
{
	struct md_purge	*p = (struct md_purge *)j;
	struct md_swap	*sw;
	struct timespec	 now;
	size_t		 i;

	for (; p->cur < 2; p->cur++, p->started = 0) {
		sw = &p->sw[p->cur];
		if (sw->state != SW_DONE)
			continue;
		if (!p->started) {
			md_trash_init(&p->t, p->dirfd, sw->trash, sw->oldfd,
			    sw->newfd, &sw->del, p->path);
			p->started = 1;
		}
		if (md_trash_step(&p->t, MD_PURGE_SLICE))
			return;
		p->removed += p->t.removed;
		p->moved += p->t.moved;
		swap_clear(sw);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_info("maildrop %s: purge removed=%zu moved_back=%zu ms=%.1f",
	    p->path, p->removed, p->moved, (now.tv_sec - p->t0.tv_sec) * 1e3 +
	    (now.tv_nsec - p->t0.tv_nsec) / 1e6);
	close(p->dirfd);
	/* Here, not on the loop thread: up to POP3_MAILDROP_MAX names. */
	for (i = 0; i < p->n; i++)
		free(p->msgs[i].file);
	free(p->msgs);
	free(p->path);
	p->msgs = NULL;
	p->finished = 1;
}

static void
purge_done(struct job *j)
{
	struct md_purge	*p = (struct md_purge *)j;

	if (!p->finished)
		jobs_submit(j);
	else
		free(p);
}

size_t
maildrop_commit(struct maildrop *md, size_t *failed)
{
	struct md_swap	 sw[2];
	struct md_purge	*p;
	struct md_msg	*m;
	char		 path[MD_MSG_PATH_MAX];
	size_t		 i, k, removed = 0, unlinked[2] = { 0, 0 };
	int		 dirfd, swapped = 0;

	*failed = 0;
	md_expire_quit(md);
	if ((dirfd = md_open_dir(md)) == -1) {
		log_warn("open %s: %s", md->path, strerror(errno));
		*failed = md->ndel;
		return 0;
	}
	memset(sw, 0, sizeof(sw));
	/* sw[] is indexed by enum md_sub. */
	for (k = 0; k < 2; k++) {
		sw[k].sub = MD_SUB_NAME(k);
		sw[k].oldfd = sw[k].newfd = -1;
	}
	/* One pass over the names (each a cache miss in a large maildrop):
	   the sets are filled before it is known which will be used. */
	if (md->ndel >= MD_SWAP_MIN)
		for (k = 0; k < 2; k++)
			md_nameset_init(&sw[k].del, md->ndel);
	for (i = 0; i < md->n; i++) {
		m = &md->msgs[i];
		sw[m->sub].nscan++;
		if (!m->deleted)
			continue;
		sw[m->sub].ndel++;
		if (sw[m->sub].del.slot == NULL)
			continue;
		md_nameset_add(&sw[m->sub].del, m->file);
		/* The manifest has a line a name: this one gets unlinked. */
		if (strchr(m->file, '\n') != NULL)
			sw[m->sub].unlisted = 1;
	}
	for (k = 0; k < 2; k++) {
		if (sw[k].ndel < MD_SWAP_MIN || sw[k].nscan - sw[k].ndel >
		    sw[k].ndel / MD_SWAP_KEEP_DIV || sw[k].unlisted) {
			md_nameset_clear(&sw[k].del);
			continue;
		}
		sw[k].state = swap_sub(dirfd, md->path, &sw[k]);
		if (sw[k].state == SW_DONE) {
			removed += sw[k].ndel;
			swapped++;
		} else if (sw[k].state == SW_FAILED)
			*failed += sw[k].ndel;
	}
	/* The renames into tmp/ are durable before QUIT is answered. */
	if (swapped > 0 && (maildir_sync_dir(dirfd, "tmp") == -1 ||
	    fsync(dirfd) == -1))
		log_warn("maildrop %s: fsync: %s", md->path, strerror(errno));

	for (i = 0; i < md->n; i++) {
		m = &md->msgs[i];
		if (!m->deleted || sw[m->sub].state != SW_NONE)
			continue;
		unlinked[m->sub]++;
		if (unlinkat(dirfd, md_msg_path(m, path), 0) == 0 ||
		    errno == ENOENT)
			removed++;
		else {
			log_warn("unlink %s: %s", path, strerror(errno));
			(*failed)++;
		}
	}
	/* The removal is durable before QUIT is answered. */
	for (k = 0; k < 2; k++)
		if (unlinked[k] > 0)
			(void)maildir_sync_dir(dirfd, sw[k].sub);
	/* After the deletions, which are what QUIT must not lose, and
	   before the purge takes the list. */
	md_mark_retrieved(md, dirfd);

	if (swapped == 0) {
		close(dirfd);
		return removed;
	}
	/* The old files go after the answer, on another job.  It takes the
	   message list, which the name sets point into. */
	p = xcalloc(1, sizeof(*p));
	p->job.run = purge_run;
	p->job.done = purge_done;
	p->dirfd = dirfd;
	p->path = xstrdup(md->path);
	memcpy(p->sw, sw, sizeof(sw));
	p->msgs = md->msgs;
	p->n = md->n;
	md->msgs = NULL;
	md->n = md->ndel = 0;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	jobs_submit(&p->job);
	return removed;
}

