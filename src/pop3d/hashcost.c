/*
 * hashcost.c - makes every failed login cost the same time, whoever the
 * user and whatever their hash (auth process).
 *
 * A passwd-file often mixes hash kinds and costs: users moved to
 * yescrypt one password change at a time sit next to $6$ users, and one
 * yescrypt verification takes some 30 times a $6$ one.  If a wrong
 * password costs what the user's own hash costs, and an unknown user
 * costs some fixed hash, the answer's timing tells which names exist.
 *
 * So at each load of the file every cost class present (the hash kind
 * with its cost parameters: "$y$j9T", "$6$rounds=N", "$2b$12", ...) is
 * verified once and timed, and the costliest becomes the dummy.  Then
 * a failure costs what the dummy costs:
 *   - an unknown user verifies the dummy;
 *   - a known user whose class costs at least 90 % of it: nothing more;
 *   - one whose class costs less than 10 % of it ({PLAIN}, a cheap
 *     crypt): the dummy is verified too (the sum is within 10 %);
 *   - in between, the process sleeps what the user's own verification
 *     just took times the calibrated ratio, so the padding follows the
 *     machine's load as the real work would.
 * A successful login is never padded.
 *
 * With accounts in PostgreSQL no file lists the hashes: the auth
 * process times each class as logins bring it (hashcost_knows()).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hashcost.h"
#include "xmalloc.h"

#define CLASS_MAX	48	/* bytes of a class name */
#define CLASSES_MAX	16	/* classes timed per load; others count as
				   free, so they get the dummy on failure */
#define CALIBRATE_SECRET "calibration: never a password"

struct cost_class {
	char		name[CLASS_MAX];
	uint64_t	ns;		/* one verification, at load */
};

struct hashcost {
	struct passwd_entry	dummy;
	uint64_t		dummy_ns;
	struct cost_class	cls[CLASSES_MAX];
	size_t			ncls;
};

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The class of e into out: for a crypt string the fields before the salt
 * ("$y$j9T", "$6", "$6$rounds=9000", "$2b$12"), else the scheme's name.
 */
static void
class_of(const struct passwd_entry *e, char *out, size_t len)
{
	const char	*h = e->hash, *p;
	size_t		 n, fields, keep, need;

	switch (e->scheme) {
	case PASSWD_SCHEME_YESCRYPT:
	case PASSWD_SCHEME_SHA512_CRYPT:
	case PASSWD_SCHEME_SHA256_CRYPT:
	case PASSWD_SCHEME_BCRYPT:
		break;
	default:
		snprintf(out, len, "%s", passwd_scheme_str(e->scheme));
		return;
	}
	for (fields = 0, p = h; *p != '\0'; p++)
		if (*p == '$')
			fields++;
	/* bcrypt keeps salt and hash in one field; the others in two. */
	need = e->scheme == PASSWD_SCHEME_BCRYPT ? 1 : 2;
	if (fields <= need) {
		snprintf(out, len, "%s", passwd_scheme_str(e->scheme));
		return;
	}
	keep = fields - need;
	for (n = 0, p = h; *p != '\0'; p++)
		if (*p == '$' && n++ == keep)
			break;
	snprintf(out, len, "%.*s", (int)(p - h), h);
}

static const struct cost_class *
find_class(const struct hashcost *hc, const char *name)
{
	size_t	i;

	for (i = 0; i < hc->ncls; i++)
		if (strcmp(hc->cls[i].name, name) == 0)
			return &hc->cls[i];
	return NULL;
}

static void
set_dummy(struct hashcost *hc, const char *hash, enum passwd_scheme scheme)
{
	passwd_entry_clear(&hc->dummy);
	hc->dummy.user = xstrdup("");
	hc->dummy.hash = xstrdup(hash);
	hc->dummy.scheme = scheme;
}

/*
 * One verification's time: the faster of two, as the first call of a
 * kind pays for cold caches (and the very first for loading the code).
 */
