/* Unit tests for routes/mrt and routes/bgp_update: MRT records of each kind built by hand from
 * RFC 6396/4271/4760/6793 (BGP4MP and _ET messages and state changes in 2- and 4-byte AS form,
 * IPv6 in MP_REACH/MP_UNREACH, AS sets, TABLE_DUMP_V2 peer index and RIBs), each with the route
 * events it must yield; then every record cut at every byte, and lengths that lie. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mrt.h"

typedef struct buf {
    uint8_t b[2048];
    size_t n;
} buf_t;

static void put8(buf_t *b, unsigned v)
{
    assert_true(b->n < sizeof b->b);
    b->b[b->n++] = (uint8_t)v;
}

static void put16(buf_t *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v & 0xff);
}

static void put32(buf_t *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

static void putn(buf_t *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static const uint8_t PEER4[4] = {198, 51, 100, 1};
static const uint8_t LOCAL4[4] = {198, 18, 8, 2};
static const uint8_t PEER6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

/* An MRT record around body; et != 0 writes BGP4MP_ET with that many microseconds. */
static void mrt(buf_t *out, uint16_t type, uint16_t subtype, const buf_t *body, uint32_t usec)
{
    out->n = 0;
    put32(out, 1700000000);
    put16(out, usec ? MRT_TYPE_BGP4MP_ET : type);
    put16(out, subtype);
    put32(out, (uint32_t)body->n + (usec ? 4 : 0));
    if (usec)
        put32(out, usec);
    putn(out, body->b, body->n);
}

/* BGP4MP header: peer AS, local AS (2 or 4 bytes), interface, AFI, addresses. */
static void bgp4mp_head(buf_t *b, int as4, int v6, uint32_t peer_as)
{
    if (as4) {
        put32(b, peer_as);
        put32(b, 64510);
    } else {
        put16(b, peer_as);
        put16(b, 64510);
    }
    put16(b, 0);
    put16(b, v6 ? 2 : 1);
    if (v6) {
        putn(b, PEER6, 16);
        putn(b, PEER6, 16);
    } else {
        putn(b, PEER4, 4);
        putn(b, LOCAL4, 4);
    }
}

/* A BGP message of type with the given body. */
static void bgp_msg(buf_t *b, unsigned type, const buf_t *body)
{
    for (int i = 0; i < 16; i++)
        put8(b, 0xff);
    put16(b, 19 + (unsigned)body->n);
    put8(b, type);
    putn(b, body->b, body->n);
}

/* An UPDATE: withdrawn, attributes, NLRI given already encoded. */
static void update(buf_t *b, const buf_t *wd, const buf_t *attrs, const buf_t *nlri)
{
    buf_t u = {.n = 0};
    put16(&u, (unsigned)wd->n);
    putn(&u, wd->b, wd->n);
    put16(&u, (unsigned)attrs->n);
    putn(&u, attrs->b, attrs->n);
    putn(&u, nlri->b, nlri->n);
    bgp_msg(b, 2, &u);
}

static void attr(buf_t *b, unsigned flags, unsigned code, const buf_t *v)
{
    put8(b, flags);
    put8(b, code);
    if (flags & 0x10)
        put16(b, (unsigned)v->n);
    else
        put8(b, (unsigned)v->n);
    putn(b, v->b, v->n);
}

/* ORIGIN IGP and an AS_PATH of a sequence (seq, nseq) then optionally a set. */
static void path_attrs(buf_t *b, int as4, const uint32_t *seq, int nseq, const uint32_t *set,
                       int nset)
{
    buf_t v = {.n = 0};
    put8(&v, 0);
    attr(b, 0x40, 1, &v);
    v.n = 0;
    if (nseq) {
        put8(&v, 2);
        put8(&v, (unsigned)nseq);
        for (int i = 0; i < nseq; i++)
            as4 ? put32(&v, seq[i]) : put16(&v, seq[i]);
    }
    if (nset) {
        put8(&v, 1);
        put8(&v, (unsigned)nset);
        for (int i = 0; i < nset; i++)
            as4 ? put32(&v, set[i]) : put16(&v, set[i]);
    }
    attr(b, 0x50, 2, &v); /* extended length, to exercise both forms */
}

#define MAX_EVENTS 16
typedef struct events {
    char line[MAX_EVENTS][200];
    int n;
} events_t;

