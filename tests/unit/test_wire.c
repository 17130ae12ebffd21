/* test_wire: the wire module: round trips of every body type, the size limit, the allocation
 * budget against hostile messages, truncated input, and one table case per validation rule
 * (checked through wire_validate, wire_pack and wire_unpack alike), plus wire_text_valid and
 * wire_peek_version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "result_detail.h"
#include "status.h"
#include "wire.h"

#define TS0 1700000000000000LL

/* A message of each body type, built on the stack of the fixture and valid as built; table
 * cases change one field to break one rule. */
typedef struct fx {
    Parallax__Envelope env;
    Parallax__Hello hello;
    char *kinds[70];
    Parallax__Schedule schedule;
    Parallax__Probe probes[2];
    Parallax__Probe *probe_ptrs[2];
    Parallax__ResultBatch batch;
    Parallax__Result results[3];
    Parallax__Result *result_ptrs[3];
    Parallax__Gap gap;
    Parallax__Gap *gap_ptrs[PX_WIRE_MAX_GAPS + 1];
    Parallax__Ack ack;
    Parallax__Heartbeat heartbeat;
    Parallax__ProbeRequest request;
    char text[2048];
    void *many; /* a large pointer array some cases need; freed by fx_destroy() */
} fx_t;

static fx_t *fx_new(Parallax__Envelope__BodyCase body)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    parallax__envelope__init(&f->env);
    f->env.version = PX_PROTOCOL_VERSION;
    f->env.body_case = body;

    parallax__hello__init(&f->hello);
    f->hello.agent_version = "0.1.0";
    f->hello.name = "vantage-ams-1";
    f->hello.schedule_version = 42;
    for (size_t i = 0; i < sizeof f->kinds / sizeof f->kinds[0]; i++)
        f->kinds[i] = "icmp";
    f->kinds[1] = "tcp";
    f->hello.kinds = f->kinds;
    f->hello.n_kinds = 2;
    f->hello.sent_us = TS0;

    static char *addrs[] = {"192.0.2.1", "2001:db8::1"};
    static char *specs[] = {"icmp", "https:https://example.org:443/"};
    for (int i = 0; i < 2; i++) {
        Parallax__Probe *p = &f->probes[i];
        parallax__probe__init(p);
        p->probe_id = (uint64_t)(i + 1) * 1000;
        p->target = "web-1";
        p->address = addrs[i];
        p->spec = specs[i];
        p->interval_s = 60;
        p->phase_ms = 59999;
        p->timeout_ms = 5000;
        p->control = i == 1;
        f->probe_ptrs[i] = p;
    }
    parallax__schedule__init(&f->schedule);
    f->schedule.version = 9;
    f->schedule.probes = f->probe_ptrs;
    f->schedule.n_probes = 2;

    for (int i = 0; i < 3; i++) {
        Parallax__Result *r = &f->results[i];
        parallax__result__init(r);
        r->probe_id = (uint64_t)i + 1;
        r->ts_us = TS0 + i * 1000000LL;
        r->status = PARALLAX__STATUS__STATUS_OK;
        f->result_ptrs[i] = r;
    }
    f->results[0].rtt_us = 12345;
    f->results[1].status = PARALLAX__STATUS__STATUS_UNREACHABLE;
    f->results[1].message = "réseau injoignable — 不可达 🛰";
    f->results[1].icmp_type = 3;
    f->results[1].icmp_code = 13;
    f->results[1].icmp_from = "2001:db8::fe";
    f->results[2].status = PARALLAX__STATUS__STATUS_APP_ERROR;
    f->results[2].app_code = -1;
    f->results[2].message = "HTTP 503\tService Unavailable";
    f->results[2].control = 1;
    parallax__result_batch__init(&f->batch);
    f->batch.stream = 0x1234567890abcdefULL;
    f->batch.seq = 17;
    f->batch.results = f->result_ptrs;
    f->batch.n_results = 3;
    parallax__gap__init(&f->gap);
    f->gap.probe_id = 42;
    f->gap.from_us = TS0;
    f->gap.to_us = TS0 + 60000000;
    f->gap.count = 7;
    for (size_t i = 0; i <= PX_WIRE_MAX_GAPS; i++)
        f->gap_ptrs[i] = &f->gap;
    f->batch.gaps = f->gap_ptrs;

    parallax__ack__init(&f->ack);
    f->ack.stream = f->batch.stream;
    f->ack.seq = 17;
    f->ack.code = PARALLAX__ACK_CODE__ACK_RETRY;
    f->ack.reason = "database unavailable";

    parallax__heartbeat__init(&f->heartbeat);
    f->heartbeat.agent_sent_us = TS0;
    f->heartbeat.coord_recv_us = TS0 + 150;
    f->heartbeat.coord_sent_us = TS0 + 170;

    parallax__probe_request__init(&f->request);
    f->request.request_id = 77;
    f->request.probe = &f->probes[0];

    switch (body) {
    case PARALLAX__ENVELOPE__BODY_REQUEST:
        f->env.request = &f->request;
        break;
    case PARALLAX__ENVELOPE__BODY_HELLO:
        f->env.hello = &f->hello;
        break;
    case PARALLAX__ENVELOPE__BODY_SCHEDULE:
        f->env.schedule = &f->schedule;
        break;
    case PARALLAX__ENVELOPE__BODY_BATCH:
        f->env.batch = &f->batch;
        break;
    case PARALLAX__ENVELOPE__BODY_ACK:
        f->env.ack = &f->ack;
        break;
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        f->env.heartbeat = &f->heartbeat;
        break;
    default:
        break;
    }
    return f;
}

static void fx_destroy(fx_t **f)
{
    free((*f)->many);
    free(*f);
    *f = NULL;
}

/* Packs without validation, the way a hostile or buggy peer could. Caller frees. */
static uint8_t *raw_pack(const Parallax__Envelope *env, size_t *len)
{
    *len = parallax__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(parallax__envelope__pack(env, buf), *len);
    return buf;
}

/* wire_pack then wire_unpack with the given limit; fails the test if either fails. */
static Parallax__Envelope *round_trip(const Parallax__Envelope *env, size_t max_len)
{
    err_t err = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_pack(env, &buf, &len, &err) < 0)
        fail_msg("wire_pack: %s", err.msg);
    Parallax__Envelope *out = wire_unpack(buf, len, max_len, &err);
    free(buf);
    if (!out)
        fail_msg("wire_unpack: %s", err.msg);
    return out;
}

static void assert_str_eq0(const char *a, const char *b)
{
    /* protobuf-c unpacks an absent string as "", which is what NULL means when sending. */
    assert_string_equal(a ? a : "", b ? b : "");
}

static void assert_err_contains(const err_t *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("error '%s' does not contain '%s'", err->msg, needle);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_round_trip_hello(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_HELLO);
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    assert_int_equal(e->version, PX_PROTOCOL_VERSION);
    assert_int_equal(e->body_case, PARALLAX__ENVELOPE__BODY_HELLO);
    assert_string_equal(wire_body_name(e), "hello");
    assert_string_equal(e->hello->agent_version, "0.1.0");
    assert_string_equal(e->hello->name, "vantage-ams-1");
    assert_int_equal(e->hello->schedule_version, 42);
    assert_int_equal(e->hello->n_kinds, 2);
    assert_string_equal(e->hello->kinds[0], "icmp");
    assert_string_equal(e->hello->kinds[1], "tcp");
    assert_int_equal(e->hello->sent_us, TS0);
    wire_free(&e);
    assert_null(e);
    fx_destroy(&f);
}

