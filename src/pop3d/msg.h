/*
 * msg.h - typed, length-checked messages between pop3d processes over
 * SOCK_SEQPACKET socketpairs (one message per datagram, at most
 * POP3_MSG_MAX octets).  Every message carries a protocol version, a
 * type and a session id, never a pointer.  The reader checks every
 * length; a malformed message from a peer is a broken invariant.
 */
#ifndef POP3_MSG_H
#define POP3_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "pop3_limits.h"

#define MSG_VERSION	1

struct msg {
	unsigned char	data[POP3_MSG_MAX];
	size_t		len;	/* bytes written, or bytes received */
	size_t		pos;	/* read position */
	int		err;	/* sticky: an append overflowed or a get failed */
};

/* Starts a message: writes version, type, session id. */
void	msg_init(struct msg *, uint32_t type, uint64_t sid);
void	msg_put_u32(struct msg *, uint32_t);
void	msg_put_u64(struct msg *, uint64_t);
/* A string: u32 length then bytes (no NUL on the wire). */
void	msg_put_str(struct msg *, const char *);
void	msg_put_bytes(struct msg *, const void *, size_t);

/*
 * Starts reading a received message (m->len set by the caller): checks
 * the version and reads type and session id.  Returns 0 or -1.
 */
int	msg_begin(struct msg *, uint32_t *type, uint64_t *sid);
int	msg_get_u32(struct msg *, uint32_t *);
int	msg_get_u64(struct msg *, uint64_t *);
/*
 * Copies a string into out (size outlen, NUL-terminated).  -1 if it does
 * not fit, runs past the end, or contains a NUL.
 */
int	msg_get_str(struct msg *, char *out, size_t outlen);
/* Copies exactly len raw bytes (the counterpart of msg_put_bytes). */
int	msg_get_bytes(struct msg *, void *, size_t len);
/* 0 if every byte was consumed and no get failed, else -1. */
int	msg_end(struct msg *);

/*
 * send(2)/recv(2) of one message; -1 with errno on failure, 0 on EOF for
 * recv.  msg_send refuses (EMSGSIZE) a message whose building overflowed;
 * msg_recv sets len (EMSGSIZE if the datagram was truncated) and returns
 * the length.  Both retry on EINTR.
 */
int	msg_send(int fd, const struct msg *);
long	msg_recv(int fd, struct msg *);
/* Wipes the buffer (it may have held a secret). */
void	msg_wipe(struct msg *);

/*
 * fd passing (SCM_RIGHTS) over a unix socket: a message with one fd.
 * msg_recv_fd works as msg_recv and also sets *fdp to the fd that came
 * with the message, or -1 if none did; -1 with EBADMSG if more than one
 * fd came or the message was truncated (every received fd is closed).
 * The received fd is close-on-exec.
 */
int	msg_send_fd(int sock, const struct msg *, int fd);
long	msg_recv_fd(int sock, struct msg *, int *fdp);

#endif