static int collect(void *ctx, const mrt_route_t *r)
{
    events_t *e = ctx;
    static const char *const kinds[] = {"announce", "withdraw", "peer_up", "peer_down"};
    char peer[64], prefix[64] = "-";
    bgp_prefix_t pa = {.family = r->peer->family, .len = r->peer->family == 6 ? 128 : 32};
    memcpy(pa.addr, r->peer->addr, 16);
    bgp_update_format_prefix(&pa, peer, sizeof peer);
    if (r->kind <= MRT_WITHDRAW)
        bgp_update_format_prefix(&r->prefix, prefix, sizeof prefix);
    assert_true(e->n < MAX_EVENTS);
    snprintf(e->line[e->n++], sizeof e->line[0], "%s %u.%06u %s AS%u %s%s%s origin=%lld",
             kinds[r->kind], r->ts_sec, r->ts_usec, peer, r->peer->asn, prefix,
             r->kind == MRT_ANNOUNCE ? " path=" : "", r->kind == MRT_ANNOUNCE ? r->as_path : "",
             (long long)r->origin_asn);
    return 0;
}

/* Frames and decodes one record with decoder d (a fresh one if NULL). Returns decode's rc. */
static int decode(mrt_decoder_t *d, const buf_t *rec, events_t *ev, mrt_skip_t *skip,
                  mrt_error_t *err)
{
    mrt_decoder_t *own = d ? NULL : mrt_decoder_new();
    mrt_record_t r;
    memset(ev, 0, sizeof *ev);
    int rc = mrt_record_next(rec->b, rec->n, &r, err);
    if (rc == 1) {
        assert_int_equal(r.total_len, rec->n);
        rc = mrt_decoder_decode(d ? d : own, &r, collect, ev, skip, err);
    } else {
        rc = rc == 0 ? -2 : -1;
    }
    mrt_decoder_destroy(&own);
    return rc;
}

static void expect(const buf_t *rec, int nlines, const char *const *lines, mrt_skip_t want_skip)
{
    events_t ev;
    mrt_skip_t skip;
    mrt_error_t err = {0, ""};
    int rc = decode(NULL, rec, &ev, &skip, &err);
    if (rc != 0)
        fail_msg("decode failed at %zu: %s", err.offset, err.what);
    assert_int_equal(skip, want_skip);
    assert_int_equal(ev.n, nlines);
    for (int i = 0; i < nlines; i++)
        assert_string_equal(ev.line[i], lines[i]);
}

/* Every cut of rec short of its end must frame as "need more", and every record that claims
 * a shorter body (its length field set to k) must be refused with an offset inside it. */
static void cut_everywhere(const buf_t *rec, size_t header)
{
    mrt_record_t r;
    mrt_error_t err;
    for (size_t k = 0; k < rec->n; k++)
        assert_int_equal(mrt_record_next(rec->b, k, &r, &err), 0);
    for (size_t k = header; k < rec->n; k++) {
        buf_t c = *rec;
        c.n = k;
        uint32_t blen = (uint32_t)(k - MRT_HEADER_LEN);
        c.b[8] = (uint8_t)(blen >> 24), c.b[9] = (uint8_t)(blen >> 16);
        c.b[10] = (uint8_t)(blen >> 8), c.b[11] = (uint8_t)blen;
        events_t ev;
        mrt_skip_t skip;
        err.what[0] = '\0';
        int rc = decode(NULL, &c, &ev, &skip, &err);
        if (rc != -1)
            fail_msg("record cut at %zu of %zu was not refused (rc %d, %d events)", k, rec->n, rc,
                     ev.n);
        assert_true(err.what[0] != '\0');
        assert_true(err.offset <= k); /* "cut short" names where the bytes end */
        assert_int_equal(ev.n, 0);
    }
}

static void build_update_v4(buf_t *rec, int as4, uint32_t usec)
{
    static const uint32_t seq[] = {64500, 64501};
    buf_t wd = {.n = 0}, at = {.n = 0}, nlri = {.n = 0}, body = {.n = 0};
    put8(&wd, 24); /* 192.0.2.0/24 */
    put8(&wd, 192), put8(&wd, 0), put8(&wd, 2);
    path_attrs(&at, as4, seq, 2, NULL, 0);
    put8(&nlri, 24); /* 203.0.113.0/24 */
    put8(&nlri, 203), put8(&nlri, 0), put8(&nlri, 113);
    put8(&nlri, 0);  /* 0.0.0.0/0 */
    put8(&nlri, 25); /* 198.51.100.128/25, with a junk host bit the parser clears */
    put8(&nlri, 198), put8(&nlri, 51), put8(&nlri, 100), put8(&nlri, 0x81);
    bgp4mp_head(&body, as4, 0, 64500);
    update(&body, &wd, &at, &nlri);
    mrt(rec, MRT_TYPE_BGP4MP, as4 ? 4 : 1, &body, usec);
}

