/*
 * password.c - pop3ctl's new passwords: read from the terminal without
 * echo (asked twice) or one line from stdin, never from argv; checked
 * against the [password] policy with libpwquality.  Runs in pop3ctl
 * (user add, user passwd).  Every copy of a secret is wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include <pwquality.h>

#include "ctl.h"
#include "pop3_limits.h"

static volatile sig_atomic_t	 pw_signo;

static void
pw_onsig(int sig)
{
	pw_signo = sig;
}

/*
 * One line from fd into pw (at most pwlen - 1 bytes, no line end).
 * Byte by byte, so nothing after the line is consumed.  Returns the
 * length, -1 on error or interruption (errno), -2 if too long.
 */
static ssize_t
pw_getline(int fd, char *pw, size_t pwlen)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;
	int	 toolong = 0;

	for (;;) {
		if ((r = read(fd, &c, 1)) == -1) {
			if (errno == EINTR && pw_signo == 0)
				continue;
			return -1;
		}
		if (r == 0 || c == '\n')
			break;
		if (n + 1 < pwlen)
			pw[n++] = c;
		else
			toolong = 1;
	}
	c = 0;
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	pw[n] = '\0';
	if (toolong) {
		explicit_bzero(pw, pwlen);
		return -2;
	}
	return (ssize_t)n;
}

/* Prompts on the terminal tty with echo off; restores it on any exit. */
static ssize_t
pw_prompt(int tty, const char *prompt, char *pw, size_t pwlen)
{
	struct sigaction	 sa, old[4];
	static const int	 sigs[4] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct termios		 t, saved;
	ssize_t			 n;
	int			 i, termok;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pw_onsig;	/* no SA_RESTART: read returns */
	sigemptyset(&sa.sa_mask);
	pw_signo = 0;
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	termok = tcgetattr(tty, &saved) == 0;
	if (termok) {
		t = saved;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		t.c_lflag |= ICANON;
		(void)tcsetattr(tty, TCSAFLUSH, &t);
	}
	(void)write(tty, prompt, strlen(prompt));
	n = pw_getline(tty, pw, pwlen);
	(void)write(tty, "\n", 1);
	if (termok)
		(void)tcsetattr(tty, TCSAFLUSH, &saved);
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (pw_signo != 0) {
		explicit_bzero(pw, pwlen);
		raise(pw_signo);	/* with the terminal restored */
		return -1;
	}
	return n;
}

/*
 * Whether cracklib's answer (libpwquality's aux for a dictionary
 * failure: cracklib's static message, in the C locale pop3ctl runs in)
 * says the dictionary itself could not be loaded.
 */
static int
pw_nodict(const void *aux)
{
	return aux != NULL && strcmp(aux, "error loading dictionary") == 0;
}

