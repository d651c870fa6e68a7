/*
 * jobs.h - a few threads per worker for blocking maildrop work (scan,
 * commit), so one slow disk never stalls the event loop.  A job carries
 * the session id, never a session pointer: the session may be gone when
 * the job is done, and then done() must release what run() acquired.
 */
#ifndef POP3D_JOBS_H
#define POP3D_JOBS_H

#include <stdint.h>

#include <event2/event.h>

struct job {
	void		(*run)(struct job *);	/* on a pool thread */
	void		(*done)(struct job *);	/* on the loop thread; frees job */
	uint64_t	  sid;
	struct job	 *next;
};

/* Starts nthreads threads; completions are delivered on base. */
int	jobs_init(struct event_base *base, int nthreads);
/* Queues a job; never fails (the queue is bounded by sessions). */
void	jobs_submit(struct job *);

#endif
