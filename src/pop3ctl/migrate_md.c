/*
 * migrate_md.c - "pop3ctl migrate" on one Maildir: reads its
 * dovecot-uidlist (dovecot_uidlist.c) and the names in new/ and cur/,
 * tells for each message the UIDL Dovecot gave it, the one pop3d will
 * serve and why they differ, and for --commit renames each listed
 * message so that its unique part is its old UIDL, then the list to
 * dovecot-uidlist.migrated.  The maildrop lock (maildir_lock) keeps
 * pop3d sessions out meanwhile.  Every change is one rename that
 * replaces nothing: a crash leaves a message under its old name (found
 * in the list, served its old UIDL) or its new one (not in the list,
 * its unique part that same UIDL), and the list goes only after the
 * directories are flushed.  pop3ctl, as the mail user.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovecot_uidlist.h"
#include "fsutil.h"
#include "migrate.h"
#include "uidl_distinct.h"
#include "xmalloc.h"

#define MIG_MIGRATED		DUIDL_FILE ".migrated"
/* What pop3d's swap commit leaves in tmp/ until its recovery (the
   prefix of MD_SWAP_PFX and MD_TRASH_PFX, src/pop3d/md_trash.h). */
#define MIG_POP3D_TMP_PFX	".pop3d-"

const char *
mig_list_str(enum mig_list l)
{
	switch (l) {
	case MIG_LIST_DOVECOT:
		return "dovecot";
	case MIG_LIST_NONE:
		return "none";
	case MIG_LIST_MIGRATED:
		return "migrated";
	case MIG_LIST_BAD:
		return "bad";
	case MIG_LIST_NO_MAILDIR:
		return "no_maildir";
	case MIG_LIST_IN_USE:
		return "in_use";
	case MIG_LIST_ERROR:
		return "error";
	}
	return "?";
}

void
mig_user_init(struct mig_user *u)
{
	memset(u, 0, sizeof(*u));
}

void
mig_user_clear(struct mig_user *u)
{
	size_t	 i;

	for (i = 0; i < u->n; i++)
		free(u->msgs[i].file);
	free(u->msgs);
	u->msgs = NULL;
	u->n = 0;
}

void
mig_fail(struct mig_user *u, const char *path, const char *what)
{
	u->failed = 1;
	snprintf(u->error, sizeof(u->error), "%s%s%s: %s", path,
	    what != NULL ? "/" : "", what != NULL ? what : "",
	    strerror(errno));
}

/* The messages of new/ or cur/ (sub 0 or 1) appended to u->msgs. */
static int
mig_scan_sub(struct mig_user *u, int dirfd, int sub, size_t *cap)
{
	struct maildir_name	 mn;
	struct dirent		*de;
	struct stat		 st;
	struct mig_msg		*m;
	DIR			*d;
	int			 fd;

	if ((fd = openat(dirfd, MIG_SUB_NAME(sub), O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (maildir_name_parse(de->d_name, &mn) == -1)
			continue;
		if (de->d_type == DT_UNKNOWN && (fstatat(fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode)))
			continue;
		if (u->n >= POP3_MAILDROP_MAX) {
			closedir(d);
			errno = EFBIG;
			return -1;
		}
		if (u->n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			u->msgs = xreallocarray(u->msgs, *cap, sizeof(*u->msgs));
		}
		m = &u->msgs[u->n++];
		memset(m, 0, sizeof(*m));
		m->file = xstrdup(de->d_name);
		m->mn = mn;
		m->sub = (uint8_t)sub;
		maildir_uidl(m->file, m->own);
	}
	closedir(d);
	return 0;
}

static int
mig_msg_cmp(const void *a, const void *b)
{
	const struct mig_msg	*x = a, *y = b;

	return maildir_name_cmp(x->file, &x->mn, y->file, &y->mn);
}

/* new/ and cur/, in pop3d's order.  0, or -1 with errno. */
static int
mig_scan(struct mig_user *u, int dirfd)
{
	size_t	 cap = 0;

	if (mig_scan_sub(u, dirfd, 0, &cap) == -1 ||
	    mig_scan_sub(u, dirfd, 1, &cap) == -1)
		return -1;
	if (u->n > 1)
		qsort(u->msgs, u->n, sizeof(*u->msgs), mig_msg_cmp);
	return 0;
}

static int
mig_strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted set of strings (owned), searched with bsearch. */
struct mig_set {
	char	**v;
	size_t	  n, cap;
};

static void
mig_set_add(struct mig_set *s, const char *p, size_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = xstrndup(p, len);
}

static void
mig_set_sort(struct mig_set *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), mig_strp_cmp);
}