static void test_round_trip_schedule(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_SCHEDULE);
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_AGENT);
    assert_string_equal(wire_body_name(e), "schedule");
    assert_int_equal(e->schedule->version, 9);
    assert_int_equal(e->schedule->n_probes, 2);
    for (int i = 0; i < 2; i++) {
        const Parallax__Probe *a = &f->probes[i], *b = e->schedule->probes[i];
        assert_int_equal(b->probe_id, a->probe_id);
        assert_string_equal(b->target, a->target);
        assert_string_equal(b->address, a->address);
        assert_string_equal(b->spec, a->spec);
        assert_int_equal(b->interval_s, a->interval_s);
        assert_int_equal(b->phase_ms, a->phase_ms);
        assert_int_equal(b->timeout_ms, a->timeout_ms);
        assert_int_equal(b->control, a->control);
    }
    wire_free(&e);

    /* An empty schedule is how the coordinator tells an agent to stop probing. */
    f->schedule.n_probes = 0;
    e = round_trip(&f->env, PX_WIRE_MAX_TO_AGENT);
    assert_int_equal(e->schedule->n_probes, 0);
    wire_free(&e);
    fx_destroy(&f);
}

static void test_round_trip_batch(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_BATCH);
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    assert_string_equal(wire_body_name(e), "batch");
    assert_int_equal(e->batch->stream, 0x1234567890abcdefULL);
    assert_int_equal(e->batch->seq, 17);
    assert_int_equal(e->batch->n_results, 3);
    for (int i = 0; i < 3; i++) {
        const Parallax__Result *a = &f->results[i], *b = e->batch->results[i];
        assert_int_equal(b->probe_id, a->probe_id);
        assert_int_equal(b->ts_us, a->ts_us);
        assert_int_equal(b->status, a->status);
        assert_int_equal(b->rtt_us, a->rtt_us);
        assert_str_eq0(b->message, a->message);
        assert_int_equal(b->icmp_type, a->icmp_type);
        assert_int_equal(b->icmp_code, a->icmp_code);
        assert_str_eq0(b->icmp_from, a->icmp_from);
        assert_int_equal(b->app_code, a->app_code);
        assert_int_equal(b->control, a->control);
    }
    /* The UTF-8 text arrives byte for byte. */
    assert_memory_equal(e->batch->results[1]->message, f->results[1].message,
                        strlen(f->results[1].message) + 1);
    wire_free(&e);
    fx_destroy(&f);
}

static void test_round_trip_ack(void **state)
{
    (void)state;
    static const Parallax__AckCode codes[] = {PARALLAX__ACK_CODE__ACK_STORED,
                                              PARALLAX__ACK_CODE__ACK_RETRY,
                                              PARALLAX__ACK_CODE__ACK_REJECTED};
    for (size_t i = 0; i < 3; i++) {
        fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_ACK);
        f->ack.code = codes[i];
        f->ack.seq = 100 + i;
        if (i == 0)
            f->ack.reason = NULL;
        Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_AGENT);
        assert_string_equal(wire_body_name(e), "ack");
        assert_int_equal(e->ack->stream, f->ack.stream);
        assert_int_equal(e->ack->seq, 100 + i);
        assert_int_equal(e->ack->code, codes[i]);
        assert_str_eq0(e->ack->reason, f->ack.reason);
        wire_free(&e);
        fx_destroy(&f);
    }
}

static void test_round_trip_heartbeat(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_HEARTBEAT);
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    assert_string_equal(wire_body_name(e), "heartbeat");
    assert_int_equal(e->heartbeat->agent_sent_us, TS0);
    assert_int_equal(e->heartbeat->coord_recv_us, TS0 + 150);
    assert_int_equal(e->heartbeat->coord_sent_us, TS0 + 170);
    wire_free(&e);
    f->heartbeat.schedule_version = 12;
    f->heartbeat.echo_agent_sent_us = TS0 - 10;
    f->heartbeat.echo_coord_recv_us = TS0 - 8;
    f->heartbeat.echo_coord_sent_us = TS0 - 7;
    f->heartbeat.echo_agent_recv_us = TS0 - 1;
    e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    assert_int_equal(e->heartbeat->schedule_version, 12);
    assert_int_equal(e->heartbeat->echo_agent_sent_us, TS0 - 10);
    assert_int_equal(e->heartbeat->echo_coord_recv_us, TS0 - 8);
    assert_int_equal(e->heartbeat->echo_coord_sent_us, TS0 - 7);
    assert_int_equal(e->heartbeat->echo_agent_recv_us, TS0 - 1);
    wire_free(&e);
    wire_free(&e); /* idempotent */
    wire_free(NULL);
    fx_destroy(&f);
}

/* A one-off request carries a probe validated as a schedule's; its id is a bigserial. */
static void test_round_trip_request(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_REQUEST);
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_AGENT);
    assert_string_equal(wire_body_name(e), "request");
    assert_int_equal(e->request->request_id, 77);
    assert_non_null(e->request->probe);
    assert_int_equal(e->request->probe->probe_id, f->probes[0].probe_id);
    assert_str_eq0(e->request->probe->spec, f->probes[0].spec);
    assert_str_eq0(e->request->probe->address, f->probes[0].address);
    wire_free(&e);
    static const struct {
        uint64_t id;
        int no_probe, bad_probe;
        const char *says;
    } bad[] = {
        {0, 0, 0, "request id 0"},
        {(uint64_t)INT64_MAX + 1, 0, 0, "request id 9223372036854775808"},
        {5, 1, 0, "carries no probe"},
        {5, 0, 1, "probe request 5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_t *g = fx_new(PARALLAX__ENVELOPE__BODY_REQUEST);
        g->request.request_id = bad[i].id;
        if (bad[i].no_probe)
            g->request.probe = NULL;
        if (bad[i].bad_probe)
            g->probes[0].address = "not an address";
        size_t len;
        uint8_t *buf = raw_pack(&g->env, &len);
        err_t err = {{0}};
        assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_AGENT, &err));
        assert_err_contains(&err, bad[i].says);
        free(buf);
        fx_destroy(&g);
    }
    fx_destroy(&f);
}

/* Writes the details of r as JSON into a string the caller frees. */
static char *detail_json(const Parallax__Result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    json_t *j = json_new(out);
    assert_non_null(j);
    result_detail_json(r, j);
    json_destroy(&j);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* A result's request id goes through and into the stored detail as `request`; one past a
 * bigint is refused. */
static void test_result_request_id(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_BATCH);
    f->results[0].request_id = 77;
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    assert_int_equal(e->batch->results[0]->request_id, 77);
    assert_int_equal(e->batch->results[1]->request_id, 0);
    assert_int_equal(result_detail_present(e->batch->results[0]), 1);
    char *text = detail_json(e->batch->results[0]);
    assert_non_null(strstr(text, "\"request\":77"));
    free(text);
    wire_free(&e);
    f->results[1].request_id = (uint64_t)INT64_MAX + 1;
    size_t len;
    uint8_t *buf = raw_pack(&f->env, &len);
    err_t err = {{0}};
    assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "result 1 has request id");
    free(buf);
    fx_destroy(&f);
}

/* ---- envelope-level rejections ------------------------------------------------------ */

static void test_version_mismatch(void **state)
{
    (void)state;
    static const uint32_t versions[] = {0, 2, 4000000000u};
    for (size_t i = 0; i < 3; i++) {
        fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_HEARTBEAT);
        f->env.version = versions[i];
        size_t len;
        uint8_t *buf = raw_pack(&f->env, &len);
        err_t err = {{0}};
        assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
        char theirs[32], ours[32];
        snprintf(theirs, sizeof theirs, "version %u", versions[i]);
        snprintf(ours, sizeof ours, "speaks %d", PX_PROTOCOL_VERSION);
        assert_err_contains(&err, theirs);
        assert_err_contains(&err, ours);
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(wire_pack(&f->env, &out, &out_len, &err), -1);
        assert_null(out);
        free(buf);
        fx_destroy(&f);
    }
}

