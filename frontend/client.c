/*
 * client.c — the effective client address and the request id.
 *
 * Forwarding headers are believed only when the TCP peer is one of
 * TRUSTED_PROXIES; then the chain is read from the right, skipping entries
 * that are themselves trusted proxies, and every entry must parse as an IP
 * address (inet_pton), so a spoofed or malformed header can never put
 * arbitrary text into the client address the database and the logs see.
 */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>
#include <openssl/rand.h>

#include "config.h"

static int ip_in_cidr(const struct nk_ip *ip, const struct nk_cidr *net);
static int ip_trusted(const struct nk_ip *ip);
static int parse_forwarded_addr(const char *s, size_t len, struct nk_ip *out);
static long collect_header(const struct mg_request_info *ri, const char *name,
                           char *out, size_t out_size);
static int walk_chain(const char *chain, int forwarded_syntax,
                      struct nk_ip *out);
static int forwarded_for(const char *elem, size_t len, const char **val,
                         size_t *val_len);
static int request_id_ok(const char *s);

int
ip_parse(const char *s, size_t len, struct nk_ip *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    char buf[NK_IP_STRLEN];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (memchr(buf, ':', len) == NULL) {
        out->family = AF_INET;
        return inet_pton(AF_INET, buf, out->addr) == 1;
    }
    if (inet_pton(AF_INET6, buf, out->addr) != 1)
        return 0;
    out->family = AF_INET6;
    if (memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
        /* ::ffff:a.b.c.d is the IPv4 peer of a dual-stack socket */
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
    }
    return 1;
}

int
cidr_parse(const char *s, size_t len, struct nk_cidr *out)
{
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash ? (size_t)(slash - s) : len;
    int max, prefix = 0;
    size_t i;

    if (!ip_parse(s, addr_len, &out->ip))
        return 0;
    max = out->ip.family == AF_INET ? 32 : 128;
    if (slash == NULL) {
        out->prefix = max;
        return 1;
    }
    if (addr_len + 1 == len || len - addr_len - 1 > 3)
        return 0;
    for (i = addr_len + 1; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        prefix = prefix * 10 + (s[i] - '0');
    }
    if (prefix > max)
        return 0;
    out->prefix = prefix;
    return 1;
}

void
ip_format(const struct nk_ip *ip, char *out, size_t out_size)
{
    if (inet_ntop(ip->family, ip->addr, out, (socklen_t)out_size) == NULL)
        snprintf(out, out_size, "%s", "0.0.0.0");
}

static int
ip_in_cidr(const struct nk_ip *ip, const struct nk_cidr *net)
{
    int full = net->prefix / 8, rest = net->prefix % 8;
    unsigned char mask;

    if (ip->family != net->ip.family)
        return 0;
    if (memcmp(ip->addr, net->ip.addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    mask = (unsigned char)(0xff << (8 - rest));
    return (ip->addr[full] & mask) == (net->ip.addr[full] & mask);
}

static int
ip_trusted(const struct nk_ip *ip)
{
    size_t i;

    for (i = 0; i < g_config.n_proxies; i++)
        if (ip_in_cidr(ip, &g_config.proxies[i]))
            return 1;
    return 0;
}

/*
 * One forwarded address: trims blanks and quotes, accepts "[v6]", "[v6]:port",
 * "v4:port" and bare addresses. "unknown" and obfuscated identifiers fail.
 */
static int
parse_forwarded_addr(const char *s, size_t len, struct nk_ip *out)
{
    const char *colon;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);

        if (close == NULL)
            return 0;
        if ((size_t)(close - s) + 1 != len && close[1] != ':')
            return 0;
        return ip_parse(s + 1, (size_t)(close - s - 1), out) &&
               out->family == AF_INET6;
    }
    colon = memchr(s, ':', len);
    if (colon != NULL &&
        memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL)
        len = (size_t)(colon - s); /* v4:port */
    return ip_parse(s, len, out);
}

/*
 * Joins every header called name (in order) with ',' into out. Returns its
 * length (0: no such header), or -1 when it does not fit: a chain too long
 * to judge is believed not at all.
 */
