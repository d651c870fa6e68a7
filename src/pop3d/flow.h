/*
 * flow.h - the numbers that pace output in pop3d: how much a multi-line
 * answer queues before it yields, when it is woken again, how much a
 * loop turn writes to one connection, and how RETR reads a message.
 * They work together, so they live together; the asserts below say how
 * they must relate, and each comment says what breaks otherwise.
 * Worker processes (conn.c, session.c, cmd_trans.c).  Bounds on input
 * (POP3_INPUT_MAX and the line lengths) stay in pop3_limits.h.
 */
#ifndef POP3D_FLOW_H
#define POP3D_FLOW_H

#include "pop3_limits.h"

/*
 * Output high-water: a RETR/TOP/LIST/UIDL continuation queues output
 * until this much waits, then yields until CONN_LOWAT; the session also
 * stops reading commands while this much is queued.  The per-session
 * memory for output is this plus one step (below).
 */
#define POP3_OUTPUT_HIWAT	(256 * 1024)

/*
 * Output low-water: CONN_LOWAT is reported when a write leaves at most
 * this much queued, so a continuation refills before the socket runs dry.
 */
#define CONN_OUT_LOWAT		(64 * 1024)

/*
 * A loop turn that has written this much to one connection holds its
 * CONN_LOWAT to the next turn (after the other sessions' events), so a
 * fast reader of a big answer cannot keep the loop.  Also the most the
 * sendfile fast path (conn_send_file) sends at once, and the most one
 * write(2) hands to the kernel on TLS: a socket buffer's worth.
 */
#define CONN_MAX_WRITE		(512 * 1024)

/*
 * The most one flush writes to a connection (what the socket does not
 * take, or what is over this, waits for the socket or the next turn).
 * Twice CONN_MAX_WRITE: a flush takes what a continuation can have
 * queued, its high-water plus one whole step, in one writev.
 */
#define CONN_TURN_MAX		(2 * CONN_MAX_WRITE)

/* RETR/TOP of a file that goes through the encoder: bytes per read(2). */
#define RETR_CHUNK		(128 * 1024)

/*
 * RETR of a wire-form file (its bytes, plus the dots its name counts,
 * are the answer): bytes per read(2).  A file up to this size is read
 * and queued, its end included, in a single step: one read(2), and one
 * write when the socket takes it.  Also the size of the read buffer.
 */
#define RETR_WIRE_STEP		(512 * 1024)

/*
 * Wire-form messages at least this big go out with sendfile(2) on
 * plain connections; smaller ones are read into the output buffer, where
 * several answers share one write(2) (a sendfile is a call of its own).
 */
#define RETR_SENDFILE_MIN	(32 * 1024)

/* Woken at low-water, a continuation must find room to add something. */
_Static_assert(0 < CONN_OUT_LOWAT && CONN_OUT_LOWAT < POP3_OUTPUT_HIWAT,
    "low-water must be below high-water, or a woken continuation stalls");
/* The turn's hold must be reachable by one flush. */
_Static_assert(CONN_TURN_MAX >= CONN_MAX_WRITE,
    "a flush must be able to write a turn's worth");
/* High-water plus the biggest step (wire-form, with its end) in one flush. */
_Static_assert(CONN_TURN_MAX >= POP3_OUTPUT_HIWAT + RETR_WIRE_STEP + 3,
    "a flush must take all a continuation can queue");
/* retr_cont reads RETR_CHUNK into the RETR_WIRE_STEP buffer. */
_Static_assert(RETR_CHUNK <= RETR_WIRE_STEP,
    "the RETR read buffer is RETR_WIRE_STEP bytes");
/* One encoder step stays within what a high-water's worth allows. */
_Static_assert(RETR_CHUNK <= POP3_OUTPUT_HIWAT,
    "a RETR chunk must not exceed the output high-water");
/* A file read rather than sent by the kernel is read in one step. */
_Static_assert(RETR_SENDFILE_MIN <= RETR_WIRE_STEP,
    "a file below the sendfile minimum must fit one wire step");
/* sendfile is for files that cost more to copy than one more call. */
_Static_assert(RETR_SENDFILE_MIN <= CONN_MAX_WRITE,
    "the sendfile minimum must be below a turn's write");
/* A whole command or SASL line, CRLF included, fits the input buffer. */
_Static_assert(POP3_INPUT_MAX >= POP3_SASL_LINE_MAX,
    "the input high-water must hold the longest line");

#endif
