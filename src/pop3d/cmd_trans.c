/*
 * cmd_trans.c - the TRANSACTION state (RFC 1939 section 5): STAT LIST
 * UIDL RETR TOP DELE NOOP RSET, and QUIT, which in TRANSACTION enters
 * UPDATE and commits the deletions (and, under an EXPIRE policy, what
 * RETR retrieved: maildrop_retr) on a job thread.  RETR, TOP, LIST
 * and UIDL are continuations: they write until the output is full and
 * resume when it drains, so a 1 GB message costs what a 1 KB one does.
 * Worker processes, loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "conn.h"
#include "flow.h"
#include "ipc.h"
#include "jobs.h"
#include "log.h"
#include "maildrop.h"
#include "session.h"
#include "xmalloc.h"

/* A RETR step's file input, before it is encoded (loop thread only). */
static unsigned char	retr_in[RETR_WIRE_STEP];

/*
 * Message number argument -> 0-based index of a message: POP_OK, or
 * POP_ERR for an argument that is not a number (a bad command), or
 * POP_FAIL for a number with no message (a well-formed command that
 * failed; clients pipeline such, and it must not count toward the
 * disconnect).
 */
static enum cmd_result
msg_num(struct session *s, const char *arg, size_t *idx)
{
	const char	*errstr;
	uint64_t	 n;
	int		 r;

	if ((r = pop3_msgnum(arg, maildrop_count(s->md), &n, &errstr)) != 0) {
		session_set_reply(s, "%s", errstr);
		return r == -1 ? POP_ERR : POP_FAIL;
	}
	*idx = (size_t)(n - 1);
	return POP_OK;
}

/* What the maildrop said of message i: POP_OK, or POP_FAIL, replied. */
static enum cmd_result
msg_state(struct session *s, size_t i, enum md_msg_state st)
{
	switch (st) {
	case MD_MSG_OK:
		return POP_OK;
	case MD_MSG_NONE:
		session_set_reply(s, "no such message");
		break;
	case MD_MSG_DELETED:
		session_set_reply(s, "message %zu is deleted", i + 1);
		break;
	}
	return POP_FAIL;
}

/* msg_num() of a message not deleted, which goes into *mp (if not NULL). */
static enum cmd_result
get_msg(struct session *s, const char *arg, size_t *idx,
    const struct md_msg **mp)
{
	enum cmd_result	res;

	if ((res = msg_num(s, arg, idx)) != POP_OK)
		return res;
	return msg_state(s, *idx, maildrop_msg(s->md, *idx, mp));
}

enum cmd_result
cmd_stat(struct session *s, struct pop3_cmd *cmd)
{
	uint64_t	size;
	size_t		count;

	maildrop_stat(s->md, &count, &size);
	session_set_reply(s, "%zu %llu", count, (unsigned long long)size);
	return POP_OK;
}

static int
list_cont(struct session *s)
{
	const struct md_msg	*m;
	size_t			 n;

	m = maildrop_msgs(s->md, &n);
	while (s->iter < n) {
		if (conn_output_len(s->conn) >= POP3_OUTPUT_HIWAT)
			return 0;
		if (!m[s->iter].deleted)
			conn_printf(s->conn, "%zu %llu\r\n", s->iter + 1,
			    (unsigned long long)m[s->iter].size);
		s->iter++;
	}
	conn_write(s->conn, ".\r\n", 3);
	return 1;
}

enum cmd_result
cmd_list(struct session *s, struct pop3_cmd *cmd)
{
	const struct md_msg	*m;
	enum cmd_result		 res;
	uint64_t		 size;
	size_t			 i, count;

	if (cmd->argc == 1) {
		if ((res = get_msg(s, cmd->argv[0], &i, &m)) != POP_OK)
			return res;
		session_set_reply(s, "%zu %llu", i + 1,
		    (unsigned long long)m->size);
		return POP_OK;
	}
	maildrop_stat(s->md, &count, &size);
	session_set_reply(s, "%zu message%s (%llu octets)", count,
	    count == 1 ? "" : "s", (unsigned long long)size);
	s->iter = 0;
	s->cont = list_cont;
	return POP_OK;
}

static int
uidl_cont(struct session *s)
{
	const struct md_msg	*m;
	char			 uidl[POP3_UIDL_MAX + 1];
	size_t			 n;

	m = maildrop_msgs(s->md, &n);
	while (s->iter < n) {
		if (conn_output_len(s->conn) >= POP3_OUTPUT_HIWAT)
			return 0;
		if (!m[s->iter].deleted) {
			maildrop_uidl(s->md, s->iter, uidl);
			conn_printf(s->conn, "%zu %s\r\n", s->iter + 1, uidl);
		}
		s->iter++;
	}
	conn_write(s->conn, ".\r\n", 3);
	return 1;
}

