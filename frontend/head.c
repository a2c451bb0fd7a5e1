/*
 * head.c — strict HTTP/1.1 framing (RFC 9112) of the request head that
 * civetweb 1.15 has parsed, before anything of the request is acted on.
 *
 * Two sources are read. The bytes of the head as they arrived
 * (transport.c feeds them to nk_head_lines): their line ends (civetweb
 * turns CR and LF into NUL alike, so "\r\r" and "\n\r" would look like
 * "\r\n" afterwards), obs-fold, lines that are no field, space before a
 * colon, the field count and the head's size. And, when part of the head
 * came with the previous request's bytes and those raw bytes were not all
 * seen, the head as civetweb left it, read back as below.
 *
 * civetweb's parser is lenient where a strict server must refuse: it drops
 * whitespace between a field name and its colon, tolerates several spaces
 * in the request line and bare LF line ends, and stops parsing without a
 * word at a line that begins with a space (obs-fold), a colon or a
 * non-ASCII byte, or after 64 fields, ignoring the rest of the head. The
 * public mg_request_info shows none of that, but civetweb parses in place:
 * the method, target, version, names and values point into the received
 * head, in which it has overwritten each delimiter it consumed (the spaces
 * of the request line, each colon, CR, LF, and spaces before a colon) with
 * a NUL byte. So the layout is read back from the bytes between and just
 * after those strings:
 *
 *   "GET /p HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n"  is held as
 *   "GET\0/p\0HTTP/1.1\0\0Host\0 h\0\0A\0 b\0\0\r\0"
 *
 * Every read stays between the head's first byte and its end, which lies at
 * least two bytes after the last value (its line's CR LF); the two bytes
 * after those are read only when the head is shorter than MAX_HEADER_BYTES,
 * while civetweb's buffer is HEAD_SLACK bytes larger than that. (civetweb
 * skips whitespace before the request line without saying how much, so a
 * head behind more than HEAD_SLACK bytes of it that ends with a bare-LF
 * line exactly at the buffer's end could still have those two bytes read
 * just past the buffer, inside the allocation's malloc padding; such a head
 * is refused either way.) This depends on
 * civetweb 1.15's parser (Debian's libcivetweb1 1.15): the tests on raw
 * sockets (test/http/test_edge.py) pin every case down.
 */
#include "head.h"

#include <string.h>

#include <civetweb.h>

/* civetweb's buffer beyond MAX_HEADER_BYTES (see above). */
#define HEAD_SLACK 1024

static enum nk_framing request_line_check(const struct mg_request_info *ri);
static enum nk_framing field_layout_check(const struct mg_request_info *ri,
                                          size_t max_head);
static enum nk_framing end_of_head_check(const struct mg_request_info *ri,
                                         const char *end_of_value,
                                         size_t max_head);

long
head_buffer_size(long max_head)
{
    return max_head + HEAD_SLACK;
}

/* "METHOD SP target SP HTTP/x.y": exactly one space between the three. */
static enum nk_framing
request_line_check(const struct mg_request_info *ri)
{
    const char *method = ri->request_method, *target = ri->request_uri;
    const char *version = ri->http_version, *target_end;

    if (method == NULL || target == NULL || version == NULL)
        return NK_FRAMING_REQUEST_LINE;
    /* civetweb cut the query off the target at its '?' */
    target_end = ri->query_string != NULL
                     ? ri->query_string + strlen(ri->query_string)
                     : target + strlen(target);
    /* http_version points past "HTTP/" */
    if (target != method + strlen(method) + 1 || version - 5 != target_end + 1)
        return NK_FRAMING_REQUEST_LINE;
    return NK_FRAMING_OK;
}

/*
 * The line ends (CR LF, each now NUL) between the request line and the
 * first field and between fields, and no whitespace before any colon.
 */
static enum nk_framing
field_layout_check(const struct mg_request_info *ri, size_t max_head)
{
    const char *line_end =
        ri->http_version + strlen(ri->http_version); /* its CR */
    int i;

    for (i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        const char *value = ri->http_headers[i].value;
        const char *colon = name + strlen(name), *p;

        /* the previous line ended in CR LF right before this name */
        if (name == line_end + 1)
            return NK_FRAMING_BARE_LF;
        if (name != line_end + 2)
            return NK_FRAMING_OBS_FOLD; /* whitespace opened the line */
        /* between the colon and the value only spaces may stand; a NUL
         * there was a space before the colon */
        for (p = colon + 1; p < value; p++)
            if (*p != ' ')
                return NK_FRAMING_SPACE_BEFORE_COLON;
        line_end = value + strlen(value);
    }
    return end_of_head_check(ri, line_end, max_head);
}

/*
 * After the last field line (or the request line) comes the empty line, and
 * nothing else: a line civetweb stopped at (obs-fold, a 65th field, a line
 * that is no field) would otherwise be ignored. end_of_value is the NUL
 * that was the last line's CR. With no field at all, civetweb's skipping of
 * whitespace after the version has turned the empty line's CR into a NUL
 * too.
 */
static enum nk_framing
end_of_head_check(const struct mg_request_info *ri, const char *end_of_value,
                  size_t max_head)
{
    const char *p = end_of_value;

    if (p[1] != '\0')
        return NK_FRAMING_BARE_LF;
    /* p[2] and p[3] lie inside civetweb's buffer if the head fits */
    if ((size_t)(p + 4 - ri->request_method) > max_head)
        return NK_FRAMING_HEAD_TOO_LARGE;
    if (p[2] == (ri->num_headers > 0 ? '\r' : '\0') && p[3] == '\0')
        return NK_FRAMING_OK;
    if (p[2] == ' ' || p[2] == '\t')
        return NK_FRAMING_OBS_FOLD;
    if (p[2] == '\0' || p[2] == '\n')
        return NK_FRAMING_BARE_LF;
    return ri->num_headers >= MG_MAX_HEADERS ? NK_FRAMING_TOO_MANY_FIELDS
                                             : NK_FRAMING_LINE_INVALID;
}

enum nk_framing
head_check(const struct mg_request_info *ri, size_t max_head,
           const struct nk_head_lines *raw)
{
    struct nk_field fields[MG_MAX_HEADERS];
    enum nk_framing verdict = request_line_check(ri);
    int i, http11;

    if (verdict == NK_FRAMING_OK && raw != NULL)
        verdict = raw->done && raw->size > max_head ? NK_FRAMING_HEAD_TOO_LARGE
                                                    : raw->verdict;
    /* the raw lines, when all seen, settle the line ends and what follows
     * the last field; else they are read back from civetweb's buffer */
    if (verdict == NK_FRAMING_OK && (raw == NULL || !raw->done))
        verdict = field_layout_check(ri, max_head);
    if (verdict != NK_FRAMING_OK)
        return verdict;
    for (i = 0; i < ri->num_headers; i++) {
        fields[i].name = ri->http_headers[i].name;
        fields[i].name_len = strlen(fields[i].name);
        fields[i].value = ri->http_headers[i].value;
        fields[i].value_len = strlen(fields[i].value);
        /* trailing whitespace is not part of a field value (RFC 9110
         * § 5.5); civetweb keeps it */
        while (fields[i].value_len > 0 &&
               (fields[i].value[fields[i].value_len - 1] == ' ' ||
                fields[i].value[fields[i].value_len - 1] == '\t'))
            fields[i].value_len--;
    }
    http11 = strcmp(ri->http_version, "1.1") == 0;
    return nk_framing_check(fields, (size_t)ri->num_headers, http11,
                            NK_MAX_FIELDS);
}
