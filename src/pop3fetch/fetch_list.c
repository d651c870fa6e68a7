/*
 * fetch_list.c - pop3fetch's view of the maildrop: STAT, UIDL and LIST
 * into the session's message list.  A UIDL answer that repeats a
 * unique-id is refused (it would defeat exactly-once), and the state
 * rows of messages the server no longer has are dropped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "fetch_io.h"
#include "fetch_list.h"
#include "uidlcache.h"
#include "xmalloc.h"

static int
perform_stat(struct fetch *f)
{
	fetch_enter_state(f, FETCH_STAT);
	return fetch_send(f, NULL, "STAT");
}

static int
resp_stat(struct fetch *f)
{
	struct pop3_resp	 r;
	uint64_t		 count, size;
	const char		*e;
	char			 esc[256];

	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_PROTOCOL, "%s: STAT: %s", f->a->host,
		    fetch_text(&r, esc, sizeof(esc)));
	if (pop3_resp_stat(r.text, r.textlen, &count, &size, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host, e);
	f->nmsgs = (size_t)count;
	f->msgs = xcalloc(f->nmsgs + 1, sizeof(*f->msgs));
	return 0;
}

static int
perform_uidl(struct fetch *f)
{
	fetch_enter_state(f, FETCH_UIDL);
	return fetch_send(f, NULL, "UIDL");
}

static int
fetch_uidcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
uidl_line(struct fetch *f, const char *p, size_t len)
{
	const char	*e;
	char		 uid[FETCH_UID_MAX + 1];
	uint64_t	 num;

	if (pop3_resp_uidl(p, len, &num, uid, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host, e);
	if (num > f->nmsgs || f->msgs[num - 1].uid[0] != '\0')
		return fetch_fail(f, EX_PROTOCOL, "%s: UIDL: message %llu over "
		    "the STAT count or given twice", f->a->host,
		    (unsigned long long)num);
	memcpy(f->msgs[num - 1].uid, uid, sizeof(uid));
	return 0;
}

static int
resp_uidl(struct fetch *f)
{
	struct pop3_resp	 r;
	char			 esc[256], **v;
	size_t			 i, n = 0;

	fetch_enter_state(f, FETCH_UIDL);
	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return fetch_fail(f, EX_UNAVAILABLE, "%s: the server has no "
		    "UIDL (%s): pop3fetch cannot tell new messages from old "
		    "ones, so it fetches nothing rather than duplicate mail",
		    f->a->host, fetch_text(&r, esc, sizeof(esc)));
	if (fetch_body(f, uidl_line) == -1)
		return -1;
	/* Two messages with one UIDL would defeat exactly-once. */
	v = xcalloc(f->nmsgs + 1, sizeof(*v));
	for (i = 0; i < f->nmsgs; i++)
		if (f->msgs[i].uid[0] != '\0')
			v[n++] = f->msgs[i].uid;
	qsort(v, n, sizeof(*v), fetch_uidcmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0) {
			fetch_fail(f, EX_PROTOCOL, "%s: UIDL: two messages "
			    "have the unique-id %s", f->a->host, v[i]);
			free(v);
			return -1;
		}
	/* Rows of messages the server no longer has are dropped. */
	if (!f->o->check && uidlcache_prune(f->uc, v, n) == -1) {
		free(v);
		return fetch_fail(f, EX_IOERR, "state: %s",
		    uidlcache_errstr(f->uc));
	}
	free(v);
	return 0;
}

static int
perform_list(struct fetch *f)
{
	fetch_enter_state(f, FETCH_LIST);
	return fetch_send(f, NULL, "LIST");
}

static int
list_line(struct fetch *f, const char *p, size_t len)
{
	const char	*e;
	uint64_t	 num, size;

	if (pop3_resp_list(p, len, &num, &size, &e) == -1)
		return fetch_fail(f, EX_PROTOCOL, "%s: %s", f->a->host, e);
	if (num <= f->nmsgs)
		f->msgs[num - 1].size = size;
	return 0;
}

static int
resp_list(struct fetch *f)
{
	struct pop3_resp	 r;

	fetch_enter_state(f, FETCH_LIST);
	if (fetch_reply(f, &r) == -1)
		return -1;
	if (r.status != POP3_RESP_OK)
		return 0;	/* sizes unknown: size_limit applies on RETR */
	return fetch_body(f, list_line);
}

/*
 * STAT, then for a maildrop that is not empty UIDL and LIST, both sent
 * at once when both sides allow pipelining.
 */
int
fetch_list(struct fetch *f)
{
	int	 pipe_ok;

	if (perform_stat(f) == -1 || resp_stat(f) == -1)
		return -1;
	if (f->nmsgs == 0)
		return 0;
	pipe_ok = f->a->pipelining && f->capa.pipelining;
	if (perform_uidl(f) == -1 || (pipe_ok && perform_list(f) == -1))
		return -1;
	if (resp_uidl(f) == -1 || (!pipe_ok && perform_list(f) == -1) ||
	    resp_list(f) == -1)
		return -1;
	return 0;
}
