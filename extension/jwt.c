/*
 * jwt.c — the tokens of this service: jwt_issue, jwt_lifetime_seconds, and
 * jwt_verify_strict, the verifier the request pipeline calls on every
 * authenticated request, with the payload memory that makes a token seen
 * again cheap.
 *
 * Around it: jwt_keys.c holds the signing keys and jwt.* settings (and the
 * invalidation of all the JWT caches), jwt_revocation.c the revocation
 * sets, behind jwt_internal.h; jwt_pgjwt.c is the pgjwt-compatible layer.
 * The pure work (base64url, HMAC, JSON scanning, claim checks) is in
 * core/nk_base64url.c and core/nk_jwt.c; these files add PostgreSQL types,
 * tables and errors.
 *
 * Claims: jwt_verify_strict hands the verified payload on as json (its
 * exact bytes, which the strict scanner has already proved to be one JSON
 * object without duplicate keys) plus the two claims the pipeline acts on,
 * sub and role, as text. Nothing is built per token: a jsonb of the claims
 * cost more than the rest of a new token's verification together. Its
 * result, one namaskah.jwt_verdict, has its row type blessed once per
 * backend.
 *
 * Payload memory: a token comes with every request for hours, so each
 * backend remembers, per payload segment (exact base64url bytes), the parsed
 * claims, the decoded payload and the revocation generation they were last
 * found "not revoked" at, in a buffer per entry that is reused. A token seen
 * again still has its size, header, key and signature checked (stage 1 of
 * core/nk_jwt.c) and its times checked against the clock; only the payload
 * decode and JSON scan and, while no revocation changed, the revocation
 * lookups are skipped. An entry judged under older settings
 * (jwt_settings_generation) is never used.
 *
 * The memory is not simplehash or dynahash on purpose: it is on every
 * request's path, so it is fixed-size (VCACHE_SIZE ways, entries made on
 * first use and then reused) and evicts the older of two ways, behind a
 * doorkeeper; neither of PostgreSQL's tables evicts, and both grow and
 * allocate as they fill.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "jwt_internal.h"
#include "nk_base64url.h"
#include "nk_jwt.h"

typedef struct vcache_entry vcache_entry;
typedef struct vcache_way vcache_way;
typedef union id_buf id_buf;

static bool vcache_match(const vcache_way *w, uint32 h, const char *seg,
                         size_t len);
static vcache_way *vcache_slot(uint32 h);
static vcache_entry *vcache_find(uint32 h, const char *seg, size_t len);
static bool all_ascii(const char *s, size_t len);
static bool is_server_text(const char *utf8, size_t len);
static text *server_text(const char *utf8, size_t len);
static text *id_text(id_buf *buf, const char *utf8, size_t len);
static bool seen_before(uint32 h);
static nk_jwt_reason vcache_fill(vcache_entry *e, bool keep, const char *seg,
                                 size_t len, const nk_jwt_policy *pol);
static nk_jwt_reason strict_claims(uint32 h, const char *seg, size_t len,
                                   const nk_jwt_policy *pol,
                                   vcache_entry *local, vcache_entry **out);
static Datum reason_text(nk_jwt_reason r);
static Datum kid_text(const char *kid);
static TupleDesc verdict_desc(FunctionCallInfo fcinfo);
static void strict_policy(nk_jwt_policy *pol, TimestampTz now);
static void verdict_claims(const vcache_entry *e, Datum *values, bool *nulls);
static char *issue_payload(Jsonb *claims, TimestampTz now);

static unsigned char verify_scratch[NK_JWT_SCRATCH];
static nk_jwt_header_memo header_memo;

/* ---- payload memory ------------------------------------------------------ */

/*
 * Payload memory, see the banner: 2-way set-associative by a hash of the
 * payload segment, entries allocated on first use (at most VCACHE_SIZE, a
 * few MB at worst per backend).
 */
