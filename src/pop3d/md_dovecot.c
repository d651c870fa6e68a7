/*
 * md_dovecot.c - the UIDLs Dovecot gave, for a maildrop whose Maildir
 * holds a dovecot-uidlist (md_dovecot.h): the list's entries matched to
 * the files, Dovecot's POP3 order, and UIDLs made distinct.  Reads
 * Dovecot's files, never writes them.  Worker job threads, during the
 * maildrop's open.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot_uidlist.h"
#include "log.h"
#include "maildir.h"
#include "md_dovecot.h"
#include "strhash.h"
#include "xmalloc.h"

struct order_ent {
	const struct duidl_entry *e;
	size_t			  i;	/* in pop3d's order */
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order_ent	*x = a, *y = b;

	return duidl_pop3_cmp(x->e, y->e);
}

/* The entry's name equals name up to ':': Dovecot's own match. */
static int
exact(const struct duidl_entry *e, const char *name)
{
	size_t	len = strcspn(name, ":");

	return strcspn(e->name, ":") == len && memcmp(e->name, name, len) == 0;
}

/*
 * Matches names to entries, each entry to one file at most: first the
 * files whose name Dovecot had, then the others (a name pop3d gave
 * ",W=", the unique part).  ent[i] NULL: not listed.
 */
static void
match(const struct duidl *d, const char *const *names, size_t n,
    const struct duidl_entry **ent)
{
	unsigned char	*taken;
	size_t		 i, pass;
	const struct duidl_entry *e;

	taken = xcalloc(d->n > 0 ? d->n : 1, 1);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			if (ent[i] != NULL)
				continue;
			e = duidl_find(d, names[i]);
			if (e == NULL || taken[e - d->v] ||
			    (pass == 0 && !exact(e, names[i])))
				continue;
			taken[e - d->v] = 1;
			ent[i] = e;
		}
	free(taken);
}

/* Message i's UIDL (new order) into buf. */
static const char *
uidl_of(char **uidls, const char *const *names, const size_t *perm,
    size_t i, char *buf)
{
	if (uidls[i] != NULL)
		return uidls[i];
	maildir_uidl(names[perm[i]], buf);
	return buf;
}

/* The slot of UIDL s in tab (new-order index + 1), or the empty one. */
static size_t
slot_of(const uint32_t *tab, size_t mask, char **uidls,
    const char *const *names, const size_t *perm, const char *s)
{
	char	 b[POP3_UIDL_MAX + 1];
	size_t	 j;

	for (j = strhash(s) & mask; tab[j] != 0; j = (j + 1) & mask)
		if (strcmp(uidl_of(uidls, names, perm, tab[j] - 1, b), s) == 0)
			break;
	return j;
}

/*
 * Gives a message whose UIDL an earlier one has a distinct one,
 * "<uidl>-k" (cut to fit 70 octets), k from 2 on; next[] remembers the
 * last k of each UIDL, so that many copies cost no more than a few.
 */
static void
make_distinct(char **uidls, const char *const *names, const size_t *perm,
    size_t n, const char *user)
{
	char		 a[POP3_UIDL_MAX + 1], cand[POP3_UIDL_MAX + 1];
	const char	*u;
	uint32_t	*tab, *next;
	size_t		 size = 16, mask, i, j, j0, k, renamed = 0;
	int		 len;

	while (size < 2 * n)
		size *= 2;
	mask = size - 1;
	tab = xcalloc(size, sizeof(*tab));
	next = xcalloc(size, sizeof(*next));
	for (i = 0; i < n; i++) {
		u = uidl_of(uidls, names, perm, i, a);
		j = j0 = slot_of(tab, mask, uidls, names, perm, u);
		for (k = next[j0] > 1 ? next[j0] + 1 : 2; tab[j] != 0 &&
		    k <= n + 1; k++) {
			len = (int)strlen(u);
			if (len > POP3_UIDL_MAX - 21)
				len = POP3_UIDL_MAX - 21;
			snprintf(cand, sizeof(cand), "%.*s-%zu", len, u, k);
			j = slot_of(tab, mask, uidls, names, perm, cand);
		}
		if (j != j0) {
			next[j0] = (uint32_t)(k - 1);
			free(uidls[i]);
			uidls[i] = xstrdup(cand);
			renamed++;
		}
		tab[j] = (uint32_t)(i + 1);
	}
	free(next);
	free(tab);
	if (renamed > 0)
		log_warn("maildrop user=%s: %zu message%s had a UIDL an "
		    "earlier one has; given \"-N\" suffixes", user, renamed,
		    renamed == 1 ? "" : "s");
}

int
md_dovecot_uidls(int dirfd, const char *const *names, size_t n,
    const char *fmt, const char *user, size_t **permp, char ***uidlsp)
{
	struct duidl			 d;
	const struct duidl_entry	**ent;
	struct order_ent		*ord;
	char				**uidls, buf[POP3_UIDL_MAX + 1];
	const char			*why = NULL, *firstwhy = NULL;
	char				*err = NULL;
	size_t				*perm, i, k, nlisted = 0, failed = 0;
	int				 r;

	if ((r = duidl_load(dirfd, &d, &err)) != 1) {
		if (r == -1)
			log_err("maildrop user=%s: %s (Dovecot's list is not "
			    "read: fix or remove it, or set dovecot_uidlist "
			    "= no)", user, err);
		free(err);
		duidl_free(&d);
		return r;
	}
	ent = xcalloc(n > 0 ? n : 1, sizeof(*ent));
	match(&d, names, n, ent);
	ord = xcalloc(n > 0 ? n : 1, sizeof(*ord));
	uidls = xcalloc(n > 0 ? n : 1, sizeof(*uidls));
	perm = xcalloc(n > 0 ? n : 1, sizeof(*perm));
	for (i = 0; i < n; i++) {
		if (ent[i] == NULL)
			continue;
		if (duidl_uidl(&d, ent[i], fmt, names[i], buf, sizeof(buf),
		    &why) == 1) {
			ord[nlisted].e = ent[i];
			ord[nlisted++].i = i;
		} else {
			ent[i] = NULL;
			if (failed++ == 0)
				firstwhy = why;
		}
	}
	if (failed > 0)
		log_warn("maildrop user=%s: %zu message%s in %s keep%s "
		    "pop3d's own UIDL: %s", user, failed, failed == 1 ? "" :
		    "s", DUIDL_FILE, failed == 1 ? "s" : "", firstwhy);
	qsort(ord, nlisted, sizeof(*ord), order_cmp);
	for (k = 0; k < nlisted; k++) {
		perm[k] = ord[k].i;
		(void)duidl_uidl(&d, ord[k].e, fmt, names[ord[k].i], buf,
		    sizeof(buf), &why);
		uidls[k] = xstrdup(buf);
	}
	for (i = 0; i < n; i++)
		if (ent[i] == NULL)
			perm[k++] = i;
	make_distinct(uidls, names, perm, n, user);
	free(ord);
	free(ent);
	duidl_free(&d);
	*permp = perm;
	*uidlsp = uidls;
	return 1;
}
