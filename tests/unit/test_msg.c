/*
 * test_msg.c - unit tests for msg.c: round trips over a SOCK_SEQPACKET
 * socketpair, truncation, overlong strings, embedded NULs, versions and
 * fd passing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "pop3d/msg.h"

static int	 sp[2];

static int
pair_setup(void **state)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
}

static int
pair_teardown(void **state)
{
	close(sp[0]);
	close(sp[1]);
	return 0;
}

static void
test_round_trip(void **state)
{
	struct msg	 m, r;
	uint32_t	 type, u;
	uint64_t	 sid, v;
	char		 s[64];
	unsigned char	 raw[3];

	msg_init(&m, 7, 0x0123456789abcdefULL);
	msg_put_u32(&m, 0xdeadbeef);
	msg_put_u64(&m, UINT64_MAX - 1);
	msg_put_str(&m, "alice");
	msg_put_str(&m, "");
	msg_put_str(&m, NULL);
	msg_put_bytes(&m, "\x00\x01\x02", 3);
	assert_int_equal(m.err, 0);
	/* Header: version 1, type 7 in network byte order. */
	assert_memory_equal(m.data, "\0\0\0\1\0\0\0\7\x01\x23", 10);
	assert_int_equal(msg_send(sp[0], &m), 0);

	assert_int_equal(msg_recv(sp[1], &r), (long)m.len);
	assert_int_equal(r.len, m.len);
	assert_int_equal(msg_begin(&r, &type, &sid), 0);
	assert_int_equal(type, 7);
	assert_true(sid == 0x0123456789abcdefULL);
	assert_int_equal(msg_get_u32(&r, &u), 0);
	assert_int_equal(u, 0xdeadbeef);
	assert_int_equal(msg_get_u64(&r, &v), 0);
	assert_true(v == UINT64_MAX - 1);
	assert_int_equal(msg_end(&r), -1);	/* not all read yet */
	assert_int_equal(msg_get_str(&r, s, sizeof(s)), 0);
	assert_string_equal(s, "alice");
	assert_int_equal(msg_get_str(&r, s, sizeof(s)), 0);
	assert_string_equal(s, "");
	assert_int_equal(msg_get_str(&r, s, sizeof(s)), 0);
	assert_string_equal(s, "");
	assert_int_equal(msg_get_bytes(&r, raw, 3), 0);
	assert_memory_equal(raw, "\x00\x01\x02", 3);
	assert_int_equal(msg_end(&r), 0);
	/* Reading past the end fails and sticks. */
	assert_int_equal(msg_get_u32(&r, &u), -1);
	assert_int_equal(msg_end(&r), -1);
	msg_wipe(&r);
	assert_int_equal(r.len, 0);
}

static void
test_truncated(void **state)
{
	struct msg	 m;
	uint32_t	 type, u;
	uint64_t	 sid;
	char		 s[16];

	msg_init(&m, 1, 2);
	msg_put_str(&m, "hello");
	/* Cut inside the string. */
	m.len -= 2;
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	assert_int_equal(msg_end(&m), -1);
	/* Cut inside the header. */
	m.len = 10;
	assert_int_equal(msg_begin(&m, &type, &sid), -1);
	m.len = 0;
	assert_int_equal(msg_begin(&m, &type, &sid), -1);
	/* Cut inside a u32. */
	msg_init(&m, 1, 2);
	msg_put_u32(&m, 5);
	m.len -= 1;
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_get_u32(&m, &u), -1);
	/* A length field larger than the message. */
	msg_init(&m, 1, 2);
	msg_put_u32(&m, 0xffffffff);
	msg_put_bytes(&m, "abc", 3);
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	/* Trailing bytes make msg_end fail. */
	msg_init(&m, 1, 2);
	msg_put_u32(&m, 5);
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_end(&m), -1);
}

static void
test_version(void **state)
{
	struct msg	 m;
	uint32_t	 type;
	uint64_t	 sid;

	msg_init(&m, 1, 2);
	m.data[3] = 2;		/* version 2 */
	assert_int_equal(msg_begin(&m, &type, &sid), -1);
}

