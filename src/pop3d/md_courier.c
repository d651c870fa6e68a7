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
#include "uidl_distinct.h"
#include "xmalloc.h"

/*
 * Every UIDL distinct (uidl_distinct.c): the listed messages first, in
 * the scan's order, then the others (maildir_uidl()'s: a Courier
 * name-based UIDL is the name up to ':', pop3d's own the part up to
 * ','), so that an old UIDL is kept where it can be.
 */
static void
distinct(char **uidls, const char *const *names, size_t n)
{
	const char	**pn;
	char		**v;
	size_t		  i, k = 0, *ord;

	pn = xcalloc(n > 0 ? n : 1, sizeof(*pn));
	v = xcalloc(n > 0 ? n : 1, sizeof(*v));
	ord = xcalloc(n > 0 ? n : 1, sizeof(*ord));
	for (i = 0; i < n; i++)
		if (uidls[i] != NULL)
			ord[k++] = i;
	for (i = 0; i < n; i++)
		if (uidls[i] == NULL)
			ord[k++] = i;
	for (k = 0; k < n; k++) {
		pn[k] = names[ord[k]];
		v[k] = uidls[ord[k]];
	}
	(void)uidl_distinct_v(v, pn, n);
	for (k = 0; k < n; k++)
		uidls[ord[k]] = v[k];
	free(ord);
	free(v);
	free(pn);
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
	/*
	 * The file whose name the list has (up to ':') first, then the
	 * name less the ",W="/",R=" pop3d adds, then the unique part: a
	 * name's own entry wins whatever the order of the files.
	 */
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < n; i++) {
			if (uidls[i] != NULL)
				continue;
			e = pass < 2 ? cuidl_find_name(&c, names[i]) :
			    cuidl_find(&c, names[i]);
			if (e == NULL || used[e - c.v] ||
			    (pass == 0 && !uidl_same_name(e->name, names[i])))
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
