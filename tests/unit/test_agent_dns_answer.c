/* Unit tests for dns_answer_parse(): a table of replies built with ldns (answers, SOA in the
 * answer or authority section, rcodes, TC, the wrong id or question) and by hand (short
 * headers, compression loops, counts larger than the packet), each with the verdict and
 * fields a probe relies on; and a table of answers with the records they must yield. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "dns_answer.h"

#define QID 0x4242
#define QNAME "www.parallax.test."

typedef struct reply_spec {
    uint16_t id;
    const char *qname; /* NULL: no question section */
    uint16_t qtype;
    uint16_t qclass;
    int qr, aa, tc;
    uint16_t rcode;
    const char *answer[4]; /* RRs in presentation form */
    const char *authority[2];
} reply_spec_t;

/* Builds the wire form of spec; the caller frees it. */
static uint8_t *build(const reply_spec_t *r, size_t *len)
{
    ldns_pkt *p = ldns_pkt_new();
    assert_non_null(p);
    ldns_pkt_set_id(p, r->id);
    ldns_pkt_set_qr(p, r->qr);
    ldns_pkt_set_aa(p, r->aa);
    ldns_pkt_set_tc(p, r->tc);
    ldns_pkt_set_rcode(p, (uint8_t)r->rcode);
    if (r->qname) {
        ldns_rr *q = ldns_rr_new();
        ldns_rr_set_owner(q, ldns_dname_new_frm_str(r->qname));
        ldns_rr_set_type(q, r->qtype);
        ldns_rr_set_class(q, r->qclass ? r->qclass : LDNS_RR_CLASS_IN);
        ldns_rr_set_question(q, true);
        ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
    }
    for (int i = 0; i < 4 && r->answer[i]; i++) {
        ldns_rr *rr = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&rr, r->answer[i], 300, NULL, NULL), LDNS_STATUS_OK);
        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
    }
    for (int i = 0; i < 2 && r->authority[i]; i++) {
        ldns_rr *rr = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&rr, r->authority[i], 300, NULL, NULL),
                         LDNS_STATUS_OK);
        ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
    }
    uint8_t *wire = NULL;
    assert_int_equal(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
    ldns_pkt_free(p);
    return wire;
}

#define SOA_RR                                                                                     \
    "parallax.test. 300 IN SOA ns1.parallax.test. hostmaster.parallax.test. 2026112201 3600 900 "  \
    "604800 300"

/* What the parser must say about a reply. */
typedef struct expect {
    dns_answer_verdict_t verdict;
    uint16_t rcode;
    int aa, tc, answers, has_soa;
    uint32_t serial;
} expect_t;

typedef struct row {
    const char *name;
    reply_spec_t reply;
    expect_t want;
} row_t;

