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
#include "uidl_distinct.h"
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

static const char *
name_at(void *arg, size_t i)
{
	return ((const char *const *)arg)[i];
}

/*
 * Every UIDL distinct (uidl_distinct.c), in the new order; logs how many
 * got a "-k".
 */
static void
make_distinct(char **uidls, const char *const *names, const size_t *perm,
    size_t n, const char *user)
{
	const char	**pn;
	size_t		  i, renamed;

	pn = xcalloc(n > 0 ? n : 1, sizeof(*pn));
	for (i = 0; i < n; i++)
		pn[i] = names[perm[i]];
	renamed = uidl_distinct_v(uidls, pn, n);
	free(pn);
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
	duidl_match(&d, n, name_at, (void *)names, ent);
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
