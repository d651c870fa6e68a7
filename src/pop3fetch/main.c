/*
 * main.c - pop3fetch: options, the config and state paths (XDG), the
 * loop over accounts, the progress bar, and the exit status (sysexits:
 * the first failing account's).  Runs as the user; no privileges.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "fetch_config.h"
#include "log.h"
#include "xmalloc.h"

static struct timespec	 main_t0;
static int		 main_bar;	/* a progress bar was drawn */

static void
usage(FILE *f)
{
	const struct conf_def	*d;

	fprintf(f, "usage: pop3fetch [-chqv] [-C file] [account ...]\n"
	    "  -C, --config FILE  config (default "
	    "$XDG_CONFIG_HOME/pop3fetch/config,\n"
	    "                     else ~/.config/pop3fetch/config)\n"
	    "  -c, --check        only count new messages per account\n"
	    "  -q, --quiet        no line per account of what was done "
	    "(errors still)\n"
	    "  -v, --verbose      show the protocol (secrets masked)\n"
	    "  -h, --help         this help\n"
	    "Fetches new mail of the named accounts (default: all).  State: "
	    "$XDG_STATE_HOME/pop3fetch\n(else ~/.local/state/pop3fetch).  "
	    "Account keys ([name] sections):\n");
	for (d = fetch_config_defs; d->key != NULL; d++)
		fprintf(f, "  %-20s %s%s%s\n", d->key, d->help,
		    d->def != NULL ? "; default " : "",
		    d->def != NULL ? d->def : "");
}

static double
main_elapsed(void)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - main_t0.tv_sec) +
	    (double)(t.tv_nsec - main_t0.tv_nsec) / 1e9;
}

/* One line redrawn in place: messages, bytes, rate. */
static void
main_progress(const struct account *a, const struct fetch_result *r)
{
	static const char	 bar[] = "##############################";
	double			 s = main_elapsed(), rate;
	int			 w = 30, fill = 0;

	if (r->total_msgs > 0)
		fill = (int)((double)w * (double)r->fetched /
		    (double)r->total_msgs);
	rate = s > 0 ? (double)r->bytes / s : 0;
	printf("\r%s [%-30.*s] %llu/%llu msgs %.1f MB %.1f MB/s ", a->name,
	    fill, bar, (unsigned long long)r->fetched,
	    (unsigned long long)r->total_msgs, (double)r->bytes / 1e6,
	    rate / 1e6);
	fflush(stdout);
	main_bar = 1;
}

/*
 * The line per account of what a run did: "acct: 3 fetched, 3 deleted,
 * 12 kB" (kB of 1000 bytes, rounded up), ", 1 over size_limit" when
 * messages were left for their size, and with -v the time taken.
 */
static void
main_summary(const struct account *a, const struct fetch_result *r,
    int verbose)
{
	printf("%s: %llu fetched, %llu deleted, %llu kB", a->name,
	    (unsigned long long)r->fetched, (unsigned long long)r->deleted,
	    (unsigned long long)((r->bytes + 999) / 1000));
	if (r->skipped > 0)
		printf(", %llu over size_limit",
		    (unsigned long long)r->skipped);
	if (verbose)
		printf(" in %.2f s", main_elapsed());
	printf("\n");
	fflush(stdout);
}

/* dir from XDG_<var> or HOME/<fallback>, then "/pop3fetch[/leaf]". */
static char *
main_xdg(const char *var, const char *fallback, const char *leaf)
{
	const char	*x = getenv(var), *home = getenv("HOME");
	char		*p;

	if (x != NULL && x[0] == '/')
		xasprintf(&p, "%s/pop3fetch%s%s", x, leaf ? "/" : "",
		    leaf ? leaf : "");
	else if (home != NULL && home[0] != '\0')
		xasprintf(&p, "%s/%s/pop3fetch%s%s", home, fallback,
		    leaf ? "/" : "", leaf ? leaf : "");
	else
		p = NULL;
	return p;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' },
		{ "check", no_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct fetch_config	 cfg;
	struct fetch_result	 res;
	struct fetch_opts	 o;
	struct account		*a;
	struct buf		 errs;
	char			*conf = NULL, *state, *e;
	int			 ch, rc = EX_OK, r, nerr, quiet = 0;
	size_t			 i;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "C:cqvh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'C':
			free(conf);
			conf = xstrdup(optarg);
			break;
		case 'c':
			o.check = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	signal(SIGPIPE, SIG_IGN);
	log_init("pop3fetch", 0, o.verbose);

	if (conf == NULL && (conf = main_xdg("XDG_CONFIG_HOME", ".config",
	    "config")) == NULL) {
		fprintf(stderr, "pop3fetch: no HOME: give the config with "
		    "-C\n");
		return EX_CONFIG;
	}
	if ((state = main_xdg("XDG_STATE_HOME", ".local/state", NULL)) ==
	    NULL) {
		fprintf(stderr, "pop3fetch: no HOME or XDG_STATE_HOME for the "
		    "state directory\n");
		return EX_CONFIG;
	}
	o.state_dir = state;
	memset(&cfg, 0, sizeof(cfg));
	buf_init(&errs, 1024 * 1024);
	nerr = fetch_config_load(conf, getenv("HOME"), &cfg, &errs);
	if (nerr > 0) {
		fprintf(stderr, "%s", errs.len > 0 ? (char *)errs.data : "");
		fprintf(stderr, "pop3fetch: %d error%s in %s\n", nerr,
		    nerr == 1 ? "" : "s", conf);
		buf_clear(&errs);
		fetch_config_free(&cfg);
		free(conf);
		free(state);
		return EX_CONFIG;
	}
	buf_clear(&errs);
	for (i = 0; i < (size_t)argc; i++)
		if (fetch_config_find(&cfg, argv[i]) == NULL) {
			fprintf(stderr, "pop3fetch: %s: no account [%s]\n",
			    conf, argv[i]);
			fetch_config_free(&cfg);
			free(conf);
			free(state);
			return EX_USAGE;
		}
	if (!o.check && !o.verbose && !quiet && isatty(STDOUT_FILENO))
		o.progress = main_progress;

	for (i = 0; i < cfg.n; i++) {
		a = cfg.acc[i];
		if (argc > 0) {
			for (ch = 0; ch < argc; ch++)
				if (strcmp(argv[ch], a->name) == 0)
					break;
			if (ch == argc)
				continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &main_t0);
		main_bar = 0;
		r = fetch_account(a, &o, &res, &e);
		if (main_bar)
			printf("\n");
		if (o.check)
			printf("%s: %llu new message%s (%llu bytes)\n",
			    a->name, (unsigned long long)res.total_msgs,
			    res.total_msgs == 1 ? "" : "s",
			    (unsigned long long)res.total_bytes);
		else if (!quiet && (r == EX_OK || res.fetched > 0 ||
		    res.deleted > 0))
			main_summary(a, &res, o.verbose);
		if (r != EX_OK) {
			fprintf(stderr, "pop3fetch: %s: %s\n", a->name,
			    e != NULL ? e : "failed");
			if (rc == EX_OK)
				rc = r;
		}
		free(e);
	}
	fetch_config_free(&cfg);
	free(conf);
	free(state);
	return rc;
}
