/*
 * nk_http.c — percent-decoding of query-string components (pure C), so the
 * pipeline never interprets raw request bytes in SQL.
 */
#include "nk_http.h"

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
nk_percent_decode(char *out, const char *in, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (in[i] == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return -1;
            hi = hex_value(in[i + 1]);
            lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+') {
            out[n++] = ' ';
        } else {
            out[n++] = in[i];
        }
    }
    return (long)n;
}
