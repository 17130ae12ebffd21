/* wire: budgeted unpacking and field validation of Parallax envelopes.
 * protobuf-c sets no limits of its own (a small input can make it allocate many times its
 * size), hence the allocator with a budget and the checks after unpacking. */
#include "wire.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result_detail.h"
#include "status.h"

/* Unpacking allocates a few times the input size in structs and strings; a hostile repeated
 * field of empty messages can push that to ~60x. The budget allows honest messages with room
 * to spare and stops the rest. */
#define WIRE_BUDGET_FACTOR 32
#define WIRE_BUDGET_FLOOR (64 * 1024)

typedef struct budget {
    size_t left;
    int exhausted;
} budget_t;

static void *budget_alloc(void *data, size_t size)
{
    budget_t *b = data;
    if (b && size > b->left) {
        b->exhausted = 1;
        return NULL;
    }
    if (b)
        b->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

int wire_text_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                return 0;
            p++;
            continue;
        }
        int n;
        unsigned cp;
        if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        /* The C1 controls (U+0080..U+009F) are control characters too: U+009B is a terminal
         * escape (CSI) and U+0085 a line break, neither belongs in a one-line message. */
        if (cp >= 0x80 && cp <= 0x9f)
            return 0;
        p += n + 1;
    }
    return 1;
}

static int text_ok(const char *what, const char *s, size_t max, int required, err_t *err)
{
    if (!s || !*s) {
        if (required) {
            err_set(err, "%s is empty", what);
            return -1;
        }
        return 0;
    }
    if (strlen(s) > max) {
        err_set(err, "%s longer than %zu bytes", what, max);
        return -1;
    }
    if (!wire_text_valid(s)) {
        err_set(err, "%s is not valid UTF-8 text", what);
        return -1;
    }
    return 0;
}

