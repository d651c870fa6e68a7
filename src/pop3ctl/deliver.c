/*
 * deliver.c - "pop3ctl deliver USER", the local delivery agent an MTA
 * (Postfix pipe(8), Exim pipe transport) runs: one RFC 5322 message on
 * stdin into USER's Maildir (mail_path) with maildir_tx (tmp/, fsync, rename into
 * new/ with ,S= ,W= and, for wire form, ,D=).  [deliver] line_ends
 * chooses CRLF (default: the bytes POP3 sends, so pop3d can sendfile
 * them) or LF lines.  Runs as the mail user; started as root, it
 * becomes the mail user before touching anything.
 *
 * The mail user cannot read the passwd-file, so a user exists for
 * delivery when its Maildir is a directory: "pop3ctl user add" creates
 * it and "user del" moves it away.  Where mail_path uses the home, the
 * passwd-file gives it, read before root is given up (started as the
 * mail user, deliver then cannot find the home: 75).
 *
 * Exit codes (sysexits, as MTAs expect): 0 delivered; 67 no such user;
 * 65 bad input (empty, a NUL byte, no header at the start, over
 * LDA_MSG_MAX); 75 anything an admin or time can fix (config, disk
 * full, permissions, signals), with nothing left in new/ or tmp/.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "maildir.h"
#include "mailpath.h"
#include "passwd.h"

/* Read size from stdin; the output of a chunk is never larger. */
#define DELIVER_CHUNK		65536
/* RFC 5322 section 2.1.1: a line is at most 998 octets. */
#define DELIVER_FIELD_MAX	998

static volatile sig_atomic_t	 deliver_signo;

/*
 * Closing stdin (async-signal-safe) makes the next read fail even if
 * the signal came between the check of deliver_signo and the read.
 */
static void
deliver_onsig(int sig)
{
	deliver_signo = sig;
	(void)close(STDIN_FILENO);
}

/*
 * Input state: every line end becomes CRLF (line_ends = crlf) or LF
 * (lf), a lone CR stays, and the first line must start with a header
 * field name.
 */
struct dlv {
	int		 crlf;		/* write CRLF line ends */
	int		 cr;		/* a CR is held back */
	int		 hdr_ok;	/* saw "name:" at the start */
	size_t		 name_len;	/* field name so far */
	long long	 in;		/* bytes read */
};

/*
 * Converts len bytes of in into out (room for 2 * len + 1).  Returns
 * the output length, or -1 with *why for bad input.
 */
static ssize_t
deliver_filter(struct dlv *d, const unsigned char *in, size_t len,
    unsigned char *out, const char **why)
{
	size_t	 i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char	 c = in[i];

		if (c == '\0') {
			*why = "the message contains a NUL byte";
			return -1;
		}
		if (!d->hdr_ok) {
			/* RFC 5322 field-name: printable ASCII but ':'. */
			if (c == ':' && d->name_len > 0)
				d->hdr_ok = 1;
			else if (c < 33 || c > 126 || c == ':' ||
			    ++d->name_len > DELIVER_FIELD_MAX) {
				*why = "the message does not start with a "
				    "header field";
				return -1;
			}
		}
		if (d->cr) {
			d->cr = 0;
			if (c != '\n' || d->crlf)
				out[o++] = '\r';
		} else if (c == '\n' && d->crlf)
			out[o++] = '\r';
		if (c == '\r')
			d->cr = 1;
		else
			out[o++] = c;
	}
	return (ssize_t)o;
}

/* Opens the Maildir mp names: the fd, or -1 with *rv set after a message. */
static int
deliver_open(const struct mailpath *mp, const char *user, int *rv)
{
	int	 fd, userpart;

	if ((fd = mailpath_open(mp, 0, (uid_t)-1, (gid_t)-1, &userpart)) ==
	    -1) {
		/* The user's own part missing: no such user.  The fixed part
		   (an unmounted /var/vmail) or a home: try again later. */
		if (userpart && (errno == ENOENT || errno == ENOTDIR ||
		    errno == ELOOP)) {
			ctl_warnx("deliver: no such user %s", user);
			*rv = EX_NOUSER;
		} else {
			ctl_warnx("deliver: Maildir %s: %s", mp->path,
			    strerror(errno));
			*rv = EX_TEMPFAIL;
		}
	}
	return fd;
}