enum cmd_result
cmd_uidl(struct session *s, struct pop3_cmd *cmd)
{
	char		uidl[POP3_UIDL_MAX + 1];
	enum cmd_result	res;
	size_t		i;

	if (cmd->argc == 1) {
		if ((res = get_msg(s, cmd->argv[0], &i, NULL)) != POP_OK)
			return res;
		maildrop_uidl(s->md, i, uidl);
		session_set_reply(s, "%zu %s", i + 1, uidl);
		return POP_OK;
	}
	session_set_reply(s, "unique-id listing follows");
	s->iter = 0;
	s->cont = uidl_cont;
	return POP_OK;
}

/* Mid-answer read failure: only closing tells the client. */
static int
retr_fail(struct session *s)
{
	log_err(SID_FMT " retr read: %s", SID_ARG(s->id),
	    strerror(errno));
	close(s->msgfd);
	s->msgfd = -1;
	session_abort(s, "read_error");
	return 1;
}

/*
 * The next part of the message file, at most max bytes.  A wire-form
 * file (msgsize set) is read exactly to the size RETR checked: 0 once
 * all of it was read, and one ending early is an error (ENODATA), as
 * an answer cut short could not be told from a complete one.  Other
 * files are read to their end (0).  -1 with errno on failure.
 *
 * This read(2) blocks the loop thread, on purpose (and so do the open
 * of the file and the sendfile(2) of the plain path, for the same
 * reason).  Bound: one read of at most RETR_WIRE_STEP (512 KiB) per
 * step, and a step only when the output has drained to CONN_OUT_LOWAT.
 * Reason: the file is almost always in the page cache (it was written
 * or listed shortly before, and the kernel reads ahead of a sequential
 * reader), where a step is a copy: measured 1.5 us for 8 KiB and 30 us
 * for 512 KiB, while a round trip to a job thread costs about 17 us a
 * step (jobs.c on one core), more than an 8 KiB RETR costs in all.  A
 * cold read stalls this worker's other sessions for one disk read:
 * 1 to 5 ms measured on a virtual disk, about 15 ms on a rotating one
 * (a seek and 512 KiB).  docs/pop3d.8 (PROCESS MODEL) says the same.
 */
static ssize_t
retr_read(struct session *s, unsigned char *buf, size_t max)
{
	ssize_t	n;

	if (s->msgsize > 0 && s->msgsize - s->sent < max)
		max = (size_t)(s->msgsize - s->sent);
	if (max == 0)
		return 0;
	while ((n = read(s->msgfd, buf, max)) == -1 && errno == EINTR)
		;
	if (n == 0 && s->msgsize > 0) {
		errno = ENODATA;
		return -1;
	}
	if (n > 0)
		s->sent += (uint64_t)n;
	return n;
}

/* The last step of a wire-form RETR read all of the file. */
static int
retr_wire_end(struct session *s)
{
	if (s->sent < s->msgsize)
		return 0;
	close(s->msgfd);
	s->msgfd = -1;
	return 1;
}

/*
 * RETR of a wire-form file (every line ends in CRLF, none starts with
 * '.'): its bytes are the answer, read straight into the output buffer.
 */
static int
retr_raw_cont(struct session *s)
{
	uint64_t	 left = s->msgsize - s->sent;
	size_t		 want, k;
	unsigned char	*out;
	ssize_t		 n;

	want = left < RETR_WIRE_STEP ? (size_t)left : RETR_WIRE_STEP;
	/* No more room than the rest of the file and the end need. */
	out = conn_reserve(s->conn, want + 3);
	if ((n = retr_read(s, out, want)) == -1) {
		conn_commit(s->conn, 0);
		return retr_fail(s);
	}
	k = (size_t)n;
	if (s->sent == s->msgsize) {
		memcpy(out + k, ".\r\n", 3);
		k += 3;
	}
	conn_commit(s->conn, k);
	return retr_wire_end(s);
}

/*
 * RETR of a wire-form file with lines that start with '.': the wire
 * encoder stuffs only those, in room sized by the name's count of them
 * (,D=).  A file with more (changed since its name was given) has that
 * step done again with room for any number.
 */