static uint64_t
time_verify(const struct passwd_entry *e)
{
	uint64_t	t0, a, b;

	t0 = now_ns();
	(void)passwd_verify(e, CALIBRATE_SECRET);
	a = now_ns() - t0;
	t0 = now_ns();
	(void)passwd_verify(e, CALIBRATE_SECRET);
	b = now_ns() - t0;
	return a < b ? a : b;
}

struct hashcost *
hashcost_new(const struct passwd_db *db)
{
	struct hashcost		*hc = xcalloc(1, sizeof(*hc));
	struct passwd_entry	 probe;
	char			 name[CLASS_MAX], fresh[256];
	size_t			 i;

	for (i = 0; i < db->n && hc->ncls < CLASSES_MAX; i++) {
		const struct passwd_entry *e = &db->v[i];

		if (e->scheme == PASSWD_SCHEME_PLAIN ||
		    e->scheme == PASSWD_SCHEME_UNKNOWN)
			continue;
		class_of(e, name, sizeof(name));
		if (find_class(hc, name) != NULL)
			continue;
		/* A locked entry is verified all the same (passwd.c). */
		probe = *e;
		probe.locked = 0;
		snprintf(hc->cls[hc->ncls].name, CLASS_MAX, "%s", name);
		hc->cls[hc->ncls].ns = time_verify(&probe);
		if (hc->cls[hc->ncls].ns > hc->dummy_ns) {
			hc->dummy_ns = hc->cls[hc->ncls].ns;
			set_dummy(hc, e->hash, e->scheme);
		}
		hc->ncls++;
	}
	if (hc->dummy.hash == NULL &&
	    passwd_hash("dummy", fresh, sizeof(fresh)) == 0) {
		/* No crypt hash in the file: what pop3ctl would write. */
		set_dummy(hc, fresh, PASSWD_SCHEME_YESCRYPT);
		hc->dummy_ns = time_verify(&hc->dummy);
		explicit_bzero(fresh, sizeof(fresh));
	}
	return hc;
}

int
hashcost_knows(const struct hashcost *hc, const struct passwd_entry *e)
{
	char	name[CLASS_MAX];

	if (e->scheme == PASSWD_SCHEME_PLAIN ||
	    e->scheme == PASSWD_SCHEME_UNKNOWN || hc->ncls >= CLASSES_MAX)
		return 1;
	class_of(e, name, sizeof(name));
	return find_class(hc, name) != NULL;
}

void
hashcost_free(struct hashcost *hc)
{
	if (hc == NULL)
		return;
	passwd_entry_clear(&hc->dummy);
	free(hc);
}

const char *
hashcost_dummy_class(const struct hashcost *hc, char *buf, size_t len)
{
	if (hc == NULL || hc->dummy.hash == NULL)
		snprintf(buf, len, "none");
	else
		class_of(&hc->dummy, buf, len);
	return buf;
}

int
hashcost_verify(const struct hashcost *hc, const struct passwd_entry *e,
    const char *secret)
{
	const struct cost_class	*c = NULL;
	char			 name[CLASS_MAX];
	struct timespec		 ts;
	uint64_t		 sleep_ns, own_ns = 0;

	if (e != NULL) {
		own_ns = now_ns();
		if (passwd_verify(e, secret) == 1)
			return 1;
		own_ns = now_ns() - own_ns;
	}
	if (hc == NULL || hc->dummy.hash == NULL || hc->dummy_ns == 0)
		return 0;
	if (e != NULL) {
		class_of(e, name, sizeof(name));
		c = find_class(hc, name);
		if (c != NULL && c->ns * 10 >= hc->dummy_ns * 9)
			return 0;
		if (c != NULL && c->ns * 10 > hc->dummy_ns) {
			/* own_ns / c->ns is the load now; scale by it. */
			sleep_ns = (uint64_t)((double)own_ns *
			    ((double)hc->dummy_ns / (double)c->ns - 1.0));
			if (sleep_ns > 10 * 1000000000ull)
				sleep_ns = 10 * 1000000000ull;
			ts.tv_sec = (time_t)(sleep_ns / 1000000000u);
			ts.tv_nsec = (long)(sleep_ns % 1000000000u);
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
			return 0;
		}
	}
	(void)passwd_verify(&hc->dummy, secret);
	return 0;
}
