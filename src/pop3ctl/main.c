/*
 * main.c - pop3ctl, the admin tool: global options, usage, and dispatch
 * to the sub-command groups (user.c, deliver.c, check.c, migrate.c,
 * stats.c); the helpers they share are in ctl.c.  Runs as root (user,
 * check, migrate, stats) or as the mail user (deliver, from an MTA).
 * Exit codes follow sysexits(3).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define POP3CTL_VERSION	"0.1"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pop3ctl [-c file] command [arguments]\n"
	    "  -c file  pop3d's configuration (default " POP3D_CONF_DEFAULT ")\n"
	    "  -h       this help;  -V  version\n"
	    "commands:\n"
	    "  user add NAME [--password-stdin]     new user and Maildir\n"
	    "  user passwd NAME [--password-stdin]  new password\n"
	    "  user del NAME [--purge]              remove (--purge: "
	    "and the mail)\n"
	    "  user list                            users, hash schemes, "
	    "state\n"
	    "  user lock NAME | user unlock NAME    refuse / allow logins\n"
	    "  deliver USER                         one message from stdin "
	    "into USER's Maildir (LDA)\n"
	    "  check                                config, certificate, "
	    "permissions, listeners\n"
	    "  migrate --check|--commit [USER...]   keep Dovecot's UIDLs "
	    "(dovecot-uidlist)\n"
	    "  stats [--raw]                        the running server's "
	    "counters (metrics_listen)\n"
	    "\"pop3ctl COMMAND --help\" describes each; see pop3ctl(8).\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*conf = POP3D_CONF_DEFAULT;
	int		 ch;

	/* '+': options stop at the command; it parses its own. */
	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("pop3ctl %s\n", POP3CTL_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	/*
	 * Sub-commands see their name as argv[0].  optind 0 makes glibc
	 * start afresh (and forget the '+': options may follow NAME).
	 */
	optind = 0;
	if (strcmp(argv[0], "user") == 0)
		return user_main(conf, argc, argv);
	if (strcmp(argv[0], "deliver") == 0)
		return deliver_main(conf, argc, argv);
	if (strcmp(argv[0], "check") == 0)
		return check_main(conf, argc, argv);
	if (strcmp(argv[0], "migrate") == 0)
		return migrate_main(conf, argc, argv);
	if (strcmp(argv[0], "stats") == 0)
		return stats_main(conf, argc, argv);
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	ctl_warnx("unknown command \"%s\"", argv[0]);
	usage(stderr);
	return EX_USAGE;
}