int
password_check(const struct config *cfg, const char *user, const char *pw,
    char *why, size_t whylen)
{
	pwquality_settings_t	*pwq;
	void			*aux = NULL;
	char			 buf[PWQ_MAX_ERROR_MESSAGE_LEN];
	int			 r;

	if ((pwq = pwquality_default_settings()) == NULL) {
		snprintf(why, whylen, "libpwquality: out of memory");
		return -1;
	}
	pwquality_set_int_value(pwq, PWQ_SETTING_MIN_LENGTH,
	    (int)cfg->pw_min_length);
	pwquality_set_int_value(pwq, PWQ_SETTING_MIN_CLASS,
	    (int)cfg->pw_min_class);
	pwquality_set_int_value(pwq, PWQ_SETTING_MAX_REPEAT,
	    (int)cfg->pw_max_repeat);
	pwquality_set_int_value(pwq, PWQ_SETTING_MAX_SEQUENCE,
	    (int)cfg->pw_max_sequence);
	pwquality_set_int_value(pwq, PWQ_SETTING_DICT_CHECK,
	    cfg->pw_dict_check);
	pwquality_set_int_value(pwq, PWQ_SETTING_USER_CHECK,
	    cfg->pw_user_check);
	/* Credits off: min_length is the length, as the docs say. */
	pwquality_set_int_value(pwq, PWQ_SETTING_DIG_CREDIT, 0);
	pwquality_set_int_value(pwq, PWQ_SETTING_UP_CREDIT, 0);
	pwquality_set_int_value(pwq, PWQ_SETTING_LOW_CREDIT, 0);
	pwquality_set_int_value(pwq, PWQ_SETTING_OTH_CREDIT, 0);
	if (cfg->pw_bad_words[0] != '\0')
		pwquality_set_str_value(pwq, PWQ_SETTING_BAD_WORDS,
		    cfg->pw_bad_words);
	if (cfg->pw_dict_path[0] != '\0')
		pwquality_set_str_value(pwq, PWQ_SETTING_DICT_PATH,
		    cfg->pw_dict_path);
	r = pwquality_check(pwq, pw, NULL, user, &aux);
	if (r == PWQ_ERROR_CRACKLIB_CHECK && pw_nodict(aux)) {
		/* Not the password's fault: the policy cannot be applied. */
		snprintf(why, whylen, "the password dictionary %s cannot be "
		    "loaded: install the Debian package cracklib-runtime, "
		    "or set dict_path, or dict_check = no, in [password] "
		    "of %s", cfg->pw_dict_path[0] != '\0' ? cfg->pw_dict_path :
		    "(cracklib's default)", cfg->path != NULL ? cfg->path :
		    "the configuration");
		r = -2;
	} else if (r < 0) {
		/* It frees aux, and may return a static string, not buf. */
		snprintf(why, whylen, "%s", pwquality_strerror(buf,
		    sizeof(buf), r, aux));
		r = -1;
	}
	explicit_bzero(buf, sizeof(buf));
	pwquality_free_settings(pwq);
	return r < 0 ? r : 0;
}

/* Refuses what a POP3 PASS line cannot carry. */
static int
pw_shape(const char *pw, char *why, size_t whylen)
{
	const unsigned char	*p;

	if (*pw == '\0') {
		snprintf(why, whylen, "The password is empty");
		return -1;
	}
	for (p = (const unsigned char *)pw; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(why, whylen, "The password contains a "
			    "control character");
			return -1;
		}
	return 0;
}

int
password_read(const struct config *cfg, const char *user, int from_stdin,
    char *pw, size_t pwlen)
{
	char	 again[POP3_SECRET_MAX + 1], prompt[128], why[256];
	ssize_t	 n, m;
	int	 tty = -1, rv = EX_OK;

	if (from_stdin)
		n = pw_getline(STDIN_FILENO, pw, pwlen);
	else {
		tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (tty == -1) {
			ctl_warnx("no terminal to ask for the password on "
			    "(use --password-stdin): %s", strerror(errno));
			return EX_USAGE;
		}
		snprintf(prompt, sizeof(prompt), "New password for %s: ",
		    user);
		n = pw_prompt(tty, prompt, pw, pwlen);
		if (n >= 0) {
			m = pw_prompt(tty, "Again: ", again, sizeof(again));
			if (m == -2 || (m >= 0 && strcmp(pw, again) != 0)) {
				ctl_warnx("the passwords do not match");
				rv = EX_DATAERR;
			} else if (m < 0)
				n = m;
			explicit_bzero(again, sizeof(again));
		}
		close(tty);
	}
	if (rv == EX_OK && n == -2) {
		ctl_warnx("password rejected: longer than %d characters",
		    POP3_SECRET_MAX);
		rv = EX_DATAERR;
	} else if (rv == EX_OK && n < 0) {
		ctl_warnx("reading the password: %s", strerror(errno));
		rv = EX_IOERR;
	} else if (rv == EX_OK && pw_shape(pw, why, sizeof(why)) == -1) {
		ctl_warnx("password rejected: %s", why);
		rv = EX_DATAERR;
	} else if (rv == EX_OK) {
		switch (password_check(cfg, user, pw, why, sizeof(why))) {
		case 0:
			break;
		case -2:
			ctl_warnx("cannot check the password: %s", why);
			rv = EX_CONFIG;
			break;
		default:
			ctl_warnx("password rejected: %s", why);
			rv = EX_DATAERR;
			break;
		}
	}
	if (rv != EX_OK)
		explicit_bzero(pw, pwlen);
	return rv;
}