int wire_address_valid(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

static int validate_hello(const Parallax__Hello *h, err_t *err)
{
    if (text_ok("hello.name", h->name, PX_WIRE_MAX_NAME, 0, err) < 0 ||
        text_ok("hello.agent_version", h->agent_version, PX_WIRE_MAX_NAME, 0, err) < 0)
        return -1;
    if (h->n_kinds > 64) {
        err_set(err, "hello lists %zu probe kinds (at most 64)", h->n_kinds);
        return -1;
    }
    for (size_t i = 0; i < h->n_kinds; i++)
        if (text_ok("hello.kinds", h->kinds[i], PX_WIRE_MAX_NAME, 1, err) < 0)
            return -1;
    return 0;
}

int wire_validate_probe(const Parallax__Probe *p, err_t *err)
{
    if (p->probe_id == 0 || p->probe_id > INT64_MAX) {
        err_set(err, "probe id %llu (1 to %lld allowed)", (unsigned long long)p->probe_id,
                (long long)INT64_MAX);
        return -1;
    }
    if (text_ok("probe.target", p->target, 256, 1, err) < 0 ||
        text_ok("probe.spec", p->spec, 1023, 1, err) < 0)
        return -1;
    if (!wire_address_valid(p->address)) {
        err_set(err, "probe %llu has an invalid address", (unsigned long long)p->probe_id);
        return -1;
    }
    if (p->interval_s < 1 || p->interval_s > PX_WIRE_MAX_INTERVAL_S ||
        p->phase_ms >= (uint64_t)p->interval_s * 1000 || p->timeout_ms < 1 ||
        p->timeout_ms > PX_WIRE_MAX_TIMEOUT_MS) {
        err_set(err, "probe %llu has an invalid interval, phase or timeout",
                (unsigned long long)p->probe_id);
        return -1;
    }
    return 0;
}

static int validate_schedule(const Parallax__Schedule *s, err_t *err)
{
    if (s->n_probes > PX_WIRE_MAX_PROBES) {
        err_set(err, "schedule has %zu probes (at most %d)", s->n_probes, PX_WIRE_MAX_PROBES);
        return -1;
    }
    for (size_t i = 0; i < s->n_probes; i++) {
        if (wire_validate_probe(s->probes[i], err) < 0) {
            err_prefix(err, "schedule probe %zu", i);
            return -1;
        }
    }
    return 0;
}

/* The length of s, 0 for NULL. */
static size_t len0(const char *s)
{
    return s ? strlen(s) : 0;
}

/* A DNS answer's records, beyond what result_detail checks: few, with names of DNS length,
 * and little text in all. */
static int validate_dns_records(const Parallax__DnsInfo *d, size_t i, err_t *err)
{
    if (d->n_records > PX_WIRE_MAX_DNS_RECORDS) {
        err_set(err, "result %zu has %zu DNS records (at most %d)", i, d->n_records,
                PX_WIRE_MAX_DNS_RECORDS);
        return -1;
    }
    size_t text = 0;
    for (size_t k = 0; k < d->n_records; k++) {
        const Parallax__DnsRecord *rec = d->records[k];
        if (len0(rec->type) > PX_WIRE_MAX_DNS_TYPE || len0(rec->name) > PX_WIRE_MAX_DNS_NAME ||
            len0(rec->host) > PX_WIRE_MAX_DNS_NAME) {
            err_set(err,
                    "result %zu has DNS record %zu with a type over %d or a name over %d bytes", i,
                    k, PX_WIRE_MAX_DNS_TYPE, PX_WIRE_MAX_DNS_NAME);
            return -1;
        }
        text += len0(rec->type) + len0(rec->name) + len0(rec->address) + len0(rec->host);
    }
    if (text > PX_WIRE_MAX_DNS_TEXT) {
        err_set(err, "result %zu has DNS records of %zu bytes of text (at most %d)", i, text,
                PX_WIRE_MAX_DNS_TEXT);
        return -1;
    }
    return 0;
}

static int validate_result(const Parallax__Result *r, size_t i, err_t *err)
{
    /* Probe ids come from a bigserial column: 0 and values past INT64_MAX name no probe. */
    if (r->probe_id == 0 || r->probe_id > INT64_MAX) {
        err_set(err, "result %zu has probe id %llu (1 to %lld allowed)", i,
                (unsigned long long)r->probe_id, (long long)INT64_MAX);
        return -1;
    }
    /* Request ids come from a bigserial column too; 0 is a scheduled run. */
    if (r->request_id > INT64_MAX) {
        err_set(err, "result %zu has request id %llu (at most %lld)", i,
                (unsigned long long)r->request_id, (long long)INT64_MAX);
        return -1;
    }
    if (!status_name(r->status)) {
        err_set(err, "result %zu has unknown status %d", i, (int)r->status);
        return -1;
    }
    if (r->ts_us < PX_WIRE_MIN_TS_US || r->ts_us > PX_WIRE_MAX_TS_US) {
        err_set(err, "result %zu has an implausible timestamp %lld", i, (long long)r->ts_us);
        return -1;
    }
    if (r->icmp_type > 255 || r->icmp_code > 255) {
        err_set(err, "result %zu has an ICMP type or code above 255", i);
        return -1;
    }
    if (r->icmp_from && *r->icmp_from && !wire_address_valid(r->icmp_from)) {
        err_set(err, "result %zu has an invalid icmp_from address", i);
        return -1;
    }
    /* What every detail needs to be stored (text, addresses, bounded arrays), whatever its
     * kind; the checks below are what the known kinds' values mean. */
    if (result_detail_validate(r, err) < 0) {
        err_prefix(err, "result %zu", i);
        return -1;
    }
    if (r->dns && r->dns->rcode > 4095) {
        err_set(err, "result %zu has a DNS rcode above 4095", i);
        return -1;
    }
    if (r->dns && validate_dns_records(r->dns, i, err) < 0)
        return -1;
    if (r->trace) {
        if (r->trace->n_hops > PX_WIRE_MAX_HOPS || r->trace->last_responsive_ttl > 255) {
            err_set(err, "result %zu has more than %d trace hops or a TTL above 255", i,
                    PX_WIRE_MAX_HOPS);
            return -1;
        }
        for (size_t h = 0; h < r->trace->n_hops; h++) {
            const Parallax__TraceHop *hop = r->trace->hops[h];
            if (hop->ttl < 1 || hop->ttl > 255) {
                err_set(err, "result %zu has an invalid trace hop %zu", i, h);
                return -1;
            }
        }
    }
    return text_ok("result.message", r->message, PX_WIRE_MAX_TEXT, 0, err);
}

static int validate_request(const Parallax__ProbeRequest *q, err_t *err)
{
    if (q->request_id == 0 || q->request_id > INT64_MAX) {
        err_set(err, "probe request id %llu (1 to %lld allowed)", (unsigned long long)q->request_id,
                (long long)INT64_MAX);
        return -1;
    }
    if (!q->probe) {
        err_set(err, "probe request %llu carries no probe", (unsigned long long)q->request_id);
        return -1;
    }
    if (wire_validate_probe(q->probe, err) < 0) {
        err_prefix(err, "probe request %llu", (unsigned long long)q->request_id);
        return -1;
    }
    return 0;
}

const char *wire_gap_reason_name(int reason)
{
    switch (reason) {
    case PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED:
        return "spool_dropped";
    case PARALLAX__GAP_REASON__GAP_RUN_SKIPPED:
        return "run_skipped";
    default:
        return NULL;
    }
}

static int validate_gap(const Parallax__Gap *g, size_t i, err_t *err)
{
    if (g->probe_id > INT64_MAX || g->count < 1 || g->count > INT64_MAX) {
        err_set(err, "gap %zu has probe id %llu or count %llu out of range", i,
                (unsigned long long)g->probe_id, (unsigned long long)g->count);
        return -1;
    }
    if (g->from_us < PX_WIRE_MIN_TS_US || g->to_us > PX_WIRE_MAX_TS_US || g->to_us < g->from_us) {
        err_set(err, "gap %zu has an implausible time range %lld..%lld", i, (long long)g->from_us,
                (long long)g->to_us);
        return -1;
    }
    /* The store turns the reason into an SQL label: one it has no label for cannot be kept. */
    if (!wire_gap_reason_name((int)g->reason)) {
        err_set(err, "gap %zu has unknown reason %d", i, (int)g->reason);
        return -1;
    }
    return 0;
}

static int validate_batch(const Parallax__ResultBatch *b, err_t *err)
{
    if (b->stream == 0 || b->seq == 0) {
        err_set(err, "batch has stream or seq 0");
        return -1;
    }
    /* The store keeps stream and seq in signed bigint columns, where larger values would not
     * fit (or would wrap to negative numbers), so they are refused here. */
    if (b->stream > INT64_MAX || b->seq > INT64_MAX) {
        err_set(err, "batch stream %llu or seq %llu above %lld", (unsigned long long)b->stream,
                (unsigned long long)b->seq, (long long)INT64_MAX);
        return -1;
    }
    if (b->n_results > PX_WIRE_MAX_RESULTS || b->n_gaps > PX_WIRE_MAX_GAPS ||
        b->n_results + b->n_gaps == 0) {
        err_set(err, "batch has %zu results and %zu gaps (up to %d and %d, at least one in all)",
                b->n_results, b->n_gaps, PX_WIRE_MAX_RESULTS, PX_WIRE_MAX_GAPS);
        return -1;
    }
    for (size_t i = 0; i < b->n_results; i++)
        if (validate_result(b->results[i], i, err) < 0)
            return -1;
    for (size_t i = 0; i < b->n_gaps; i++)
        if (validate_gap(b->gaps[i], i, err) < 0)
            return -1;
    return 0;
}

/* The echo of an exchange is all or nothing, and the coordinator's own two times must be in
 * order: anything else is a broken agent. Whether the agent's clock is sane is the clock
 * filter's business (it drops contradictory samples): a heartbeat is still proof of life. */
static int validate_heartbeat(const Parallax__Heartbeat *h, err_t *err)
{
    int set = (h->echo_agent_sent_us != 0) + (h->echo_coord_recv_us != 0) +
              (h->echo_coord_sent_us != 0) + (h->echo_agent_recv_us != 0);
    if (set != 0 && set != 4) {
        err_set(err, "heartbeat echoes %d of the 4 timestamps of an exchange", set);
        return -1;
    }
    if (set &&
        (h->echo_agent_sent_us < 0 || h->echo_agent_recv_us < 0 ||
         h->echo_coord_recv_us < PX_WIRE_MIN_TS_US || h->echo_coord_sent_us > PX_WIRE_MAX_TS_US ||
         h->echo_coord_sent_us < h->echo_coord_recv_us)) {
        err_set(err, "heartbeat echoes an impossible exchange");
        return -1;
    }
    return 0;
}

static int validate_ack(const Parallax__Ack *a, err_t *err)
{
    if (a->code != PARALLAX__ACK_CODE__ACK_STORED && a->code != PARALLAX__ACK_CODE__ACK_RETRY &&
        a->code != PARALLAX__ACK_CODE__ACK_REJECTED) {
        err_set(err, "ack has unknown code %d", (int)a->code);
        return -1;
    }
    if (a->refused_results > PX_WIRE_MAX_RESULTS || a->refused_gaps > PX_WIRE_MAX_GAPS ||
        a->clamped_gaps > PX_WIRE_MAX_GAPS) {
        err_set(err, "ack refuses more than a batch can hold");
        return -1;
    }
    return text_ok("ack.reason", a->reason, PX_WIRE_MAX_TEXT, 0, err) < 0 ||
                   text_ok("ack.refused_reason", a->refused_reason, PX_WIRE_MAX_TEXT, 0, err) < 0
               ? -1
               : 0;
}

int wire_validate_result(const Parallax__Result *r, err_t *err)
{
    return validate_result(r, 0, err);
}

int wire_validate_gap(const Parallax__Gap *g, err_t *err)
{
    return validate_gap(g, 0, err);
}

int wire_validate(const Parallax__Envelope *env, err_t *err)
{
    if (env->version != PX_PROTOCOL_VERSION) {
        err_set(err, "protocol version %u not supported (this side speaks %d)", env->version,
                PX_PROTOCOL_VERSION);
        return -1;
    }
    switch (env->body_case) {
    case PARALLAX__ENVELOPE__BODY_HELLO:
        return validate_hello(env->hello, err);
    case PARALLAX__ENVELOPE__BODY_SCHEDULE:
        return validate_schedule(env->schedule, err);
    case PARALLAX__ENVELOPE__BODY_BATCH:
        return validate_batch(env->batch, err);
    case PARALLAX__ENVELOPE__BODY_ACK:
        return validate_ack(env->ack, err);
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        return validate_heartbeat(env->heartbeat, err);
    case PARALLAX__ENVELOPE__BODY_REQUEST:
        return validate_request(env->request, err);
    default:
        err_set(err, "envelope carries no known message");
        return -1;
    }
}

int wire_pack(const Parallax__Envelope *env, uint8_t **buf, size_t *len, err_t *err)
{
    if (wire_validate(env, err) < 0) {
        err_prefix(err, "refusing to send %s", wire_body_name(env));
        return -1;
    }
    size_t n = parallax__envelope__get_packed_size(env);
    uint8_t *out = malloc(n ? n : 1);
    if (!out) {
        err_set(err, "out of memory packing %zu bytes", n);
        return -1;
    }
    parallax__envelope__pack(env, out);
    *buf = out;
    *len = n;
    return 0;
}

Parallax__Envelope *wire_unpack(const uint8_t *buf, size_t len, size_t max_len, err_t *err)
{
    if (len > max_len) {
        err_set(err, "message of %zu bytes exceeds the %zu-byte limit", len, max_len);
        return NULL;
    }
    budget_t budget = {.left = len * WIRE_BUDGET_FACTOR + WIRE_BUDGET_FLOOR};
    ProtobufCAllocator alloc = {
        .alloc = budget_alloc, .free = budget_free, .allocator_data = &budget};
    Parallax__Envelope *env = parallax__envelope__unpack(&alloc, len, buf);
    if (!env) {
        err_set(err, "malformed message (%zu bytes): not a Parallax envelope%s", len,
                budget.exhausted ? " or over the memory budget" : "");
        return NULL;
    }
    if (wire_validate(env, err) < 0) {
        wire_free(&env);
        return NULL;
    }
    return env;
}

/* Reads a varint of at most 10 bytes at buf[*pos], moving *pos past it. Returns 0 or -1. */
static int peek_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *value)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10 && *pos < len; i++) {
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

/* Only the top level is walked: the body is skipped by its length whatever it holds, so
 * whatever another version puts in it, its version field is still found. */
int wire_peek_version(const uint8_t *buf, size_t len, uint32_t *version)
{
    uint32_t found = 0;
    size_t pos = 0;
    if (len == 0)
        return -1;
    while (pos < len) {
        uint64_t key, value;
        if (peek_varint(buf, len, &pos, &key) < 0)
            return -1;
        uint64_t field = key >> 3, type = key & 7;
        /* Field 0 is not protobuf; a version that is not a varint is not ours. */
        if (field == 0 || (field == 1 && type != 0))
            return -1;
        switch (type) {
        case 0: /* varint */
            if (peek_varint(buf, len, &pos, &value) < 0)
                return -1;
            /* A uint32 keeps the low 32 bits of a longer varint, as protobuf-c reads it. */
            if (field == 1)
                found = (uint32_t)value;
            break;
        case 1: /* 64-bit */
            if (len - pos < 8)
                return -1;
            pos += 8;
            break;
        case 2: /* length-delimited */
            if (peek_varint(buf, len, &pos, &value) < 0 || value > len - pos)
                return -1;
            pos += (size_t)value;
            break;
        case 5: /* 32-bit */
            if (len - pos < 4)
                return -1;
            pos += 4;
            break;
        default: /* groups (3, 4) are not proto3; 6 and 7 do not exist */
            return -1;
        }
    }
    *version = found;
    return 0;
}

void wire_free(Parallax__Envelope **env)
{
    if (!env || !*env)
        return;
    ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = NULL};
    parallax__envelope__free_unpacked(*env, &alloc);
    *env = NULL;
}

const char *wire_body_name(const Parallax__Envelope *env)
{
    switch (env->body_case) {
    case PARALLAX__ENVELOPE__BODY_HELLO:
        return "hello";
    case PARALLAX__ENVELOPE__BODY_SCHEDULE:
        return "schedule";
    case PARALLAX__ENVELOPE__BODY_BATCH:
        return "batch";
    case PARALLAX__ENVELOPE__BODY_ACK:
        return "ack";
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        return "heartbeat";
    case PARALLAX__ENVELOPE__BODY_REQUEST:
        return "request";
    default:
        return "empty";
    }
}