/* The version of a message is read without unpacking it: from every body type, whatever
 * the version, and from another version's body this build cannot parse. */
static void test_peek_version(void **state)
{
    (void)state;
    static const Parallax__Envelope__BodyCase bodies[] = {
        PARALLAX__ENVELOPE__BODY_HELLO,     PARALLAX__ENVELOPE__BODY_SCHEDULE,
        PARALLAX__ENVELOPE__BODY_BATCH,     PARALLAX__ENVELOPE__BODY_ACK,
        PARALLAX__ENVELOPE__BODY_HEARTBEAT, PARALLAX__ENVELOPE__BODY_REQUEST};
    static const uint32_t versions[] = {0, PX_PROTOCOL_VERSION, PX_PROTOCOL_VERSION + 1,
                                        4000000000u};
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
            fx_t *f = fx_new(bodies[b]);
            f->env.version = versions[v];
            size_t len;
            uint8_t *buf = raw_pack(&f->env, &len);
            uint32_t got = 12345;
            assert_int_equal(wire_peek_version(buf, len, &got), 0);
            assert_int_equal(got, versions[v]);
            free(buf);
            fx_destroy(&f);
        }
    }
    static const struct {
        const char *what, *bytes;
        size_t len;
        uint32_t version;
    } ok[] = {
        /* A body of version 2 that is not a batch of this version: unpacking fails. */
        {"unparsable body", "\x08\x02\x22\x03\xff\xff\xff", 7, 2},
        {"body before version", "\x32\x00\x08\x07", 4, 7},
        /* proto3: the last value of a field wins, as protobuf-c unpacks it. */
        {"repeated version", "\x08\x02\x08\x00", 4, 0},
        {"no version field", "\x32\x00", 2, 0},
        {"unknown fields of each wire type",
         "\x08\x05\x38\x01\x3d\x01\x02\x03\x04\x39\x01\x02\x03\x04\x05\x06\x07\x08", 18, 5},
        /* A uint32 keeps the low 32 bits: 2^32 + 1 reads as 1, here as in protobuf-c. */
        {"varint over 32 bits", "\x08\x81\x80\x80\x80\x10\x32\x00", 8, 1},
        {"non-minimal key", "\x88\x00\x03\x32\x00", 5, 3},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint32_t got = 12345;
        if (wire_peek_version((const uint8_t *)ok[i].bytes, ok[i].len, &got) != 0)
            fail_msg("%s: not read", ok[i].what);
        if (got != ok[i].version)
            fail_msg("%s: version %u, expected %u", ok[i].what, got, ok[i].version);
    }
    /* Whatever wire_unpack reads as the version, so does wire_peek_version. */
    err_t err = {{0}};
    assert_null(wire_unpack((const uint8_t *)ok[2].bytes, ok[2].len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "version 0");
    static const struct {
        const char *what, *bytes;
        size_t len;
    } bad[] = {
        {"empty", "", 0},
        {"truncated key", "\xff", 1},
        {"tag without its varint", "\x08", 1},
        {"varint too long", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12},
        {"length past the end", "\x08\x01\x12\x05\x0a", 5},
        {"length of 4 GiB", "\x12\xff\xff\xff\xff\x0f", 6},
        {"64-bit field cut short", "\x39\x01\x02", 3},
        {"32-bit field cut short", "\x3d\x01\x02", 3},
        {"start group", "\x3b\x3c", 2},
        {"wire type 7", "\x0f", 1},
        {"field number 0", "\x00\x01", 2},
        {"version as a string", "\x0a\x01\x01", 3},
        {"version as fixed32", "\x0d\x01\x00\x00\x00", 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t got = 12345;
        if (wire_peek_version((const uint8_t *)bad[i].bytes, bad[i].len, &got) != -1)
            fail_msg("%s: read as version %u", bad[i].what, got);
        if (got != 12345)
            fail_msg("%s: *version changed on failure", bad[i].what);
    }
}

static void test_empty_envelope(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY__NOT_SET);
    size_t len;
    uint8_t *buf = raw_pack(&f->env, &len);
    assert_int_equal(len, 2); /* just the version */
    err_t err = {{0}};
    assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "no known message");
    assert_string_equal(wire_body_name(&f->env), "empty");
    /* Zero bytes decode to version 0 and no body. */
    err_clear(&err);
    assert_null(wire_unpack(buf, 0, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "version 0");
    free(buf);
    fx_destroy(&f);
}

static void test_garbage(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\xff", 1},
        {"\x08", 1},                                              /* tag without its varint */
        {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* varint too long */
        {"\x12\x05\x0a", 3},                                      /* length past the end */
        {"\x12\xff\xff\xff\xff\x0f", 6},                          /* length of 4 GiB */
        {"\x0f", 1},                                              /* wire type 7 does not exist */
        {"\x00\x01", 2},                                          /* field number 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t err = {{0}};
        assert_null(
            wire_unpack((const uint8_t *)cases[i].bytes, cases[i].len, PX_WIRE_MAX_TO_COORD, &err));
        assert_true(err.msg[0] != '\0');
    }
}

static void test_truncated_prefixes(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_BATCH);
    size_t len;
    uint8_t *buf = raw_pack(&f->env, &len);
    size_t parsed = 0;
    for (size_t n = 0; n <= len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past the prefix. */
        uint8_t *prefix = malloc(n ? n : 1);
        assert_non_null(prefix);
        memcpy(prefix, buf, n);
        err_t err = {{0}};
        Parallax__Envelope *e = wire_unpack(prefix, n, PX_WIRE_MAX_TO_COORD, &err);
        if (e) {
            parsed++;
            assert_int_equal(wire_validate(e, &err), 0);
            uint32_t version = 0;
            assert_int_equal(wire_peek_version(prefix, n, &version), 0);
            assert_int_equal(version, PX_PROTOCOL_VERSION);
            wire_free(&e);
        } else {
            assert_true(err.msg[0] != '\0');
        }
        free(prefix);
    }
    assert_int_equal(parsed, 1); /* only the whole message: a batch needs its last field */
    free(buf);
    fx_destroy(&f);
}

static void test_oversized(void **state)
{
    (void)state;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_BATCH);
    size_t len;
    uint8_t *buf = raw_pack(&f->env, &len);
    err_t err = {{0}};
    /* A valid message one byte over the limit is refused for its size, not parsed. */
    assert_null(wire_unpack(buf, len, len - 1, &err));
    assert_err_contains(&err, "exceeds");
    Parallax__Envelope *e = wire_unpack(buf, len, len, &err);
    assert_non_null(e);
    wire_free(&e);
    free(buf);

    /* Bigger than the coordinator's limit, garbage or not. */
    size_t big = PX_WIRE_MAX_TO_COORD + 1;
    uint8_t *junk = calloc(1, big);
    assert_non_null(junk);
    err_clear(&err);
    assert_null(wire_unpack(junk, big, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "exceeds the 262144-byte limit");
    free(junk);
    fx_destroy(&f);
}

/* ---- hostile allocation ------------------------------------------------------------- */

/* Counts what protobuf-c allocates, to show a case really is hostile without a budget. */
static size_t counted;
static void *count_alloc(void *data, size_t size)
{
    (void)data;
    counted += size;
    return malloc(size);
}
static void count_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