#define VCACHE_SIZE 4096 /* a power of two */
#define VCACHE_MAX_SEGMENT 2048
struct vcache_entry {
    uint64 config_gen;     /* 0: unused; else the config it was parsed at */
    uint64 revocation_gen; /* 0: revocation not checked yet */
    char *segment;         /* in buf, after payload */
    size_t segment_len;
    nk_jwt_claims claims;
    text *payload; /* the decoded payload, a json value; in buf */
    char *buf;     /* kept across fills, grown when a payload needs more */
    size_t buf_size;
};

/*
 * A way of the memory: the entry's filter and age beside its pointer, so a
 * lookup that misses (every new token) reads one line of this array and
 * no entry.
 */
struct vcache_way {
    uint32 head; /* MAC head of the token the entry was filled from */
    uint32 used; /* vcache_clock at the last use; compared modulo 2^32 */
    vcache_entry *e;
};

static MemoryContext vcache_cxt = NULL;
static vcache_way vcache[VCACHE_SIZE];
static uint32 vcache_clock = 0;

static bool
vcache_match(const vcache_way *w, uint32 h, const char *seg, size_t len)
{
    /* The hash first: a new token then costs no read of another's bytes. */
    return w->head == h && w->e != NULL &&
           w->e->config_gen == jwt_settings_generation() &&
           w->e->segment_len == len && memcmp(w->e->segment, seg, len) == 0;
}

/*
 * The way to fill for hash h, with its entry: the older of its two
 * candidates. h is the head of the token's verified MAC: uniform, and free
 * to compute. Its filter is cleared until the fill succeeds.
 */
static vcache_way *
vcache_slot(uint32 h)
{
    uint32 i = h & (VCACHE_SIZE - 1), k = (i + 1) & (VCACHE_SIZE - 1);

    if (vcache_cxt == NULL)
        vcache_cxt = AllocSetContextCreate(TopMemoryContext, "namaskah jwt",
                                           ALLOCSET_DEFAULT_SIZES);
    if (vcache[i].e != NULL &&
        (vcache[k].e == NULL || (int32)(vcache[k].used - vcache[i].used) < 0))
        i = k;
    if (vcache[i].e == NULL)
        vcache[i].e = MemoryContextAllocZero(vcache_cxt, sizeof(vcache_entry));
    vcache[i].head = 0;
    vcache[i].e->config_gen = 0;
    return &vcache[i];
}

/* The remembered entry of exactly this payload segment, or NULL. */
static vcache_entry *
vcache_find(uint32 h, const char *seg, size_t len)
{
    uint32 i = h & (VCACHE_SIZE - 1), k = (i + 1) & (VCACHE_SIZE - 1);
    vcache_way *w = vcache_match(&vcache[i], h, seg, len)   ? &vcache[i]
                    : vcache_match(&vcache[k], h, seg, len) ? &vcache[k]
                                                            : NULL;

    if (w == NULL)
        return NULL;
    w->used = ++vcache_clock;
    return w->e;
}

static bool
all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* UTF-8 bytes that are already text of the database as they are. */
static bool
is_server_text(const char *utf8, size_t len)
{
    int enc = GetDatabaseEncoding();

    return enc == PG_UTF8 || enc == PG_SQL_ASCII || all_ascii(utf8, len);
}

/*
 * UTF-8 bytes as a text value in the server encoding, or NULL when they
 * have no form in it (a database in another encoding than UTF-8; ASCII,
 * all our own claims, never needs converting).
 */
static text *
server_text(const char *utf8, size_t len)
{
    int enc = GetDatabaseEncoding();
    size_t room = len * MAX_CONVERSION_GROWTH + 1;
    Oid proc;
    text *out;

    if (is_server_text(utf8, len))
        return cstring_to_text_with_len(utf8, (int)len);
    proc = FindDefaultConversionProc(PG_UTF8, enc);
    if (!OidIsValid(proc))
        return NULL;
    /* noError: stops at the first character without a form, never throws */
    out = palloc(VARHDRSZ + room);
    if (pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, (unsigned char *)utf8,
                                      (int)len, (unsigned char *)VARDATA(out),
                                      (int)room, true) != (int)len) {
        pfree(out);
        return NULL;
    }
    SET_VARSIZE(out, VARHDRSZ + strlen(VARDATA(out)));
    return out;
}