static void
test_overlong(void **state)
{
	static char	 big[POP3_MSG_MAX + 10];
	struct msg	 m, r;
	uint32_t	 type;
	uint64_t	 sid;
	char		 s[8];

	/* A string that does not fit the message: nothing half-written. */
	memset(big, 'x', sizeof(big) - 1);
	msg_init(&m, 1, 2);
	msg_put_str(&m, big);
	assert_int_equal(m.err, 1);
	assert_int_equal(m.len, 16);
	assert_int_equal(msg_send(sp[0], &m), -1);
	assert_int_equal(errno, EMSGSIZE);

	/* Exactly full is fine. */
	msg_init(&m, 1, 2);
	big[POP3_MSG_MAX - 16 - 4] = '\0';
	msg_put_str(&m, big);
	assert_int_equal(m.err, 0);
	assert_int_equal(m.len, POP3_MSG_MAX);
	msg_put_u32(&m, 1);
	assert_int_equal(m.err, 1);

	/* A string longer than the reader's buffer. */
	msg_init(&m, 1, 2);
	msg_put_str(&m, "12345678");
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	msg_init(&m, 1, 2);
	msg_put_str(&m, "1234567");
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), 0);
	assert_string_equal(s, "1234567");

	/* A datagram bigger than POP3_MSG_MAX is refused by msg_recv. */
	memset(big, 'y', sizeof(big));
	assert_int_equal(send(sp[0], big, sizeof(big), 0), (ssize_t)
	    sizeof(big));
	assert_int_equal(msg_recv(sp[1], &r), -1);
	assert_int_equal(errno, EMSGSIZE);
}

static void
test_embedded_nul(void **state)
{
	struct msg	 m;
	uint32_t	 type;
	uint64_t	 sid;
	char		 s[16];

	msg_init(&m, 1, 2);
	msg_put_u32(&m, 5);
	msg_put_bytes(&m, "ab\0cd", 5);
	assert_int_equal(msg_begin(&m, &type, &sid), 0);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	assert_int_equal(msg_end(&m), -1);
}

static void
test_eof(void **state)
{
	struct msg	 m;

	close(sp[0]);
	assert_int_equal(msg_recv(sp[1], &m), 0);
	sp[0] = open("/dev/null", O_RDONLY);	/* for the teardown */
}

static void
test_fd_passing(void **state)
{
	struct msg	 m, r;
	uint32_t	 type, u;
	uint64_t	 sid;
	int		 fd, p[2];
	char		 c;

	assert_int_equal(pipe(p), 0);
	msg_init(&m, 7, 99);
	msg_put_u32(&m, 42);
	assert_int_equal(msg_send_fd(sp[0], &m, p[1]), 0);
	close(p[1]);
	assert_true(msg_recv_fd(sp[1], &r, &fd) > 0);
	assert_int_equal(msg_begin(&r, &type, &sid), 0);
	assert_int_equal(type, 7);
	assert_int_equal(sid, 99);
	assert_int_equal(msg_get_u32(&r, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(msg_end(&r), 0);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "z", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	close(fd);
	close(p[0]);

	/* A message without an fd is a message, with *fdp = -1. */
	msg_init(&m, 1, 2);
	assert_int_equal(msg_send(sp[0], &m), 0);
	assert_true(msg_recv_fd(sp[1], &r, &fd) > 0);
	assert_int_equal(fd, -1);

	/* EOF reads as 0. */
	close(sp[0]);
	assert_int_equal(msg_recv_fd(sp[1], &r, &fd), 0);
	assert_int_equal(fd, -1);
	sp[0] = open("/dev/null", O_RDONLY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, pair_setup,
		    pair_teardown),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_version),
		cmocka_unit_test_setup_teardown(test_overlong, pair_setup,
		    pair_teardown),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test_setup_teardown(test_eof, pair_setup,
		    pair_teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, pair_setup,
		    pair_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