static void test_update_as4(void **state)
{
    (void)state;
    buf_t rec;
    build_update_v4(&rec, 1, 0);
    const char *want[] = {
        "withdraw 1700000000.000000 198.51.100.1/32 AS64500 192.0.2.0/24 origin=-1",
        "announce 1700000000.000000 198.51.100.1/32 AS64500 203.0.113.0/24 path=64500 64501 "
        "origin=64501",
        "announce 1700000000.000000 198.51.100.1/32 AS64500 0.0.0.0/0 path=64500 64501 "
        "origin=64501",
        "announce 1700000000.000000 198.51.100.1/32 AS64500 198.51.100.128/25 path=64500 64501 "
        "origin=64501"};
    expect(&rec, 4, want, MRT_SKIP_NONE);
    cut_everywhere(&rec, MRT_HEADER_LEN);
}

static void test_update_as2_et(void **state)
{
    (void)state;
    buf_t rec;
    build_update_v4(&rec, 0, 250000);
    const char *want[] = {
        "withdraw 1700000000.250000 198.51.100.1/32 AS64500 192.0.2.0/24 origin=-1",
        "announce 1700000000.250000 198.51.100.1/32 AS64500 203.0.113.0/24 path=64500 64501 "
        "origin=64501",
        "announce 1700000000.250000 198.51.100.1/32 AS64500 0.0.0.0/0 path=64500 64501 "
        "origin=64501",
        "announce 1700000000.250000 198.51.100.1/32 AS64500 198.51.100.128/25 path=64500 64501 "
        "origin=64501"};
    expect(&rec, 4, want, MRT_SKIP_NONE);
    /* An _ET record too short for its microseconds is refused in the framing. */
    cut_everywhere(&rec, MRT_HEADER_LEN + 4);
    buf_t c = rec;
    c.b[11] = 3;
    c.b[10] = c.b[9] = c.b[8] = 0;
    c.n = MRT_HEADER_LEN + 3;
    mrt_record_t r;
    mrt_error_t err;
    assert_int_equal(mrt_record_next(c.b, c.n, &r, &err), -1);
    assert_non_null(strstr(err.what, "microseconds"));
}

/* IPv6 announced in MP_REACH_NLRI and withdrawn in MP_UNREACH_NLRI, a path ending in a set. */
static void test_update_ipv6_set(void **state)
{
    (void)state;
    static const uint32_t seq[] = {4200000000u};
    static const uint32_t set[] = {64501, 64502};
    buf_t at = {.n = 0}, v = {.n = 0}, body = {.n = 0}, none = {.n = 0}, rec;
    path_attrs(&at, 1, seq, 1, set, 2);
    put16(&v, 2), put8(&v, 1), put8(&v, 16), putn(&v, PEER6, 16), put8(&v, 0);
    put8(&v, 48), put16(&v, 0x2001), put16(&v, 0x0db8), put16(&v, 1);
    attr(&at, 0x80, 14, &v);
    v.n = 0;
    put16(&v, 2), put8(&v, 1);
    put8(&v, 64), put32(&v, 0x20010db8), put32(&v, 0x00020000);
    attr(&at, 0x80, 15, &v);
    bgp4mp_head(&body, 1, 1, 4200000000u);
    update(&body, &none, &at, &none);
    mrt(&rec, MRT_TYPE_BGP4MP, 4, &body, 0);
    const char *want[] = {
        "withdraw 1700000000.000000 2001:db8::1/128 AS4200000000 2001:db8:2::/64 origin=-1",
        "announce 1700000000.000000 2001:db8::1/128 AS4200000000 2001:db8:1::/48 "
        "path=4200000000 {64501,64502} origin=-1"};
    expect(&rec, 2, want, MRT_SKIP_NONE);
    cut_everywhere(&rec, MRT_HEADER_LEN);
}

