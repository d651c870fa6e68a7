/*
 * cpus.h - how many CPUs this process may run on (cpus.c): the default
 * number of workers and of auth threads.
 */
#ifndef POP3D_CPUS_H
#define POP3D_CPUS_H

/*
 * The CPUs in this process's affinity mask (a container's or a
 * taskset's cpuset), else the online ones; between 1 and max.
 */
int	cpus_usable(int max);

#endif