/* An envelope whose body (field `field`) holds count empty submessages in field `inner`. */
static uint8_t *build_empty_repeated(unsigned field, unsigned inner, size_t count, size_t *len)
{
    size_t body = count * 2;
    uint8_t *buf = malloc(body + 16);
    assert_non_null(buf);
    size_t n = 0;
    buf[n++] = 0x08; /* version = 1 */
    buf[n++] = PX_PROTOCOL_VERSION;
    buf[n++] = (uint8_t)(field << 3 | 2);
    for (size_t v = body;; v >>= 7) {
        buf[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    for (size_t i = 0; i < count; i++) {
        buf[n++] = (uint8_t)(inner << 3 | 2);
        buf[n++] = 0;
    }
    *len = n;
    return buf;
}

static void test_hostile_allocation(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned field, inner;
        size_t count, max_len;
        const char *expect;
    } cases[] = {
        /* 100k empty results: 200 KB that protobuf-c turns into ~9 MB of structs. */
        {"batch of 100000 empty results", 4, 3, 100000, PX_WIRE_MAX_TO_COORD, "budget"},
        /* 60k empty probes, past PX_WIRE_MAX_PROBES, in a message under the agent's limit. */
        {"schedule of 60000 empty probes", 3, 2, 60000, PX_WIRE_MAX_TO_AGENT, "budget"},
        /* Small enough for the budget: validation still refuses them (an empty batch has
         * stream 0, an empty probe id 0). */
        {"batch of 400 empty results", 4, 3, 400, PX_WIRE_MAX_TO_COORD, "stream or seq 0"},
        {"schedule of 500 empty probes", 3, 2, 500, PX_WIRE_MAX_TO_AGENT, "id 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *buf = build_empty_repeated(cases[i].field, cases[i].inner, cases[i].count, &len);
        /* The case parses as protobuf (so only our limits stand in its way) and, for the
         * budget cases, costs far more than 32 times its size to unpack. */
        counted = 0;
        ProtobufCAllocator a = {.alloc = count_alloc, .free = count_free};
        Parallax__Envelope *raw = parallax__envelope__unpack(&a, len, buf);
        assert_non_null(raw);
        parallax__envelope__free_unpacked(raw, &a);
        if (strcmp(cases[i].expect, "budget") == 0 && counted <= 32 * len + 64 * 1024)
            fail_msg("%s: only %zu bytes for %zu input bytes: not hostile", cases[i].name, counted,
                     len);
        err_t err = {{0}};
        Parallax__Envelope *e = wire_unpack(buf, len, cases[i].max_len, &err);
        if (e)
            fail_msg("%s: accepted", cases[i].name);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].name, err.msg, cases[i].expect);
        free(buf);
    }
}

/* ---- validation rules ---------------------------------------------------------------- */

#define MUT(name, body)                                                                            \
    static void name(fx_t *f)                                                                      \
    {                                                                                              \
        body;                                                                                      \
    }

static void set_many_results(fx_t *f, size_t n)
{
    Parallax__Result **many = calloc(n, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i < n; i++)
        many[i] = &f->results[i % 3];
    f->many = many;
    f->batch.results = many;
    f->batch.n_results = n;
}

static void set_many_probes(fx_t *f, size_t n)
{
    Parallax__Probe **many = calloc(n, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i < n; i++)
        many[i] = &f->probes[0];
    f->many = many;
    f->schedule.probes = many;
    f->schedule.n_probes = n;
}

static void set_many_kinds(fx_t *f, size_t n)
{
    f->hello.n_kinds = n;
}

static void set_text(fx_t *f, size_t n, char c)
{
    memset(f->text, c, n);
    f->text[n] = '\0';
}

/* Batch rules. */
MUT(status_zero, f->results[1].status = 0)
MUT(status_unknown, f->results[1].status = 99)
MUT(status_negative, f->results[1].status = -3)
MUT(result_probe_zero, f->results[2].probe_id = 0)
MUT(result_probe_huge, f->results[2].probe_id = (uint64_t)INT64_MAX + 1)
MUT(result_probe_max, f->results[2].probe_id = UINT64_MAX)
MUT(stream_zero, f->batch.stream = 0)
MUT(seq_zero, f->batch.seq = 0)
MUT(stream_huge, f->batch.stream = (uint64_t)INT64_MAX + 1)
MUT(seq_huge, f->batch.seq = UINT64_MAX)
MUT(no_results, f->batch.n_results = 0)
MUT(gap_count_zero, f->batch.n_gaps = 1; f->gap.count = 0)
MUT(gap_reversed, f->batch.n_gaps = 1; f->gap.to_us = f->gap.from_us - 1)
MUT(gap_ts_early, f->batch.n_gaps = 1; f->gap.from_us = PX_WIRE_MIN_TS_US - 1)
MUT(gap_probe_huge, f->batch.n_gaps = 1; f->gap.probe_id = (uint64_t)INT64_MAX + 1)
MUT(too_many_gaps, f->batch.n_gaps = PX_WIRE_MAX_GAPS + 1)
MUT(gap_reason_unknown, f->batch.n_gaps = 1; f->gap.reason = 2)
MUT(gap_reason_negative, f->batch.n_gaps = 1; f->gap.reason = -1)
MUT(ok_gap_skipped, f->batch.n_gaps = 1; f->gap.reason = PARALLAX__GAP_REASON__GAP_RUN_SKIPPED)
MUT(too_many_results, set_many_results(f, PX_WIRE_MAX_RESULTS + 1))
MUT(ts_zero, f->results[0].ts_us = 0)
MUT(ts_negative, f->results[0].ts_us = -TS0)
MUT(ts_early, f->results[0].ts_us = PX_WIRE_MIN_TS_US - 1)
MUT(ts_late, f->results[0].ts_us = PX_WIRE_MAX_TS_US + 1)
MUT(ts_ms, f->results[0].ts_us = TS0 / 1000) /* milliseconds sent by mistake */
MUT(ts_ns, f->results[0].ts_us = INT64_MAX)  /* nanoseconds: implausibly late */
MUT(icmp_type_256, f->results[1].icmp_type = 256)
MUT(icmp_code_256, f->results[1].icmp_code = 256)
MUT(icmp_from_name, f->results[1].icmp_from = "router.example.org")
MUT(icmp_from_bad4, f->results[1].icmp_from = "192.0.2.256")
MUT(icmp_from_cidr, f->results[1].icmp_from = "192.0.2.0/24")
MUT(icmp_from_space, f->results[1].icmp_from = " 192.0.2.1")
MUT(msg_bad_utf8, f->results[0].message = "caf\xc3")
MUT(msg_latin1, f->results[0].message = "d\xe9lai")
MUT(msg_newline, f->results[0].message = "line\nbreak")
MUT(msg_escape, f->results[0].message = "\x1b[31mred")
MUT(msg_del, f->results[0].message = "del\x7f")
MUT(msg_cr, f->results[0].message = "a\rb")
MUT(msg_c1, f->results[0].message = "a\xc2\x9b"
                                    "31mred")
