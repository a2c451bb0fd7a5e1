/*
 * nk_base64url.c — base64url encode, strict decode and the pgjwt-compatible
 * lenient decode (pure C; see nk_base64url.h for the contract).
 */
#include "nk_base64url.h"

#include <stdint.h>

static int b64_value(unsigned char c, int lenient);

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Symbol values of the strict alphabet, -1 elsewhere (hot path). */
static const signed char strict_table[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, 52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1,
    63, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1};

/*
 * Value of one symbol, or -1. The lenient decoder also takes '+' and '/':
 * pgjwt translates '-' '_' into them and hands the result to PostgreSQL's
 * standard base64 decoder, so both spellings decode.
 */
static int
b64_value(unsigned char c, int lenient)
{
    if (!lenient)
        return strict_table[c];
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || (lenient && c == '+'))
        return 62;
    if (c == '_' || (lenient && c == '/'))
        return 63;
    return -1;
}

size_t
nk_b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

size_t
nk_b64url_decoded_max(size_t n)
{
    return ((n + 3) / 4) * 3;
}

size_t
nk_b64url_encode(char *out, size_t out_size, const unsigned char *in,
                 size_t in_len)
{
    size_t need = nk_b64url_encoded_len(in_len);
    size_t i = 0, o = 0;

    if (out_size < need)
        return (size_t)-1;
    while (i + 3 <= in_len) {
        uint32_t v =
            ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
        i += 3;
    }
    if (in_len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (in_len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    if (o < out_size)
        out[o] = '\0';
    return o;
}

nk_b64_status
nk_b64url_decode_strict(unsigned char *out, size_t out_size, size_t *out_len,
                        const char *in, size_t in_len)
{
    size_t rem = in_len % 4;
    size_t need = (in_len / 4) * 3 + (rem ? rem - 1 : 0);
    size_t i, o = 0;
    uint32_t buf = 0;
    int nbits = 0;

    if (rem == 1)
        return NK_B64_BAD_LENGTH;
    if (out_size < need)
        return NK_B64_NO_SPACE;
    /* Whole quanta first: four symbols, three bytes, one validity test. */
    for (i = 0; i + 4 <= in_len; i += 4) {
        const unsigned char *q = (const unsigned char *)in + i;
        int a = strict_table[q[0]], b = strict_table[q[1]];
        int c = strict_table[q[2]], d = strict_table[q[3]];

        if ((a | b | c | d) < 0)
            return NK_B64_BAD_SYMBOL;
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        out[o++] = (unsigned char)((b << 4) | (c >> 2));
        out[o++] = (unsigned char)((c << 6) | d);
    }
    for (; i < in_len; i++) {
        int v = b64_value((unsigned char)in[i], 0);

        if (v < 0)
            return NK_B64_BAD_SYMBOL;
        buf = (buf << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[o++] = (unsigned char)(buf >> nbits);
            buf &= (1u << nbits) - 1;
        }
    }
    /* Left-over bits must be zero, or two encodings would mean one value. */
    if (buf != 0)
        return NK_B64_NONCANONICAL;
    *out_len = o;
    return NK_B64_OK;
}

/*
 * Mirrors pgjwt's url_decode(): the text is padded with '=' to a multiple of
 * four characters, then decoded the way PostgreSQL's decode(..., 'base64')
 * does, quirks included (whitespace skipped anywhere; after the first '='
 * every later quantum is cut the same way).
 */
nk_b64_status
nk_b64url_decode_lenient(unsigned char *out, size_t out_size, size_t *out_len,
                         const char *in, size_t in_len, size_t in_chars,
                         size_t *bad_at)
{
    size_t pad = (in_chars % 4) ? 4 - in_chars % 4 : 0;
    size_t total = in_len + pad;
    size_t i, o = 0;
    uint32_t buf = 0;
    int pos = 0, end = 0;

    for (i = 0; i < total; i++) {
        unsigned char c = i < in_len ? (unsigned char)in[i] : '=';
        int b;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '=') {
            if (!end) {
                if (pos == 2)
                    end = 1;
                else if (pos == 3)
                    end = 2;
                else
                    return NK_B64_UNEXPECTED_EQ;
            }
            b = 0;
        } else {
            b = b64_value(c, 1);
            if (b < 0) {
                if (bad_at)
                    *bad_at = i;
                return NK_B64_BAD_SYMBOL;
            }
        }
        buf = (buf << 6) + (uint32_t)b;
        if (++pos == 4) {
            if (o + 3 > out_size)
                return NK_B64_NO_SPACE;
            out[o++] = (unsigned char)((buf >> 16) & 255);
            if (end == 0 || end > 1)
                out[o++] = (unsigned char)((buf >> 8) & 255);
            if (end == 0 || end > 2)
                out[o++] = (unsigned char)(buf & 255);
            buf = 0;
            pos = 0;
        }
    }
    if (pos != 0)
        return NK_B64_BAD_END;
    *out_len = o;
    return NK_B64_OK;
}
