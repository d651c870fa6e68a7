/*
 * uidl_distinct.c - every UIDL of a listing distinct (the "-k" rule of
 * Dovecot's pop3_uidl_duplicates = rename), shared by pop3d and
 * "pop3ctl migrate"; see uidl_distinct.h.  An open-addressed table of
 * the UIDLs answered so far, hashed by keyhash().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyhash.h"
#include "maildir.h"
#include "uidl_distinct.h"
#include "xmalloc.h"

struct dtab {
	uint32_t	*slot;		/* message index + 1; 0 empty */
	uint32_t	*last;		/* per slot: the last k its UIDL gave */
	size_t		 mask;
	uidl_get_fn	 get;
	void		*arg;
};

/* The slot answering s, or the empty one where it belongs. */
static size_t
dtab_slot(const struct dtab *t, const char *s)
{
	char	 b[POP3_UIDL_MAX + 1];
	size_t	 j;

	for (j = (size_t)keyhash(s, strlen(s)) & t->mask; t->slot[j] != 0;
	    j = (j + 1) & t->mask)
		if (strcmp(t->get(t->arg, t->slot[j] - 1, b), s) == 0)
			break;
	return j;
}

/* "<u>-k", u cut so that the whole fits POP3_UIDL_MAX. */
static void
suffixed(char *cand, const char *u, size_t k)
{
	size_t	len = strlen(u);
	int	w = snprintf(NULL, 0, "-%zu", k);

	if (len + (size_t)w > POP3_UIDL_MAX)
		len = POP3_UIDL_MAX - (size_t)w;
	snprintf(cand, POP3_UIDL_MAX + 1, "%.*s-%zu", (int)len, u, k);
}

size_t
uidl_distinct(size_t n, uidl_get_fn get, uidl_set_fn set, void *arg)
{
	struct dtab	 t = { .get = get, .arg = arg };
	char		 a[POP3_UIDL_MAX + 1], cand[POP3_UIDL_MAX + 1];
	const char	*u;
	size_t		 size = 16, i, j, j0, k, renamed = 0;

	if (n > POP3_MAILDROP_MAX)
		abort();
	while (size < 2 * n)
		size *= 2;
	t.mask = size - 1;
	t.slot = xcalloc(size, sizeof(*t.slot));
	t.last = xcalloc(size, sizeof(*t.last));
	for (i = 0; i < n; i++) {
		u = get(arg, i, a);
		j = j0 = dtab_slot(&t, u);
		/* Each k tried is one an earlier message answers: at most n. */
		for (k = t.last[j0] + 1 > 2 ? t.last[j0] + 1 : 2;
		    t.slot[j] != 0 && k <= n + 1; k++) {
			suffixed(cand, u, k);
			j = dtab_slot(&t, cand);
		}
		if (j != j0) {
			t.last[j0] = (uint32_t)(k - 1);
			set(arg, i, cand);
			renamed++;
		}
		t.slot[j] = (uint32_t)(i + 1);
	}
	free(t.last);
	free(t.slot);
	return renamed;
}

struct vec {
	char			**v;
	const char *const	 *names;
};

static const char *
vec_get(void *arg, size_t i, char *buf)
{
	struct vec	*x = arg;

	if (x->v[i] != NULL)
		return x->v[i];
	maildir_uidl(x->names[i], buf);
	return buf;
}

static void
vec_set(void *arg, size_t i, const char *u)
{
	struct vec	*x = arg;

	free(x->v[i]);
	x->v[i] = xstrdup(u);
}

size_t
uidl_distinct_v(char **v, const char *const *names, size_t n)
{
	struct vec	x = { v, names };

	return uidl_distinct(n, vec_get, vec_set, &x);
}

int
uidl_same_name(const char *a, const char *b)
{
	size_t	len = strcspn(b, ":");

	return strcspn(a, ":") == len && memcmp(a, b, len) == 0;
}
