/*
 * bench/proxy/inloop.c - how long a proxy's event loop is awake per request: an LD_PRELOAD library for inloop.py.
 *
 * Wraps epoll_wait. The wall time from an epoll_wait's return to the next epoll_wait's call is time the loop spent
 * working (its own code and the system calls it made: reads, writes, the kernel's TCP work on them); the time
 * inside epoll_wait is sleeping and waking. Both are added up per process, with the number of waits, in a file
 * $INLOOP_DIR/inloop-PID of four 64-bit counters that inloop.py reads while the proxy runs (shared mapping).
 * Every thread counts (a proxy's idle threads add nothing measurable: sluice's control thread wakes ten times a
 * second). The clock is CLOCK_MONOTONIC through the vDSO, read twice per wait.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct counters {
    uint64_t awake_ns, asleep_ns, waits, woken; /* woken: waits that returned events */
};

static struct counters *shared;
static int (*real_wait)(int, struct epoll_event *, int, int);
static __thread uint64_t returned_at;

static uint64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void setup(void)
{
    real_wait = (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
    const char *dir = getenv("INLOOP_DIR");
    if (dir == NULL)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/inloop-%d", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof(struct counters)) != 0)
        return;
    void *p = mmap(NULL, sizeof(struct counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p != MAP_FAILED)
        shared = p;
}

int epoll_wait(int ep, struct epoll_event *events, int max, int timeout)
{
    uint64_t called = shared != NULL ? now() : 0;
    int n = real_wait(ep, events, max, timeout);
    if (shared == NULL)
        return n;
    uint64_t t = now();
    if (returned_at != 0)
        __atomic_fetch_add(&shared->awake_ns, called - returned_at, __ATOMIC_RELAXED);
    __atomic_fetch_add(&shared->asleep_ns, t - called, __ATOMIC_RELAXED);
    __atomic_fetch_add(&shared->waits, 1, __ATOMIC_RELAXED);
    if (n > 0)
        __atomic_fetch_add(&shared->woken, 1, __ATOMIC_RELAXED);
    returned_at = t;
    return n;
}