MUT(msg_long, set_text(f, PX_WIRE_MAX_TEXT + 1, 'x'); f->results[0].message = f->text)
/* Schedule rules. */
MUT(probe_id_zero, f->probes[1].probe_id = 0)
MUT(probe_id_huge, f->probes[1].probe_id = (uint64_t)INT64_MAX + 1)
MUT(probe_addr_empty, f->probes[0].address = "")
MUT(probe_addr_name, f->probes[0].address = "example.org")
MUT(probe_addr_bad4, f->probes[0].address = "1.2.3.256")
MUT(probe_addr_bad6, f->probes[0].address = "2001:db8:::1")
MUT(probe_addr_zone, f->probes[0].address = "fe80::1%eth0")
MUT(probe_interval_zero, f->probes[0].interval_s = 0)
MUT(probe_interval_long, f->probes[0].interval_s = PX_WIRE_MAX_INTERVAL_S + 1)
MUT(probe_phase_eq, f->probes[0].phase_ms = 60000)
MUT(probe_phase_big, f->probes[0].phase_ms = UINT32_MAX)
MUT(probe_timeout_zero, f->probes[0].timeout_ms = 0)
MUT(probe_timeout_long, f->probes[0].timeout_ms = PX_WIRE_MAX_TIMEOUT_MS + 1)
MUT(probe_target_empty, f->probes[0].target = "")
MUT(probe_target_long, set_text(f, 257, 't'); f->probes[0].target = f->text)
MUT(probe_spec_empty, f->probes[0].spec = "")
MUT(probe_spec_ctl, f->probes[0].spec = "tcp:80\n")
MUT(too_many_probes, set_many_probes(f, PX_WIRE_MAX_PROBES + 1))
/* Hello rules. */
MUT(hello_name_long, set_text(f, PX_WIRE_MAX_NAME + 1, 'n'); f->hello.name = f->text)
MUT(hello_name_ctl, f->hello.name = "a\x01")
MUT(hello_version_utf8, f->hello.agent_version = "\xed\xa0\x80")
MUT(hello_kind_empty, f->kinds[1] = "")
MUT(hello_too_many_kinds, set_many_kinds(f, 65))
/* Ack rules. */
MUT(ack_code_zero, f->ack.code = 0)
MUT(ack_code_unknown, f->ack.code = 4)
MUT(ack_reason_bad, f->ack.reason = "\xff\xfe")
MUT(ack_reason_long, set_text(f, PX_WIRE_MAX_TEXT + 1, 'r'); f->ack.reason = f->text)

/* Values exactly at each limit, which must pass. */
MUT(ok_nothing, (void)f)
MUT(ok_status_each, for (unsigned i = 0; i < 3; i++) f->results[i].status = (Parallax__Status)
                        status_at(status_count() - 1 - i))
MUT(ok_probe_max, f->results[0].probe_id = INT64_MAX; f->probes[0].probe_id = INT64_MAX)
MUT(ok_stream_seq_max, f->batch.stream = INT64_MAX; f->batch.seq = INT64_MAX)
MUT(ok_ts_bounds, f->results[0].ts_us = PX_WIRE_MIN_TS_US; f->results[1].ts_us = PX_WIRE_MAX_TS_US)
MUT(ok_icmp_255, f->results[1].icmp_type = 255; f->results[1].icmp_code = 255)
MUT(ok_icmp_from_v4, f->results[1].icmp_from = "198.51.100.1")
MUT(ok_icmp_from_empty, f->results[1].icmp_from = "")
MUT(ok_msg_max, set_text(f, PX_WIRE_MAX_TEXT, 'm'); f->results[0].message = f->text)
MUT(ok_msg_tab, f->results[0].message = "a\tb")
MUT(ok_max_results, set_many_results(f, PX_WIRE_MAX_RESULTS))
MUT(ok_only_gaps, f->batch.n_results = 0; f->batch.n_gaps = PX_WIRE_MAX_GAPS; f->gap.probe_id = 0)
MUT(ok_interval_bounds, f->probes[0].interval_s = 1; f->probes[0].phase_ms = 999;
    f->probes[1].interval_s = PX_WIRE_MAX_INTERVAL_S; f->probes[1].phase_ms = 86399999)
MUT(ok_timeout_bounds, f->probes[0].timeout_ms = 1;
    f->probes[1].timeout_ms = PX_WIRE_MAX_TIMEOUT_MS)
MUT(ok_addr_mapped, f->probes[0].address = "::ffff:192.0.2.1")
MUT(ok_max_probes, set_many_probes(f, PX_WIRE_MAX_PROBES))
MUT(ok_hello_64_kinds, set_many_kinds(f, 64))
MUT(ok_hello_empty, f->hello.name = NULL; f->hello.agent_version = ""; f->hello.n_kinds = 0)
MUT(ok_name_max, set_text(f, PX_WIRE_MAX_NAME, 'n'); f->hello.name = f->text)
MUT(ok_ack_rejected, f->ack.code = PARALLAX__ACK_CODE__ACK_REJECTED)
/* A heartbeat echoing the exchange before it; the agent's clock may be anything. */
MUT(ok_hb_echo, f->heartbeat.echo_agent_sent_us = TS0 - 5000000;
    f->heartbeat.echo_coord_recv_us = TS0 - 6000000;
    f->heartbeat.echo_coord_sent_us = TS0 - 5999000;
    f->heartbeat.echo_agent_recv_us = TS0 - 4990000)
MUT(ok_hb_echo_old_agent_clock, f->heartbeat.echo_agent_sent_us = 1000;
    f->heartbeat.echo_coord_recv_us = TS0; f->heartbeat.echo_coord_sent_us = TS0;
    f->heartbeat.echo_agent_recv_us = 2000)
MUT(hb_echo_partial, f->heartbeat.echo_agent_sent_us = TS0; f->heartbeat.echo_coord_recv_us = TS0)
MUT(hb_echo_backwards, f->heartbeat.echo_agent_sent_us = TS0;
    f->heartbeat.echo_coord_recv_us = TS0 + 9; f->heartbeat.echo_coord_sent_us = TS0 + 8;
    f->heartbeat.echo_agent_recv_us = TS0 + 10)
MUT(hb_echo_coord_ancient, f->heartbeat.echo_agent_sent_us = TS0;
    f->heartbeat.echo_coord_recv_us = 5; f->heartbeat.echo_coord_sent_us = 6;
    f->heartbeat.echo_agent_recv_us = TS0 + 10)
MUT(hb_echo_negative, f->heartbeat.echo_agent_sent_us = -1; f->heartbeat.echo_coord_recv_us = TS0;
    f->heartbeat.echo_coord_sent_us = TS0; f->heartbeat.echo_agent_recv_us = TS0)

typedef struct rule_case {
    const char *name;
    Parallax__Envelope__BodyCase body;
    void (*mutate)(fx_t *);
    const char *expect; /* substring of the error; NULL: the message is valid */
} rule_case_t;

#define BATCH PARALLAX__ENVELOPE__BODY_BATCH
#define SCHED PARALLAX__ENVELOPE__BODY_SCHEDULE
#define HELLO PARALLAX__ENVELOPE__BODY_HELLO
#define ACK PARALLAX__ENVELOPE__BODY_ACK
#define HB PARALLAX__ENVELOPE__BODY_HEARTBEAT

