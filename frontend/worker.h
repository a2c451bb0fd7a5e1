/*
 * worker.h — memory of civetweb's worker threads between connections.
 */
#ifndef NK_FRONTEND_WORKER_H
#define NK_FRONTEND_WORKER_H

/*
 * Gives the unused part of the calling thread's stack back to the kernel
 * (see worker.c). Call it shallow in the stack, as a connection closes.
 */
void worker_trim_stack(void);

#endif