static int
retr_dots_cont(struct session *s)
{
	uint64_t	 left = s->msgsize - s->sent;
	struct dot_enc	 before;
	unsigned char	*out;
	size_t		 want, k;
	ssize_t		 n;
	int		 last;

	want = left < sizeof(retr_in) ? (size_t)left : sizeof(retr_in);
	if ((n = retr_read(s, retr_in, want)) == -1)
		return retr_fail(s);
	last = s->sent == s->msgsize;
	before = s->enc;
	out = conn_reserve(s->conn, dot_enc_wire_bound(&s->enc, (size_t)n) +
	    (last ? 5 : 0));
	if ((k = dot_enc_chunk(&s->enc, retr_in, (size_t)n, out)) ==
	    DOT_ENC_OVER) {
		conn_commit(s->conn, 0);
		if (before.dots_left != UINT64_MAX)
			log_warn(SID_FMT " retr: more lines start with '.' than "
			    "the file name says", SID_ARG(s->id));
		s->enc = before;
		s->enc.dots_left = UINT64_MAX;
		out = conn_reserve(s->conn, dot_enc_wire_bound(&s->enc,
		    (size_t)n) + (last ? 5 : 0));
		k = dot_enc_chunk(&s->enc, retr_in, (size_t)n, out);
	}
	if (last)
		k += dot_enc_finish(&s->enc, out + k);
	conn_commit(s->conn, k);
	return retr_wire_end(s);
}

/* After the +OK line: the whole file, by the kernel, then the end. */
static int
retr_sendfile_cont(struct session *s)
{
	int	fd = s->msgfd;

	s->msgfd = -1;
	s->sent = s->msgsize;
	if (conn_send_file(s->conn, fd, s->msgsize, ".\r\n", 3) == -1) {
		/* Out of memory (conn_send_file closed fd). */
		log_err(SID_FMT " retr: cannot queue the file",
		    SID_ARG(s->id));
		session_abort(s, "nomem");
		return 1;
	}
	return 1;
}

static int
retr_cont(struct session *s)
{
	unsigned char	*out;
	size_t		 k;
	ssize_t		 n;

	if (!dot_enc_done(&s->enc)) {
		if ((n = retr_read(s, retr_in, RETR_CHUNK)) == -1)
			return retr_fail(s);
		if (n > 0) {
			out = conn_reserve(s->conn, dot_enc_bound((size_t)n));
			k = dot_enc_chunk(&s->enc, retr_in, (size_t)n, out);
			conn_commit(s->conn, k);
			return 0;
		}
	}
	out = conn_reserve(s->conn, 8);
	k = dot_enc_finish(&s->enc, out);
	conn_commit(s->conn, k);
	close(s->msgfd);
	s->msgfd = -1;
	return 1;
}

static enum cmd_result
start_retr(struct session *s, size_t i)
{
	if ((s->msgfd = maildrop_open_msg(s->md, i)) == -1) {
		log_warn(SID_FMT " open message %zu: %s",
		    SID_ARG(s->id), i + 1, strerror(errno));
		session_set_reply(s, "%smessage %zu cannot be read",
		    errno == ENOENT ? "" : "[SYS/TEMP] ", i + 1);
		return POP_FAIL;
	}
	s->sent = 0;
	s->msgsize = 0;
	s->cont = retr_cont;
	return POP_OK;
}

/*
 * A file whose name says every line ends in CRLF (,S= equal to ,W=, and
 * a ,D=) and that still has that size skips most of the encoder: with
 * no line starting with '.' (,D=0) it is the answer as it is, sent by
 * the kernel on a plain connection (sendfile) or read straight into
 * the output buffer on TLS; with some, only those dots are stuffed.
 * Anything else (LF files, a file changed since) takes the encoder.
 */