/* One row per reply: what it is, how it is built, what the parser must say. */
static const row_t rows[] = {
    {"one A, authoritative",
     {QID, QNAME, LDNS_RR_TYPE_A, 0, 1, 1, 0, 0, {"www.parallax.test. IN A 192.0.2.80"}, {NULL}},
     {DNS_ANSWER_VALID, 0, 1, 0, 1, 0, 0}},
    {"question name in other case",
     {QID, "WwW.PARALLAX.test", LDNS_RR_TYPE_A, 0, 1, 1, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_VALID, 0, 1, 0, 0, 0, 0}},
    {"SOA in the answer",
     {QID, QNAME, LDNS_RR_TYPE_A, 0, 1, 1, 0, 0, {SOA_RR}, {NULL}},
     {DNS_ANSWER_VALID, 0, 1, 0, 1, 1, 2026112201u}},
    {"NXDOMAIN with SOA in authority",
     {QID, QNAME, LDNS_RR_TYPE_A, 0, 1, 1, 0, LDNS_RCODE_NXDOMAIN, {NULL}, {SOA_RR}},
     {DNS_ANSWER_VALID, 3, 1, 0, 0, 1, 2026112201u}},
    {"not authoritative, two answers",
     {QID,
      QNAME,
      LDNS_RR_TYPE_A,
      0,
      1,
      0,
      0,
      0,
      {"www.parallax.test. IN A 192.0.2.80", "www.parallax.test. IN A 192.0.2.81"},
      {NULL}},
     {DNS_ANSWER_VALID, 0, 0, 0, 2, 0, 0}},
    {"REFUSED",
     {QID, QNAME, LDNS_RR_TYPE_A, 0, 1, 0, 0, LDNS_RCODE_REFUSED, {NULL}, {NULL}},
     {DNS_ANSWER_VALID, 5, 0, 0, 0, 0, 0}},
    {"FORMERR without a question",
     {QID, NULL, 0, 0, 1, 0, 0, LDNS_RCODE_FORMERR, {NULL}, {NULL}},
     {DNS_ANSWER_VALID, 1, 0, 0, 0, 0, 0}},
    {"NOERROR without a question",
     {QID, NULL, 0, 0, 1, 1, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_WRONG_QUESTION, 0, 0, 0, 0, 0, 0}},
    {"truncated",
     {QID, QNAME, LDNS_RR_TYPE_A, 0, 1, 1, 1, 0, {NULL}, {NULL}},
     {DNS_ANSWER_VALID, 0, 1, 1, 0, 0, 0}},
    {"another id",
     {QID + 1, QNAME, LDNS_RR_TYPE_A, 0, 1, 1, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_NOT_REPLY, 0, 0, 0, 0, 0, 0}},
    {"a query, not a reply",
     {QID, QNAME, LDNS_RR_TYPE_A, 0, 0, 0, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_NOT_REPLY, 0, 0, 0, 0, 0, 0}},
    {"another name",
     {QID, "ww.parallax.test.", LDNS_RR_TYPE_A, 0, 1, 1, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_WRONG_QUESTION, 0, 0, 0, 0, 0, 0}},
    {"another type",
     {QID, QNAME, LDNS_RR_TYPE_AAAA, 0, 1, 1, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_WRONG_QUESTION, 0, 0, 0, 0, 0, 0}},
    {"another class",
     {QID, QNAME, LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, 1, 1, 0, 0, {NULL}, {NULL}},
     {DNS_ANSWER_WRONG_QUESTION, 0, 0, 0, 0, 0, 0}},
};

static void test_built_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *r = &rows[i];
        size_t len = 0;
        uint8_t *wire = build(&r->reply, &len);
        dns_answer_t a;
        print_message("row: %s\n", r->name);
        dns_answer_verdict_t v = dns_answer_parse(QID, QNAME, LDNS_RR_TYPE_A, wire, len, &a);
        free(wire);
        assert_int_equal(v, r->want.verdict);
        assert_int_equal(a.verdict, r->want.verdict);
        if (v != DNS_ANSWER_VALID) {
            assert_true(a.why[0] != '\0');
            continue;
        }
        assert_int_equal(a.rcode, r->want.rcode);
        assert_int_equal(a.aa, r->want.aa);
        assert_int_equal(a.tc, r->want.tc);
        assert_int_equal(a.answers, r->want.answers);
        assert_int_equal(a.has_soa, r->want.has_soa);
        assert_int_equal(a.soa_serial, r->want.serial);
    }
}

/* The header of a reply to QID with the given flag bytes and counts. */
static size_t header(uint8_t *p, uint8_t f1, uint8_t f2, uint16_t qd, uint16_t an, uint16_t ns,
                     uint16_t ar)
{
    p[0] = QID >> 8;
    p[1] = QID & 0xff;
    p[2] = f1;
    p[3] = f2;
    p[4] = (uint8_t)(qd >> 8), p[5] = (uint8_t)qd;
    p[6] = (uint8_t)(an >> 8), p[7] = (uint8_t)an;
    p[8] = (uint8_t)(ns >> 8), p[9] = (uint8_t)ns;
    p[10] = (uint8_t)(ar >> 8), p[11] = (uint8_t)ar;
    return 12;
}

/* www.parallax.test A IN, uncompressed. */
static size_t question(uint8_t *p)
{
    static const uint8_t q[] = {3,   'w', 'w', 'w', 8,   'p', 'a', 'r', 'a', 'l', 'l', 'a',
                                'x', 4,   't', 'e', 's', 't', 0,   0,   1,   0,   1};
    memcpy(p, q, sizeof q);
    return sizeof q;
}

static dns_answer_verdict_t judge_as(const char *qname, uint16_t qtype, const uint8_t *p,
                                     size_t len, dns_answer_t *a)
{
    /* An exact-size copy, so ASan sees any read past the end. */
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, p, len);
    dns_answer_verdict_t v = dns_answer_parse(QID, qname, qtype, copy, len, a);
    free(copy);
    return v;
}

