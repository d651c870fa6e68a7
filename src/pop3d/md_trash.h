/*
 * md_trash.h - the maildrop's tmp/ directories (md_trash.c): the deleted
 * names of a commit, moving entries back, the manifest, emptying a trash
 * and the recovery of what a commit that died left.  Worker job threads.
 */
#ifndef POP3D_MD_TRASH_H
#define POP3D_MD_TRASH_H

#include <dirent.h>
#include <stddef.h>

/* In tmp/: "<pfx><sub>.<unique>", with the swap prefix from the
   exchange until the commit point, then with the trash prefix until the
   purge has emptied it.  A pop3d before the manifest named its trash
   "<trash pfx><unique>". */
#define MD_SWAP_PFX		".pop3d-swap."
#define MD_TRASH_PFX		".pop3d-trash."
#define MD_TMP_PFX		".pop3d-"
/*
 * The manifest, in the old directory from just before the commit point:
 * the names the session deleted there, a line each, then the end line
 * "END <count>".  A dot name, so never a message; a regular file by
 * that name in a swap or trash directory is pop3d's and is removed,
 * never moved back (one that was in new/ or cur/ went back before the
 * manifest was made).  Written and read by md_trash.c.
 */
#define MD_MANIFEST		".pop3d-deleted"
/* Passes over a trash directory whose rmdir finds it not empty: a
   rename that resolved new/ just before the exchange may still land in
   the old directory, until it is removed. */
#define MD_PURGE_PASSES		4
/* "tmp/<pfx><sub>.<unique>" */
#define MD_PATH_MAX		128

/* The directory path under dirfd, not following a symlink. */
int	md_open_subdir(int dirfd, const char *path);
/* A DIR on a copy of fd, from the start; fd stays the caller's.  NULL
   with errno. */
DIR	*md_opendir_fd(int fd);

/*
 * The deleted names of one subdirectory, for the swap commit: open
 * addressing over borrowed keys (md_msg.file), at most
 * half full, so every probe sequence ends at an empty slot.  A zeroed
 * set is empty; md_nameset_has() takes NULL for one.
 */
struct md_nameset {
	const char	**slot;
	size_t		  mask;
};
/* Room for n names. */
void	md_nameset_init(struct md_nameset *, size_t n);
/* Adds name, borrowed: it must outlive the set. */
void	md_nameset_add(struct md_nameset *, const char *name);
int	md_nameset_has(const struct md_nameset *, const char *name);
void	md_nameset_clear(struct md_nameset *);

/*
 * Renames every entry of the directory fromfd that is not in del into
 * tofd, counting them in *moved.  del NULL: every entry, undoing a swap,
 * whose manifest is unlinked instead.  Stops at the first that cannot
 * be moved and returns -1 (errno set, the entry and the rest stay where
 * they are); an entry gone meanwhile is skipped.  The loop ends:
 * entries only leave fromfd, except the few renames into it that
 * resolved its path before it moved.
 */
int	md_move_back(int fromfd, int tofd, const struct md_nameset *del,
	    size_t *moved);
/*
 * Undoes a swap that did not reach its commit point: everything in its
 * directory fd, at name under basefd, goes back into backfd, counted in
 * *moved, and the directory is removed.  -1 with errno when something
 * stays (for the next login's recovery).
 */
int	md_unswap(int basefd, const char *name, int fd, int backfd,
	    size_t *moved);
/*
 * Writes the names of del into the directory fd as the manifest, and
 * syncs it.  -1 with errno (ENOSPC...): then it may be partly written.
 */
int	md_manifest_write(int fd, const struct md_nameset *del);
/*
 * Reads the manifest in the directory fd (a trash or swap directory a
 * commit left): every line a Maildir name, the last "END <count>" with
 * the count of names.  Returns 0 with del holding the names (borrowed
 * from *names, which the caller frees, also on -1), or -1 for a
 * missing, oversized, truncated or malformed manifest.
 */
int	md_manifest_load(int fd, struct md_nameset *del, char **names);

/*
 * Emptying a trash directory: fd (at path under basefd), on which the
 * owner holds flock(LOCK_EX), telling a recovering login that someone
 * is at it.  backfd != -1: entries not in del (NULL: every entry; mail
 * that reached the old directory after the commit had read it) are
 * renamed into backfd, the subdirectory named in path, instead of
 * unlinked; if one cannot be, the trash is renamed back to a swap
 * directory of it, which the next login's recovery moves back.  The
 * manifest goes last, after a pass that left nothing it could not
 * remove: a purge that dies or gives up before leaves it for the next
 * login's recovery.  Bounded:
 * MD_PURGE_PASSES readdir passes at most.  who names the maildrop in
 * the log.  The fields are md_trash.c's.
 */
struct md_trash {
	int				 basefd;
	const char			*path;
	int				 fd;
	int				 backfd;
	const struct md_nameset		*del;
	const char			*who;
	DIR				*d;	/* the pass under way */
	int				 pass;
	int				 stuck;
	int				 left;	/* an unlink failed in
						   this pass */
	size_t				 removed;
	size_t				 moved;
};
/* All but d borrowed: they outlive the trash. */
void	md_trash_init(struct md_trash *, int basefd, const char *path,
	    int fd, int backfd, const struct md_nameset *del,
	    const char *who);
/*
 * Handles up to budget entries.  Returns 1 while there is more to do,
 * 0 when finished: the directory removed, or given up (logged).
 */
int	md_trash_step(struct md_trash *, size_t budget);

/*
 * Finishes what a commit that died left in tmp/ (maildrop_open(), under
 * the lock, before the scan).  Normally a single readdir of a tiny tmp/.
 * Errors leave things as they are for the next login.  path names the
 * maildrop in the log.
 */
void	md_recover(int dirfd, const char *path);

#endif