static void build_state(buf_t *rec, int as4, unsigned from, unsigned to)
{
    buf_t body = {.n = 0};
    bgp4mp_head(&body, as4, 0, 64500);
    put16(&body, from);
    put16(&body, to);
    mrt(rec, MRT_TYPE_BGP4MP, as4 ? 5 : 0, &body, 0);
}

static void test_state_changes(void **state)
{
    (void)state;
    buf_t rec;
    const char *up[] = {"peer_up 1700000000.000000 198.51.100.1/32 AS64500 - origin=-1"};
    const char *down[] = {"peer_down 1700000000.000000 198.51.100.1/32 AS64500 - origin=-1"};
    build_state(&rec, 1, 5, 6);
    expect(&rec, 1, up, MRT_SKIP_NONE);
    cut_everywhere(&rec, MRT_HEADER_LEN);
    build_state(&rec, 0, 6, 1);
    expect(&rec, 1, down, MRT_SKIP_NONE);
    cut_everywhere(&rec, MRT_HEADER_LEN);
    build_state(&rec, 0, 2, 3);
    expect(&rec, 0, NULL, MRT_SKIP_OTHER_STATE);
}

static void test_skips(void **state)
{
    (void)state;
    buf_t rec, body = {.n = 0}, empty = {.n = 0};
    /* KEEPALIVE */
    bgp4mp_head(&body, 1, 0, 64500);
    bgp_msg(&body, 4, &empty);
    mrt(&rec, MRT_TYPE_BGP4MP, 4, &body, 0);
    expect(&rec, 0, NULL, MRT_SKIP_NOT_UPDATE);
    /* What the collector sent */
    build_update_v4(&rec, 1, 0);
    rec.b[7] = 7;
    expect(&rec, 0, NULL, MRT_SKIP_LOCAL);
    /* ADD-PATH subtypes and unknown types */
    rec.b[7] = 9;
    expect(&rec, 0, NULL, MRT_SKIP_TYPE);
    rec.b[5] = 12; /* TABLE_DUMP (v1) */
    expect(&rec, 0, NULL, MRT_SKIP_TYPE);
    rec.b[4] = 0x30; /* type 0x300c: nothing known */
    expect(&rec, 0, NULL, MRT_SKIP_TYPE);
}

static void build_peer_table(buf_t *rec)
{
    buf_t b = {.n = 0};
    putn(&b, LOCAL4, 4);
    put16(&b, 4);
    putn(&b, "view", 4);
    put16(&b, 2);
    put8(&b, 0); /* IPv4, 2-byte AS */
    putn(&b, PEER4, 4), putn(&b, PEER4, 4), put16(&b, 64500);
    put8(&b, 3); /* IPv6, 4-byte AS */
    putn(&b, PEER4, 4), putn(&b, PEER6, 16), put32(&b, 4200000000u);
    mrt(rec, MRT_TYPE_TABLE_DUMP_V2, 1, &b, 0);
}

static void build_rib(buf_t *rec, int v6)
{
    static const uint32_t seq[] = {64502, 64501};
    static const uint32_t set[] = {64503, 64504};
    buf_t b = {.n = 0}, at = {.n = 0};
    put32(&b, 7);
    if (v6)
        put8(&b, 32), put32(&b, 0x20010db8);
    else
        put8(&b, 24), put8(&b, 203), put8(&b, 0), put8(&b, 113);
    put16(&b, 2);
    path_attrs(&at, 1, seq, 2, NULL, 0);
    put16(&b, 1), put32(&b, 1699999000), put16(&b, (unsigned)at.n), putn(&b, at.b, at.n);
    at.n = 0;
    path_attrs(&at, 1, seq, 1, set, 2);
    put16(&b, 0), put32(&b, 1699999000), put16(&b, (unsigned)at.n), putn(&b, at.b, at.n);
    mrt(rec, MRT_TYPE_TABLE_DUMP_V2, v6 ? 4 : 2, &b, 0);
}