/* Room for a jti, sub or role as a text value. */
union id_buf {
    int32 align; /* a varlena header is 4-byte aligned */
    char data[VARHDRSZ + NK_JWT_ID_MAX];
};

/*
 * A claim as a text value in *buf (reused call to call: the result row
 * copies it), or in palloc'd memory when it needs converting to the
 * database encoding; NULL as for server_text.
 */
static text *
id_text(id_buf *buf, const char *utf8, size_t len)
{
    if (len > NK_JWT_ID_MAX || !is_server_text(utf8, len))
        return server_text(utf8, len);
    SET_VARSIZE(buf->data, VARHDRSZ + len);
    memcpy(VARDATA(buf->data), utf8, len);
    return (text *)buf->data;
}

/*
 * The doorkeeper of the payload memory: a payload is kept only from its
 * second sighting on (one bit per MAC head; cleared when half the bits are
 * set). A token used once, or a flood of different ones, never evicts the
 * tokens a backend sees again and again, and costs no write to the cache.
 */
#define DOORKEEPER_BITS (1 << 19) /* 64 KiB */
static uint64 doorkeeper[DOORKEEPER_BITS / 64];
static uint32 doorkeeper_set = 0;

static bool
seen_before(uint32 h)
{
    /* the cache indexes by the low bits of h: take the high ones */
    uint32 bit = h >> (32 - 19);
    uint64 mask = UINT64CONST(1) << (bit & 63);

    if (doorkeeper[bit >> 6] & mask)
        return true;
    doorkeeper[bit >> 6] |= mask;
    if (++doorkeeper_set > DOORKEEPER_BITS / 2) {
        memset(doorkeeper, 0, sizeof(doorkeeper));
        doorkeeper_set = 0;
    }
    return false;
}

/*
 * Decodes and parses a payload segment into *e: claims, and the decoded
 * payload as a json value. A kept entry (the cache slot) decodes straight
 * into its own buffer, reused from fill to fill; a payload too large to
 * keep goes to memory of the call.
 */
static nk_jwt_reason
vcache_fill(vcache_entry *e, bool keep, const char *seg, size_t len,
            const nk_jwt_policy *pol)
{
    size_t room = len / 4 * 3 + 3, at = MAXALIGN(VARHDRSZ + room), pdec;
    text *payload;

    if (!keep)
        payload = palloc(VARHDRSZ + room);
    else {
        if (e->buf_size < at + len) {
            size_t size = Max(at + len, (size_t)512);

            if (e->buf != NULL)
                pfree(e->buf);
            e->buf = MemoryContextAlloc(vcache_cxt, size);
            e->buf_size = size;
        }
        payload = (text *)e->buf;
    }
    e->payload = NULL;
    if (nk_b64url_decode_strict((unsigned char *)VARDATA(payload), room, &pdec,
                                seg, len) != NK_B64_OK ||
        nk_jwt_parse_claims(VARDATA(payload), pdec, pol, &e->claims) !=
            NK_JWT_OK)
        return NK_JWT_MALFORMED;
    SET_VARSIZE(payload, VARHDRSZ + pdec);
    if (GetDatabaseEncoding() != PG_UTF8 &&
        !all_ascii(VARDATA(payload), pdec)) {
        /* converted per call, never kept (keep is only an optimization) */
        payload = server_text(VARDATA(payload), pdec);
        if (payload == NULL)
            return NK_JWT_MALFORMED;
        keep = false;
        e->config_gen = 0;
    }
    e->payload = payload;
    e->revocation_gen = 0;
    if (!keep)
        return NK_JWT_OK;
    e->segment = e->buf + at;
    memcpy(e->segment, seg, len);
    e->segment_len = len;
    e->config_gen = jwt_settings_generation();
    return NK_JWT_OK;
}

