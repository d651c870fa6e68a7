/*
 * passwd_edit.c - edits of the passwd-file: the pure line edits (add,
 * set hash, delete, lock, unlock) and the locked, atomic rewrite
 * (temporary file, fsync, rename, fsync of the directory).  Runs in
 * pop3ctl, usually as root; never in pop3d.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "passwd.h"
#include "passwd_edit.h"
#include "xmalloc.h"

/* Polling interval while another pop3ctl holds the lock. */
#define PASSWD_LOCK_POLL_MS	20

const char *
passwd_edit_status_str(enum passwd_edit_status s)
{
	switch (s) {
	case PASSWD_EDIT_OK:
		return "ok";
	case PASSWD_EDIT_UNCHANGED:
		return "unchanged";
	case PASSWD_EDIT_NOUSER:
		return "no such user";
	case PASSWD_EDIT_EXISTS:
		return "user exists";
	case PASSWD_EDIT_BADFILE:
		return "bad passwd-file";
	case PASSWD_EDIT_BUSY:
		return "passwd-file locked";
	case PASSWD_EDIT_IOERR:
		return "I/O error";
	}
	return "unknown";
}

/*
 * The hash field of line (content without its line end): [*hp, *hendp).
 * The line parsed, so it has a ':'.
 */
static void
pe_hash_span(const char *line, size_t len, size_t *hp, size_t *hendp)
{
	const char	*colon, *next;

	colon = memchr(line, ':', len);
	*hp = (size_t)(colon - line) + 1;
	next = memchr(line + *hp, ':', len - *hp);
	*hendp = next != NULL ? (size_t)(next - line) : len;
}

/*
 * Writes the edited user line (content only, at most PASSWD_LINE_MAX
 * octets, or pop3d would refuse the file) to out.  Returns
 * PASSWD_EDIT_OK, UNCHANGED, or BADFILE if the line would be too long.
 */
static enum passwd_edit_status
pe_edit_line(struct buf *out, const char *line, size_t len,
    const struct passwd_entry *e, enum passwd_edit_op op, const char *hash)
{
	struct passwd_entry	 t;
	struct buf		 nl;
	const char		*errstr, *rb;
	size_t			 h, hend;
	int			 locked, bad = 0;

	buf_init(&nl, PASSWD_LINE_MAX);
	pe_hash_span(line, len, &h, &hend);
	switch (op) {
	case PASSWD_EDIT_SET:
		bad |= buf_add(&nl, line, h);
		if (e->locked)
			bad |= buf_addc(&nl, '!');
		bad |= buf_addstr(&nl, hash);
		bad |= buf_add(&nl, line + hend, len - hend);
		break;
	case PASSWD_EDIT_LOCK:
		if (e->locked)
			return PASSWD_EDIT_UNCHANGED;
		bad |= buf_add(&nl, line, h);
		bad |= buf_addc(&nl, '!');
		bad |= buf_add(&nl, line + h, len - h);
		break;
	case PASSWD_EDIT_UNLOCK:
		if (!e->locked)
			return PASSWD_EDIT_UNCHANGED;
		/* Drop one '!' (before or right after a tag) at a time. */
		bad |= buf_add(&nl, line, len);
		do {
			pe_hash_span((char *)nl.data, nl.len, &h, &hend);
			if (nl.data[h] == '{' && (rb = memchr(nl.data + h, '}',
			    hend - h)) != NULL && rb[1] == '!')
				h = (size_t)(rb + 1 - (char *)nl.data);
			if (nl.data[h] != '!')
				break;	/* cannot happen: parse said locked */
			memmove(nl.data + h, nl.data + h + 1, nl.len - h);
			nl.len--;
			locked = 0;
			if (passwd_parse_line((char *)nl.data, nl.len, &t,
			    &errstr) == 0) {
				locked = t.locked;
				passwd_entry_clear(&t);
			}
		} while (locked);
		break;
	case PASSWD_EDIT_ADD:
	case PASSWD_EDIT_DEL:
		break;	/* not reached: the caller handles them */
	}
	if (bad == 0)
		bad = buf_add(out, nl.data, nl.len);
	buf_wipe(&nl);
	return bad == 0 ? PASSWD_EDIT_OK : PASSWD_EDIT_BADFILE;
}