static void test_table_dump_v2(void **state)
{
    (void)state;
    buf_t table, rib4, rib6;
    build_peer_table(&table);
    build_rib(&rib4, 0);
    build_rib(&rib6, 1);
    events_t ev;
    mrt_skip_t skip;
    mrt_error_t err;
    mrt_decoder_t *d = mrt_decoder_new();
    assert_non_null(d);
    /* A RIB before any peer table cannot name its peers. */
    assert_int_equal(decode(d, &rib4, &ev, &skip, &err), 0);
    assert_int_equal(skip, MRT_SKIP_NO_PEER_TABLE);
    assert_int_equal(decode(d, &table, &ev, &skip, &err), 0);
    assert_int_equal(ev.n, 0);
    assert_int_equal(decode(d, &rib4, &ev, &skip, &err), 0);
    assert_int_equal(ev.n, 2);
    assert_string_equal(ev.line[0], "announce 1700000000.000000 2001:db8::1/128 AS4200000000 "
                                    "203.0.113.0/24 path=64502 64501 origin=64501");
    assert_string_equal(ev.line[1], "announce 1700000000.000000 198.51.100.1/32 AS64500 "
                                    "203.0.113.0/24 path=64502 {64503,64504} origin=-1");
    assert_int_equal(decode(d, &rib6, &ev, &skip, &err), 0);
    assert_int_equal(ev.n, 2);
    assert_non_null(strstr(ev.line[0], " 2001:db8::/32 path=64502 64501"));
    /* A RIB naming a peer the table does not have. */
    buf_t bad = rib4;
    bad.b[MRT_HEADER_LEN + 10] = 0, bad.b[MRT_HEADER_LEN + 11] = 9;
    assert_int_equal(decode(d, &bad, &ev, &skip, &err), -1);
    assert_non_null(strstr(err.what, "peer 9"));
    assert_int_equal(err.offset, MRT_HEADER_LEN + 10);
    mrt_decoder_destroy(&d);
    assert_null(d);
    mrt_decoder_destroy(&d);

    cut_everywhere(&table, MRT_HEADER_LEN);
    /* Cutting the RIB: with a table, every cut is refused. */
    for (size_t k = MRT_HEADER_LEN; k < rib4.n; k++) {
        d = mrt_decoder_new();
        assert_int_equal(decode(d, &table, &ev, &skip, &err), 0);
        buf_t c = rib4;
        c.n = k;
        c.b[8] = c.b[9] = 0;
        c.b[10] = (uint8_t)((k - MRT_HEADER_LEN) >> 8), c.b[11] = (uint8_t)(k - MRT_HEADER_LEN);
        if (decode(d, &c, &ev, &skip, &err) != -1)
            fail_msg("RIB cut at %zu not refused", k);
        assert_int_equal(ev.n, 0);
        mrt_decoder_destroy(&d);
    }
}