static dns_answer_verdict_t judge(const uint8_t *p, size_t len, dns_answer_t *a)
{
    return judge_as(QNAME, LDNS_RR_TYPE_A, p, len, a);
}

static void test_handmade_packets(void **state)
{
    (void)state;
    uint8_t p[600] = {0};
    dns_answer_t a;
    size_t n;

    /* Empty and short of a header: not a reply at all. */
    assert_int_equal(judge(p, 0, &a), DNS_ANSWER_NOT_REPLY);
    n = header(p, 0x84, 0, 1, 0, 0, 0);
    assert_int_equal(judge(p, 11, &a), DNS_ANSWER_NOT_REPLY);

    /* A well-formed minimal reply, then the same cut inside the question. */
    n += question(p + n);
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.aa, 1);
    assert_int_equal(judge(p, n - 3, &a), DNS_ANSWER_MALFORMED);
    assert_non_null(strstr(a.why, "unparseable"));

    /* The same cut, but TC=1: still the server's truncated answer, go to TCP. */
    p[2] = 0x86;
    assert_int_equal(judge(p, n - 3, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.tc, 1);
    assert_int_equal(a.aa, 1);
    p[2] = 0x84;

    /* Counts far beyond what the packet holds. */
    n = header(p, 0x84, 0, 1, 65535, 65535, 65535);
    n += question(p + n);
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_MALFORMED);

    /* An answer whose owner is a compression pointer to itself. */
    n = header(p, 0x84, 0, 1, 1, 0, 0);
    n += question(p + n);
    size_t self = n;
    p[n++] = 0xc0;
    p[n++] = (uint8_t)self;
    static const uint8_t rest[] = {0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};
    memcpy(p + n, rest, sizeof rest);
    n += sizeof rest;
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_MALFORMED);

    /* Two pointers pointing at each other. */
    n = header(p, 0x84, 0, 1, 1, 0, 0);
    n += question(p + n);
    size_t at = n;
    p[n++] = 0xc0;
    p[n++] = (uint8_t)(at + 2);
    p[n++] = 0xc0;
    p[n++] = (uint8_t)at;
    memcpy(p + n, rest, sizeof rest);
    n += sizeof rest;
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_MALFORMED);

    /* A pointer beyond the end of the packet. */
    n = header(p, 0x84, 0, 1, 1, 0, 0);
    n += question(p + n);
    p[n++] = 0xc1;
    p[n++] = 0xff;
    memcpy(p + n, rest, sizeof rest);
    n += sizeof rest;
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_MALFORMED);

    /* A valid answer compressed the normal way: owner points at the question name. */
    n = header(p, 0x84, 0, 1, 1, 0, 0);
    n += question(p + n);
    p[n++] = 0xc0;
    p[n++] = 12;
    memcpy(p + n, rest, sizeof rest);
    n += sizeof rest;
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.answers, 1);

    /* An SOA whose rdata is too short for a serial: no SOA, but the reply is ldns's call. */
    n = header(p, 0x84, 0, 1, 1, 0, 0);
    n += question(p + n);
    static const uint8_t short_soa[] = {0xc0, 12, 0, 6, 0, 1, 0, 0, 1, 44, 0, 2, 0, 0};
    memcpy(p + n, short_soa, sizeof short_soa);
    n += sizeof short_soa;
    dns_answer_verdict_t v = judge(p, n, &a);
    assert_true(v == DNS_ANSWER_VALID || v == DNS_ANSWER_MALFORMED);
    assert_int_equal(a.has_soa, 0);

    /* Extended rcode from an OPT record: BADVERS (16) = ext 1, header rcode 0. */
    n = header(p, 0x84, 0, 1, 0, 0, 1);
    n += question(p + n);
    static const uint8_t opt[] = {0, 0, 41, 4, 208, 1, 0, 0, 0, 0, 0};
    memcpy(p + n, opt, sizeof opt);
    n += sizeof opt;
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.rcode, 16);

    /* Three TSIG records in the additional section: ldns_wire2pkt() would keep one aside and
     * leak the others (ASan's leak check catches that in the SANITIZE build). */
    n = header(p, 0x84, 0, 1, 0, 0, 3);
    n += question(p + n);
    for (int i = 0; i < 3; i++) {
        static const uint8_t tsig[] = {0, 0, 250, 0, 255, 0,  0, 0, 0,    0,    17, 0, 0, 0,
                                       0, 0, 0,   1, 1,   44, 0, 0, 0x42, 0x42, 0,  0, 0, 0};
        memcpy(p + n, tsig, sizeof tsig);
        n += sizeof tsig;
    }
    v = judge(p, n, &a);
    assert_int_equal(v, DNS_ANSWER_VALID);

    /* Random bytes with our id and the QR bit never crash and never pass as an answer
     * with a matching question by accident. */
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t len = 12 + (size_t)(round % 200);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            p[i] = (uint8_t)(seed >> 16);
        }
        header(p, (uint8_t)(0x80 | p[2]), p[3], p[4], p[6], p[8], p[10]);
        v = judge(p, len, &a);
        assert_true(v <= DNS_ANSWER_WRONG_QUESTION);
    }
}