enum passwd_edit_status
passwd_edit_text(const char *name, const char *text, size_t len,
    enum passwd_edit_op op, const char *user, const char *hash,
    const char *home, struct buf *out, char **errp)
{
	struct passwd_entry	 e;
	enum passwd_edit_status	 st = PASSWD_EDIT_NOUSER;
	const char		*p, *nl, *errstr;
	size_t			 lineno = 0, clen, llen, found = 0, nusers = 0;
	int			 rv;

	*errp = NULL;
	buf_reset(out);
	if (hash == NULL)
		hash = "";
	if ((op == PASSWD_EDIT_ADD || op == PASSWD_EDIT_SET) &&
	    (hash[0] == '\0' || hash[0] == '!' ||
	    strpbrk(hash, ":\r\n") != NULL)) {
		xasprintf(errp, "invalid hash field for %s", user);
		return PASSWD_EDIT_BADFILE;
	}
	if (op == PASSWD_EDIT_ADD && home != NULL && (home[0] != '/' ||
	    strpbrk(home, ":\r\n") != NULL || strlen(home) >= POP3_HOME_MAX)) {
		xasprintf(errp, "invalid home for %s: an absolute path without "
		    "':', shorter than %d octets", user, POP3_HOME_MAX);
		return PASSWD_EDIT_BADFILE;
	}
	if (!passwd_valid_user(user, strlen(user))) {
		xasprintf(errp, "invalid user name \"%s\"", user);
		return op == PASSWD_EDIT_ADD ? PASSWD_EDIT_BADFILE :
		    PASSWD_EDIT_NOUSER;
	}
	for (p = text; p < text + len; p += llen) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(text + len - p));
		llen = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(text +
		    len - p);
		clen = nl != NULL ? (size_t)(nl - p) : llen;
		if (clen > 0 && p[clen - 1] == '\r')
			clen--;
		rv = passwd_parse_line(p, clen, &e, &errstr);
		if (rv == -1) {
			xasprintf(errp, "%s:%zu: %s", name, lineno, errstr);
			return PASSWD_EDIT_BADFILE;
		}
		if (rv == 1 || strcmp(e.user, user) != 0) {
			if (rv == 0) {
				nusers++;
				passwd_entry_clear(&e);
			}
			if (buf_add(out, p, llen) == -1)
				goto toobig;
			continue;
		}
		nusers++;
		if (found) {
			passwd_entry_clear(&e);
			xasprintf(errp, "%s:%zu: duplicate user %s (first on "
			    "line %zu)", name, lineno, user, found);
			return PASSWD_EDIT_BADFILE;
		}
		found = lineno;
		if (op == PASSWD_EDIT_ADD)
			st = PASSWD_EDIT_EXISTS;
		else if (op == PASSWD_EDIT_DEL)
			st = PASSWD_EDIT_OK;
		else
			st = pe_edit_line(out, p, clen, &e, op, hash);
		passwd_entry_clear(&e);
		if (st == PASSWD_EDIT_BADFILE) {
			xasprintf(errp, "%s:%zu: the new line for %s would be "
			    "longer than %d octets", name, lineno, user,
			    PASSWD_LINE_MAX);
			return st;
		}
		rv = 0;
		if (st == PASSWD_EDIT_OK && op != PASSWD_EDIT_DEL)
			rv = buf_add(out, p + clen, llen - clen);
		else if (st != PASSWD_EDIT_OK)
			rv = buf_add(out, p, llen);	/* as it was */
		if (rv == -1)
			goto toobig;
	}
	if (st == PASSWD_EDIT_EXISTS)
		xasprintf(errp, "%s:%zu: user %s exists", name, found, user);
	else if (st == PASSWD_EDIT_UNCHANGED)
		xasprintf(errp, "user %s is %s already", user,
		    op == PASSWD_EDIT_LOCK ? "locked" : "unlocked");
	if (found)
		return st;
	if (op != PASSWD_EDIT_ADD) {
		xasprintf(errp, "%s: no such user %s", name, user);
		return PASSWD_EDIT_NOUSER;
	}
	if (nusers >= PASSWD_USERS_MAX) {
		xasprintf(errp, "%s: too many users (%d)", name,
		    PASSWD_USERS_MAX);
		return PASSWD_EDIT_BADFILE;
	}
	if ((len > 0 && text[len - 1] != '\n' && buf_addc(out, '\n') == -1) ||
	    (home == NULL ? buf_printf(out, "%s:%s\n", user, hash) :
	    buf_printf(out, "%s:%s::::%s::\n", user, hash, home)) == -1)
		goto toobig;
	return PASSWD_EDIT_OK;

 toobig:
	buf_reset(out);
	xasprintf(errp, "%s: would grow over %d bytes", name, PASSWD_FILE_MAX);
	return PASSWD_EDIT_BADFILE;
}

