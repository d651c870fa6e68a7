/*
 * cpus.c - the CPUs this process may run on (cpus.h).  The affinity mask
 * rather than the host's online count: in a container limited to two
 * CPUs of a large host, one thread or worker per host CPU would only
 * queue (and each yescrypt thread holds 16 MiB while it waits).
 */
#include <sched.h>
#include <unistd.h>

#include "cpus.h"

int
cpus_usable(int max)
{
	cpu_set_t	set;
	long		n = 0;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > max ? max : (int)n;
}