/* ---- records ---- */

#define REC_MAX 24

/* A reply to QID about qname/qtype with the given records (presentation form) by section. */
typedef struct records_spec {
    const char *name;
    const char *qname;
    uint16_t qtype;
    const char *answer[REC_MAX];
    const char *authority[2];
    const char *additional[2];
    dns_answer_record_t want[DNS_ANSWER_RECORDS_MAX + 1]; /* ended by type 0 */
    int left_out;
} records_spec_t;

static void push_rrs(ldns_pkt *p, ldns_pkt_section section, const char *const *rrs, size_t max)
{
    for (size_t i = 0; i < max && rrs[i]; i++) {
        ldns_rr *rr = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 300, NULL, NULL), LDNS_STATUS_OK);
        ldns_pkt_push_rr(p, section, rr);
    }
}

/* Builds the wire form of r's reply; the caller frees it. */
static uint8_t *build_records(const records_spec_t *r, size_t *len)
{
    ldns_pkt *p = ldns_pkt_new();
    assert_non_null(p);
    ldns_pkt_set_id(p, QID);
    ldns_pkt_set_qr(p, 1);
    ldns_pkt_set_aa(p, 1);
    ldns_rr *q = ldns_rr_new();
    ldns_rr_set_owner(q, ldns_dname_new_frm_str(r->qname));
    ldns_rr_set_type(q, r->qtype);
    ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
    ldns_rr_set_question(q, true);
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
    push_rrs(p, LDNS_SECTION_ANSWER, r->answer, REC_MAX);
    push_rrs(p, LDNS_SECTION_AUTHORITY, r->authority, 2);
    push_rrs(p, LDNS_SECTION_ADDITIONAL, r->additional, 2);
    uint8_t *wire = NULL;
    assert_int_equal(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
    ldns_pkt_free(p);
    return wire;
}

#define A_RR(n) "many.parallax.test. IN A 192.0.2." #n

static const records_spec_t record_rows[] = {
    {"an A",
     QNAME,
     LDNS_RR_TYPE_A,
     {"www.parallax.test. IN A 192.0.2.80"},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_A, 0, "www.parallax.test.", "192.0.2.80"}},
     0},
    {"an AAAA, address in its short lower-case form",
     QNAME,
     LDNS_RR_TYPE_AAAA,
     {"www.parallax.test. IN AAAA 2001:DB8:0:0::1"},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_AAAA, 0, "www.parallax.test.", "2001:db8::1"}},
     0},
    {"two NS, upper-case names lowered",
     "parallax.test.",
     LDNS_RR_TYPE_NS,
     {"PARALLAX.test. IN NS NS1.Parallax.TEST.", "parallax.test. IN NS ns2.example."},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_NS, 0, "parallax.test.", "ns1.parallax.test."},
      {LDNS_RR_TYPE_NS, 0, "parallax.test.", "ns2.example."}},
     0},
    {"MX with their preferences, in the answer's order",
     "parallax.test.",
     LDNS_RR_TYPE_MX,
     {"parallax.test. IN MX 20 mx2.parallax.test.", "parallax.test. IN MX 10 mail.parallax.test."},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_MX, 20, "parallax.test.", "mx2.parallax.test."},
      {LDNS_RR_TYPE_MX, 10, "parallax.test.", "mail.parallax.test."}},
     0},
    {"a CNAME chain ending in an A",
     QNAME,
     LDNS_RR_TYPE_A,
     {"www.parallax.test. IN CNAME web.parallax.test.",
      "web.parallax.test. IN CNAME edge.cdn.test.", "edge.cdn.test. IN A 192.0.2.90"},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_CNAME, 0, "www.parallax.test.", "web.parallax.test."},
      {LDNS_RR_TYPE_CNAME, 0, "web.parallax.test.", "edge.cdn.test."},
      {LDNS_RR_TYPE_A, 0, "edge.cdn.test.", "192.0.2.90"}},
     0},
    {"authority and additional records are not the answer",
     "parallax.test.",
     LDNS_RR_TYPE_MX,
     {"parallax.test. IN MX 10 mail.parallax.test."},
     {"parallax.test. IN NS ns1.parallax.test."},
     {"mail.parallax.test. IN A 192.0.2.25"},
     {{LDNS_RR_TYPE_MX, 10, "parallax.test.", "mail.parallax.test."}},
     0},
    {"other types skipped, not counted",
     QNAME,
     LDNS_RR_TYPE_A,
     {"www.parallax.test. IN TXT \"hello\"", SOA_RR, "www.parallax.test. IN TYPE65280 \\# 2 abcd",
      "www.parallax.test. IN A 192.0.2.80"},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_A, 0, "www.parallax.test.", "192.0.2.80"}},
     0},
    {"special and odd bytes escaped",
     QNAME,
     LDNS_RR_TYPE_A,
     {"a\\.b\\195.parallax.test. IN A 192.0.2.1", "\\@x.parallax.test. IN CNAME sp\\032ce.test."},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_A, 0, "a\\.b\\195.parallax.test.", "192.0.2.1"},
      {LDNS_RR_TYPE_CNAME, 0, "\\@x.parallax.test.", "sp\\032ce.test."}},
     0},
    {"the root as a name",
     ".",
     LDNS_RR_TYPE_NS,
     {". IN NS a.root-servers.test."},
     {NULL},
     {NULL},
     {{LDNS_RR_TYPE_NS, 0, ".", "a.root-servers.test."}},
     0},
    {"more than 16: the first 16 kept, the rest counted",
     "many.parallax.test.",
     LDNS_RR_TYPE_A,
     {A_RR(1),  A_RR(2),  A_RR(3),  A_RR(4),  A_RR(5),  A_RR(6),  A_RR(7),
      A_RR(8),  A_RR(9),  A_RR(10), A_RR(11), A_RR(12), A_RR(13), A_RR(14),
      A_RR(15), A_RR(16), A_RR(17), A_RR(18), A_RR(19), A_RR(20)},
     {NULL},
     {NULL},
     {{1, 0, "many.parallax.test.", "192.0.2.1"},
      {1, 0, "many.parallax.test.", "192.0.2.2"},
      {1, 0, "many.parallax.test.", "192.0.2.3"},
      {1, 0, "many.parallax.test.", "192.0.2.4"},
      {1, 0, "many.parallax.test.", "192.0.2.5"},
      {1, 0, "many.parallax.test.", "192.0.2.6"},
      {1, 0, "many.parallax.test.", "192.0.2.7"},
      {1, 0, "many.parallax.test.", "192.0.2.8"},
      {1, 0, "many.parallax.test.", "192.0.2.9"},
      {1, 0, "many.parallax.test.", "192.0.2.10"},
      {1, 0, "many.parallax.test.", "192.0.2.11"},
      {1, 0, "many.parallax.test.", "192.0.2.12"},
      {1, 0, "many.parallax.test.", "192.0.2.13"},
      {1, 0, "many.parallax.test.", "192.0.2.14"},
      {1, 0, "many.parallax.test.", "192.0.2.15"},
      {1, 0, "many.parallax.test.", "192.0.2.16"}},
     4},
};

