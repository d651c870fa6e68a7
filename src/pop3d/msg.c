/*
 * msg.c - framing of the typed messages between pop3d processes: header
 * (version, type, session id), length-checked fields in network byte
 * order, one SOCK_SEQPACKET datagram per message, and fd passing.
 * Used by the master, the auth process and the workers.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

static void
msg_put(struct msg *m, const void *p, size_t n)
{
	if (m->err || n > sizeof(m->data) - m->len) {
		m->err = 1;
		return;
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
}

static int
msg_get(struct msg *m, void *p, size_t n)
{
	if (m->err || m->pos > m->len || n > m->len - m->pos) {
		m->err = 1;
		return -1;
	}
	memcpy(p, m->data + m->pos, n);
	m->pos += n;
	return 0;
}

void
msg_init(struct msg *m, uint32_t type, uint64_t sid)
{
	m->len = 0;
	m->pos = 0;
	m->err = 0;
	msg_put_u32(m, MSG_VERSION);
	msg_put_u32(m, type);
	msg_put_u64(m, sid);
}

void
msg_put_u32(struct msg *m, uint32_t v)
{
	v = htonl(v);
	msg_put(m, &v, sizeof(v));
}

void
msg_put_u64(struct msg *m, uint64_t v)
{
	msg_put_u32(m, (uint32_t)(v >> 32));
	msg_put_u32(m, (uint32_t)v);
}

void
msg_put_str(struct msg *m, const char *s)
{
	size_t	 n;

	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n > UINT32_MAX || n + 4 > sizeof(m->data) - m->len) {
		m->err = 1;	/* not half a string */
		return;
	}
	msg_put_u32(m, (uint32_t)n);
	msg_put(m, s, n);
}

void
msg_put_bytes(struct msg *m, const void *p, size_t n)
{
	msg_put(m, p, n);
}

int
msg_begin(struct msg *m, uint32_t *type, uint64_t *sid)
{
	uint32_t	 ver;

	m->pos = 0;
	m->err = 0;
	if (m->len > sizeof(m->data) || msg_get_u32(m, &ver) == -1 ||
	    ver != MSG_VERSION || msg_get_u32(m, type) == -1 ||
	    msg_get_u64(m, sid) == -1) {
		m->err = 1;
		return -1;
	}
	return 0;
}

int
msg_get_u32(struct msg *m, uint32_t *v)
{
	uint32_t	 n;

	if (msg_get(m, &n, sizeof(n)) == -1)
		return -1;
	*v = ntohl(n);
	return 0;
}

int
msg_get_u64(struct msg *m, uint64_t *v)
{
	uint32_t	 hi, lo;

	if (msg_get_u32(m, &hi) == -1 || msg_get_u32(m, &lo) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int
msg_get_str(struct msg *m, char *out, size_t outlen)
{
	uint32_t	 n;

	if (outlen > 0)
		out[0] = '\0';
	if (msg_get_u32(m, &n) == -1)
		return -1;
	if ((size_t)n >= outlen || n > m->len - m->pos ||
	    memchr(m->data + m->pos, '\0', n) != NULL) {
		m->err = 1;
		return -1;
	}
	memcpy(out, m->data + m->pos, n);
	out[n] = '\0';
	m->pos += n;
	return 0;
}

int
msg_get_bytes(struct msg *m, void *p, size_t n)
{
	return msg_get(m, p, n);
}

int
msg_end(struct msg *m)
{
	return (m->err || m->pos != m->len) ? -1 : 0;
}

int
msg_send(int fd, const struct msg *m)
{
	ssize_t	 n;

	if (m->err || m->len > sizeof(m->data)) {
		errno = EMSGSIZE;
		return -1;
	}
	do
		n = send(fd, m->data, m->len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != m->len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

long
msg_recv(int fd, struct msg *m)
{
	struct iovec	 iov;
	struct msghdr	 mh;
	ssize_t		 n;

	m->len = 0;
	m->pos = 0;
	m->err = 0;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = m->data;
	iov.iov_len = sizeof(m->data);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do
		n = recvmsg(fd, &mh, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (mh.msg_flags & MSG_TRUNC) {
		m->err = 1;
		errno = EMSGSIZE;
		return -1;
	}
	m->len = (size_t)n;
	return (long)n;
}

void
msg_wipe(struct msg *m)
{
	explicit_bzero(m, sizeof(*m));
}

int
msg_send_fd(int sock, const struct msg *m, int fd)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 mh;
	struct iovec	 iov;
	ssize_t		 n;

	if (m->err) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)m->data;
	iov.iov_len = m->len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}

long
msg_recv_fd(int sock, struct msg *m, int *fdp)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(4 * sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 mh;
	struct iovec	 iov;
	ssize_t		 n;
	int		 fds[4], bad = 0;
	size_t		 nfd, i;

	*fdp = -1;
	memset(&mh, 0, sizeof(mh));
	memset(m, 0, sizeof(*m));
	iov.iov_base = m->data;
	iov.iov_len = sizeof(m->data);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	bad = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfd > 4)
			nfd = 4;
		memcpy(fds, CMSG_DATA(c), nfd * sizeof(int));
		/* Keep the first fd; any more is a malformed message. */
		for (i = 0; i < nfd; i++) {
			if (*fdp == -1 && !bad)
				*fdp = fds[i];
			else {
				close(fds[i]);
				bad = 1;
			}
		}
	}
	if (bad) {
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		m->err = 1;
		errno = EBADMSG;
		return -1;
	}
	m->len = (size_t)n;
	return (long)n;
}
