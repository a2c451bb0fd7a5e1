/*
 * transport.c — deadlines on reading from a client that civetweb 1.15 does
 * not keep itself.
 *
 * civetweb's mg_read loops until it has the bytes asked for, and its
 * timeout (request_timeout_ms) restarts with every byte that arrives: a
 * client sending one byte every few seconds holds a worker thread for as
 * long as it likes (61.7 s in the review, with a 10 s setting). civetweb
 * gives no handle on the socket, but it reads through the C library's
 * recv(2), and a symbol the program itself defines is the one a shared
 * library's call binds to (ELF interposition; the linker exports it because
 * libcivetweb refers to it). So namaskahd defines recv: while a deadline is
 * set for the calling thread it waits for data no longer than that deadline
 * and then fails the read with ETIMEDOUT, which civetweb reports as a
 * failed read; otherwise it is recvfrom(2) unchanged. Only the thread that
 * set a deadline is affected, and only while http.c reads a body (libpq,
 * whose reads pass through here too, never runs on a thread meanwhile).
 *
 * It also follows what the thread reads while civetweb waits for a request
 * head: how much (so that a head civetweb gave up on can be told too large,
 * 431, from malformed, 400: civetweb reports both alike), whether one has
 * begun to arrive (a drain lets it finish), and its lines as they arrived
 * (nk_head_lines): civetweb overwrites CR and LF with NUL as it parses, so
 * "\r\r" and "\n\r" would look like "\r\n" afterwards.
 */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "head.h"
#include "log.h"
#include "nk_framing.h"

ssize_t recv(int fd, void *buf, size_t len, int flags);

static __thread long long read_deadline_ms; /* 0: none */
static __thread int deadline_hit;
static __thread long long head_bytes;
static __thread int in_head_phase;
static __thread struct nk_head_lines lines;
static __thread int lines_synced;    /* lines saw the head from its start */
static __thread long long past_head; /* bytes read after the head's end */
static int heads_arriving;           /* atomic */

void
transport_set_deadline(long long deadline_ms)
{
    read_deadline_ms = deadline_ms;
    deadline_hit = 0;
}

void
transport_clear_deadline(void)
{
    read_deadline_ms = 0;
}

int
transport_deadline_hit(void)
{
    return deadline_hit;
}

void
transport_head_begin(long long body_bytes)
{
    /* whatever came after the last head beyond its body is the start of
     * this one, already in civetweb's buffer */
    int synced = body_bytes >= 0 && past_head <= body_bytes;

    transport_head_end();
    memset(&lines, 0, sizeof(lines));
    lines.max_fields = NK_MAX_FIELDS;
    lines_synced = synced;
    past_head = 0;
    in_head_phase = 1;
}

const struct nk_head_lines *
transport_head_lines(void)
{
    return lines_synced ? &lines : NULL;
}

void
transport_head_end(void)
{
    if (in_head_phase && head_bytes > 0)
        __atomic_sub_fetch(&heads_arriving, 1, __ATOMIC_SEQ_CST);
    in_head_phase = 0;
    head_bytes = 0;
}

long long
transport_head_bytes(void)
{
    return head_bytes;
}

int
transport_heads_arriving(void)
{
    return __atomic_load_n(&heads_arriving, __ATOMIC_SEQ_CST);
}

/* Waits until fd is readable or the thread's deadline passes: 0 or -1. */
static int
wait_readable(int fd)
{
    for (;;) {
        long long left = read_deadline_ms - nk_now_ms();
        struct pollfd pfd = {fd, POLLIN, 0};
        int n;

        if (left <= 0)
            return -1;
        n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return 0; /* let recv report the socket's own error */
    }
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n;

    if (read_deadline_ms != 0 && wait_readable(fd) != 0) {
        deadline_hit = 1;
        errno = ETIMEDOUT;
        return -1;
    }
    n = recvfrom(fd, buf, len, flags, NULL, NULL);
    if (n > 0 && in_head_phase) {
        if (head_bytes == 0)
            __atomic_add_fetch(&heads_arriving, 1, __ATOMIC_SEQ_CST);
        head_bytes += n;
        if (lines_synced)
            past_head += (long long)((size_t)n - nk_head_lines_feed(&lines, buf,
                                                                    (size_t)n));
    }
    return n;
}
