/*
 * maildrop.c - a Maildir as a POP3 maildrop (DESIGN.md "Maildrop"):
 * opening it, its lock, the scan of the message list, and the session's
 * view of it (sizes, UIDLs, message files; the UIDLs and order Dovecot
 * gave, where its dovecot-uidlist is: md_dovecot.c; the UIDLs Courier
 * gave, where its courierpop3dsizelist is: md_courier.c).  new/ and cur/
 * are the inbox, tmp/ is never read by Maildir readers (pop3d keeps the
 * directories of its swap commit there: md_commit.c, md_trash.c).  The
 * lock is maildir_lock's OFD lock on ".pop3d.lock" in the Maildir, so
 * sessions in different workers, servers sharing the storage and
 * "pop3ctl migrate" agree.  Worker
 * processes: open on job threads, the rest on the loop thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dot.h"
#include "fsutil.h"
#include "log.h"
#include "maildir.h"
#include "mailpath.h"
#include "md_dovecot.h"
#include "md_courier.h"
#include "md_priv.h"
#include "pop3d_config.h"
#include "xmalloc.h"

#define MD_READ_CHUNK	(64 * 1024)

struct scan_ent {
	char			*file;	/* in sub */
	struct maildir_name	 mn;
	uint64_t		 size;
	enum md_sub		 sub;
};

