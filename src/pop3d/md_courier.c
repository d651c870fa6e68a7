/*
 * md_courier.c - the maildrop open's use of Courier's list
 * (courier_uidl.c): the UIDL each message of the scan answers.  Worker
 * job threads.  See md_courier.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "courier_uidl.h"
#include "log.h"
#include "maildir.h"
#include "md_courier.h"
#include "xmalloc.h"

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A message without an old UIDL answers maildir_uidl()'s; where that is
 * one the list gave another message (a Courier name-based UIDL is the
 * name up to ':', pop3d's own the part up to ','), it gets "-2", "-3"...
 * as Dovecot's pop3_uidl_duplicates = rename does.
 */
static void
distinct(char **uidls, const char *const *names, size_t n)
{
	char		**set, own[POP3_UIDL_MAX + 1], cand[POP3_UIDL_MAX + 1];
	char		 *key = cand;
	size_t		  k = 0, i, j, len;
	int		  w;

	set = xcalloc(n > 0 ? n : 1, sizeof(*set));
	for (i = 0; i < n; i++)
		if (uidls[i] != NULL)
			set[k++] = uidls[i];
	qsort(set, k, sizeof(*set), str_cmp);
	for (i = 0; i < n && k > 0; i++) {
		if (uidls[i] != NULL)
			continue;
		maildir_uidl(names[i], own);
		snprintf(cand, sizeof(cand), "%s", own);
		len = strlen(own);
		/* At most k of the set can be hit: bounded. */
		for (j = 2; bsearch(&key, set, k, sizeof(*set), str_cmp) != NULL &&
		    j <= k + 2; j++) {
			w = snprintf(NULL, 0, "-%zu", j);
			snprintf(cand, sizeof(cand), "%.*s-%zu",
			    (int)(len + (size_t)w > POP3_UIDL_MAX ?
			    POP3_UIDL_MAX - (size_t)w : len), own, j);
		}
		if (strcmp(cand, own) != 0)
			uidls[i] = xstrdup(cand);
	}
	free(set);
}

int
md_courier_uidls(int dirfd, const char *const *names, size_t n,
    const char *user, char ***uidlsp)
{
	struct cuidl			 c;
	const struct cuidl_entry	*e;
	char				 buf[POP3_UIDL_MAX + 1];
	char				*err = NULL, **uidls;
	uint8_t				*used;
	size_t				 i;
	int				 r, pass;

	*uidlsp = NULL;
	if ((r = cuidl_load(dirfd, &c, &err)) != 1) {
		/* 0 with err: a version Courier refused (it renumbered too). */
		if (err != NULL)
			log_warn("maildrop %s: %s", user, err);
		free(err);
		return r;
	}
	uidls = xcalloc(n > 0 ? n : 1, sizeof(*uidls));
	used = xcalloc(c.n > 0 ? c.n : 1, 1);
	/* Names first, then unique parts, so a name's own entry wins. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			if (uidls[i] != NULL)
				continue;
			e = pass == 0 ? cuidl_find_name(&c, names[i]) :
			    cuidl_find(&c, names[i]);
			if (e == NULL || used[e - c.v])
				continue;
			used[e - c.v] = 1;
			if (!cuidl_uidl(e, buf, sizeof(buf))) {
				log_warn("maildrop %s: %s: the UIDL Courier "
				    "gave %s does not fit %d octets; pop3d's "
				    "own instead", user, CUIDL_FILE, names[i],
				    POP3_UIDL_MAX);
				continue;
			}
			uidls[i] = xstrdup(buf);
		}
	free(used);
	cuidl_free(&c);
	distinct(uidls, names, n);
	*uidlsp = uidls;
	return 1;
}
