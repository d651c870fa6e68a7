/*
 * pop3_limits.h - every bound on untrusted input, each next to its reason.
 * Shared by all programs (pop3d, pop3ctl, and later pop3fetch).
 */
#ifndef POP3_LIMITS_H
#define POP3_LIMITS_H

/* RFC 2449 section 4: a command line is at most 255 octets including CRLF. */
#define POP3_CMD_MAX		255
/*
 * RFC 1939: each argument is at most 40 characters (SASL data excepted,
 * and user names, which are POP3_USER_MAX).
 */
#define POP3_ARG_MAX		40
/* Arguments per command: TOP takes two, nothing takes more. */
#define POP3_ARGS_MAX		2
/*
 * RFC 5034 section 4: SASL continuation lines are not bound by RFC 2449's
 * 255; PLAIN with 255-octet names and secrets stays far below 2 KiB.
 * Octets including CRLF, as POP3_CMD_MAX.
 */
#define POP3_SASL_LINE_MAX	2048
/*
 * Longest user name: a mailbox name, used in a path.  The one bound for
 * every way a name comes in (passwd_valid_user): the passwd-file, pop3ctl,
 * USER, APOP and AUTH PLAIN; e-mail style logins pass RFC 1939's 40.
 */
#define POP3_USER_MAX		64
/* Longest secret: bounds the PASS argument and SASL PLAIN's passwd. */
#define POP3_SECRET_MAX		255
/* A client that sends this many bad commands is disconnected (Dovecot uses 20). */
#define POP3_BAD_CMDS_PREAUTH	5
#define POP3_BAD_CMDS_POSTAUTH	20
/* An over-long line is skipped to its end; past this much, the client is abusive. */
#define POP3_SKIP_MAX		(64 * 1024)
/* Unread pipelined input we hold before we stop reading the socket. */
#define POP3_INPUT_MAX		(64 * 1024)
/* Messages per maildrop: bounds memory per session (popa3d MAX_MAILBOX_MESSAGES). */
#define POP3_MAILDROP_MAX	2000000
/* Maildir file names are at most this long (NAME_MAX). */
#define POP3_MDNAME_MAX		255
/* RFC 1939: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define POP3_UIDL_MAX		70
/* A home directory from the passwd-file (Dovecot's sixth field). */
#define POP3_HOME_MAX		512
/* A Maildir's path, once mail_path is expanded. */
#define POP3_PATH_MAX		1024
/*
 * Dovecot's dovecot-uidlist (dovecot_uidlist.c), written by the mail
 * user: the file (a million messages at ~120 octets a line stay far
 * below), one line (a 255-octet name and a few extensions), and one
 * extension value (a saved P UIDL, a G GUID: Dovecot writes < 100).
 */
#define DUIDL_FILE_MAX		(512LL * 1024 * 1024)
#define DUIDL_LINE_MAX		4096
#define DUIDL_FIELD_MAX		1024
/* IPC messages between pop3d processes (SOCK_SEQPACKET, one per datagram). */
#define POP3_MSG_MAX		4096
/* Config: a line, and the file as a whole. */
#define CONF_LINE_MAX		1024
#define CONF_FILE_MAX		(1024 * 1024)
/* passwd-file: a line, and the number of users. */
#define PASSWD_LINE_MAX		1024
#define PASSWD_USERS_MAX	1000000
/*
 * pop3ctl reads the whole passwd-file to rewrite it: a million users at
 * ~200 octets a line.
 */
#define PASSWD_FILE_MAX		(256 * 1024 * 1024)
/*
 * How long pop3ctl waits for another pop3ctl's lock on the passwd-file
 * (milliseconds): an edit takes one yescrypt hash and an fsync.
 */
#define PASSWD_LOCK_TIMEOUT_MS	10000
/*
 * One message for the LDA (pop3ctl deliver): far above any MTA's default
 * size limit (Postfix: 10 MB), yet bounded.
 */
#define LDA_MSG_MAX		(1024LL * 1024 * 1024)

/*
 * pop3fetch (the client side; mpop NOTES).  A server response line is at
 * most 512 octets with CRLF (RFC 2449 section 4 allows servers 512); a
 * multi-line body line may be longer and is bounded by FETCH_MSG_MAX.
 */
#define FETCH_LINE_MAX		512
/* RFC 1939 section 7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define FETCH_UID_MAX		70
/* STAT, UIDL and LIST counts: bounds the per-session arrays. */
#define FETCH_MAX_MSGS		1000000
/*
 * A message is held in memory between RETR and delivery: the hard
 * ceiling whatever size_limit says (larger messages are skipped).
 */
#define FETCH_MSG_MAX		(256 * 1024 * 1024)
/* CAPA lines we read; a server sending more is broken or hostile. */
#define FETCH_CAPA_MAX		64
/* Commands in flight when the server offers PIPELINING (RFC 2449 6.6). */
#define FETCH_PIPELINE_MAX	16
/*
 * Messages delivered before one fsync of the Maildir's new/ and one state
 * commit, after which their DELEs go out: fewer syncs against DELEs
 * waiting longer (the messages are on disk either way).
 */
#define FETCH_BATCH_MAX		64
/* A password or OAuth2 token from a command or the terminal. */
#define FETCH_SECRET_MAX	8192
/* Account names: a section name, used in state file names and keys. */
#define FETCH_ACCOUNT_MAX	64
/* The mbox/state lock is retried this long before giving up (seconds). */
#define FETCH_LOCK_WAIT		30

/*
 * The mbox key scan holds at most this much of a line: our From_ lines
 * are under 150 octets (dv_mbox_format), so a longer line is not one of
 * ours and the rest of it is skipped; a gigantic line costs no memory.
 */
#define FETCH_MBOX_LINE_MAX	256
/* Bytes per read(2) of the mbox key scan. */
#define FETCH_MBOX_READ	(64 * 1024)

#endif
