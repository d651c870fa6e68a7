/*
 * conf.h - INI config files checked against a table (tmux options-table,
 * Dovecot DEF()).  "[section]" headers, "key = value" lines, '#' or ';'
 * comments on their own line, values trimmed, optional double quotes
 * around a value.  Every error is reported as "file:line: key: message"
 * and parsing goes on, so all errors are shown at once.
 */
#ifndef POP3_CONF_H
#define POP3_CONF_H

#include <stddef.h>

#include "buf.h"
#include "pop3_limits.h"

enum conf_type {
	CONF_STR,	/* char *, allocated */
	CONF_INT,	/* long long, in [min, max]; with choices, also one
			   of those words: choices[i] is -1 - i, which
			   min >= 0 keeps apart from the numbers
			   ("never" for -1) */
	CONF_BOOL,	/* int: yes/no/true/false/on/off/1/0 */
	CONF_ENUM,	/* int: index into choices[] */
	CONF_LIST,	/* struct conf_list: the key may repeat, values append */
	CONF_SIZE,	/* long long bytes, with optional k/m/g suffix */
	CONF_TIME,	/* long long seconds, with optional s/m/h/d suffix */
};

struct conf_list {
	char	**v;
	size_t	  n;
};

struct conf_def {
	const char		*section;	/* "" for keys before any section */
	const char		*key;
	enum conf_type		 type;
	long long		 min, max;	/* INT, SIZE, TIME */
	const char		*def;		/* default as text, or NULL (unset) */
	const char *const	*choices;	/* ENUM (and INT words):
						   NULL-terminated */
	size_t			 off;		/* offsetof() into the target */
	const char		*help;		/* one line, for --help and docs */
};

/*
 * A table ends with an entry whose key is NULL.  A LIST default is a
 * whitespace-separated list of values; the first value a file gives for
 * a LIST key replaces the defaults, later ones append.
 */

/*
 * Sets every field in dst to its default (must not fail: defaults are
 * ours).  dst must not own anything yet: its STR and LIST fields are
 * overwritten, not freed.
 */
void	conf_defaults(const struct conf_def *defs, void *dst);

/*
 * Parses text (len bytes, named name in messages) into dst, which must
 * hold defaults already.  Appends one line per error to errs (each
 * "name:line: key: message\n" or "name:line: message\n").  Returns the
 * number of errors.  Errors include: unknown section (its keys are then
 * skipped without more errors), unknown key, missing '=', bad value for
 * the type (with the accepted range or choices), a non-LIST key given
 * twice, a line over CONF_LINE_MAX, a NUL byte, an unclosed quote.
 * Keys before any section belong to section "".
 */
int	conf_parse(const struct conf_def *defs, void *dst, const char *name,
	    const char *text, size_t len, struct buf *errs);

/*
 * Reads path (at most CONF_FILE_MAX bytes) and parses it.  Returns the
 * number of errors (an unreadable file is one, "path: strerror").
 */
int	conf_load(const struct conf_def *defs, void *dst, const char *path,
	    struct buf *errs);

/*
 * Sections whose names the file chooses (pop3fetch: one per account).
 * As conf_parse()/conf_load(), and a section the table does not name
 * takes the defs whose section is "*": at its header, sect_fn(name, arg,
 * &errstr) returns the struct those keys go into (set to defaults by
 * sect_fn, owned by the caller), or NULL with *errstr set (a static
 * string) to reject the name, which is one error ("file:line: [name]:
 * errstr") and skips the section's keys.  A "*" key may be given once
 * per section.  dst holds the named sections, as for conf_parse().
 * Without any "*" def this behaves exactly as conf_parse().
 */
int	conf_parse_sections(const struct conf_def *defs, void *dst,
	    void *(*sect_fn)(const char *, void *, const char **), void *arg,
	    const char *name, const char *text, size_t len, struct buf *errs);
int	conf_load_sections(const struct conf_def *defs, void *dst,
	    void *(*sect_fn)(const char *, void *, const char **), void *arg,
	    const char *path, struct buf *errs);

/*
 * Reads path (at most CONF_FILE_MAX bytes) into *textp (allocated, the
 * caller frees; not NUL-terminated) and *lenp.  0, or -1 with one line
 * in errs ("path: strerror" or "path: file too large ...").
 */
int	conf_read(const char *path, char **textp, size_t *lenp,
	    struct buf *errs);

/* Frees every STR and LIST field in dst. */
void	conf_free(const struct conf_def *defs, void *dst);

/*
 * Parses a value for one def into dst (used by conf_parse and tests):
 * STR replaces (freeing the old value), LIST appends.  BOOL and ENUM
 * match case-insensitively.  Returns 0, or -1 with *errstr "invalid
 * value" or "out of range" (conf_parse adds what was expected).
 */
int	conf_set(const struct conf_def *d, void *dst, const char *value,
	    const char **errstr);

#endif