/*
 * Stages 2 and 3 plus revocation, for a payload whose signature holds:
 * the claims from memory when this payload was seen under the current
 * settings, the revocation probes only when revocations changed since.
 * On NK_JWT_OK, *out is the entry with the claims and payload (valid until
 * the next call: the caller copies what it returns).
 */
static nk_jwt_reason
strict_claims(uint32 h, const char *seg, size_t len, const nk_jwt_policy *pol,
              vcache_entry *local, vcache_entry **out)
{
    vcache_entry *e = vcache_find(h, seg, len);
    nk_jwt_reason r;
    uint64 gen;

    if (e == NULL) {
        bool keep = len <= VCACHE_MAX_SEGMENT && seen_before(h);
        vcache_way *w = NULL;

        if (keep) {
            w = vcache_slot(h);
            e = w->e;
        } else {
            e = local;
            e->config_gen = e->revocation_gen = 0;
            e->buf = NULL;
            e->buf_size = 0;
        }
        /* a failed fill leaves a kept entry invalid (vcache_slot) */
        r = vcache_fill(e, keep, seg, len, pol);
        if (r != NK_JWT_OK)
            return r;
        /* config_gen 0: filled, but converted for this call only */
        if (w != NULL && e->config_gen != 0) {
            w->head = h;
            w->used = ++vcache_clock;
        }
    }
    r = nk_jwt_check_claims(&e->claims, pol);
    if (r != NK_JWT_OK)
        return r;
    if (e->revocation_gen != jwt_revocation_generation()) {
        if (jwt_is_revoked(&e->claims, &gen))
            return NK_JWT_REVOKED;
        /* a converted (unkept) entry keeps nothing for next time */
        if (e->config_gen != 0)
            e->revocation_gen = gen;
    }
    *out = e;
    return NK_JWT_OK;
}

/* ---- strict verification and issuing ------------------------------------- */

/* A kid as text; the last one is kept (every token of a key names it). */
static Datum
kid_text(const char *kid)
{
    static char last[NK_JWT_ID_MAX + 1];
    static text *last_text = NULL;

    if (last_text == NULL || strcmp(last, kid) != 0) {
        if (last_text != NULL)
            pfree(last_text);
        last_text =
            MemoryContextAlloc(TopMemoryContext, VARHDRSZ + strlen(kid));
        SET_VARSIZE(last_text, VARHDRSZ + strlen(kid));
        memcpy(VARDATA(last_text), kid, strlen(kid));
        strlcpy(last, kid, sizeof(last));
    }
    return PointerGetDatum(last_text);
}

/* The reason codes as text, made once (one less palloc per verification). */
static Datum
reason_text(nk_jwt_reason r)
{
    static text *names[NK_JWT_REASON_COUNT];

    if ((int)r < 0 || r >= NK_JWT_REASON_COUNT)
        r = NK_JWT_MALFORMED;
    if (names[r] == NULL) {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

        names[r] = cstring_to_text(nk_jwt_reason_name(r));
        MemoryContextSwitchTo(old);
    }
    return PointerGetDatum(names[r]);
}

/*
 * The row type namaskah.jwt_verdict, blessed once per backend (and again
 * should the function be made anew, e.g. by a reinstall in this session:
 * keyed by the function, since a call through fmgr, as the pipeline's,
 * has no expression to tell the type from).
 */