static long
collect_header(const struct mg_request_info *ri, const char *name, char *out,
               size_t out_size)
{
    size_t len = 0, n;
    int i;

    out[0] = '\0';
    for (i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, name) != 0)
            continue;
        n = strlen(ri->http_headers[i].value);
        if (len + n + 2 > out_size)
            return -1;
        if (len > 0)
            out[len++] = ',';
        memcpy(out + len, ri->http_headers[i].value, n);
        len += n;
        out[len] = '\0';
    }
    return (long)len;
}

/* In a Forwarded element "a=b;for=c;...", finds the for= value. */
static int
forwarded_for(const char *elem, size_t len, const char **val, size_t *val_len)
{
    const char *p = elem, *end = elem + len, *semi;

    while (p < end) {
        semi = memchr(p, ';', (size_t)(end - p));
        if (semi == NULL)
            semi = end;
        while (p < semi && (*p == ' ' || *p == '\t'))
            p++;
        if (semi - p >= 4 && strncasecmp(p, "for=", 4) == 0) {
            *val = p + 4;
            *val_len = (size_t)(semi - p - 4);
            return 1;
        }
        p = semi + 1;
    }
    return 0;
}

/*
 * Reads a comma-separated chain from the right. Returns 1 with *out set to
 * the right-most entry that is not a trusted proxy (or the left-most entry
 * when all are), 0 when the chain is empty or an entry does not parse.
 */
static int
walk_chain(const char *chain, int forwarded_syntax, struct nk_ip *out)
{
    const char *end = chain + strlen(chain), *start, *val;
    size_t val_len;
    int found = 0;

    while (end > chain) {
        start = end;
        while (start > chain && start[-1] != ',')
            start--;
        val = start;
        val_len = (size_t)(end - start);
        if (forwarded_syntax && !forwarded_for(start, val_len, &val, &val_len))
            return 0;
        if (!parse_forwarded_addr(val, val_len, out))
            return 0;
        found = 1;
        if (!ip_trusted(out))
            return 1;
        end = start > chain ? start - 1 : chain;
    }
    return found;
}

int
client_address(const struct mg_request_info *ri, char *out, size_t out_size)
{
    char chain[4096];
    struct nk_ip peer, fwd;
    long n;

    if (!ip_parse(ri->remote_addr, strlen(ri->remote_addr), &peer)) {
        snprintf(out, out_size, "%s", "0.0.0.0");
        return 0;
    }
    ip_format(&peer, out, out_size);
    if (!ip_trusted(&peer))
        return 0;
    /* X-Forwarded-For first; the standard Forwarded only when it is absent;
     * a chain too long to judge (-1) is not believed */
    n = collect_header(ri, "X-Forwarded-For", chain, sizeof(chain));
    if (n > 0) {
        if (walk_chain(chain, 0, &fwd))
            ip_format(&fwd, out, out_size);
    } else if (n == 0 &&
               collect_header(ri, "Forwarded", chain, sizeof(chain)) > 0) {
        if (walk_chain(chain, 1, &fwd))
            ip_format(&fwd, out, out_size);
    }
    return 1;
}

/* ^[A-Za-z0-9._:-]{1,64}$ */
static int
request_id_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (i >= 64)
            return 0;
        if (!isalnum((unsigned char)s[i]) && strchr("._:-", s[i]) == NULL)
            return 0;
    }
    return i > 0;
}

int
client_request_id(const struct mg_request_info *ri, int peer_trusted, char *out)
{
    unsigned char b[16];
    const char *given = NULL;
    int i;

    for (i = 0; peer_trusted && i < ri->num_headers; i++)
        if (strcasecmp(ri->http_headers[i].name, "X-Request-Id") == 0) {
            given = ri->http_headers[i].value;
            break;
        }
    if (given != NULL && request_id_ok(given)) {
        snprintf(out, NK_REQUEST_ID_LEN, "%s", given);
        return 0;
    }
    if (RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, NK_REQUEST_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return 0;
}