/* Copies stdin into tx.  Returns EX_OK, or a code after a message. */
static int
deliver_copy(struct maildir_tx *tx, int crlf)
{
	static unsigned char	 in[DELIVER_CHUNK], out[2 * DELIVER_CHUNK + 1];
	struct dlv		 d;
	const char		*why = NULL;
	ssize_t			 n, o;

	memset(&d, 0, sizeof(d));
	d.crlf = crlf;
	for (;;) {
		if ((n = read(STDIN_FILENO, in, sizeof(in))) == -1) {
			if (errno == EINTR && deliver_signo == 0)
				continue;
			if (deliver_signo != 0)
				ctl_warnx("deliver: interrupted by signal %d",
				    (int)deliver_signo);
			else
				ctl_warnx("deliver: reading stdin: %s",
				    strerror(errno));
			return EX_TEMPFAIL;
		}
		if (n == 0)
			break;
		if ((d.in += n) > LDA_MSG_MAX) {
			ctl_warnx("deliver: the message is larger than %lld "
			    "bytes", LDA_MSG_MAX);
			return EX_DATAERR;
		}
		if ((o = deliver_filter(&d, in, (size_t)n, out, &why)) == -1) {
			ctl_warnx("deliver: %s", why);
			return EX_DATAERR;
		}
		if (maildir_tx_write(tx, out, (size_t)o) == -1) {
			ctl_warnx("deliver: writing the message: %s",
			    strerror(errno));
			return EX_TEMPFAIL;
		}
	}
	if (d.in == 0) {
		ctl_warnx("deliver: empty message");
		return EX_DATAERR;
	}
	if (!d.hdr_ok) {
		ctl_warnx("deliver: the message does not start with a header "
		    "field");
		return EX_DATAERR;
	}
	if (d.cr && maildir_tx_write(tx, (const unsigned char *)"\r", 1) ==
	    -1) {
		ctl_warnx("deliver: writing the message: %s", strerror(errno));
		return EX_TEMPFAIL;
	}
	return EX_OK;
}

static void
deliver_usage(FILE *f)
{
	fprintf(f, "usage: pop3ctl [-c file] deliver USER < message\n"
	    "  Delivers one message (CRLF or LF lines) into USER's Maildir\n"
	    "  (mail_path; mail_root/USER by default), stored with the\n"
	    "  line ends of [deliver]\n"
	    "  line_ends (crlf by default).  Exit: 0 delivered, 67 no\n"
	    "  such user, 65 bad input, 75 temporary failure (try again\n"
	    "  later).\n");
}

int
deliver_main(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };
	struct sigaction	 sa;
	struct maildir_tx	 tx;
	struct config		 cfg;
	const char		*user;
	size_t			 i;
	struct mailpath		 mp;
	int			 ch, dirfd, rv = EX_OK, nouser;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			deliver_usage(stdout);
			return EX_OK;
		default:
			deliver_usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		deliver_usage(stderr);
		return EX_USAGE;
	}
	user = argv[optind];

	/* A signal (the MTA's timeout) ends the read; the tmp file goes. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = deliver_onsig;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* A broken config must not bounce mail: 75, and the MTA retries. */
	if (ctl_config(conf, &cfg) == -1)
		return EX_TEMPFAIL;
	if (!passwd_valid_user(user, strlen(user))) {
		ctl_warnx("deliver: no such user (invalid name)");
		config_free(&cfg);
		return EX_NOUSER;
	}
	/* The home, if mail_path needs it, is read as root. */
	if (ctl_mailpath(&cfg, user, &mp, &nouser) == -1) {
		config_free(&cfg);
		return nouser ? EX_NOUSER : EX_TEMPFAIL;
	}
	if (geteuid() == 0 && ctl_become_mail_user(&cfg, "deliver") == -1) {
		config_free(&cfg);
		return EX_TEMPFAIL;
	}
	if ((dirfd = deliver_open(&mp, user, &rv)) == -1) {
		config_free(&cfg);
		return rv;
	}
	umask(077);
	if (maildir_tx_begin(&tx, dirfd) == -1) {
		ctl_warnx("deliver: Maildir %s/tmp: %s", mp.path,
		    strerror(errno));
		rv = EX_TEMPFAIL;
	} else if ((rv = deliver_copy(&tx,
	    cfg.line_ends == LINE_ENDS_CRLF)) != EX_OK)
		maildir_tx_abort(&tx);
	else if (deliver_signo != 0) {
		ctl_warnx("deliver: interrupted by signal %d",
		    (int)deliver_signo);
		maildir_tx_abort(&tx);
		rv = EX_TEMPFAIL;
	} else if (maildir_tx_commit(&tx, NULL, 0) == -1) {
		ctl_warnx("deliver: Maildir %s: %s", mp.path,
		    strerror(errno));
		rv = EX_TEMPFAIL;
	}
	close(dirfd);
	config_free(&cfg);
	return rv;
}