static TupleDesc
verdict_desc(FunctionCallInfo fcinfo)
{
    static TupleDesc desc = NULL;
    static Oid desc_fn = InvalidOid;
    Oid fn = fcinfo->flinfo->fn_oid;
    TupleDesc d;
    MemoryContext old;

    if (desc != NULL && fn == desc_fn)
        return desc;
    if (get_call_result_type(fcinfo, NULL, &d) != TYPEFUNC_COMPOSITE ||
        d->natts != 6)
        elog(ERROR, "jwt_verify_strict must return namaskah.jwt_verdict");
    old = MemoryContextSwitchTo(TopMemoryContext);
    desc = BlessTupleDesc(CreateTupleDescCopy(d));
    MemoryContextSwitchTo(old);
    desc_fn = fn;
    return desc;
}

/* The checks of stages 2 and 3 under the current settings, at now. */
static void
strict_policy(nk_jwt_policy *pol, TimestampTz now)
{
    const jwt_config *cfg = jwt_settings();

    pol->now = jwt_to_unix(now);
    pol->leeway = cfg->leeway;
    pol->issuer = cfg->issuer[0] ? cfg->issuer : NULL;
    pol->audience = cfg->audience[0] ? cfg->audience : NULL;
    /* no token outlives the lifetime this service issues (jwt_issue) */
    pol->max_lifetime = (double)cfg->expire_minutes * 60;
}

/*
 * The claims columns of a valid verdict (claims, sub, role): the entry's
 * payload as it is, sub and role as text when they have a form in the
 * database encoding.
 */
static void
verdict_claims(const vcache_entry *e, Datum *values, bool *nulls)
{
    static id_buf sub_buf, role_buf;
    text *t;

    values[2] = PointerGetDatum(e->payload);
    nulls[2] = false;
    if (e->claims.sub_len > 0 &&
        (t = id_text(&sub_buf, e->claims.sub, e->claims.sub_len)) != NULL) {
        values[4] = PointerGetDatum(t);
        nulls[4] = false;
    }
    if (e->claims.role_len > 0 &&
        (t = id_text(&role_buf, e->claims.role, e->claims.role_len)) != NULL) {
        values[5] = PointerGetDatum(t);
        nulls[5] = false;
    }
}

PG_FUNCTION_INFO_V1(nk_sql_jwt_verify_strict);
Datum
nk_sql_jwt_verify_strict(PG_FUNCTION_ARGS)
{
    nk_jwt_policy pol;
    nk_jwt_result res;
    jwt_lookup_ctx ctx;
    vcache_entry local, *e = NULL;
    Datum values[6] = {0, 0, 0, 0, 0, 0};
    bool nulls[6] = {false, false, true, true, true, true};
    nk_jwt_reason r;
    text *token = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);

    /*
     * Invalidations are read at every transaction start; reading them here
     * as well (cheap when there are none) makes a key, setting or
     * revocation change committed before this call count, even inside a
     * long transaction.
     */
    AcceptInvalidationMessages();
    jwt_ensure_caches_as_owner(fcinfo);
    /* A NULL clock means now(), never "no time checks". */
    ctx.now = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp()
                              : PG_GETARG_TIMESTAMPTZ(1);
    strict_policy(&pol, ctx.now);

    if (token == NULL) {
        memset(&res, 0, sizeof(res));
        r = NK_JWT_MALFORMED;
    } else {
        const char *seg;
        size_t seg_len;

        r = nk_jwt_verify_signature(
            VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), jwt_lookup_key, &ctx,
            &header_memo, verify_scratch, &seg, &seg_len, &res);
        if (r == NK_JWT_OK)
            r = strict_claims(res.sig_head, seg, seg_len, &pol, &local, &e);
    }
    if (r == NK_JWT_OK)
        verdict_claims(e, values, nulls);
    values[0] = BoolGetDatum(r == NK_JWT_OK);
    values[1] = reason_text(r);
    if (res.kid[0] != '\0') {
        values[3] = kid_text(res.kid);
        nulls[3] = false;
    }
    /* the row holds copies: the entry may be refilled by the next call */
    return HeapTupleGetDatum(
        heap_form_tuple(verdict_desc(fcinfo), values, nulls));
}