static const rule_case_t rule_cases[] = {
    {"status 0", BATCH, status_zero, "result 1 has unknown status 0"},
    {"status 99", BATCH, status_unknown, "unknown status 99"},
    {"status -3", BATCH, status_negative, "unknown status -3"},
    {"result probe_id 0", BATCH, result_probe_zero, "result 2 has probe id 0"},
    {"result probe_id > INT64_MAX", BATCH, result_probe_huge, "probe id 9223372036854775808"},
    {"result probe_id UINT64_MAX", BATCH, result_probe_max, "probe id 18446744073709551615"},
    {"stream 0", BATCH, stream_zero, "stream or seq 0"},
    {"seq 0", BATCH, seq_zero, "stream or seq 0"},
    {"stream > INT64_MAX", BATCH, stream_huge, "stream 9223372036854775808"},
    {"seq > INT64_MAX", BATCH, seq_huge, "seq 18446744073709551615"},
    {"0 results", BATCH, no_results, "0 results and 0 gaps"},
    {"gap of 0 results", BATCH, gap_count_zero, "gap 0 has probe id 42 or count 0"},
    {"gap ending before it starts", BATCH, gap_reversed, "gap 0 has an implausible time range"},
    {"gap before 2000", BATCH, gap_ts_early, "implausible time range"},
    {"gap probe_id > INT64_MAX", BATCH, gap_probe_huge, "probe id 9223372036854775808"},
    {"65 gaps", BATCH, too_many_gaps, "65 gaps"},
    {"gap reason 2", BATCH, gap_reason_unknown, "gap 0 has unknown reason 2"},
    {"gap reason -1", BATCH, gap_reason_negative, "gap 0 has unknown reason -1"},
    {"too many results", BATCH, too_many_results, "1001 results"},
    {"ts 0", BATCH, ts_zero, "implausible timestamp 0"},
    {"ts negative", BATCH, ts_negative, "implausible timestamp"},
    {"ts before 2020", BATCH, ts_early, "implausible timestamp"},
    {"ts after 2100", BATCH, ts_late, "implausible timestamp"},
    {"ts in ms", BATCH, ts_ms, "implausible timestamp"},
    {"ts INT64_MAX", BATCH, ts_ns, "implausible timestamp"},
    {"icmp_type 256", BATCH, icmp_type_256, "ICMP type or code above 255"},
    {"icmp_code 256", BATCH, icmp_code_256, "ICMP type or code above 255"},
    {"icmp_from name", BATCH, icmp_from_name, "invalid icmp_from"},
    {"icmp_from bad v4", BATCH, icmp_from_bad4, "invalid icmp_from"},
    {"icmp_from cidr", BATCH, icmp_from_cidr, "invalid icmp_from"},
    {"icmp_from space", BATCH, icmp_from_space, "invalid icmp_from"},
    {"message truncated UTF-8", BATCH, msg_bad_utf8, "result.message is not valid UTF-8"},
    {"message Latin-1", BATCH, msg_latin1, "not valid UTF-8"},
    {"message newline", BATCH, msg_newline, "not valid UTF-8"},
    {"message escape", BATCH, msg_escape, "not valid UTF-8"},
    {"message DEL", BATCH, msg_del, "not valid UTF-8"},
    {"message CR", BATCH, msg_cr, "not valid UTF-8"},
    {"message C1 control", BATCH, msg_c1, "not valid UTF-8"},
    {"message too long", BATCH, msg_long, "result.message longer than 512"},
    {"probe id 0", SCHED, probe_id_zero, "schedule probe 1: probe id 0"},
    {"probe id > INT64_MAX", SCHED, probe_id_huge, "id 9223372036854775808"},
    {"probe address empty", SCHED, probe_addr_empty, "invalid address"},
    {"probe address name", SCHED, probe_addr_name, "invalid address"},
    {"probe address bad v4", SCHED, probe_addr_bad4, "invalid address"},
    {"probe address bad v6", SCHED, probe_addr_bad6, "invalid address"},
    {"probe address zone", SCHED, probe_addr_zone, "invalid address"},
    {"probe interval 0", SCHED, probe_interval_zero, "invalid interval"},
    {"probe interval > 1 day", SCHED, probe_interval_long, "invalid interval"},
    {"probe phase = interval", SCHED, probe_phase_eq, "phase"},
    {"probe phase huge", SCHED, probe_phase_big, "phase"},
    {"probe timeout 0", SCHED, probe_timeout_zero, "timeout"},
    {"probe timeout too long", SCHED, probe_timeout_long, "timeout"},
    {"probe target empty", SCHED, probe_target_empty, "probe.target is empty"},
    {"probe target long", SCHED, probe_target_long, "probe.target longer"},
    {"probe spec empty", SCHED, probe_spec_empty, "probe.spec is empty"},
    {"probe spec control char", SCHED, probe_spec_ctl, "probe.spec is not valid"},
    {"too many probes", SCHED, too_many_probes, "50001 probes"},
    {"hello name long", HELLO, hello_name_long, "hello.name longer than 64"},
    {"hello name control", HELLO, hello_name_ctl, "hello.name is not valid"},
    {"hello version surrogate", HELLO, hello_version_utf8, "hello.agent_version"},
    {"hello kind empty", HELLO, hello_kind_empty, "hello.kinds is empty"},
    {"hello 65 kinds", HELLO, hello_too_many_kinds, "65 probe kinds"},
    {"ack code 0", ACK, ack_code_zero, "unknown code 0"},
    {"ack code 4", ACK, ack_code_unknown, "unknown code 4"},
    {"ack reason bad", ACK, ack_reason_bad, "ack.reason is not valid"},
    {"ack reason long", ACK, ack_reason_long, "ack.reason longer"},
    /* Valid at the limits. */
    {"valid batch", BATCH, ok_nothing, NULL},
    {"every status", BATCH, ok_status_each, NULL},
    {"probe ids INT64_MAX", BATCH, ok_probe_max, NULL},
    {"probe id INT64_MAX", SCHED, ok_probe_max, NULL},
    {"stream, seq INT64_MAX", BATCH, ok_stream_seq_max, NULL},
    {"ts at both bounds", BATCH, ok_ts_bounds, NULL},
    {"icmp 255", BATCH, ok_icmp_255, NULL},
    {"icmp_from v4", BATCH, ok_icmp_from_v4, NULL},
    {"icmp_from empty", BATCH, ok_icmp_from_empty, NULL},
    {"message 512 bytes", BATCH, ok_msg_max, NULL},
    {"message with tab", BATCH, ok_msg_tab, NULL},
    {"1000 results", BATCH, ok_max_results, NULL},
    {"only gaps, for every probe", BATCH, ok_only_gaps, NULL},
    {"a gap of skipped runs", BATCH, ok_gap_skipped, NULL},
    {"valid schedule", SCHED, ok_nothing, NULL},
    {"interval bounds", SCHED, ok_interval_bounds, NULL},
    {"timeout bounds", SCHED, ok_timeout_bounds, NULL},
    {"v4-mapped address", SCHED, ok_addr_mapped, NULL},
    {"50000 probes", SCHED, ok_max_probes, NULL},
    {"valid hello", HELLO, ok_nothing, NULL},
    {"64 kinds", HELLO, ok_hello_64_kinds, NULL},
    {"hello without names", HELLO, ok_hello_empty, NULL},
    {"name 64 bytes", HELLO, ok_name_max, NULL},
    {"valid ack", ACK, ok_nothing, NULL},
    {"ack rejected", ACK, ok_ack_rejected, NULL},
    {"valid heartbeat", HB, ok_nothing, NULL},
    {"heartbeat with an echo", HB, ok_hb_echo, NULL},
    {"echo from a broken agent clock", HB, ok_hb_echo_old_agent_clock, NULL},
    {"echo of 2 timestamps", HB, hb_echo_partial, "echoes 2 of the 4"},
    {"echo answered before received", HB, hb_echo_backwards, "impossible exchange"},
    {"echo of a coordinator in 1970", HB, hb_echo_coord_ancient, "impossible exchange"},
    {"echo with a negative time", HB, hb_echo_negative, "impossible exchange"},
};