/* Lengths that lie, each refused with what and where. */
static void test_bad_lengths(void **state)
{
    (void)state;
    buf_t rec;
    events_t ev;
    mrt_skip_t skip;
    mrt_error_t err;
    size_t msg = MRT_HEADER_LEN + 20; /* start of the BGP message in an AS4 v4 record */
    struct {
        size_t at;
        uint8_t value;
        const char *what;
    } cases[] = {
        {msg + 3, 0x00, "marker"},
        {msg + 17, 0xff, "BGP length"},
        {msg + 19, 0x09, "withdrawn routes length"},
        {msg + 21, 33, "longer than 32 bits"},
        {msg + 25, 0xff, "path attributes length"},
        {msg + 29, 2, "ORIGIN of 2"},
        {msg + 30, 3, "ORIGIN 3"},
        {msg + 33, 0xff, "attribute 2 of"},
        {msg + 35, 9, "segment type 9"},
        {msg + 36, 3, "AS_PATH segment of 3"},
        {msg + 36, 0, "no AS"},
        {msg + 50, 33, "longer than 32 bits"},
        {MRT_HEADER_LEN + 11, 7, "address family 7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        build_update_v4(&rec, 1, 0);
        rec.b[cases[i].at] = cases[i].value;
        err.what[0] = '\0';
        int rc = decode(NULL, &rec, &ev, &skip, &err);
        if (rc != -1 || !strstr(err.what, cases[i].what))
            fail_msg("case %zu: rc %d, \"%s\" (wanted \"%s\")", i, rc, err.what, cases[i].what);
        if (err.offset > cases[i].at)
            fail_msg("case %zu: offset %zu past %zu", i, err.offset, cases[i].at);
        assert_int_equal(ev.n, 0);
    }
    /* A length over the limit is refused before any body is read. */
    build_update_v4(&rec, 1, 0);
    rec.b[8] = 0x7f;
    mrt_record_t r;
    assert_int_equal(mrt_record_next(rec.b, rec.n, &r, &err), -1);
    assert_int_equal(err.offset, 8);
}

static void test_format_path_full(void **state)
{
    (void)state;
    static const uint32_t seq[] = {4294967295u, 1, 2};
    buf_t at = {.n = 0};
    path_attrs(&at, 1, seq, 3, NULL, 0);
    bgp_update_t u;
    memset(&u, 0, sizeof u);
    bgp_error_t err;
    assert_int_equal(bgp_update_parse_attrs(at.b, at.n, 1, 0, &u, &err), 0);
    char text[32];
    int64_t origin;
    assert_int_equal(bgp_update_format_path(&u, text, sizeof text, &origin), 14);
    assert_string_equal(text, "4294967295 1 2");
    assert_int_equal(origin, 2);
    assert_int_equal(bgp_update_format_path(&u, text, 10, &origin), -1);
    assert_string_equal(text, "");
    assert_int_equal(origin, -1);
}

/* A 2-byte AS_PATH (seq, then an optional set) with an AS4_PATH of 4-byte ASes, formatted. */
static int merged(const uint32_t *seq, int nseq, const uint32_t *set, int nset,
                  const uint32_t *seq4, int nseq4, const uint32_t *set4, int nset4, char *text,
                  size_t cap, int64_t *origin)
{
    buf_t at = {.n = 0}, v = {.n = 0};
    path_attrs(&at, 0, seq, nseq, set, nset);
    if (nseq4 > 0) {
        put8(&v, 2), put8(&v, (unsigned)nseq4);
        for (int i = 0; i < nseq4; i++)
            put32(&v, seq4[i]);
    }
    if (nset4) {
        put8(&v, 1), put8(&v, (unsigned)nset4);
        for (int i = 0; i < nset4; i++)
            put32(&v, set4[i]);
    }
    if (nseq4 < 0) /* a malformed AS4_PATH: a segment type that does not exist */
        put8(&v, 9), put8(&v, 1), put32(&v, 1);
    attr(&at, 0xc0, 17, &v);
    bgp_update_t u;
    memset(&u, 0, sizeof u);
    bgp_error_t err;
    assert_int_equal(bgp_update_parse_attrs(at.b, at.n, 0, 0, &u, &err), 0);
    return bgp_update_format_path(&u, text, cap, origin);
}

/* RFC 6793 4.2.3: AS4_PATH replaces the tail of a 2-byte AS_PATH (AS_TRANS, 23456). */
static void test_as4_path_merge(void **state)
{
    (void)state;
    char text[128];
    int64_t origin;
    static const uint32_t seq[] = {64500, 23456, 23456}, real[] = {4200000000u, 4200000001u};
    assert_true(merged(seq, 3, NULL, 0, real, 2, NULL, 0, text, sizeof text, &origin) > 0);
    assert_string_equal(text, "64500 4200000000 4200000001");
    assert_int_equal(origin, 4200000001);
    /* A set counts as one AS, on both sides. */
    static const uint32_t seq2[] = {64500, 23456}, set2[] = {23456, 64501};
    static const uint32_t seq4[] = {4200000000u}, set4[] = {4200000001u, 64501};
    assert_true(merged(seq2, 2, set2, 2, seq4, 1, set4, 2, text, sizeof text, &origin) > 0);
    assert_string_equal(text, "64500 4200000000 {4200000001,64501}");
    assert_int_equal(origin, -1);
    /* An AS4_PATH longer than AS_PATH is ignored, as is a malformed one. */
    static const uint32_t one[] = {23456};
    assert_true(merged(one, 1, NULL, 0, real, 2, NULL, 0, text, sizeof text, &origin) > 0);
    assert_string_equal(text, "23456");
    assert_true(merged(seq, 3, NULL, 0, NULL, -1, NULL, 0, text, sizeof text, &origin) > 0);
    assert_string_equal(text, "64500 23456 23456");
    assert_int_equal(origin, 23456);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_as4),      cmocka_unit_test(test_update_as2_et),
        cmocka_unit_test(test_update_ipv6_set), cmocka_unit_test(test_state_changes),
        cmocka_unit_test(test_skips),           cmocka_unit_test(test_table_dump_v2),
        cmocka_unit_test(test_bad_lengths),     cmocka_unit_test(test_format_path_full),
        cmocka_unit_test(test_as4_path_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
