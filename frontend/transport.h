/*
 * transport.h — deadlines on reading from a client that civetweb 1.15 does
 * not keep itself (see transport.c).
 */
#ifndef NK_FRONTEND_TRANSPORT_H
#define NK_FRONTEND_TRANSPORT_H

/*
 * From now until transport_clear_deadline, this thread's reads from its
 * client fail once deadline_ms (nk_now_ms clock) has passed.
 */
void transport_set_deadline(long long deadline_ms);
void transport_clear_deadline(void);
/* Whether a read of this thread failed at its deadline since it was set. */
int transport_deadline_hit(void);

/*
 * Bytes this thread has read from its client since transport_head_begin:
 * how much of a request head civetweb received before it gave up on it.
 */
void transport_head_begin(void);
long long transport_head_bytes(void);

#endif
