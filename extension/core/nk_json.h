/*
 * nk_json.h — JSON string escaping that is also inert in HTML (pure C).
 *
 * Escapes '"', '\\', every control character below U+0020 (as \b \f \n \r \t
 * or \u00XX), and also '<', '>', '&', '\'' (as \u003c \u003e \u0026 \u0027)
 * and U+2028/U+2029 (as \u2028 \u2029), so a JSON document built with it can
 * be pasted into an HTML page or a JavaScript string without becoming markup.
 * Input must be valid UTF-8 (sanitize first when unsure); bytes that are not
 * are written as U+FFFD.
 */
#ifndef NK_JSON_H
#define NK_JSON_H

#include <stddef.h>

/*
 * Writes the escaped form of in[0..in_len) (without surrounding quotes) into
 * out (room for out_size bytes, NUL-terminated when out_size > 0), like
 * snprintf: returns the length the full escaped text needs, so a return value
 * >= out_size means it was cut (never inside an escape or a UTF-8 sequence).
 * out may be NULL when out_size is 0, to measure.
 */
size_t nk_json_escape(char *out, size_t out_size, const char *in,
                      size_t in_len);

/*
 * Writes in[0..in_len) with the five HTML-significant characters replaced
 * by entities (& -> &amp;  < -> &lt;  > -> &gt;  " -> &quot;  ' -> &#39;),
 * safe in element content and in quoted attribute values. Same buffer and
 * return rules as nk_json_escape; bytes that are not valid UTF-8 are written
 * as U+FFFD.
 */
size_t nk_html_escape(char *out, size_t out_size, const char *in,
                      size_t in_len);

/*
 * Makes a JSON document (in[0..in_len), valid JSON text) inert in HTML the
 * way nk_json_escape's strings are: '<' '>' '&' '\'' become \u003c \u003e
 * \u0026 \u0027 and U+2028/U+2029 become \u2028 \u2029. Those can only
 * occur inside JSON strings, where the escapes mean the same characters, so
 * the document stays equal. Every other byte is copied. Same buffer and
 * return rules as nk_json_escape (a cut never splits an escape).
 */
size_t nk_json_inert(char *out, size_t out_size, const char *in, size_t in_len);

#endif