static void test_validation_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const rule_case_t *c = &rule_cases[i];
        fx_t *f = fx_new(c->body);
        c->mutate(f);
        size_t max_len =
            c->body == SCHED || c->body == ACK ? PX_WIRE_MAX_TO_AGENT : PX_WIRE_MAX_TO_COORD;
        err_t err = {{0}};
        int rc = wire_validate(&f->env, &err);
        uint8_t *packed = NULL;
        size_t packed_len = 0;
        err_t pack_err = {{0}};
        int pack_rc = wire_pack(&f->env, &packed, &packed_len, &pack_err);
        /* The same bytes from a peer that does not validate. */
        size_t raw_len;
        uint8_t *raw = raw_pack(&f->env, &raw_len);
        err_t unpack_err = {{0}};
        Parallax__Envelope *e = wire_unpack(raw, raw_len, max_len, &unpack_err);
        if (c->expect) {
            if (rc != -1 || !strstr(err.msg, c->expect))
                fail_msg("%s: wire_validate rc %d, error '%s', expected '%s'", c->name, rc, err.msg,
                         c->expect);
            if (pack_rc != -1 || packed || !strstr(pack_err.msg, "refusing to send") ||
                !strstr(pack_err.msg, c->expect))
                fail_msg("%s: wire_pack rc %d, error '%s'", c->name, pack_rc, pack_err.msg);
            if (e || !strstr(unpack_err.msg, c->expect))
                fail_msg("%s: wire_unpack %s, error '%s'", c->name, e ? "accepted" : "refused",
                         unpack_err.msg);
        } else {
            if (rc != 0 || pack_rc != 0 || !e)
                fail_msg("%s: valid message refused: '%s' '%s' '%s'", c->name, err.msg,
                         pack_err.msg, unpack_err.msg);
            /* What wire_pack makes is what a peer packs. */
            assert_int_equal(packed_len, raw_len);
            assert_memory_equal(packed, raw, raw_len);
        }
        wire_free(&e);
        free(packed);
        free(raw);
        fx_destroy(&f);
    }
}

/* Every reason the .proto lists has its SQL label, and nothing else has one; a gap packed
 * by an agent that predates reasons reads as a spool drop. */
static void test_gap_reasons(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &parallax__gap_reason__descriptor;
    for (unsigned i = 0; i < d->n_values; i++)
        if (!wire_gap_reason_name(d->values[i].value))
            fail_msg("%s has no SQL label in wire_gap_reason_name()", d->values[i].name);
    int max = 0;
    for (unsigned i = 0; i < d->n_values; i++)
        max = d->values[i].value > max ? d->values[i].value : max;
    assert_null(wire_gap_reason_name(max + 1));
    assert_null(wire_gap_reason_name(-1));
    assert_string_equal(wire_gap_reason_name(PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED),
                        "spool_dropped");
    assert_string_equal(wire_gap_reason_name(PARALLAX__GAP_REASON__GAP_RUN_SKIPPED), "run_skipped");
    /* An old agent's gap: fields 1..4 only (probe 5, from 1, to 2, count 3). */
    static const uint8_t old_gap[] = {0x08, 5, 0x10, 1, 0x18, 2, 0x20, 3};
    Parallax__Gap *g = parallax__gap__unpack(NULL, sizeof old_gap, old_gap);
    assert_non_null(g);
    assert_int_equal(g->count, 3);
    assert_int_equal(g->reason, PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED);
    parallax__gap__free_unpacked(g, NULL);
}

/* ---- wire_text_valid ----------------------------------------------------------------- */

