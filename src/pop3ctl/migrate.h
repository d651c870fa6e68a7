/*
 * migrate.h - what "pop3ctl migrate" shares between migrate.c (options,
 * users, the report) and migrate_md.c (one Maildir: its dovecot-uidlist,
 * the classification of its messages, the renames of --commit).
 */
#ifndef POP3CTL_MIGRATE_H
#define POP3CTL_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "dovecot_uidlist.h"
#include "maildir.h"
#include "pop3_limits.h"
#include "pop3d_config.h"

/* A Maildir's path, and a file's under it. */
#define MIG_PATH_MAX		4096

/*
 * What happens to a message's UIDL at the switch: kept (the P extension
 * Dovecot saved, pop3_uidl_format, already folded into the name, or
 * pop3d's own after a migration) or new, with the reason.  The KEEP
 * kinds come first.
 */
enum mig_kind {
	MIG_KEEP_SAVED,		/* the list's P extension */
	MIG_KEEP_FORMAT,	/* pop3_uidl_format over the list's entry */
	MIG_KEEP_FOLDED,	/* not listed, its name is an old UIDL */
	MIG_KEEP_OWN,		/* the list was migrated: pop3d's own */
	MIG_NEW_NOT_LISTED,	/* delivered after the list was written */
	MIG_NEW_NO_FORMAT,	/* listed, the format cannot be computed */
	MIG_NEW_DUPLICATE,	/* its old UIDL is another message's */
	MIG_NEW_NO_LIST,	/* the Maildir has no dovecot-uidlist */
	MIG_NEW_BAD_LIST,	/* the list cannot be read */
	MIG_NEW_LIST_OFF,	/* listed, but dovecot_uidlist = no */
	MIG_NKINDS
};

/* The state of a Maildir's list (at the end, for --commit). */
enum mig_list {
	MIG_LIST_DOVECOT,	/* dovecot-uidlist read */
	MIG_LIST_NONE,		/* none */
	MIG_LIST_MIGRATED,	/* none, dovecot-uidlist.migrated there */
	MIG_LIST_BAD,		/* unreadable: error says where */
	MIG_LIST_NO_MAILDIR,	/* the user has no Maildir */
	MIG_LIST_IN_USE,	/* a session holds the maildrop (--commit) */
	MIG_LIST_ERROR,		/* the Maildir cannot be read: error */
};
const char *mig_list_str(enum mig_list);

/* "new" or "cur". */
#define MIG_SUB_NAME(s)		((s) == 0 ? "new" : "cur")

struct mig_msg {
	char		*file;		/* name in its sub */
	struct maildir_name mn;		/* file parsed: unique part, order */
	uint8_t		 sub;		/* 0 new/, 1 cur/ */
	uint8_t		 has_old;	/* old is Dovecot's UIDL */
	enum mig_kind	 kind;
	const char	*unfoldable;	/* --commit leaves it: why (static) */
	const struct duidl_entry *ent;	/* its list entry, or NULL */
	char		 old[POP3_UIDL_MAX + 1];	/* Dovecot's UIDL */
	char		 own[POP3_UIDL_MAX + 1];	/* maildir_uidl */
	char		 served[POP3_UIDL_MAX + 1];	/* pop3d's answer */
};

struct mig_user {
	enum mig_list	 list;
	struct mig_msg	*msgs;
	size_t		 n;
	size_t		 kinds[MIG_NKINDS];
	size_t		 renamed;	/* --commit: messages renamed */
	size_t		 unfoldable;	/* --commit: messages left */
	int		 renamed_list;	/* --commit: the list became .migrated */
	int		 failed;	/* an I/O error: error says which */
	char		 error[512];
};

void	mig_user_init(struct mig_user *);
void	mig_user_clear(struct mig_user *);
/* An I/O error (errno) on path/what (what NULL: path) into u->error. */
void	mig_fail(struct mig_user *u, const char *path, const char *what);

/*
 * The work on one Maildir (dirfd, path for messages): --check reads
 * the list and the names and classifies every message; --commit also
 * takes the maildrop lock (in use: list MIG_LIST_IN_USE and nothing
 * else), folds, and moves the list aside when it can.  Results in u;
 * never exits.
 */
void	mig_user_run(struct mig_user *u, const struct config *cfg, int dirfd,
	    const char *path, int commit);

#endif