/* CRLF size by reading the file: for names without ,W=. */
static int
compute_size(int subfd, const char *name, uint64_t *out)
{
	unsigned char	 buf[MD_READ_CHUNK];
	ssize_t		 n;
	uint64_t	 total = 0;
	int		 fd, st = 0;

	/* O_NONBLOCK: a FIFO put in the maildrop must not stop the thread. */
	if ((fd = openat(subfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += dot_crlf_size(buf, (size_t)n, &st);
	close(fd);
	if (n == -1)
		return -1;
	*out = total;
	return 0;
}

int
md_name_with(const char *file, char key, uint64_t v, char *out)
{
	const char	*colon;
	size_t		 pre;
	int		 n;

	colon = strchr(file, ':');
	pre = colon != NULL ? (size_t)(colon - file) : strlen(file);
	n = snprintf(out, POP3_MDNAME_MAX + 1, "%.*s,%c=%llu%s", (int)pre,
	    file, key, (unsigned long long)v, colon != NULL ? colon : "");
	return n < 0 || n > POP3_MDNAME_MAX ? -1 : 0;
}

/*
 * Caches a computed size in the name, as our LDA writes it: inserts
 * ",W=<n>" before the ':' info.  The unique part, and so the UIDL, does
 * not change.  Failure is harmless: the size is computed again next time.
 */
static void
cache_size(int subfd, struct scan_ent *e)
{
	char		 nname[POP3_MDNAME_MAX + 1];

	if (md_name_with(e->file, 'W', e->size, nname) == -1)
		return;
	/*
	 * Never over a file of that name (a restore may bring back both):
	 * then the size stays uncached and both messages stay.
	 */
	if (rename_noreplace(subfd, e->file, subfd, nname) == 0) {
		free(e->file);
		e->file = xstrdup(nname);
		/* What RETR learns from the name (the ,W= now among it). */
		(void)maildir_name_parse(e->file, &e->mn);
	}
}

/*
 * Reads the names in new/ or cur/ first and only then computes missing
 * sizes: renaming a file to cache its size while readdir() walks the
 * same directory could show it twice.
 */
static int
scan_dir(int dirfd, enum md_sub sub, struct scan_ent **v, size_t *n,
    size_t *cap, size_t *sized)
{
	DIR		*d;
	struct dirent	*de;
	struct scan_ent	 e;
	size_t		 first = *n, i, k;
	int		 fd;

	if ((fd = openat_beneath(dirfd, MD_SUB_NAME(sub), O_RDONLY |
	    O_DIRECTORY, 0)) == -1)
		return -1;
	if ((d = md_opendir_fd(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (maildir_name_parse(de->d_name, &e.mn) == -1)
			continue;
		if (*n >= POP3_MAILDROP_MAX) {
			log_warn("maildrop holds more than %d messages; "
			    "serving the first", POP3_MAILDROP_MAX);
			break;
		}
		e.file = xstrdup(de->d_name);
		e.size = e.mn.wsize;
		e.sub = sub;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = xreallocarray(*v, *cap, sizeof(**v));
		}
		(*v)[(*n)++] = e;
	}
	closedir(d);

	for (i = k = first; i < *n; i++) {
		e = (*v)[i];
		if (!e.mn.has_wsize) {
			if (compute_size(fd, e.file, &e.size) == -1) {
				/* Gone meanwhile, or a directory: not a message. */
				free(e.file);
				continue;
			}
			(*sized)++;
			cache_size(fd, &e);
		}
		(*v)[k++] = e;
	}
	close(fd);
	*n = k;
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct scan_ent *x = a, *y = b;

	return maildir_name_cmp(x->file, &x->mn, y->file, &y->mn);
}

/* A message from its scan: the parse kept in a few bytes. */
static void
msg_init(struct md_msg *m, const struct scan_ent *e)
{
	const struct maildir_name	*mn = &e->mn;

	m->file = e->file;
	m->size = e->size;
	m->sub = (uint8_t)e->sub;
	m->wire = mn->has_dots && mn->dots <= UINT32_MAX && mn->has_size &&
	    mn->has_wsize && mn->size == mn->wsize;
	m->dots = m->wire ? (uint32_t)mn->dots : 0;
	m->retrieved = mn->has_rtime ? MD_RETR_MARKED : 0;
}

static int
ensure_maildir(const struct mailpath *mp, int *notours)
{
	static const char *const subs[] = { "new", "cur", "tmp", NULL };
	struct stat	st;
	int		fd, e;

	if ((fd = mailpath_open(mp, 1, (uid_t)-1, (gid_t)-1, NULL)) == -1)
		return -1;
	/*
	 * Another uid's directory is not ours to serve (whatever it holds
	 * was not delivered for this server).  A symlink where new/, cur/
	 * or tmp/ belongs (planted by whatever else writes here as the
	 * mail user) would lead into another user's Maildir: [SYS/PERM]
	 * until an administrator looks.
	 */
	if (fstat(fd, &st) == -1)
		goto fail;
	if (st.st_uid != geteuid()) {
		*notours = 1;
		errno = EPERM;
		goto fail;
	}
	if ((mkdirat(fd, "new", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(fd, "cur", 0700) == -1 && errno != EEXIST) ||
	    (mkdirat(fd, "tmp", 0700) == -1 && errno != EEXIST) ||
	    dirs_are_real(fd, subs) == -1)
		goto fail;
	return fd;
 fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static enum md_fail
fail_kind(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		return MD_FAIL_PERM;
	}
	return MD_FAIL_TEMP;
}

/*
 * Dovecot's UIDLs and order (md_dovecot.c): v reordered, *uidlsp the
 * side array (NULL without a list).  0, or -1 if the list is unreadable.
 */
static int
dovecot_order(int dirfd, struct scan_ent **vp, size_t n, const char *fmt,
    const char *user, char ***uidlsp)
{
	struct scan_ent	*nv;
	const char	**names;
	size_t		*perm, i;
	int		 r;

	*uidlsp = NULL;
	names = xcalloc(n > 0 ? n : 1, sizeof(*names));
	for (i = 0; i < n; i++)
		names[i] = (*vp)[i].file;
	r = md_dovecot_uidls(dirfd, names, n, fmt, user, &perm, uidlsp);
	free(names);
	if (r != 1)
		return r;
	nv = xcalloc(n > 0 ? n : 1, sizeof(*nv));
	for (i = 0; i < n; i++)
		nv[i] = (*vp)[perm[i]];
	free(perm);
	free(*vp);
	*vp = nv;
	return 0;
}

/*
 * The UIDLs Courier gave (md_courier.c), *uidlsp the side array of v's
 * order (NULL without a usable list).  0, or -1 if the list is
 * unreadable.
 */
static int
courier_uidls(int dirfd, const struct scan_ent *v, size_t n,
    const char *user, char ***uidlsp)
{
	const char	**names;
	size_t		  i;
	int		  r;

	names = xcalloc(n > 0 ? n : 1, sizeof(*names));
	for (i = 0; i < n; i++)
		names[i] = v[i].file;
	r = md_courier_uidls(dirfd, names, n, user, uidlsp);
	free(names);
	return r == -1 ? -1 : 0;
}

struct maildrop *
maildrop_open(const struct mailpath *mp, const char *user,
    const char **errstr, enum md_fail *why, const char *uidl_format)
{
	struct maildrop	*md;
	struct scan_ent	*v = NULL;
	struct stat	 st;
	char		**uidls = NULL;
	size_t		 n = 0, cap = 0, sized = 0, i;
	int		 dirfd, lockfd, inuse = 0, notours = 0;

	if ((dirfd = ensure_maildir(mp, &notours)) == -1) {
		*why = fail_kind(errno);
		*errstr = notours ? "the maildrop is not owned by the mail "
		    "user" : "cannot open the maildrop";
		return NULL;
	}
	if ((lockfd = maildir_lock(dirfd, &inuse)) == -1) {
		*why = inuse ? MD_FAIL_INUSE : fail_kind(errno);
		*errstr = inuse ? "maildrop in use by another session" :
		    "cannot lock the maildrop";
		close(dirfd);
		return NULL;
	}
	md_recover(dirfd, user);
	if (scan_dir(dirfd, MD_SUB_NEW, &v, &n, &cap, &sized) == -1 ||
	    scan_dir(dirfd, MD_SUB_CUR, &v, &n, &cap, &sized) == -1) {
		*why = fail_kind(errno);
		*errstr = "cannot read the maildrop";
		goto fail;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), ent_cmp);
	/*
	 * A list we cannot read: no UIDL at all rather than wrong ones
	 * (every client would download everything again).  Logged.
	 */
	if (uidl_format != NULL &&
	    dovecot_order(dirfd, &v, n, uidl_format, user, &uidls) == -1) {
		*why = MD_FAIL_TEMP;
		*errstr = "cannot read the maildrop's dovecot-uidlist";
		goto fail;
	}
	/* Courier's, where no Dovecot list gave UIDLs. */
	if (uidls == NULL &&
	    courier_uidls(dirfd, v, n, user, &uidls) == -1) {
		*why = MD_FAIL_TEMP;
		*errstr = "cannot read the maildrop's courierpop3dsizelist";
		goto fail;
	}

	md = xcalloc(1, sizeof(*md));
	if (fstat(dirfd, &st) == 0) {
		md->dev = st.st_dev;
		md->ino = st.st_ino;
	}
	close(dirfd);
	md->path = xstrdup(mp->path);
	md->walk = mp->walk;
	md->lockfd = lockfd;
	md->dirfd = -1;
	md->expire_days = EXPIRE_NEVER;
	md->n = n;
	md->sized = sized;
	md->msgs = xcalloc(n > 0 ? n : 1, sizeof(*md->msgs));
	for (i = 0; i < n; i++) {
		msg_init(&md->msgs[i], &v[i]);
		md->size += v[i].size;
	}
	md->uidls = uidls;
	md->nuidls = uidls != NULL ? n : 0;
	free(v);
	return md;
 fail:
	for (i = 0; i < n; i++)
		free(v[i].file);
	free(v);
	close(lockfd);
	close(dirfd);
	return NULL;
}

int
md_open_dir(const struct maildrop *md)
{
	struct mailpath	mp;
	struct stat	st;
	int		fd;

	snprintf(mp.path, sizeof(mp.path), "%s", md->path);
	mp.walk = mp.create = md->walk;
	if ((fd = mailpath_open(&mp, 0, (uid_t)-1, (gid_t)-1, NULL)) == -1)
		return -1;
	/* The directory locked at login, not one put in its place since. */
	if (fstat(fd, &st) == -1 || st.st_dev != md->dev ||
	    st.st_ino != md->ino) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

void
maildrop_free(struct maildrop **mdp)
{
	struct maildrop	*md = *mdp;
	size_t		 i;

	if (md == NULL)
		return;
	*mdp = NULL;
	for (i = 0; i < md->n; i++)
		free(md->msgs[i].file);
	free(md->msgs);
	for (i = 0; i < md->nuidls; i++)
		free(md->uidls[i]);
	free(md->uidls);
	free(md->path);
	close(md->lockfd);
	if (md->dirfd != -1)
		close(md->dirfd);
	free(md);
}

const char *
md_msg_path(const struct md_msg *m, char *buf)
{
	snprintf(buf, MD_MSG_PATH_MAX, "%s/%s", MD_SUB_NAME(m->sub), m->file);
	return buf;
}

int
maildrop_open_msg(struct maildrop *md, size_t i)
{
	char	path[MD_MSG_PATH_MAX];

	if (md->dirfd == -1 && (md->dirfd = md_open_dir(md)) == -1)
		return -1;
	/* O_NONBLOCK: a FIFO renamed over a message must not stop the
	   loop; on a regular file it changes nothing. */
	return openat_beneath(md->dirfd, md_msg_path(&md->msgs[i], path),
	    O_RDONLY | O_NONBLOCK, 0);
}

void
maildrop_uidl(const struct maildrop *md, size_t i, char *out)
{
	if (i < md->nuidls && md->uidls[i] != NULL)
		snprintf(out, POP3_UIDL_MAX + 1, "%s", md->uidls[i]);
	else
		maildir_uidl(md->msgs[i].file, out);
}

size_t
maildrop_count(const struct maildrop *md)
{
	return md->n;
}

void
maildrop_stat(const struct maildrop *md, size_t *count, uint64_t *size)
{
	*count = md->n - md->ndel;
	*size = md->size - md->delsize;
}

size_t
maildrop_ndeleted(const struct maildrop *md)
{
	return md->ndel;
}

size_t
maildrop_sized(const struct maildrop *md)
{
	return md->sized;
}

enum md_msg_state
maildrop_msg(const struct maildrop *md, size_t i, const struct md_msg **mp)
{
	if (i >= md->n)
		return MD_MSG_NONE;
	if (mp != NULL)
		*mp = &md->msgs[i];
	return md->msgs[i].deleted ? MD_MSG_DELETED : MD_MSG_OK;
}

const struct md_msg *
maildrop_msgs(const struct maildrop *md, size_t *n)
{
	*n = md->n;
	return md->msgs;
}

enum md_msg_state
maildrop_dele(struct maildrop *md, size_t i)
{
	enum md_msg_state	st;

	if ((st = maildrop_msg(md, i, NULL)) != MD_MSG_OK)
		return st;
	md->msgs[i].deleted = 1;
	md->ndel++;
	md->delsize += md->msgs[i].size;
	return MD_MSG_OK;
}

void
maildrop_rset(struct maildrop *md)
{
	size_t	i;

	for (i = 0; i < md->n; i++)
		md->msgs[i].deleted = 0;
	md->ndel = 0;
	md->delsize = 0;
}