static void
retr_wire(struct session *s, const struct md_msg *m)
{
	struct stat	st;

	if (!m->wire || fstat(s->msgfd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != m->size)
		return;
	s->msgsize = m->size;
	if (m->dots > 0) {
		dot_enc_init_wire(&s->enc, m->dots);
		s->cont = retr_dots_cont;
	} else if (!conn_is_tls(s->conn) && m->size >= RETR_SENDFILE_MIN)
		s->cont = retr_sendfile_cont;
	else
		s->cont = retr_raw_cont;
}

enum cmd_result
cmd_retr(struct session *s, struct pop3_cmd *cmd)
{
	const struct md_msg	*m;
	enum cmd_result		 res;
	size_t			 i;

	if ((res = get_msg(s, cmd->argv[0], &i, &m)) != POP_OK)
		return res;
	dot_enc_init(&s->enc);
	if ((res = start_retr(s, i)) != POP_OK)
		return res;
	retr_wire(s, m);
	/*
	 * For EXPIRE, retrieved once the answer is under way: the QUIT
	 * that commits it is read only after all of it was queued, ahead
	 * of the QUIT's answer, and a RETR that fails midway closes the
	 * session, which then commits nothing.
	 */
	maildrop_retr(s->md, i);
	s->n_retr++;
	s->bytes_retr += m->size;
	metrics_retr(m->size);
	session_set_reply(s, "%llu octets", (unsigned long long)m->size);
	return POP_OK;
}

enum cmd_result
cmd_top(struct session *s, struct pop3_cmd *cmd)
{
	const char	*errstr;
	enum cmd_result	 res;
	uint64_t	 lines;
	size_t		 i;

	if ((res = get_msg(s, cmd->argv[0], &i, NULL)) != POP_OK)
		return res;
	if (pop3_linecount(cmd->argv[1], &lines, &errstr) == -1) {
		session_set_reply(s, "%s", errstr);
		return POP_ERR;
	}
	dot_enc_init_top(&s->enc, lines);
	if ((res = start_retr(s, i)) != POP_OK)
		return res;
	s->n_top++;
	session_set_reply(s, "top of message follows");
	return POP_OK;
}

enum cmd_result
cmd_dele(struct session *s, struct pop3_cmd *cmd)
{
	enum cmd_result	res;
	size_t		i;

	if ((res = msg_num(s, cmd->argv[0], &i)) != POP_OK ||
	    (res = msg_state(s, i, maildrop_dele(s->md, i))) != POP_OK)
		return res;
	session_set_reply(s, "message %zu deleted", i + 1);
	return POP_OK;
}

enum cmd_result
cmd_noop(struct session *s, struct pop3_cmd *cmd)
{
	return POP_OK;
}

enum cmd_result
cmd_rset(struct session *s, struct pop3_cmd *cmd)
{
	uint64_t	size;
	size_t		count;

	maildrop_rset(s->md);
	maildrop_stat(s->md, &count, &size);
	session_set_reply(s, "maildrop has %zu message%s (%llu octets)",
	    count, count == 1 ? "" : "s", (unsigned long long)size);
	return POP_OK;
}

struct commit_job {
	struct job	 job;
	struct maildrop	*md;		/* taken from the session */
	size_t		 removed;
	size_t		 failed;
};

static void
commit_run(struct job *j)
{
	struct commit_job *cj = (struct commit_job *)j;

	cj->removed = maildrop_commit(cj->md, &cj->failed);
}

static void
commit_done(struct job *j)
{
	struct commit_job	*cj = (struct commit_job *)j;
	struct session		*s;
	size_t			 removed = cj->removed, failed = cj->failed;
	uint64_t		 sid = j->sid;

	/* The deletions are done whether or not the client still waits. */
	maildrop_free(&cj->md);
	free(cj);
	if (failed > 0)
		metrics_commit_failed();
	if ((s = session_find(sid)) == NULL)
		return;
	s->n_dele = removed;
	s->end_reason = "quit";
	if (failed > 0) {
		session_set_reply(s, "[SYS/TEMP] %zu deleted message%s could "
		    "not be removed", failed, failed == 1 ? "" : "s");
		session_finish(s, POP_FAIL_CLOSE);
		return;
	}
	session_set_reply(s, "bye (%zu message%s deleted)", removed,
	    removed == 1 ? "" : "s");
	session_finish(s, POP_CLOSE);
}

enum cmd_result
cmd_quit(struct session *s, struct pop3_cmd *cmd)
{
	struct commit_job	*cj;

	s->end_reason = "quit";
	if (s->state != SESS_TRANS || !maildrop_dirty(s->md)) {
		/*
		 * Release the maildrop lock before the +OK goes out: a client
		 * that reconnects as soon as it reads it must not meet
		 * [IN-USE] from this session.
		 */
		maildrop_free(&s->md);
		session_set_reply(s, "bye");
		return POP_CLOSE;
	}
	session_enter_state(s, SESS_UPDATE);
	cj = xcalloc(1, sizeof(*cj));
	cj->job.run = commit_run;
	cj->job.done = commit_done;
	cj->job.sid = s->id;
	cj->md = s->md;
	s->md = NULL;
	jobs_submit(&cj->job);
	return POP_PENDING;
}
