/*
 * worker.c — memory of civetweb's worker threads between connections.
 *
 * namaskahd runs many worker threads (one per open connection, see
 * docs/architecture.md), and a thread's stack keeps every page its deepest
 * request ever touched: ~30 KB after a database call, a log line and
 * civetweb's error path, so a thousand threads that once served a request
 * hold ~30 MB they no longer use. When a connection closes, the thread is
 * back near the top of its stack; everything below the current frame is
 * dead, and madvise(MADV_DONTNEED) returns those pages (they read as zero
 * when touched again). Costs one system call per connection and a few page
 * faults when the next connection goes deep again.
 */
#include "worker.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Left alone below the current frame: when madvise runs, only its own
 * small frame and the x86-64 red zone (128 bytes) lie below this one. */
#define TRIM_MARGIN_BYTES 4096

/* The lowest address of this thread's stack (0 until looked up). */
static __thread uintptr_t stack_low;

void
worker_trim_stack(void)
{
    volatile char here;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), top;

    if (stack_low == 0) {
        pthread_attr_t attr;
        void *addr;
        size_t size;

        if (pthread_getattr_np(pthread_self(), &attr) != 0)
            return;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0)
            stack_low = (uintptr_t)addr;
        pthread_attr_destroy(&attr);
        if (stack_low == 0)
            return;
    }
    top = ((uintptr_t)&here - TRIM_MARGIN_BYTES) & ~(page - 1);
    if (top > stack_low + page)
        madvise((void *)(stack_low + page), top - (stack_low + page),
                MADV_DONTNEED);
}