static int
mig_set_has(const struct mig_set *s, const char *p)
{
	return s->n > 0 && bsearch(&p, s->v, s->n, sizeof(*s->v),
	    mig_strp_cmp) != NULL;
}

static void
mig_set_clear(struct mig_set *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* File i's name, for duidl_match (as pop3d's md_dovecot.c matches). */
static const char *
mig_file_at(void *arg, size_t i)
{
	return ((const struct mig_user *)arg)->msgs[i].file;
}

/* pop3d's order with a list: the listed ones in Dovecot's POP3 order. */
struct mig_ord {
	const struct duidl_entry *e;	/* NULL: not listed */
	size_t			  i;
};

static int
mig_ord_cmp(const void *a, const void *b)
{
	const struct mig_ord	*x = a, *y = b;

	if ((x->e == NULL) != (y->e == NULL))
		return x->e == NULL ? 1 : -1;
	if (x->e != NULL && duidl_pop3_cmp(x->e, y->e) != 0)
		return duidl_pop3_cmp(x->e, y->e);
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The messages in pop3d's order, for uidl_distinct(). */
struct mig_dist {
	struct mig_user	*u;
	struct mig_ord	*ord;
};

static const char *
mig_dist_get(void *arg, size_t i, char *buf)
{
	struct mig_dist	*x = arg;

	return x->u->msgs[x->ord[i].i].served;
}

static void
mig_dist_set(void *arg, size_t i, const char *uidl)
{
	struct mig_dist	*x = arg;
	struct mig_msg	*m = &x->u->msgs[x->ord[i].i];

	snprintf(m->served, sizeof(m->served), "%s", uidl);
}

/*
 * The UIDL pop3d serves each message with the list: the old one of a
 * listed message, else its own; made distinct in pop3d's order (listed
 * first, in Dovecot's POP3 order) by the rule md_dovecot.c uses
 * (uidl_distinct.c).
 */
static void
mig_distinct(struct mig_user *u, const struct duidl_entry **ent)
{
	struct mig_dist	 x;
	struct mig_msg	*m;
	size_t		 i;

	x.u = u;
	x.ord = xcalloc(u->n > 0 ? u->n : 1, sizeof(*x.ord));
	for (i = 0; i < u->n; i++) {
		m = &u->msgs[i];
		x.ord[i].e = m->has_old ? ent[i] : NULL;
		x.ord[i].i = i;
		memcpy(m->served, m->has_old ? m->old : m->own,
		    sizeof(m->served));
	}
	qsort(x.ord, u->n, sizeof(*x.ord), mig_ord_cmp);
	(void)uidl_distinct(u->n, mig_dist_get, mig_dist_set, &x);
	free(x.ord);
}

/*
 * Each message's old UIDL (from the list d, with pop3_uidl_format fmt)
 * and the one pop3d serves (with the list when uselist, else its own),
 * and so its kind.
 */
static void
mig_classify(struct mig_user *u, const struct duidl *d, const char *fmt,
    int uselist)
{
	const struct duidl_entry	**ent;
	struct mig_set			 gone;
	struct mig_msg			*m;
	const char			*why;
	char				 buf[POP3_UIDL_MAX + 1];
	uint8_t				*seen;
	size_t				 i;

	ent = xcalloc(u->n > 0 ? u->n : 1, sizeof(*ent));
	seen = xcalloc(d->n > 0 ? d->n : 1, 1);
	duidl_match(d, u->n, mig_file_at, u, ent);
	for (i = 0; i < u->n; i++) {
		m = &u->msgs[i];
		m->has_old = 0;
		m->kind = MIG_NEW_NOT_LISTED;
		if ((m->ent = ent[i]) == NULL)
			continue;
		seen[ent[i] - d->v] = 1;
		if (duidl_uidl(d, ent[i], fmt, m->file, m->old,
		    sizeof(m->old), &why) == 1) {
			m->has_old = 1;
			m->kind = ent[i]->pop3_uidl != NULL ? MIG_KEEP_SAVED :
			    MIG_KEEP_FORMAT;
		} else
			m->kind = MIG_NEW_NO_FORMAT;
	}
	if (uselist)
		mig_distinct(u, ent);
	for (i = 0; i < u->n; i++) {
		m = &u->msgs[i];
		if (!uselist)
			memcpy(m->served, m->own, sizeof(m->served));
		if (m->has_old && strcmp(m->served, m->old) != 0)
			m->kind = uselist ? MIG_NEW_DUPLICATE :
			    MIG_NEW_LIST_OFF;
	}
	/* The old UIDLs of entries without a file: folded ones, or gone. */
	memset(&gone, 0, sizeof(gone));
	for (i = 0; i < d->n; i++)
		if (!seen[i] && duidl_uidl(d, &d->v[i], fmt, d->v[i].name, buf,
		    sizeof(buf), &why) == 1)
			mig_set_add(&gone, buf, strlen(buf));
	mig_set_sort(&gone);
	for (i = 0; i < u->n; i++) {
		m = &u->msgs[i];
		if (m->kind == MIG_NEW_NOT_LISTED &&
		    strcmp(m->served, m->own) == 0 &&
		    mig_set_has(&gone, m->own))
			m->kind = MIG_KEEP_FOLDED;
	}
	mig_set_clear(&gone);
	free(seen);
	free(ent);
}

/* How many times p is in s. */
static size_t
mig_set_count(const struct mig_set *s, const char *p)
{
	char	**hit;
	size_t	  lo, hi;

	if (s->n == 0 || (hit = bsearch(&p, s->v, s->n, sizeof(*s->v),
	    mig_strp_cmp)) == NULL)
		return 0;
	lo = hi = (size_t)(hit - s->v);
	while (lo > 0 && strcmp(s->v[lo - 1], p) == 0)
		lo--;
	while (hi + 1 < s->n && strcmp(s->v[hi + 1], p) == 0)
		hi++;
	return hi - lo + 1;
}

/* What a fold must not collide with. */
struct mig_fold_ctx {
	struct mig_set	 names;	/* unique parts of listed names and files */
	struct mig_set	 bases;	/* each message's UIDL before the "-k" */
	int		 dedup;	/* a message got a "-k" */
	uint32_t	*finds;	/* per entry: files duidl_find gives it */
};

static void
mig_fold_ctx_init(struct mig_fold_ctx *c, const struct mig_user *u,
    const struct duidl *d)
{
	const struct duidl_entry	*e;
	const struct mig_msg		*m;
	const char			*base;
	size_t				 i;

	memset(c, 0, sizeof(*c));
	c->finds = xcalloc(d->n > 0 ? d->n : 1, sizeof(*c->finds));
	for (i = 0; i < d->n; i++)
		mig_set_add(&c->names, d->v[i].name,
		    strcspn(d->v[i].name, ",:"));
	for (i = 0; i < u->n; i++) {
		m = &u->msgs[i];
		base = m->has_old ? m->old : m->own;
		mig_set_add(&c->names, m->file, m->mn.base_len);
		mig_set_add(&c->bases, base, strlen(base));
		if (strcmp(base, m->served) != 0)
			c->dedup = 1;
		if ((e = duidl_find(d, m->file)) != NULL)
			c->finds[e - d->v]++;
	}
	mig_set_sort(&c->names);
	mig_set_sort(&c->bases);
}

static void
mig_fold_ctx_clear(struct mig_fold_ctx *c)
{
	mig_set_clear(&c->names);
	mig_set_clear(&c->bases);
	free(c->finds);
}

/*
 * Why the old UIDL of m cannot become its unique part, or NULL.  It
 * must be what maildir_uidl keeps as it is (1..POP3_UIDL_MAX octets of
 * 0x21..0x7e) and a Maildir unique part (no '/', ',', ':', no leading
 * '.'); no listed name nor file may have that unique part (pop3d would
 * take the file for that entry, or serve two files one UIDL); and no
 * other message may share it (then which one gets "-2" follows the
 * order, which a fold changes: an unlisted file comes after the listed
 * ones), nor, where "-k" were given, may it look like one; and no
 * other file may be one that duidl_find takes for its entry (a copy
 * under the same unique part would take over the entry and its UIDL).
 */
static const char *
mig_unfoldable(const struct mig_msg *m, const struct mig_fold_ctx *c,
    const struct duidl *d)
{
	const unsigned char	*p = (const unsigned char *)m->old;
	size_t			 len = strlen(m->old), k;

	if (len == 0 || len > POP3_UIDL_MAX || p[0] == '.')
		return "not_a_name";
	for (; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '/' || *p == ',' ||
		    *p == ':')
			return "not_a_name";
	if (len + strlen(m->file + m->mn.base_len) > POP3_MDNAME_MAX)
		return "too_long";
	if (mig_set_has(&c->names, m->old))
		return "name_taken";
	for (k = len; k > 0 && m->old[k - 1] >= '0' && m->old[k - 1] <= '9';
	    k--)
		;
	if (strcmp(m->served, m->old) != 0 || c->finds[m->ent - d->v] != 1 ||
	    mig_set_count(&c->bases, m->old) != 1 ||
	    (c->dedup && k < len && k > 0 && m->old[k - 1] == '-'))
		return "duplicate";
	return NULL;
}

/*
 * Renames each listed message whose old UIDL differs from its own to
 * OLD + the rest of its name (",S=...:2,flags"), never over a file,
 * unless mig_unfoldable says why not.  Each rename alone keeps every
 * UIDL: the message leaves the list for a name that gives the same
 * UIDL, which no other message has; so they need no flush until the
 * list goes (mig_drop_list).  0, or -1 after mig_fail.
 */
static int
mig_fold(struct mig_user *u, int dirfd, const char *path,
    const struct duidl *d)
{
	struct mig_fold_ctx	 ctx;
	struct mig_msg	*m;
	char		 to[POP3_MDNAME_MAX + 1];
	int		 subfd[2] = { -1, -1 };
	int		 rv = -1, s;
	size_t		 i;

	mig_fold_ctx_init(&ctx, u, d);
	for (s = 0; s < 2; s++)
		if ((subfd[s] = openat(dirfd, MIG_SUB_NAME(s), O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
			mig_fail(u, path, MIG_SUB_NAME(s));
			goto done;
		}
	for (i = 0; i < u->n; i++) {
		m = &u->msgs[i];
		if (!m->has_old || strcmp(m->old, m->own) == 0)
			continue;
		if ((m->unfoldable = mig_unfoldable(m, &ctx, d)) != NULL) {
			u->unfoldable++;
			continue;
		}
		snprintf(to, sizeof(to), "%s%s", m->old,
		    m->file + m->mn.base_len);
		if (rename_noreplace(subfd[m->sub], m->file, subfd[m->sub],
		    to) == 0)
			u->renamed++;
		else if (errno == EEXIST) {
			m->unfoldable = "name_taken";
			u->unfoldable++;
		} else if (errno != ENOENT) {
			mig_fail(u, path, m->file);
			break;
		}
	}
	rv = u->failed ? -1 : 0;
 done:
	for (s = 0; s < 2; s++)
		if (subfd[s] != -1)
			close(subfd[s]);
	mig_fold_ctx_clear(&ctx);
	return rv;
}

/* Whether tmp/ holds what an unfinished pop3d commit left: 1, 0, -1. */
static int
mig_pending_commit(int dirfd)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, found = 0;

	if ((fd = openat(dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, MIG_POP3D_TMP_PFX,
		    strlen(MIG_POP3D_TMP_PFX)) == 0;
	closedir(d);
	return found;
}

/*
 * After the renames: when every message's UIDL is the same with the list
 * and without it (a fresh scan, so nothing is missed), and no pop3d
 * commit waits for its recovery in tmp/ (it may bring back files under
 * listed names), the list becomes dovecot-uidlist.migrated.
 */
static void
mig_drop_list(struct mig_user *u, int dirfd, const char *path,
    const struct duidl *d, const char *fmt)
{
	struct mig_user	 now;
	size_t		 i;
	int		 pending;

	mig_user_init(&now);
	if (mig_scan(&now, dirfd) == -1) {
		mig_fail(u, path, "new, cur");
		goto done;
	}
	mig_classify(&now, d, fmt, 1);
	for (i = 0; i < now.n; i++)
		if (strcmp(now.msgs[i].served, now.msgs[i].own) != 0)
			goto done;
	if ((pending = mig_pending_commit(dirfd)) != 0) {
		if (pending == -1)
			mig_fail(u, path, "tmp");
		else
			snprintf(u->error, sizeof(u->error), "%s/tmp: an "
			    "unfinished pop3d commit (a login recovers it): "
			    "the list stays", path);
		goto done;
	}
	/* Renames of a run killed before its fsync must last too. */
	for (i = 0; i < 2; i++)
		if (fsync_dirat(dirfd, MIG_SUB_NAME(i)) == -1) {
			mig_fail(u, path, MIG_SUB_NAME(i));
			goto done;
		}
	if (rename_noreplace(dirfd, DUIDL_FILE, dirfd, MIG_MIGRATED) == -1) {
		if (errno == EEXIST)
			snprintf(u->error, sizeof(u->error), "%s/%s exists: "
			    "the list stays", path, MIG_MIGRATED);
		else
			mig_fail(u, path, DUIDL_FILE);
		goto done;
	}
	u->list = MIG_LIST_MIGRATED;
	u->renamed_list = 1;
	if (fsync_dirat(dirfd, ".") == -1)
		mig_fail(u, path, ".");
 done:
	mig_user_clear(&now);
}

void
mig_user_run(struct mig_user *u, const struct config *cfg, int dirfd,
    const char *path, int commit)
{
	struct duidl	 d;
	char		*err = NULL;
	size_t		 i;
	int		 lockfd = -1, inuse = 0, r;
	enum mig_kind	 all = MIG_NKINDS;

	memset(&d, 0, sizeof(d));
	if (commit && (lockfd = maildir_lock(dirfd, &inuse)) == -1) {
		if (inuse)
			u->list = MIG_LIST_IN_USE;
		else {
			u->list = MIG_LIST_ERROR;
			mig_fail(u, path, MAILDIR_LOCKFILE);
		}
		return;
	}
	if ((r = duidl_load(dirfd, &d, &err)) == 1)
		u->list = MIG_LIST_DOVECOT;
	else if (r == 0)
		u->list = faccessat(dirfd, MIG_MIGRATED, F_OK,
		    AT_SYMLINK_NOFOLLOW) == 0 ? MIG_LIST_MIGRATED :
		    MIG_LIST_NONE;
	else {
		u->list = MIG_LIST_BAD;
		snprintf(u->error, sizeof(u->error), "%s/%s", path, err);
		free(err);
	}
	if (mig_scan(u, dirfd) == -1) {
		u->list = MIG_LIST_ERROR;
		mig_fail(u, path, "new, cur");
		goto done;
	}
	if (u->list == MIG_LIST_DOVECOT)
		mig_classify(u, &d, cfg->pop3_uidl_format,
		    cfg->dovecot_uidlist);
	else
		all = u->list == MIG_LIST_MIGRATED ? MIG_KEEP_OWN :
		    u->list == MIG_LIST_NONE ? MIG_NEW_NO_LIST :
		    MIG_NEW_BAD_LIST;
	for (i = 0; i < u->n; i++) {
		if (all != MIG_NKINDS) {
			u->msgs[i].kind = all;
			memcpy(u->msgs[i].served, u->msgs[i].own,
			    sizeof(u->msgs[i].own));
		}
		u->kinds[u->msgs[i].kind]++;
	}
	if (!commit || u->list != MIG_LIST_DOVECOT)
		goto done;
	/* The fold follows the list, whether pop3d reads it or not. */
	if (!cfg->dovecot_uidlist)
		mig_classify(u, &d, cfg->pop3_uidl_format, 1);
	if (mig_fold(u, dirfd, path, &d) == 0)
		mig_drop_list(u, dirfd, path, &d, cfg->pop3_uidl_format);
 done:
	duidl_free(&d);
	if (lockfd != -1)
		close(lockfd);
}
