/*
 * transport.h — deadlines on reading from a client that civetweb 1.15 does
 * not keep itself (see transport.c).
 */
#ifndef NK_FRONTEND_TRANSPORT_H
#define NK_FRONTEND_TRANSPORT_H

struct nk_head_lines;

/*
 * From now until transport_clear_deadline, this thread's reads from its
 * client fail once deadline_ms (nk_now_ms clock) has passed.
 */
void transport_set_deadline(long long deadline_ms);
void transport_clear_deadline(void);
/* Whether a read of this thread failed at its deadline since it was set. */
int transport_deadline_hit(void);

/*
 * The head phase of this thread's connection: from transport_head_begin
 * (a new connection, or a response finished) to transport_head_end (the
 * head was handed over, refused, or the connection closes), civetweb is
 * reading a request head. transport_head_bytes is what it has read of it
 * (how much of a head civetweb received before giving up on it).
 */
void transport_head_begin(long long body_bytes);
void transport_head_end(void);
long long transport_head_bytes(void);

/*
 * The lines of the head being read, as its bytes arrived (nk_framing.h), or
 * NULL when they were not all seen: part of the head came with the previous
 * request's bytes and sits in civetweb's buffer. body_bytes, given when the
 * next head begins, is the finished request's Content-Length (0 without a
 * body, -1 when chunked): what arrived after its head beyond that was the
 * start of the next one.
 */
const struct nk_head_lines *transport_head_lines(void);

/*
 * Connections whose next request head has begun to arrive but is not yet
 * handed over (all threads): what a drain waits for besides the requests
 * in flight.
 */
int transport_heads_arriving(void);

#endif
