/*
 * uidlcache.c - pop3fetch's UIDL state in SQLite: one row per unique-id
 * the server still has and we delivered or began to deliver.  Each change
 * is durable (WAL, synchronous = FULL) when its transaction commits: a
 * single change is its own transaction; uidlcache_begin()/commit() group
 * several (the fetcher commits a batch of "done" rows before the DELEs of
 * that batch).  Never the only record of a delivery: see fetch.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "uidlcache.h"
#include "xmalloc.h"

struct uidlcache {
	sqlite3		*db;
	sqlite3_stmt	*get, *pend, *done, *forget;
	int		 lockfd;
};

static const char uc_schema[] =
	"PRAGMA journal_mode = WAL;"
	"PRAGMA synchronous = FULL;"
	"CREATE TABLE IF NOT EXISTS uidl ("
	" uid TEXT PRIMARY KEY NOT NULL,"
	" state INTEGER NOT NULL,"	/* 1 pending, 2 done */
	" fetched INTEGER NOT NULL"	/* UNIX seconds */
	") WITHOUT ROWID;";

/* mkdir -p with mode 0700 for what it creates. */
static int
uc_mkdirs(const char *dir)
{
	char	 p[4096];
	size_t	 i;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 1; p[i] != '\0'; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			return -1;
		p[i] = '/';
	}
	if (mkdir(p, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

struct uidlcache *
uidlcache_open(const char *dir, const char *account, int *busy, char **errp)
{
	struct uidlcache	*uc;
	struct flock		 fl;
	char			*path;

	*busy = 0;
	if (uc_mkdirs(dir) == -1) {
		xasprintf(errp, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	uc = xcalloc(1, sizeof(*uc));
	xasprintf(&path, "%s/%s.lock", dir, account);
	uc->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (uc->lockfd == -1) {
		xasprintf(errp, "%s: %s", path, strerror(errno));
		free(path);
		free(uc);
		return NULL;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(uc->lockfd, F_OFD_SETLK, &fl) == -1) {
		*busy = errno == EAGAIN || errno == EACCES;
		xasprintf(errp, "%s: %s", path, *busy ? "account is being "
		    "fetched by another pop3fetch" : strerror(errno));
		free(path);
		close(uc->lockfd);
		free(uc);
		return NULL;
	}
	free(path);
	xasprintf(&path, "%s/%s.db", dir, account);
	if (sqlite3_open_v2(path, &uc->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(uc->db, uc_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(uc->db, "SELECT state, fetched FROM uidl "
	    "WHERE uid = ?1", -1, &uc->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(uc->db, "INSERT OR REPLACE INTO uidl "
	    "(uid, state, fetched) VALUES (?1, 1, ?2)", -1, &uc->pend,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(uc->db, "INSERT INTO uidl (uid, state, "
	    "fetched) VALUES (?1, 2, ?2) ON CONFLICT (uid) DO UPDATE SET "
	    "state = 2", -1, &uc->done, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(uc->db, "DELETE FROM uidl WHERE uid = ?1", -1,
	    &uc->forget, NULL) != SQLITE_OK) {
		xasprintf(errp, "%s: %s", path, uc->db != NULL ?
		    sqlite3_errmsg(uc->db) : "out of memory");
		free(path);
		uidlcache_free(&uc);
		return NULL;
	}
	(void)chmod(path, 0600);
	free(path);
	return uc;
}

void
uidlcache_free(struct uidlcache **ucp)
{
	struct uidlcache	*uc = *ucp;

	if (uc == NULL)
		return;
	sqlite3_finalize(uc->get);
	sqlite3_finalize(uc->pend);
	sqlite3_finalize(uc->done);
	sqlite3_finalize(uc->forget);
	if (uc->db != NULL)
		sqlite3_close(uc->db);
	if (uc->lockfd != -1)
		close(uc->lockfd);
	free(uc);
	*ucp = NULL;
}

const char *
uidlcache_errstr(struct uidlcache *uc)
{
	return sqlite3_errmsg(uc->db);
}

int
uidlcache_get(struct uidlcache *uc, const char *uid, enum uidl_state *st,
    int64_t *fetched)
{
	int	 r;

	*st = UIDL_NONE;
	*fetched = 0;
	sqlite3_reset(uc->get);
	sqlite3_bind_text(uc->get, 1, uid, -1, SQLITE_STATIC);
	r = sqlite3_step(uc->get);
	if (r == SQLITE_ROW) {
		*st = sqlite3_column_int(uc->get, 0) == 2 ? UIDL_DONE :
		    UIDL_PENDING;
		*fetched = sqlite3_column_int64(uc->get, 1);
	}
	sqlite3_reset(uc->get);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

/* Runs a prepared one-uid statement (optionally with a time) to DONE. */
static int
uc_run(sqlite3_stmt *s, const char *uid, int with_time)
{
	int	 r;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
	if (with_time)
		sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	r = sqlite3_step(s);
	sqlite3_reset(s);
	return r == SQLITE_DONE ? 0 : -1;
}

int
uidlcache_pending(struct uidlcache *uc, const char *uid)
{
	return uc_run(uc->pend, uid, 1);
}

int
uidlcache_done(struct uidlcache *uc, const char *uid)
{
	return uc_run(uc->done, uid, 1);
}

int
uidlcache_begin(struct uidlcache *uc)
{
	return sqlite3_exec(uc->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK ? 0 : -1;
}

int
uidlcache_commit(struct uidlcache *uc)
{
	if (sqlite3_exec(uc->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	if (!sqlite3_get_autocommit(uc->db))
		(void)sqlite3_exec(uc->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

void
uidlcache_rollback(struct uidlcache *uc)
{
	if (!sqlite3_get_autocommit(uc->db))
		(void)sqlite3_exec(uc->db, "ROLLBACK", NULL, NULL, NULL);
}

int
uidlcache_forget(struct uidlcache *uc, const char *uid)
{
	return uc_run(uc->forget, uid, 0);
}

int
uidlcache_prune(struct uidlcache *uc, char *const *uids, size_t n)
{
	sqlite3_stmt	*ins = NULL;
	size_t		 i;
	int		 ok = 0;

	if (sqlite3_exec(uc->db, "BEGIN; CREATE TEMP TABLE IF NOT EXISTS "
	    "seen (uid TEXT PRIMARY KEY) WITHOUT ROWID; DELETE FROM seen;",
	    NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(uc->db, "INSERT OR IGNORE INTO seen VALUES "
	    "(?1)", -1, &ins, NULL) != SQLITE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_reset(ins);
		sqlite3_bind_text(ins, 1, uids[i], -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto out;
	}
	if (sqlite3_exec(uc->db, "DELETE FROM uidl WHERE uid NOT IN "
	    "(SELECT uid FROM seen); DELETE FROM seen; COMMIT;", NULL, NULL,
	    NULL) != SQLITE_OK)
		goto out;
	ok = 1;
 out:
	sqlite3_finalize(ins);
	if (!ok)
		(void)sqlite3_exec(uc->db, "ROLLBACK", NULL, NULL, NULL);
	return ok ? 0 : -1;
}