static void test_text_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int valid;
        const char *what;
    } cases[] = {
        {"", 1, "empty"},
        {"connection refused", 1, "ASCII"},
        {"a\tb", 1, "tab"},
        {" ~", 1, "printable ASCII bounds"},
        {"\xc2\xa0", 1, "U+00A0, first after the C1 controls"},
        {"\xc3\xa9", 1, "U+00E9"},
        {"\xdf\xbf", 1, "U+07FF, largest 2-byte"},
        {"\xe0\xa0\x80", 1, "U+0800, smallest 3-byte"},
        {"\xe2\x82\xac", 1, "U+20AC euro"},
        {"\xe4\xb8\x8d\xe5\x8f\xaf\xe8\xbe\xbe", 1, "CJK"},
        {"\xed\x9f\xbf", 1, "U+D7FF, before the surrogates"},
        {"\xee\x80\x80", 1, "U+E000, after the surrogates"},
        {"\xef\xbf\xbf", 1, "U+FFFF"},
        {"\xf0\x90\x80\x80", 1, "U+10000, smallest 4-byte"},
        {"\xf0\x9f\x9b\xb0", 1, "U+1F6F0 emoji"},
        {"\xf4\x8f\xbf\xbf", 1, "U+10FFFF, the last code point"},
        {"r\xc3\xa9seau \xe2\x80\x94 ok", 1, "mixed"},
        {"\xc0\x80", 0, "overlong NUL"},
        {"\xc0\xaf", 0, "overlong '/'"},
        {"\xc1\xbf", 0, "overlong 2-byte"},
        {"\xe0\x80\x80", 0, "overlong 3-byte NUL"},
        {"\xe0\x9f\xbf", 0, "overlong 3-byte U+07FF"},
        {"\xf0\x80\x80\x80", 0, "overlong 4-byte NUL"},
        {"\xf0\x8f\xbf\xbf", 0, "overlong 4-byte U+FFFF"},
        {"\xed\xa0\x80", 0, "surrogate U+D800"},
        {"\xed\xbf\xbf", 0, "surrogate U+DFFF"},
        {"\xed\xa0\xbd\xed\xb8\x80", 0, "CESU-8 surrogate pair"},
        {"\xf4\x90\x80\x80", 0, "U+110000"},
        {"\xf5\x80\x80\x80", 0, "lead byte F5"},
        {"\xf7\xbf\xbf\xbf", 0, "lead byte F7"},
        {"\xf8\x88\x80\x80\x80", 0, "5-byte form"},
        {"\xfc\x84\x80\x80\x80\x80", 0, "6-byte form"},
        {"\xfe", 0, "FE"},
        {"\xff", 0, "FF"},
        {"\x80", 0, "lone continuation"},
        {"a\xbf", 0, "continuation after ASCII"},
        {"\xc3", 0, "truncated 2-byte at end"},
        {"\xc3"
         "a",
         0, "2-byte with ASCII continuation"},
        {"\xe2\x82", 0, "truncated 3-byte"},
        {"\xe2\x82"
         "a",
         0, "3-byte cut by ASCII"},
        {"\xf0\x9f\x9b", 0, "truncated 4-byte"},
        {"\xf0\x9f\x9b\xc3\xa9", 0, "4-byte cut by a 2-byte"},
        {"\x01", 0, "SOH"},
        {"\n", 0, "newline"},
        {"\r", 0, "CR"},
        {"\x1b", 0, "ESC"},
        {"\x1f", 0, "US"},
        {"\x7f", 0, "DEL"},
        {"\xc2\x80", 0, "U+0080, first C1 control"},
        {"\xc2\x85", 0, "U+0085 NEL"},
        {"x\xc2\x9b"
         "31m",
         0, "U+009B CSI"},
        {"\xc2\x9f", 0, "U+009F, last C1 control"},
        {"ok\x07", 0, "BEL at the end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (wire_text_valid(cases[i].s) != cases[i].valid)
            fail_msg("wire_text_valid(%s) != %d", cases[i].what, cases[i].valid);
}

/* The details are checked and printed from the descriptors alone: a bad string or address is
 * named by its path, an over-long array refused, and the printed lines follow the .proto's
 * conventions (X_us as X_ms, has_X hiding X_..., an empty address making its hop silent). */
static void test_result_detail(void **state)
{
    (void)state;
    Parallax__TraceHop h1 = PARALLAX__TRACE_HOP__INIT, h2 = PARALLAX__TRACE_HOP__INIT;
    h1.ttl = 1;
    h1.address = "192.0.2.1";
    h1.rtt_us = 800;
    h2.ttl = 2;
    h2.rtt_us = 5; /* nobody answered: not shown, whatever it says */
    Parallax__TraceHop *hops[] = {&h1, &h2};
    Parallax__TraceInfo trace = PARALLAX__TRACE_INFO__INIT;
    trace.n_hops = 2;
    trace.hops = hops;
    trace.reached = 1;
    Parallax__DnsInfo dns = PARALLAX__DNS_INFO__INIT;
    dns.rcode = 3;
    dns.soa_serial = 7; /* without has_soa: not shown */
    Parallax__Result r = PARALLAX__RESULT__INIT;
    assert_int_equal(result_detail_present(&r), 0);
    r.trace = &trace;
    r.dns = &dns;
    assert_int_equal(result_detail_present(&r), 1);

    err_t err = {{0}};
    assert_int_equal(result_detail_validate(&r, &err), 0);
    h2.address = "not-an-address";
    assert_int_equal(result_detail_validate(&r, &err), -1);
    assert_string_equal(err.msg, "trace.hops[1].address is not an IP address");
    h2.address = "";
    trace.n_hops = RESULT_DETAIL_MAX_ITEMS + 1;
    assert_int_equal(result_detail_validate(&r, &err), -1);
    assert_non_null(strstr(err.msg, "trace.hops has 65 elements"));
    trace.n_hops = 2;
    Parallax__TlsInfo tls = PARALLAX__TLS_INFO__INIT;
    tls.verify_error = "bad\x01";
    r.tls = &tls;
    assert_int_equal(result_detail_validate(&r, &err), -1);
    assert_string_equal(err.msg, "tls.verify_error is not valid UTF-8 text");
    r.tls = NULL;

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(result_detail_print(&r, out), 0);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(text, "dns_rcode=3\ndns_aa=0\ndns_answers=0\ndns_over_tcp=0\n"
                              "dns_records=0\n"
                              "trace_hops=2\ntrace_hop=1 192.0.2.1 0.800\ntrace_hop=2 * *\n"
                              "trace_reached=1\ntrace_last_responsive_ttl=0\n");
    free(text);
}

/* A dns answer's records cross the wire, validate, and are stored as an array of objects
 * (the `address` convention makes an NS or MX record's address null); a record whose address
 * is not one is refused by its path. */
static void test_result_detail_dns_records(void **state)
{
    (void)state;
    Parallax__DnsRecord a = PARALLAX__DNS_RECORD__INIT, ns = PARALLAX__DNS_RECORD__INIT,
                        mx = PARALLAX__DNS_RECORD__INIT;
    a.type = "A";
    a.name = "parallax.test.";
    a.address = "192.0.2.10";
    ns.type = "NS";
    ns.name = "parallax.test.";
    ns.host = "ns1.parallax.test.";
    mx.type = "MX";
    mx.name = "parallax.test.";
    mx.host = "mail.parallax.test.";
    mx.preference = 10;
    Parallax__DnsRecord *recs[] = {&a, &ns, &mx};
    Parallax__DnsInfo dns = PARALLAX__DNS_INFO__INIT;
    dns.aa = 1;
    dns.answers = 3;
    dns.n_records = 3;
    dns.records = recs;
    fx_t *f = fx_new(PARALLAX__ENVELOPE__BODY_BATCH);
    f->results[0].dns = &dns;
    Parallax__Envelope *e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    const Parallax__Result *r = e->batch->results[0];
    assert_non_null(r->dns);
    assert_int_equal(r->dns->n_records, 3);
    assert_string_equal(r->dns->records[2]->host, "mail.parallax.test.");
    err_t err = {{0}};
    assert_int_equal(result_detail_validate(r, &err), 0);

    char *text = detail_json(r);
    assert_string_equal(text,
                        "{\"dns\":{\"rcode\":0,\"aa\":true,\"answers\":3,\"soa_serial\":null,"
                        "\"over_tcp\":false,\"records\":["
                        "{\"type\":\"A\",\"name\":\"parallax.test.\",\"address\":\"192.0.2.10\","
                        "\"host\":\"\",\"preference\":0},"
                        "{\"type\":\"NS\",\"name\":\"parallax.test.\",\"address\":null,"
                        "\"host\":\"ns1.parallax.test.\",\"preference\":0},"
                        "{\"type\":\"MX\",\"name\":\"parallax.test.\",\"address\":null,"
                        "\"host\":\"mail.parallax.test.\",\"preference\":10}]}}\n");
    free(text);

    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(result_detail_print(r, out), 0);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(text, "dns_rcode=0\ndns_aa=1\ndns_answers=3\ndns_over_tcp=0\n"
                              "dns_records=3\n"
                              "dns_record=A parallax.test. 192.0.2.10 * 0\n"
                              "dns_record=NS parallax.test. * ns1.parallax.test. 0\n"
                              "dns_record=MX parallax.test. * mail.parallax.test. 10\n");
    free(text);
    wire_free(&e);
    uint8_t *buf;

    /* Past the wire's bounds for records: more than 16, a name longer than DNS allows, more
     * text in all than an agent ever sends. */
    Parallax__DnsRecord many[PX_WIRE_MAX_DNS_RECORDS + 1];
    Parallax__DnsRecord *manyp[PX_WIRE_MAX_DNS_RECORDS + 1];
    char longname[PX_WIRE_MAX_DNS_NAME + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    for (int i = 0; i <= PX_WIRE_MAX_DNS_RECORDS; i++) {
        parallax__dns_record__init(&many[i]);
        many[i].type = "NS";
        many[i].name = "parallax.test.";
        many[i].host = longname + 1; /* 255 bytes: the longest name */
        manyp[i] = &many[i];
    }
    dns.records = manyp;
    dns.n_records = PX_WIRE_MAX_DNS_RECORDS + 1;
    buf = raw_pack(&f->env, &len);
    assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "17 DNS records (at most 16)");
    free(buf);
    dns.n_records = PX_WIRE_MAX_DNS_RECORDS; /* 16 x (2 + 14 + 255): over 4096 bytes */
    buf = raw_pack(&f->env, &len);
    assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "bytes of text (at most 4096)");
    free(buf);
    dns.n_records = 1;
    e = round_trip(&f->env, PX_WIRE_MAX_TO_COORD);
    wire_free(&e);
    many[0].host = longname;
    buf = raw_pack(&f->env, &len);
    assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "DNS record 0 with a type over 16 or a name over 255 bytes");
    free(buf);
    dns.n_records = 3;
    dns.records = recs;

    /* An A record whose address is a name: the batch is refused, the record named. */
    a.address = "www.parallax.test.";
    buf = raw_pack(&f->env, &len);
    assert_null(wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err));
    assert_err_contains(&err, "dns.records[0].address is not an IP address");
    free(buf);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_hello),
        cmocka_unit_test(test_round_trip_schedule),
        cmocka_unit_test(test_round_trip_batch),
        cmocka_unit_test(test_round_trip_ack),
        cmocka_unit_test(test_round_trip_heartbeat),
        cmocka_unit_test(test_version_mismatch),
        cmocka_unit_test(test_round_trip_request),
        cmocka_unit_test(test_result_request_id),
        cmocka_unit_test(test_empty_envelope),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_hostile_allocation),
        cmocka_unit_test(test_validation_rules),
        cmocka_unit_test(test_text_valid),
        cmocka_unit_test(test_gap_reasons),
        cmocka_unit_test(test_peek_version),
        cmocka_unit_test(test_result_detail),
        cmocka_unit_test(test_result_detail_dns_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