int
passwd_edit_lock(const char *path, int timeout_ms)
{
	struct flock	 fl;
	struct timespec	 now, end, nap = { 0, PASSWD_LOCK_POLL_MS * 1000000L };
	char		*lpath;
	int		 fd, saved;

	xasprintf(&lpath, "%s.lock", path);
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	saved = errno;
	free(lpath);
	if (fd == -1) {
		errno = saved;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return fd;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec &&
		    now.tv_nsec >= end.tv_nsec)) {
			errno = EWOULDBLOCK;
			break;
		}
		nanosleep(&nap, NULL);
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Reads path into b (bounded by its max).  Returns 0 and fills *st, 1
 * if the file does not exist, or -1 with *errp.
 */
static int
pe_read(const char *path, struct buf *b, struct stat *st, char **errp)
{
	unsigned char	 chunk[65536];
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 1;
		xasprintf(errp, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		xasprintf(errp, "%s: %s", path, S_ISREG(st->st_mode) ?
		    strerror(errno) : "not a regular file");
		close(fd);
		return -1;
	}
	for (;;) {
		if ((r = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(errp, "%s: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			close(fd);
			explicit_bzero(chunk, sizeof(chunk));
			return 0;
		}
		if (buf_add(b, chunk, (size_t)r) == -1) {
			xasprintf(errp, "%s: larger than %d bytes", path,
			    PASSWD_FILE_MAX);
			break;
		}
	}
	close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	return -1;
}

/*
 * Writes data to "<path>.tmp" with the given owner and mode, fsyncs it,
 * renames it over path and fsyncs the directory.  0, or -1 with *errp.
 */
static int
pe_replace(const char *path, const struct buf *data, uid_t uid, gid_t gid,
    mode_t mode, char **errp)
{
	char	*tmp;
	int	 fd;

	xasprintf(&tmp, "%s.tmp", path);
	/* A stale one is from a crash; only the lock holder gets here. */
	if (unlink(tmp) == -1 && errno != ENOENT)
		goto fail;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		goto fail;
	if ((uid != geteuid() || gid != getegid()) &&
	    fchown(fd, uid, gid) == -1)
		goto fail_fd;
	if (fchmod(fd, mode) == -1)
		goto fail_fd;
	if (write_all(fd, data->data, data->len) == -1)
		goto fail_fd;
	if (fsync(fd) == -1)
		goto fail_fd;
	if (close(fd) == -1) {
		fd = -1;
		goto fail_fd;
	}
	if (rename(tmp, path) == -1)
		goto fail_unlink;
	if (fsync_parent(path) == -1) {
		xasprintf(errp, "%s: replaced, but syncing its directory "
		    "failed: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;

 fail_fd:
	if (fd != -1)
		close(fd);
 fail_unlink:
	xasprintf(errp, "%s: %s", tmp, strerror(errno));
	(void)unlink(tmp);
	free(tmp);
	return -1;
 fail:
	xasprintf(errp, "%s: %s", tmp, strerror(errno));
	free(tmp);
	return -1;
}

enum passwd_edit_status
passwd_edit_file(const char *path, enum passwd_edit_op op, const char *user,
    const char *hash, const char *home, const struct passwd_edit_create *create,
    int timeout_ms, char **errp)
{
	struct buf		 in, out;
	struct stat		 st;
	enum passwd_edit_status	 rv;
	int			 lockfd, r;

	*errp = NULL;
	if ((lockfd = passwd_edit_lock(path, timeout_ms)) == -1) {
		if (errno == EWOULDBLOCK) {
			xasprintf(errp, "%s.lock: held by another process for "
			    "%d ms", path, timeout_ms);
			return PASSWD_EDIT_BUSY;
		}
		xasprintf(errp, "%s.lock: %s", path, strerror(errno));
		return PASSWD_EDIT_IOERR;
	}
	buf_init(&in, PASSWD_FILE_MAX);
	buf_init(&out, PASSWD_FILE_MAX);
	if ((r = pe_read(path, &in, &st, errp)) == -1) {
		rv = PASSWD_EDIT_IOERR;
		goto done;
	}
	if (r == 1) {
		st.st_uid = create != NULL ? create->uid : geteuid();
		st.st_gid = create != NULL ? create->gid : getegid();
		st.st_mode = create != NULL ? create->mode : 0600;
	}
	rv = passwd_edit_text(path, (const char *)in.data, in.len, op, user,
	    hash, home, &out, errp);
	if (rv == PASSWD_EDIT_OK && pe_replace(path, &out, st.st_uid,
	    st.st_gid, st.st_mode & 07777, errp) == -1)
		rv = PASSWD_EDIT_IOERR;
 done:
	/* {PLAIN} entries are secrets. */
	buf_wipe(&in);
	buf_wipe(&out);
	close(lockfd);
	return rv;
}