/*
 * jwt_lifetime_seconds(): how long a token jwt_issue makes now is valid
 * (jwt.expire_minutes as jwt_issue reads it: bounded, 480 when unset or
 * out of range), so an answer's expires_in is the token's own exp - iat.
 */
PG_FUNCTION_INFO_V1(nk_sql_jwt_lifetime_seconds);
Datum
nk_sql_jwt_lifetime_seconds(PG_FUNCTION_ARGS)
{
    jwt_ensure_caches_as_owner(fcinfo);
    PG_RETURN_INT32(jwt_settings()->expire_minutes * 60);
}

/*
 * The payload of a new token, in UTF-8: the caller's claims with the
 * registered ones set by us. Registered claims are ours: they replace any
 * the caller passed.
 */
static char *
issue_payload(Jsonb *claims, TimestampTz now)
{
    const jwt_config *cfg = jwt_settings();
    StringInfoData reg;
    unsigned char rnd[16];
    char jti[32];
    int64 iat;
    char *payload;
    Datum merged;

    if (!pg_strong_random(rnd, sizeof(rnd)))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not generate random token id")));
    nk_b64url_encode(jti, sizeof(jti), rnd, sizeof(rnd));

    iat = (int64)floor(jwt_to_unix(now));
    initStringInfo(&reg);
    appendStringInfo(&reg,
                     "{\"iat\":" INT64_FORMAT ",\"nbf\":" INT64_FORMAT
                     ",\"exp\":" INT64_FORMAT ",\"jti\":\"%s\"",
                     iat, iat, iat + (int64)cfg->expire_minutes * 60, jti);
    if (cfg->issuer[0]) {
        appendStringInfoString(&reg, ",\"iss\":");
        escape_json(&reg, cfg->issuer);
    }
    if (cfg->audience[0]) {
        appendStringInfoString(&reg, ",\"aud\":");
        escape_json(&reg, cfg->audience);
    }
    appendStringInfoChar(&reg, '}');
    merged = DirectFunctionCall2(
        jsonb_concat, JsonbPGetDatum(claims),
        DirectFunctionCall1(jsonb_in, CStringGetDatum(reg.data)));
    payload = JsonbToCString(NULL, &DatumGetJsonbP(merged)->root,
                             VARSIZE(DatumGetJsonbP(merged)));
    return pg_server_to_any(payload, strlen(payload), PG_UTF8);
}

PG_FUNCTION_INFO_V1(nk_sql_jwt_issue);
Datum
nk_sql_jwt_issue(PG_FUNCTION_ARGS)
{
    TimestampTz now = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp()
                                      : PG_GETARG_TIMESTAMPTZ(1);
    const jwt_cached_key *k;
    Jsonb *claims;
    StringInfoData header;
    char *payload;
    size_t size, n;
    char *out;

    jwt_ensure_caches();
    k = jwt_signing_key();
    if (k == NULL)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("no active signing key"),
                 errhint("Install one with namaskah.install_signing_key().")));
    if (PG_ARGISNULL(0))
        claims = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
    else
        claims = PG_GETARG_JSONB_P(0);
    if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("token claims must be a JSON object")));
    payload = issue_payload(claims, now);

    initStringInfo(&header);
    appendStringInfo(&header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":",
                     nk_jwt_alg_name(k->alg));
    escape_json(&header, k->kid);
    appendStringInfoChar(&header, '}');

    size = nk_jwt_signed_size(k->alg, header.len, strlen(payload));
    if (size > NK_JWT_MAX_TOKEN + 1)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("token would exceed %d bytes", NK_JWT_MAX_TOKEN),
                 errdetail("The verifier refuses tokens larger than that.")));
    out = palloc(size);
    n = nk_jwt_sign(k->hk, header.data, header.len, payload, strlen(payload),
                    out, size);
    if (n == 0)
        elog(ERROR, "could not sign token");
    PG_RETURN_TEXT_P(cstring_to_text_with_len(out, (int)n));
}
