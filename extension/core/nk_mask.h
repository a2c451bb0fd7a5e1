/*
 * nk_mask.h — masking of personal data and secrets in text (pure C).
 *
 * Every masker is deterministic and writes like snprintf: out has room for
 * out_size bytes (NUL-terminated when out_size > 0), the return value is the
 * length of the full result, so a return value >= out_size means it was cut
 * (out then holds a prefix made of whole pieces; call again with a larger
 * buffer). out may be NULL when out_size is 0, to measure. A buffer of
 * NK_MASK_BOUND(in_len) bytes always suffices (except for nk_mask_partial,
 * see there).
 *
 * Input is expected to be UTF-8; lengths and "first/last characters" are
 * counted in characters, never bytes, so no sequence is ever split (a byte
 * that is not valid UTF-8 counts as one character and is kept or masked as
 * it is). The empty string masks to the empty string, except for
 * nk_mask_sensitive. Output shapes (documented in docs/masking.md):
 *
 *   email    john.doe@example.com   -> j***@e***.com
 *   phone    +1 (415) 555-2671      -> +*********71
 *   card     4111 1111 1111 1111    -> **** **** **** 1111
 *   token    Bearer eyJhbGciOi...Qssw5c -> Bearer eyJh***sw5c (4 + 4 kept)
 *   other    anything not of the expected kind -> ***
 */
#ifndef NK_MASK_H
#define NK_MASK_H

#include <stddef.h>

/* What a value that cannot be masked by shape becomes. */
#define NK_MASK_HIDDEN "***"

/* Room that is always enough for any masker but nk_mask_partial. */
#define NK_MASK_BOUND(in_len) (2 * (size_t)(in_len) + 64)

/* Tokens shorter than this (in characters) are hidden entirely. */
#define NK_MASK_TOKEN_MIN_CHARS 24

/*
 * Email: first character of the local part, "***", "@", first character of
 * the domain, "***", then the top-level label with its dot (".com"); a
 * domain without a dot keeps only its first character. Not an email (no
 * '@', or nothing on one side of the last '@') -> "***". Surrounding
 * whitespace is ignored.
 */
size_t nk_mask_email(char *out, size_t out_size, const char *in, size_t in_len);

/*
 * Phone (E.164 or national: digits with spaces, '-', '.', '(', ')', an
 * optional leading '+'; 7..15 digits): the '+' when present, one '*' per
 * digit but the last two, then the last two digits; separators are dropped.
 * Anything else -> "***".
 */
size_t nk_mask_phone(char *out, size_t out_size, const char *in, size_t in_len);

/*
 * Card: 12..19 digits, optionally grouped by spaces or dashes, that pass
 * the Luhn check -> every digit but the last four becomes '*', separators
 * stay where they are. Anything else (Luhn failure included) -> "***".
 */
size_t nk_mask_card(char *out, size_t out_size, const char *in, size_t in_len);

/*
 * Token, API key or credential: an authorization scheme prefix ("Bearer",
 * "Basic", "Token", "ApiKey", any case, then spaces) is kept as written;
 * the credential keeps its first four and last four characters around
 * "***" when it has at least NK_MASK_TOKEN_MIN_CHARS characters, else it
 * becomes "***".
 */
size_t nk_mask_token(char *out, size_t out_size, const char *in, size_t in_len);

/*
 * Keeps the first keep_start and last keep_end characters and writes fill
 * (fill_len bytes, may be empty) once per character in between. When
 * keep_start + keep_end covers the whole value, nothing is kept: every
 * character becomes fill. The result needs at most
 * in_len + chars * fill_len + 1 bytes.
 */
size_t nk_mask_partial(char *out, size_t out_size, const char *in,
                       size_t in_len, size_t keep_start, size_t keep_end,
                       const char *fill, size_t fill_len);

/*
 * A value found under a sensitive key: masked by its shape when it is an
 * email, a Luhn-valid card number or a phone number, else "***" (the empty
 * string too: even emptiness is not shown).
 */
size_t nk_mask_sensitive(char *out, size_t out_size, const char *in,
                         size_t in_len);

/*
 * Free text: every email address, JWT, "Bearer <credential>", Luhn-valid
 * card number and phone number found inside is replaced in place by its
 * mask; the rest is copied unchanged. Addresses in free text are found
 * more leniently than nk_validate_email accepts them (non-ASCII letters,
 * long local parts, "a@b.io@c.io" chains masked as one value). Phone
 * numbers in free text are those with a leading '+' (8..15 digits), or
 * 10..11 digits that start with '(' or '0' or are grouped by separators
 * (dates such as 2026-11-27 and dotted IPv4 addresses are not phones). A
 * number or token directly followed by local-part characters and '@' is
 * left to the email rule. Linear in in_len.
 */
size_t nk_mask_text(char *out, size_t out_size, const char *in, size_t in_len);

/* 1 when digits[0..n) (ASCII digits only) pass the Luhn check, else 0. */
int nk_mask_luhn_ok(const char *digits, size_t n);

/*
 * 1 when key[0..key_len) equals one of keys[i][0..key_lens[i]) ignoring
 * ASCII case (the sensitive_keys table holds lower-case keys), else 0.
 */
int nk_mask_key_match(const char *key, size_t key_len, const char *const *keys,
                      const size_t *key_lens, size_t nkeys);

/* Result codes of nk_mask_hmac_sha256. */
typedef enum nk_mask_status {
    NK_MASK_OK = 0,
    NK_MASK_CRYPTO_FAILED /* OpenSSL reported an error */
} nk_mask_status;

#define NK_MASK_HMAC_LEN 32

/*
 * HMAC-SHA256 of msg under key into mac[NK_MASK_HMAC_LEN] (for pseudonyms
 * and key derivation). Nothing secret is left on the stack.
 */
nk_mask_status nk_mask_hmac_sha256(const unsigned char *key, size_t key_len,
                                   const unsigned char *msg, size_t msg_len,
                                   unsigned char mac[NK_MASK_HMAC_LEN]);

#endif
