/*
 * nk_base64url.h — base64url (RFC 4648 section 5) for JWTs (pure C).
 *
 * Three operations:
 *   - encode: base64url without padding, as JWS compact serialization wants;
 *   - strict decode: the only decoder the strict JWT verifier uses; accepts
 *     canonical input only (alphabet A-Z a-z 0-9 '-' '_', no padding, no
 *     whitespace, length mod 4 != 1, unused trailing bits zero), so every
 *     byte string has exactly one accepted encoding;
 *   - lenient decode: what pgjwt's url_decode() does (translate '-' '_' to
 *     '+' '/', pad with '=' to a multiple of 4 counted over all characters,
 *     then PostgreSQL's base64 decoder, which skips whitespace and accepts
 *     '=' in odd places); kept byte-for-byte so namaskah.url_decode() returns
 *     what pgjwt returns and fails where pgjwt fails.
 *
 * All functions write into a caller-provided buffer; the caller owns it.
 */
#ifndef NK_BASE64URL_H
#define NK_BASE64URL_H

#include <stddef.h>

typedef enum nk_b64_status {
    NK_B64_OK = 0,
    NK_B64_BAD_SYMBOL,    /* a character outside the alphabet */
    NK_B64_BAD_LENGTH,    /* strict: length mod 4 == 1 */
    NK_B64_NONCANONICAL,  /* strict: non-zero unused trailing bits */
    NK_B64_UNEXPECTED_EQ, /* lenient: '=' where no padding may be */
    NK_B64_BAD_END,       /* lenient: the input ends inside a quantum */
    NK_B64_NO_SPACE       /* the output buffer is too small */
} nk_b64_status;

/* Encoded length of n bytes (no padding), without the NUL. */
size_t nk_b64url_encoded_len(size_t n);

/* Upper bound of the decoded length of n characters (either decoder). */
size_t nk_b64url_decoded_max(size_t n);

/*
 * Encodes in[0..in_len) into out (room for out_size bytes). Writes a NUL
 * when there is room for it. Returns the encoded length, or (size_t)-1 when
 * out_size < nk_b64url_encoded_len(in_len).
 */
size_t nk_b64url_encode(char *out, size_t out_size, const unsigned char *in,
                        size_t in_len);

/*
 * Strict decode of in[0..in_len) into out (room for out_size bytes; at
 * least nk_b64url_decoded_max(in_len) is always enough). *out_len receives
 * the decoded length on success.
 */
nk_b64_status nk_b64url_decode_strict(unsigned char *out, size_t out_size,
                                      size_t *out_len, const char *in,
                                      size_t in_len);

/*
 * pgjwt-compatible lenient decode (see above). in_chars is the number of
 * characters of the text (for the padding rule; equal to in_len for ASCII,
 * and non-ASCII input always fails with NK_B64_BAD_SYMBOL anyway). On
 * NK_B64_BAD_SYMBOL, *bad_at receives the offset of the offending byte.
 */
nk_b64_status nk_b64url_decode_lenient(unsigned char *out, size_t out_size,
                                       size_t *out_len, const char *in,
                                       size_t in_len, size_t in_chars,
                                       size_t *bad_at);

#endif
