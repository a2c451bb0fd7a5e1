/*
 * fuzz_jsonscan.c — libFuzzer target for the strict, bounded JSON scanner
 * (core/nk_jsonscan.c) that reads request bodies and token claims.
 *
 * The first byte picks tight limits (depth, members, string bytes, values,
 * each 1..16); the rest is the JSON text. Asserted for any input: nothing
 * is read outside the text; a text within the tight limits is also within
 * the loose ones; a text the loose scan refuses for its syntax or a
 * duplicate is refused by the tight scan for that reason or for a limit;
 * a text only the tight scan refuses is refused for a limit; the member
 * and element walks agree with the plain scan, and every key and string
 * value they hand out decodes within its raw length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nk_jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const nk_json_limits loose = {
    .max_depth = 64,
    .max_members = NK_JSON_MEMBERS_CAP,
    .max_string = (size_t)-1,
    .max_values = (size_t)-1,
};

static int
is_limit(nk_json_status st)
{
    return st == NK_JSON_TOO_DEEP || st == NK_JSON_TOO_MANY_MEMBERS ||
           st == NK_JSON_STRING_TOO_LONG || st == NK_JSON_TOO_MANY_VALUES;
}

/* Decodes what the walk hands out; a decoded string is never longer. */
static int
decode_member(void *arg, const nk_json_member *m)
{
    char out[4096];
    size_t n;

    (void)arg;
    if (m->key != NULL && m->key_len < sizeof(out)) {
        n = nk_json_unescape(m->key, m->key_len, out, sizeof(out));
        if (n == (size_t)-1 || n > m->key_len || strlen(out) != n)
            abort();
    }
    if (m->kind == NK_JSON_STRING && m->val_len < sizeof(out)) {
        n = nk_json_unescape(m->val, m->val_len, out, sizeof(out));
        if (n == (size_t)-1 || n > m->val_len)
            abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nk_json_limits tight;
    nk_json_status t, l, walk;
    const char *s;
    char *copy;
    size_t len;

    if (size < 1)
        return 0;
    tight.max_depth = 1 + (data[0] & 3) * 5;
    tight.max_members = 1 + ((data[0] >> 2) & 3) * 5;
    tight.max_string = 1 + ((data[0] >> 4) & 3) * 5;
    tight.max_values = 1 + ((data[0] >> 6) & 3) * 5;
    len = size - 1;
    /* an exact-size heap copy: any read past the text is caught */
    copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, len);
    s = copy;

    t = nk_json_scan(s, len, &tight);
    l = nk_json_scan(s, len, &loose);
    if (t == NK_JSON_OK && l != NK_JSON_OK)
        abort();
    if ((l == NK_JSON_SYNTAX || l == NK_JSON_DUPLICATE_MEMBER) && t != l &&
        !is_limit(t))
        abort();
    if (l == NK_JSON_OK && t != NK_JSON_OK && !is_limit(t))
        abort();

    walk = nk_json_scan_object(s, len, &loose, decode_member, NULL);
    if (walk == NK_JSON_OK && l != NK_JSON_OK)
        abort();
    walk = nk_json_scan_array(s, len, &loose, decode_member, NULL);
    if (walk == NK_JSON_OK && l != NK_JSON_OK)
        abort();
    free(copy);
    return 0;
}
