/*
 * head.h — strict HTTP/1.1 framing of the request head civetweb has parsed.
 */
#ifndef NK_FRONTEND_HEAD_H
#define NK_FRONTEND_HEAD_H

#include <stddef.h>

#include "nk_framing.h"

struct mg_request_info;

/*
 * The most header fields a request may have: one less than civetweb's
 * MG_MAX_HEADERS, because civetweb stops at that many without a word, so a
 * full table may hide more.
 */
#define NK_MAX_FIELDS 63

/*
 * Checks the head of the request civetweb parsed into ri (its line layout,
 * then the framing rules of nk_framing.h). max_head is MAX_HEADER_BYTES;
 * raw is the head's lines as they arrived (transport.c), or NULL when they
 * were not all seen. Returns NK_FRAMING_OK or what is wrong.
 */
enum nk_framing head_check(const struct mg_request_info *ri, size_t max_head,
                           const struct nk_head_lines *raw);

/*
 * What civetweb must be told as max_request_size for MAX_HEADER_BYTES: a
 * little more, so that head_check may look just past the last field line
 * of a head it accepts (see head.c).
 */
long head_buffer_size(long max_head);

#endif
