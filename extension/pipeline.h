/*
 * pipeline.h — parsing a request's query string and body (pipeline.c) for
 * the input stage (request.c): what is wrong is reported, not raised.
 */
#ifndef NAMASKAH_PIPELINE_H
#define NAMASKAH_PIPELINE_H

#include "postgres.h"

#include "utils/jsonb.h"

/* Why an input was refused: the SQLSTATE and message parse_query and
 * parse_body raise it with; a body past a limit also names it. */
typedef struct nk_input_error {
    int sqlstate;
    char *message;
    char *detail;           /* the error's DETAIL, or NULL */
    const char *limit_name; /* a body past a limit: which (max_depth ...) */
    long limit_max;         /* and its value */
} nk_input_error;

/* The decoded parameters of a query string as a jsonb object; false (and
 * err) for a query parse_query refuses. */
bool nk_parse_query(text *query, Jsonb **out, nk_input_error *err);

/* A request body as jsonb; false (and err) for a body parse_body refuses. */
bool nk_parse_body(text *body, Jsonb **out, nk_input_error *err);

#endif
