/*
 * client.h — who is asking: the effective client address (trusted proxies,
 * X-Forwarded-For, Forwarded) and the request id.
 */
#ifndef NK_FRONTEND_CLIENT_H
#define NK_FRONTEND_CLIENT_H

#include <stddef.h>

struct mg_request_info;

/* An IPv4 or IPv6 address; IPv4-mapped IPv6 addresses are stored as IPv4. */
struct nk_ip {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
};

/* A network: an address and a prefix length (32/128 for a single host). */
struct nk_cidr {
    struct nk_ip ip;
    int prefix;
};

/* Textual address size, enough for any IPv6 form. */
#define NK_IP_STRLEN 64
/* A request id: a UUID (36) or a proxy-supplied id of at most 64 chars. */
#define NK_REQUEST_ID_LEN 65

/* Parses a bare address (no port, no brackets). Returns 1 on success. */
int ip_parse(const char *s, size_t len, struct nk_ip *out);
/* Parses "addr" or "addr/prefix". Returns 1 on success. */
int cidr_parse(const char *s, size_t len, struct nk_cidr *out);
/* Writes the canonical text form of ip into out (NK_IP_STRLEN bytes). */
void ip_format(const struct nk_ip *ip, char *out, size_t out_size);

/*
 * Effective client address of the request, written to out (NK_IP_STRLEN):
 * the peer, or, only when the peer is a trusted proxy, the right-most
 * forwarded address that is not itself a trusted proxy. Returns 1 when the
 * peer is a trusted proxy.
 */
int client_address(const struct mg_request_info *ri, char *out,
                   size_t out_size);

/*
 * The request id, written to out (NK_REQUEST_ID_LEN): the X-Request-Id
 * header when the peer is trusted and it is well-formed, else a new random
 * UUIDv4. Returns 0, or -1 when no random bytes could be had.
 */
int client_request_id(const struct mg_request_info *ri, int peer_trusted,
                      char *out);

#endif