static void test_records(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof record_rows / sizeof record_rows[0]; i++) {
        const records_spec_t *r = &record_rows[i];
        print_message("row: %s\n", r->name);
        size_t len = 0;
        uint8_t *wire = build_records(r, &len);
        dns_answer_t a;
        dns_answer_verdict_t v = judge_as(r->qname, r->qtype, wire, len, &a);
        free(wire);
        assert_int_equal(v, DNS_ANSWER_VALID);
        size_t want = 0;
        while (want < DNS_ANSWER_RECORDS_MAX && r->want[want].type)
            want++;
        assert_int_equal(a.n_records, want);
        assert_int_equal(a.records_left_out, r->left_out);
        for (size_t k = 0; k < want; k++) {
            assert_int_equal(a.records[k].type, r->want[k].type);
            assert_int_equal(a.records[k].preference, r->want[k].preference);
            assert_string_equal(a.records[k].name, r->want[k].name);
            assert_string_equal(a.records[k].data, r->want[k].data);
        }
    }
}

/* A name of 198 bytes, short enough for DNS but four times longer once its odd bytes are
 * escaped: its record is left out and counted, never cut. (Built by hand: ldns refuses to
 * read a name from text that long.) */
static void test_records_name_too_long(void **state)
{
    (void)state;
    uint8_t p[600] = {0};
    size_t n = header(p, 0x84, 0, 1, 2, 0, 0);
    n += question(p + n);
    for (int label = 0; label < 3; label++) {
        p[n++] = 60;
        memset(p + n, 1, 60);
        n += 60;
    }
    p[n++] = 0xc0; /* ... then www.parallax.test. from the question */
    p[n++] = 12;
    static const uint8_t a1[] = {0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};
    memcpy(p + n, a1, sizeof a1);
    n += sizeof a1;
    static const uint8_t a2[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 2};
    memcpy(p + n, a2, sizeof a2);
    n += sizeof a2;
    dns_answer_t a;
    assert_int_equal(judge(p, n, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.n_records, 1);
    assert_int_equal(a.records_left_out, 1);
    assert_string_equal(a.records[0].name, "www.parallax.test.");
    assert_string_equal(a.records[0].data, "192.0.2.2");
}

/* A reply that is not valid carries no records, whatever its answer section holds. */
static void test_records_only_when_valid(void **state)
{
    (void)state;
    records_spec_t r = {.name = "",
                        .qname = QNAME,
                        .qtype = LDNS_RR_TYPE_A,
                        .answer = {"www.parallax.test. IN A 192.0.2.80"}};
    size_t len = 0;
    uint8_t *wire = build_records(&r, &len);
    dns_answer_t a;
    assert_int_equal(judge_as(QNAME, LDNS_RR_TYPE_A, wire, len, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.n_records, 1);
    /* The same reply judged against another question. */
    assert_int_equal(judge_as("other.parallax.test.", LDNS_RR_TYPE_A, wire, len, &a),
                     DNS_ANSWER_WRONG_QUESTION);
    assert_int_equal(a.n_records, 0);
    assert_string_equal(a.records[0].name, "");
    /* Cut inside the record, TC=1: valid (TCP will tell), but nothing read from it. */
    wire[2] |= 0x02;
    assert_int_equal(judge_as(QNAME, LDNS_RR_TYPE_A, wire, len - 2, &a), DNS_ANSWER_VALID);
    assert_int_equal(a.tc, 1);
    assert_int_equal(a.n_records, 0);
    /* And without TC, malformed. */
    wire[2] &= (uint8_t)~0x02;
    assert_int_equal(judge_as(QNAME, LDNS_RR_TYPE_A, wire, len - 2, &a), DNS_ANSWER_MALFORMED);
    assert_int_equal(a.n_records, 0);
    free(wire);
}

static void test_names(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(dns_answer_rcode_name(0, buf, sizeof buf), "NOERROR");
    assert_string_equal(dns_answer_rcode_name(2, buf, sizeof buf), "SERVFAIL");
    assert_string_equal(dns_answer_rcode_name(5, buf, sizeof buf), "REFUSED");
    assert_string_equal(dns_answer_rcode_name(16, buf, sizeof buf), "BADVERS");
    assert_string_equal(dns_answer_rcode_name(23, buf, sizeof buf), "RCODE23");
    assert_string_equal(dns_answer_verdict_name(DNS_ANSWER_VALID), "valid");
    assert_string_equal(dns_answer_type_name(LDNS_RR_TYPE_MX), "MX");
    assert_string_equal(dns_answer_type_name(LDNS_RR_TYPE_CNAME), "CNAME");
    assert_null(dns_answer_type_name(LDNS_RR_TYPE_SOA));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_built_table),
        cmocka_unit_test(test_handmade_packets),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_records_only_when_valid),
        cmocka_unit_test(test_records_name_too_long),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
