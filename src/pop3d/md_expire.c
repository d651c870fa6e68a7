/*
 * md_expire.c - RFC 2449 EXPIRE for the maildrop (pop3d(8), EXPIRE):
 * the retrieval mark, the expiry at login, and EXPIRE 0.
 *
 * The mark lives in the Maildir itself, in the message's file name:
 * ",R=<Unix time>" inserted before the ':' info, when a QUIT commits a
 * session that retrieved the message (RETR, not TOP).  The unique part
 * before the first ',' or ':', and so every UIDL derived from it (ours,
 * and the dovecot-uidlist lookup), does not change, the message stays
 * in its directory, and the first mark is kept.  No side database: a
 * restore, a copy or a restart of pop3d keeps the marks with the mail.
 *
 * Crash safety: the mark is one rename(2), without replacing, in the
 * message's own directory, so a crash leaves the old name or the new
 * one, never both and never none; a lost mark only makes the message
 * expire later.  The expiry at login unlinks only marked messages, so
 * an unmarked one (never retrieved by a session that ended in QUIT)
 * is never removed.  Worker processes: job threads, but for
 * maildrop_retr() and the getters (loop thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "maildir.h"
#include "md_priv.h"
#include "pop3d_config.h"
#include "xmalloc.h"

#define MD_DAY	86400

/* Whether a mark at rtime is at least days old at now (a mark from the
   future, a clock set back, is not). */
static int
mark_expired(uint64_t rtime, int days, time_t now)
{
	return now >= 0 && rtime <= (uint64_t)now &&
	    (uint64_t)now - rtime >= (uint64_t)days * MD_DAY;
}

/* fsync of the subdirectories where something was renamed or unlinked. */
static void
sync_subs(const struct maildrop *md, int dirfd, const int touched[2])
{
	int	k;

	for (k = 0; k < 2; k++)
		if (touched[k] && maildir_sync_dir(dirfd, MD_SUB_NAME(k)) == -1)
			log_warn("maildrop %s: fsync %s/: %s", md->path,
			    MD_SUB_NAME(k), strerror(errno));
}

size_t
maildrop_expire(struct maildrop *md, int days, time_t now, size_t *failed)
{
	struct maildir_name	 mn;
	struct md_msg		*m;
	char			 path[MD_MSG_PATH_MAX];
	size_t			 i, k, removed = 0;
	int			 dirfd, touched[2] = { 0, 0 };

	*failed = 0;
	md->expire_days = days < 0 ? EXPIRE_NEVER : days;
	if (days < 0)
		return 0;
	for (i = 0; i < md->n; i++)
		if (md->msgs[i].retrieved & MD_RETR_MARKED)
			break;
	if (i == md->n)
		return 0;
	if ((dirfd = md_open_dir(md)) == -1) {
		log_warn("maildrop %s: expire: %s", md->path, strerror(errno));
		return 0;
	}
	/* The list keeps its order: the survivors move down, and with
	   them their old UIDLs (md->uidls, from a dovecot-uidlist). */
	for (i = k = 0; i < md->n; i++) {
		m = &md->msgs[i];
		if (!(m->retrieved & MD_RETR_MARKED) ||
		    maildir_name_parse(m->file, &mn) == -1 || !mn.has_rtime ||
		    !mark_expired(mn.rtime, days, now))
			goto keep;
		if (unlinkat(dirfd, md_msg_path(m, path), 0) == -1 &&
		    errno != ENOENT) {
			log_warn("maildrop %s: expire: unlink %s: %s", md->path,
			    path, strerror(errno));
			(*failed)++;
			goto keep;
		}
		/* Gone already (ENOENT) is gone: not listed either. */
		touched[m->sub] = 1;
		md->size -= m->size;
		free(m->file);
		if (md->uidls != NULL)
			free(md->uidls[i]);
		removed++;
		continue;
 keep:
		if (md->uidls != NULL)
			md->uidls[k] = md->uidls[i];
		md->msgs[k++] = *m;
	}
	md->n = k;
	if (md->uidls != NULL)
		md->nuidls = k;
	/* Durable before the list is shown: a client never sees a message
	   that a crash brings back. */
	sync_subs(md, dirfd, touched);
	close(dirfd);
	return removed;
}

int
maildrop_expire_days(const struct maildrop *md)
{
	return md->expire_days;
}

void
maildrop_retr(struct maildrop *md, size_t i)
{
	struct md_msg	*m = &md->msgs[i];

	if (!(m->retrieved & MD_RETR_SESSION)) {
		m->retrieved |= MD_RETR_SESSION;
		md->nretr++;
	}
}

int
maildrop_dirty(const struct maildrop *md)
{
	return md->ndel > 0 || (md->expire_days >= 0 && md->nretr > 0);
}

void
md_expire_quit(struct maildrop *md)
{
	size_t	i;

	if (md->expire_days != 0 || md->nretr == 0)
		return;
	for (i = 0; i < md->n; i++)
		if ((md->msgs[i].retrieved & MD_RETR_SESSION) &&
		    !md->msgs[i].deleted)
			(void)maildrop_dele(md, i);
}

void
md_mark_retrieved(struct maildrop *md, int dirfd)
{
	char		 nname[POP3_MDNAME_MAX + 1], from[MD_MSG_PATH_MAX];
	char		 to[MD_MSG_PATH_MAX];
	struct md_msg	*m;
	time_t		 now;
	size_t		 i, marked = 0, failed = 0;
	int		 touched[2] = { 0, 0 };

	if (md->expire_days <= 0 || md->nretr == 0)
		return;
	now = time(NULL);
	for (i = 0; i < md->n; i++) {
		m = &md->msgs[i];
		if (m->retrieved != MD_RETR_SESSION || m->deleted)
			continue;
		if (md_name_with(m->file, 'R', (uint64_t)now, nname) == -1) {
			log_warn("maildrop %s: no retrieval mark on %s/%s: "
			    "the name would be too long", md->path,
			    MD_SUB_NAME(m->sub), m->file);
			failed++;
			continue;
		}
		md_msg_path(m, from);
		snprintf(to, sizeof(to), "%s/%s", MD_SUB_NAME(m->sub), nname);
		/* Never over another file: that one stays, this one unmarked. */
		if (rename_noreplace(dirfd, from, dirfd, to) == -1) {
			log_warn("maildrop %s: retrieval mark %s: %s", md->path,
			    from, strerror(errno));
			failed++;
			continue;
		}
		touched[m->sub] = 1;
		free(m->file);
		m->file = xstrdup(nname);
		m->retrieved |= MD_RETR_MARKED;
		marked++;
	}
	sync_subs(md, dirfd, touched);
	log_debug("maildrop %s: retrieval marks: %zu written, %zu failed",
	    md->path, marked, failed);
}
