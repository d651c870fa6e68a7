/*
 * jobs.c - the worker's thread pool: a locked queue in, a locked queue
 * out, and an eventfd that wakes the event loop for completions.
 * Worker processes only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "jobs.h"
#include "log.h"

static pthread_mutex_t	 qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 qcond = PTHREAD_COND_INITIALIZER;
static struct job	*todo_head, *todo_tail;
static struct job	*done_head, *done_tail;
static int		 efd = -1;
static struct event	*ev_done;

static void
push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *
thread_main(void *arg)
{
	struct job	*j;
	uint64_t	 one = 1;

	for (;;) {
		pthread_mutex_lock(&qlock);
		while (todo_head == NULL)
			pthread_cond_wait(&qcond, &qlock);
		j = todo_head;
		if ((todo_head = j->next) == NULL)
			todo_tail = NULL;
		pthread_mutex_unlock(&qlock);

		j->run(j);

		pthread_mutex_lock(&qlock);
		push(&done_head, &done_tail, j);
		pthread_mutex_unlock(&qlock);
		while (write(efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*j, *next;
	uint64_t	 n;

	(void)read(efd, &n, sizeof(n));
	pthread_mutex_lock(&qlock);
	j = done_head;
	done_head = done_tail = NULL;
	pthread_mutex_unlock(&qlock);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j);
	}
}

int
jobs_init(struct event_base *base, int nthreads)
{
	pthread_t	t;
	int		i;

	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	ev_done = event_new(base, efd, EV_READ | EV_PERSIST, done_cb, NULL);
	if (ev_done == NULL || event_add(ev_done, NULL) == -1)
		return -1;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&t, NULL, thread_main, NULL) != 0)
			return -1;
	return 0;
}

void
jobs_submit(struct job *j)
{
	pthread_mutex_lock(&qlock);
	push(&todo_head, &todo_tail, j);
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
}
