/*
 * log.h - one line per event, "key=value" fields, to stderr, syslog or
 * a file.
 * The only src/lib module that writes logs; others return errors.
 */
#ifndef POP3_LOG_H
#define POP3_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: program name; to_syslog: 0 stderr, 1 syslog(LOG_MAIL); verbose: debug on */
void	log_init(const char *ident, int to_syslog, int verbose);
/* Process role shown in every stderr line ("master", "auth", "worker"). */
void	log_role(const char *role);
/*
 * Appends the lines of this process to the file path (opened O_APPEND,
 * mode 0640, created if missing), each with a timestamp; children forked
 * later send theirs through a pipe, which the caller drains with
 * log_drain() whenever log_pipe_fd() is readable.  Error lines also go
 * to stderr.  Returns 0, or -1 with errno (open or pipe errors; EBUSY if
 * a file is open already; EINVAL if path is not a regular file with a
 * single link).  Stays in force until log_close().
 */
int	log_open_file(const char *path);
/* The reason for errno from log_open_file() or log_reopen(), in words. */
const char *log_open_strerror(int err);
/* The read end of the children's pipe, for poll(); -1 without a file. */
int	log_pipe_fd(void);
/*
 * Writes the children's whole lines waiting in the pipe to the file (a
 * bounded amount per call).  Returns 1 if more may come, 0 once every
 * child has closed the pipe (or without a file).
 */
int	log_drain(void);
/*
 * Opens the path given to log_open_file() again (after logrotate renamed
 * the file) and writes there from now on, for every process; only in the
 * process that called log_open_file().  Returns 0, or -1 with errno,
 * keeping the old file.
 */
int	log_reopen(void);
/* Drains the pipe (at most 2 s) and closes the file: at exit. */
void	log_close(void);
void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
/* Logs then exit(1): for programs only, never called from src/lib. */
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatal(const char *fmt, ...)	/* appends ": strerror(errno)" */
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Escapes untrusted bytes for a log line: printable ASCII except '\\'
 * and '"' as is, others as \xHH; at most outlen-1 bytes, NUL-terminated,
 * truncated with "..." if it does not fit.  Returns out.
 */
char	*log_escape(const char *in, size_t len, char *out, size_t outlen);

#endif
