/* Unit tests for the dns probe kind: against a real nsd serving a test zone on loopback
 * (answers and their records as encoded for the wire, SOA serial, NXDOMAIN, REFUSED for a
 * foreign zone, TCP after a truncated answer, many runs at once), against fake servers in a thread
 * of the test (silence, garbage, the wrong id, source or question, SERVFAIL, truncated answers
 * followed by good, short or garbage TCP answers), and inside a network namespace of its own (ICMP
 * host unreachable, no route). Every wait is bounded; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_skip.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "probe_harness.h"
#include "probe_dns.h"
#include "result_detail.h"
#include "result_wire.h"

#define ZONE "parallax.test."
#define SERIAL 2026112201u
#define NSD_BIN "/usr/sbin/nsd"

/* ---- running one probe ---- */

typedef harness_outcome_t outcome_t;

/* The run's dns details; the test fails when there are none. */
static probe_dns_detail_t dns_of(const probe_result_t *r)
{
    probe_dns_detail_t d = {0};
    harness_need_detail(probe_dns_detail(r, &d), r, "dns");
    return d;
}

/* The run's result as the agent sends it (result_wire_fill(), the kind's encode()), checked
 * as the coordinator checks it. Valid until the next call. */
static const Parallax__DnsInfo *wire_dns(const probe_result_t *r)
{
    static result_wire_t w;
    result_wire_fill(&w, r, 1, 1, 0);
    assert_non_null(w.res.dns);
    err_t err = {{0}};
    if (result_detail_validate(&w.res, &err) < 0)
        fail_msg("the encoded details do not validate: %s", err.msg);
    return w.res.dns;
}

/* Fails unless record i of m is type name address host preference ("" for none). */
static void assert_record(const Parallax__DnsInfo *m, size_t i, const char *type, const char *name,
                          const char *address, const char *host, uint32_t preference)
{
    assert_true(i < m->n_records);
    const Parallax__DnsRecord *r = m->records[i];
    assert_string_equal(r->type, type);
    assert_string_equal(r->name, name);
    assert_string_equal(r->address, address);
    assert_string_equal(r->host, host);
    assert_int_equal(r->preference, preference);
}

static probe_target_t dns_target(int family, uint16_t port, const char *spec, uint32_t timeout_ms)
{
    return harness_target(PROBE_KIND_DNS, spec, family == AF_INET6 ? "::1" : "127.0.0.1", port,
                          timeout_ms);
}

static outcome_t run_probe(const probe_target_t *t)
{
    return harness_run(NULL, t, 5000);
}

/* ---- sockets ---- */

static socklen_t loopback(int family, uint16_t port, probe_addr_t *a)
{
    memset(a, 0, sizeof *a);
    if (family == AF_INET6) {
        a->v6.sin6_family = AF_INET6;
        a->v6.sin6_addr = in6addr_loopback;
        a->v6.sin6_port = htons(port);
        return sizeof a->v6;
    }
    a->v4.sin_family = AF_INET;
    a->v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->v4.sin_port = htons(port);
    return sizeof a->v4;
}

/* A socket of type bound to loopback:port (0 = any); fills *port. -1 on failure. */
static int bound_socket(int family, int type, uint16_t *port)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    probe_addr_t a;
    socklen_t len = loopback(family, *port, &a);
    if (bind(fd, &a.sa, len) < 0 || getsockname(fd, &a.sa, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
    return fd;
}

/* Binds a UDP and a TCP socket to the same free loopback port. Returns 0 or -1. */
static int bound_pair(int family, int *udp, int *tcp, uint16_t *port)
{
    for (int tries = 0; tries < 50; tries++) {
        *port = 0;
        *udp = bound_socket(family, SOCK_DGRAM, port);
        if (*udp < 0)
            return -1;
        *tcp = bound_socket(family, SOCK_STREAM, port);
        if (*tcp >= 0)
            return 0;
        close(*udp);
    }
    return -1;
}

/* ---- fake DNS servers (a thread with blocking, time-bounded I/O) ---- */

typedef enum fake_mode {
    FAKE_OK,               /* one A record */
    FAKE_SILENT,           /* reads the query, never answers */
    FAKE_GARBAGE,          /* random bytes */
    FAKE_WRONG_ID,         /* a correct answer with another id */
    FAKE_WRONG_ID_THEN_OK, /* that, then the right answer */
    FAKE_WRONG_QUESTION,   /* our id, another name */
    FAKE_OTHER_SOURCE,     /* the right answer, from another port */
    FAKE_SERVFAIL,
    FAKE_FORMERR_BARE,    /* FORMERR with our id and no question section */
    FAKE_TC_TCP_OK,       /* TC=1, then 40 records over TCP */
    FAKE_TC_TCP_SHORT,    /* TC=1, then a length prefix longer than what follows */
    FAKE_TC_TCP_ONE_BYTE, /* TC=1, then half a length prefix */
    FAKE_TC_TCP_GARBAGE,  /* TC=1, then a prefixed blob of junk */
    FAKE_TC_TCP_ZERO,     /* TC=1, then a length prefix of 0 */
    FAKE_TC_TCP_WRONG_ID, /* TC=1, then a good answer with another id */
    FAKE_TC_NO_TCP,       /* TC=1, nothing listens on TCP */
} fake_mode_t;

typedef struct fake {
    fake_mode_t mode;
    int family;
    int udp, tcp;
    uint16_t port;
    pthread_t thread;
    /* What the server saw of the query. */
    int got_udp, got_tcp;
    int rd, arcount, qdcount;
    uint16_t id, tcp_id;
    char qname[256];
    uint16_t qtype;
} fake_t;

/* Waits up to 3 s for fd to become readable. */
static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 3000) == 1;
}

/* Builds an answer to query q with n A records; returns wire bytes (caller frees). */
static uint8_t *answer_wire(const ldns_pkt *q, uint16_t id, int n, int tc, uint8_t rcode,
                            const char *qname, size_t *len)
{
    ldns_pkt *p = ldns_pkt_new();
    ldns_pkt_set_id(p, id);
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_aa(p, true);
    ldns_pkt_set_tc(p, tc);
    ldns_pkt_set_rcode(p, rcode);
    const ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
    ldns_rr *question = ldns_rr_clone(qrr);
    if (qname) {
        ldns_rdf_deep_free(ldns_rr_owner(question));
        ldns_rr_set_owner(question, ldns_dname_new_frm_str(qname));
    }
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, question);
    for (int i = 0; i < n; i++) {
        char text[128];
        snprintf(text, sizeof text, "www.parallax.test. 300 IN A 192.0.2.%d", i + 1);
        ldns_rr *rr = NULL;
        ldns_rr_new_frm_str(&rr, text, 300, NULL, NULL);
        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
    }
    uint8_t *wire = NULL;
    ldns_pkt2wire(&wire, p, len);
    ldns_pkt_free(p);
    return wire;
}

static void send_prefixed(int fd, const uint8_t *data, size_t len, size_t claimed)
{
    uint8_t pre[2] = {(uint8_t)(claimed >> 8), (uint8_t)claimed};
    (void)!send(fd, pre, 2, MSG_NOSIGNAL);
    if (len)
        (void)!send(fd, data, len, MSG_NOSIGNAL);
}

/* Serves the TCP half of the TC modes: accepts one connection, reads the query, answers. */
static void fake_tcp(fake_t *f, const ldns_pkt *udp_query)
{
    if (!readable(f->tcp))
        return;
    int c = accept(f->tcp, NULL, NULL);
    if (c < 0)
        return;
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t buf[2048];
    size_t have = 0, need = 2;
    while (have < need) {
        ssize_t n = recv(c, buf + have, need - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == 2)
            need = 2 + ((size_t)buf[0] << 8 | buf[1]);
    }
    ldns_pkt *q = NULL;
    if (have == need && need > 2 && ldns_wire2pkt(&q, buf + 2, need - 2) == LDNS_STATUS_OK) {
        f->got_tcp = 1;
        f->tcp_id = ldns_pkt_id(q);
    }
    size_t len = 0;
    uint8_t *wire = NULL;
    static const uint8_t junk[20] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,
                                     7,    8,    9,    10,   11, 12, 13, 14, 15, 16};
    switch (f->mode) {
    case FAKE_TC_TCP_OK:
        wire = answer_wire(udp_query, f->tcp_id, 40, 0, 0, NULL, &len);
        send_prefixed(c, wire, len, len);
        break;
    case FAKE_TC_TCP_WRONG_ID:
        wire = answer_wire(udp_query, (uint16_t)(f->tcp_id + 1), 1, 0, 0, NULL, &len);
        send_prefixed(c, wire, len, len);
        break;
    case FAKE_TC_TCP_SHORT:
        wire = answer_wire(udp_query, f->tcp_id, 1, 0, 0, NULL, &len);
        send_prefixed(c, wire, len / 2, len);
        break;
    case FAKE_TC_TCP_ONE_BYTE:
        (void)!send(c, "\x01", 1, MSG_NOSIGNAL);
        break;
    case FAKE_TC_TCP_GARBAGE: {
        /* Our id and the QR bit, so the junk gets as far as ldns. */
        uint8_t ours[sizeof junk];
        memcpy(ours, junk, sizeof junk);
        ours[0] = (uint8_t)(f->tcp_id >> 8);
        ours[1] = (uint8_t)f->tcp_id;
        ours[2] = 0x84;
        send_prefixed(c, ours, sizeof ours, sizeof ours);
        break;
    }
    case FAKE_TC_TCP_ZERO:
        send_prefixed(c, NULL, 0, 0);
        break;
    default:
        break;
    }
    free(wire);
    ldns_pkt_free(q);
    close(c);
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    if (!readable(f->udp))
        return NULL;
    uint8_t buf[2048];
    probe_addr_t from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(f->udp, buf, sizeof buf, 0, &from.sa, &fromlen);
    ldns_pkt *q = NULL;
    if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
        return NULL;
    f->got_udp = 1;
    f->id = ldns_pkt_id(q);
    f->rd = ldns_pkt_rd(q);
    f->arcount = ldns_pkt_arcount(q);
    f->qdcount = ldns_pkt_qdcount(q);
    const ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
    if (qrr) {
        char *name = ldns_rdf2str(ldns_rr_owner(qrr));
        snprintf(f->qname, sizeof f->qname, "%s", name ? name : "");
        free(name);
        f->qtype = ldns_rr_get_type(qrr);
    }
    size_t len = 0;
    uint8_t *wire = NULL;
#define REPLY(w)                                                                                   \
    do {                                                                                           \
        wire = (w);                                                                                \
        (void)!sendto(f->udp, wire, len, 0, &from.sa, fromlen);                                    \
        free(wire);                                                                                \
        wire = NULL;                                                                               \
    } while (0)
    switch (f->mode) {
    case FAKE_OK:
        REPLY(answer_wire(q, f->id, 1, 0, 0, NULL, &len));
        break;
    case FAKE_SILENT:
        break;
    case FAKE_GARBAGE: {
        uint8_t junk[64];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(i * 37 + 11);
        (void)!sendto(f->udp, junk, sizeof junk, 0, &from.sa, fromlen);
        /* Our id and QR, then junk: reaches ldns and fails there. */
        junk[0] = (uint8_t)(f->id >> 8);
        junk[1] = (uint8_t)f->id;
        junk[2] = 0x84;
        (void)!sendto(f->udp, junk, sizeof junk, 0, &from.sa, fromlen);
        break;
    }
    case FAKE_WRONG_ID:
        REPLY(answer_wire(q, (uint16_t)(f->id ^ 0x5a5a), 1, 0, 0, NULL, &len));
        break;
    case FAKE_WRONG_ID_THEN_OK:
        REPLY(answer_wire(q, (uint16_t)(f->id ^ 0x5a5a), 1, 0, 0, NULL, &len));
        REPLY(answer_wire(q, f->id, 1, 0, 0, NULL, &len));
        break;
    case FAKE_WRONG_QUESTION:
        REPLY(answer_wire(q, f->id, 1, 0, 0, "evil.parallax.test.", &len));
        break;
    case FAKE_OTHER_SOURCE: {
        uint16_t other_port = 0;
        int other = bound_socket(f->family, SOCK_DGRAM, &other_port);
        wire = answer_wire(q, f->id, 1, 0, 0, NULL, &len);
        if (other >= 0) {
            (void)!sendto(other, wire, len, 0, &from.sa, fromlen);
            close(other);
        }
        free(wire);
        break;
    }
    case FAKE_SERVFAIL:
        REPLY(answer_wire(q, f->id, 0, 0, LDNS_RCODE_SERVFAIL, NULL, &len));
        break;
    case FAKE_FORMERR_BARE: {
        uint8_t h[12] = {(uint8_t)(f->id >> 8), (uint8_t)f->id, 0x80, LDNS_RCODE_FORMERR};
        (void)!sendto(f->udp, h, sizeof h, 0, &from.sa, fromlen);
        break;
    }
    default: /* the TC modes */
        REPLY(answer_wire(q, f->id, 0, 1, 0, NULL, &len));
        fake_tcp(f, q);
        break;
    }
#undef REPLY
    ldns_pkt_free(q);
    return NULL;
}

/* Starts a fake server; returns 0, or -1 if no port pair could be bound. */
static int fake_start(fake_t *f, fake_mode_t mode, int family)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->family = family;
    if (bound_pair(family, &f->udp, &f->tcp, &f->port) < 0)
        return -1;
    /* FAKE_TC_NO_TCP keeps the TCP port bound but not listening: connects get a reset. */
    if (mode != FAKE_TC_NO_TCP && listen(f->tcp, 4) < 0)
        return -1;
    return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(fake_t *f)
{
    pthread_join(f->thread, NULL);
    close(f->udp);
    close(f->tcp);
}

/* Runs spec against a fake server in mode and returns the result; checks the query. */
static outcome_t against_fake(fake_mode_t mode, int family, const char *spec, uint32_t timeout_ms,
                              fake_t *f)
{
    if (fake_start(f, mode, family) < 0) {
        fail_msg("cannot bind a fake DNS server on loopback");
    }
    probe_target_t t = dns_target(family, f->port, spec, timeout_ms);
    outcome_t o = run_probe(&t);
    fake_stop(f);
    assert_int_equal(o.done, 1);
    /* What the wire contract promises: one question, RD=0, no EDNS0 OPT record. */
    assert_true(f->got_udp);
    assert_int_equal(f->qdcount, 1);
    assert_int_equal(f->rd, 0);
    assert_int_equal(f->arcount, 0);
    return o;
}

static void test_fake_ok_and_query_shape(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_OK, AF_INET, "dns:WWW.parallax.test:A", 2000, &f);
    assert_string_equal(f.qname, "WWW.parallax.test.");
    assert_int_equal(f.qtype, LDNS_RR_TYPE_A);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(probe_dns_detail(&o.res, NULL), 0);
    assert_int_equal(dns_of(&o.res).answers, 1);
    assert_int_equal(dns_of(&o.res).aa, 1);
    assert_int_equal(dns_of(&o.res).over_tcp, 0);
    assert_int_equal(o.res.app_code, 0);
    assert_true(o.res.rtt_us > 0);
    const Parallax__DnsInfo *m = wire_dns(&o.res);
    assert_int_equal(m->n_records, 1);
    assert_record(m, 0, "A", "www.parallax.test.", "192.0.2.1", "", 0);

    /* Two runs draw different ids (one chance in 65536 of a false failure... thrice). */
    uint16_t ids[3];
    for (int i = 0; i < 3; i++) {
        against_fake(FAKE_OK, AF_INET, "dns:www.parallax.test", 2000, &f);
        ids[i] = f.id;
    }
    assert_false(ids[0] == ids[1] && ids[1] == ids[2]);
}

static void test_fake_ipv6(void **state)
{
    (void)state;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    probe_addr_t a;
    socklen_t len = loopback(AF_INET6, 0, &a);
    if (fd < 0 || bind(fd, &a.sa, len) < 0) {
        if (fd >= 0)
            close(fd);
        PX_SKIP_WITHOUT_IPV6();
        fail_msg("cannot bind on the IPv6 loopback");
    }
    close(fd);
    fake_t f;
    outcome_t o = against_fake(FAKE_OK, AF_INET6, "dns:www.parallax.test:AAAA", 2000, &f);
    assert_int_equal(f.qtype, LDNS_RR_TYPE_AAAA);
    /* The fake answers with an A record to an AAAA question: still an answer. */
    assert_int_equal(o.res.status, PX_STATUS_OK);
}

static void test_fake_silent_is_timeout(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_SILENT, AF_INET, "dns:www.parallax.test", 500, &f);
    assert_int_equal(o.res.status, PX_STATUS_TIMEOUT);
    assert_int_equal(probe_dns_detail(&o.res, NULL), -1);
    assert_non_null(strstr(o.res.message, "500 ms"));
}

static void test_fake_other_source_is_ignored(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_OTHER_SOURCE, AF_INET, "dns:www.parallax.test", 500, &f);
    assert_int_equal(o.res.status, PX_STATUS_TIMEOUT);
}

static void test_fake_unusable_replies(void **state)
{
    (void)state;
    static const struct {
        fake_mode_t mode;
        const char *why;
    } cases[] = {
        {FAKE_GARBAGE, "malformed"},
        {FAKE_WRONG_ID, "not a reply"},
        {FAKE_WRONG_QUESTION, "another question"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        outcome_t o = against_fake(cases[i].mode, AF_INET, "dns:www.parallax.test", 500, &f);
        /* Ignored while waiting, but at the end they are evidence of a broken server. */
        assert_int_equal(o.res.status, PX_STATUS_PROTOCOL_ERROR);
        assert_non_null(strstr(o.res.message, cases[i].why));
        assert_int_equal(probe_dns_detail(&o.res, NULL), -1);
    }
}

static void test_fake_wrong_id_then_ok(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_WRONG_ID_THEN_OK, AF_INET, "dns:www.parallax.test", 2000, &f);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(dns_of(&o.res).answers, 1);
}

static void test_fake_rcodes(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_SERVFAIL, AF_INET, "dns:www.parallax.test", 2000, &f);
    assert_int_equal(o.res.status, PX_STATUS_APP_ERROR);
    assert_int_equal(o.res.app_code, 2);
    assert_int_equal(dns_of(&o.res).rcode, 2);
    assert_non_null(strstr(o.res.message, "SERVFAIL"));

    o = against_fake(FAKE_FORMERR_BARE, AF_INET, "dns:www.parallax.test", 2000, &f);
    assert_int_equal(o.res.status, PX_STATUS_APP_ERROR);
    assert_int_equal(o.res.app_code, 1);
    assert_non_null(strstr(o.res.message, "FORMERR"));
}

static void test_fake_truncated_then_tcp(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_TC_TCP_OK, AF_INET, "dns:www.parallax.test", 2000, &f);
    assert_true(f.got_tcp);
    assert_int_equal(f.tcp_id, f.id);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(dns_of(&o.res).over_tcp, 1);
    assert_int_equal(dns_of(&o.res).answers, 40);
    assert_non_null(strstr(o.res.message, "over TCP"));
    /* The records come from the TCP answer: the first 16 of 40, the rest counted. */
    assert_int_equal(dns_of(&o.res).n_records, PROBE_DNS_RECORDS_MAX);
    assert_int_equal(dns_of(&o.res).records_left_out, 40 - PROBE_DNS_RECORDS_MAX);
    const Parallax__DnsInfo *m = wire_dns(&o.res);
    assert_int_equal(m->n_records, PROBE_DNS_RECORDS_MAX);
    assert_record(m, 0, "A", "www.parallax.test.", "192.0.2.1", "", 0);
    assert_record(m, 15, "A", "www.parallax.test.", "192.0.2.16", "", 0);
}

static void test_fake_truncated_then_bad_tcp(void **state)
{
    (void)state;
    static const struct {
        fake_mode_t mode;
        px_status_t status;
        const char *why;
    } cases[] = {
        {FAKE_TC_TCP_SHORT, PX_STATUS_PROTOCOL_ERROR, "cut short"},
        {FAKE_TC_TCP_ONE_BYTE, PX_STATUS_PROTOCOL_ERROR, "cut short"},
        {FAKE_TC_TCP_GARBAGE, PX_STATUS_PROTOCOL_ERROR, "malformed"},
        {FAKE_TC_TCP_ZERO, PX_STATUS_PROTOCOL_ERROR, "length 0"},
        {FAKE_TC_TCP_WRONG_ID, PX_STATUS_PROTOCOL_ERROR, "not a reply"},
        {FAKE_TC_NO_TCP, PX_STATUS_REFUSED, "refused"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        outcome_t o = against_fake(cases[i].mode, AF_INET, "dns:www.parallax.test", 2000, &f);
        assert_int_equal(o.res.status, cases[i].status);
        assert_non_null(strstr(o.res.message, cases[i].why));
    }
}

static void test_closed_port_is_refused(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = bound_socket(AF_INET, SOCK_DGRAM, &port);
    assert_true(fd >= 0);
    close(fd); /* now nothing listens there: the kernel answers with port unreachable */
    probe_target_t t = dns_target(AF_INET, port, "dns:www.parallax.test", 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_REFUSED);
    assert_non_null(strstr(o.res.message, "port unreachable"));
}

static void test_bad_specs_are_local_errors(void **state)
{
    (void)state;
    probe_target_t t = dns_target(AF_INET, 53, NULL, 500);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_LOCAL_ERROR);
    t.spec = "dns:bad..name";
    o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_LOCAL_ERROR);
    assert_non_null(strstr(o.res.message, "bad dns spec"));
    t.spec = "tcp:53";
    o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_LOCAL_ERROR);
}

/* ---- ICMP errors and local failures, inside a network namespace of the test's own ---- */

typedef struct netns {
    char name[64];
    int orig; /* our own namespace, to return to */
} netns_t;

/* Creates a namespace with lo up and enters it (this thread only). Returns 0, or -1 with
 * *why set when this environment cannot do it (not root, no ip). */
static int netns_enter(netns_t *ns, const char **why)
{
    snprintf(ns->name, sizeof ns->name, "pxdns-%d", (int)getpid());
    ns->orig = -1;
    if (geteuid() != 0) {
        *why = "network namespaces need root";
        return -1;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip netns add %s 2>/dev/null && ip -n %s link set lo up", ns->name,
             ns->name);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", ns->name);
        (void)!system(cmd);
        *why = "cannot create a network namespace (ip netns add)";
        return -1;
    }
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", ns->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ns->orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ns->orig < 0 || setns(fd, CLONE_NEWNET) < 0) {
        if (fd >= 0)
            close(fd);
        *why = "cannot enter the network namespace";
        return -1;
    }
    close(fd);
    return 0;
}

/* Returns to our own namespace and deletes the test's; safe to call after a failed enter. */
static void netns_leave(netns_t *ns)
{
    if (ns->orig >= 0) {
        if (setns(ns->orig, CLONE_NEWNET) < 0)
            fail_msg("cannot return to the original network namespace");
        close(ns->orig);
        ns->orig = -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", ns->name);
    (void)!system(cmd);
}

static void test_icmp_host_unreachable(void **state)
{
    (void)state;
    netns_t ns;
    const char *why = NULL;
    if (netns_enter(&ns, &why) < 0) {
        netns_leave(&ns);
        PX_SKIP_UNLESS_ROOT(why);
    }
    /* The namespace's own firewall answers queries to port 5300 with an ICMP host
     * unreachable, as a router would for a host that is gone. */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ip netns exec %s nft add table ip pxt && "
             "ip netns exec %s nft add chain ip pxt in '{ type filter hook input priority 0; }' && "
             "ip netns exec %s nft add rule ip pxt in udp dport 5300 reject with icmp type "
             "host-unreachable",
             ns.name, ns.name, ns.name);
    int nft = system(cmd);
    outcome_t unreach = {0}, noroute = {0};
    if (nft == 0) {
        probe_target_t t = dns_target(AF_INET, 5300, "dns:www.parallax.test", 2000);
        unreach = run_probe(&t);
    }
    /* No route at all to a documentation address: the vantage's own failure. */
    probe_target_t t = dns_target(AF_INET, 53, "dns:www.parallax.test", 2000);
    inet_pton(AF_INET, "198.51.100.53", &t.addr.v4.sin_addr);
    noroute = run_probe(&t);
    netns_leave(&ns);

    assert_int_equal(noroute.res.status, PX_STATUS_LOCAL_ERROR);
    assert_non_null(strstr(noroute.res.message, "unreachable"));
    if (nft != 0) {
        fail_msg("nft cannot add a reject rule in the test's namespace");
    }
    assert_int_equal(unreach.res.status, PX_STATUS_UNREACHABLE);
    assert_int_equal(unreach.res.icmp_type, 3);
    assert_int_equal(unreach.res.icmp_code, 1);
    assert_string_equal(unreach.res.icmp_from, "127.0.0.1");
}

/* ---- a real nsd ---- */

/* nsd, run by the harness beside the tests. */
typedef harness_daemon_t nsd_t;

/* Asks nsd for the zone's SOA until it answers (at most 50 tries 100 ms apart). */
static int nsd_ready(nsd_t *n)
{
    ldns_pkt *q =
        ldns_pkt_query_new(ldns_dname_new_frm_str(ZONE), LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
    uint8_t *wire = NULL;
    size_t len = 0;
    ldns_pkt2wire(&wire, q, &len);
    ldns_pkt_free(q);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    probe_addr_t a;
    socklen_t alen = loopback(AF_INET, n->port, &a);
    int ok = 0;
    if (fd >= 0 && connect(fd, &a.sa, alen) == 0) {
        for (int i = 0; i < 50 && !ok; i++) {
            if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
                n->pid = 0;
                break;
            }
            (void)!send(fd, wire, len, 0);
            struct pollfd p = {.fd = fd, .events = POLLIN};
            uint8_t buf[512];
            if (poll(&p, 1, 100) == 1 && recv(fd, buf, sizeof buf, 0) > 0)
                ok = 1;
            else if (p.revents & POLLERR)
                poll(NULL, 0, 100); /* port unreachable: nsd is not listening yet */
        }
    }
    if (fd >= 0)
        close(fd);
    free(wire);
    return ok;
}

static int nsd_setup(void **state)
{
    static nsd_t n;
    memset(&n, 0, sizeof n);
    *state = &n;
    if (access(NSD_BIN, X_OK) != 0) {
        snprintf(n.why, sizeof n.why, "%s not installed", NSD_BIN);
        return 0;
    }
    if (harness_daemon_dir(&n, "nsd") < 0)
        return 0;
    int udp, tcp;
    if (bound_pair(AF_INET, &udp, &tcp, &n.port) < 0) {
        snprintf(n.why, sizeof n.why, "no free port");
        return 0;
    }
    close(udp);
    close(tcp);
    char conf[2048];
    snprintf(conf, sizeof conf,
             "server:\n"
             "    ip-address: 127.0.0.1@%u\n"
             "    port: %u\n"
             "    do-ip6: no\n"
             "    username: \"\"\n"
             "    chroot: \"\"\n"
             "    zonesdir: \"%s\"\n"
             "    database: \"\"\n"
             "    pidfile: \"%s/nsd.pid\"\n"
             "    logfile: \"%s/nsd.log\"\n"
             "    xfrdfile: \"%s/xfrd.state\"\n"
             "    zonelistfile: \"%s/zone.list\"\n"
             "    xfrdir: \"%s\"\n"
             "    server-count: 1\n"
             "    verbosity: 1\n"
             "remote-control:\n"
             "    control-enable: no\n"
             "zone:\n"
             "    name: parallax.test\n"
             "    zonefile: parallax.test.zone\n",
             n.port, n.port, n.dir, n.dir, n.dir, n.dir, n.dir, n.dir);
    char zone[4096];
    int off = snprintf(zone, sizeof zone,
                       "$ORIGIN parallax.test.\n$TTL 300\n"
                       "@ IN SOA ns1 hostmaster %u 3600 900 604800 300\n"
                       "@ IN NS ns1\n"
                       "@ IN NS NS2.Example.\n"
                       "@ IN MX 10 mail\n"
                       "@ IN MX 20 mx2.example.\n"
                       "ns1 IN A 192.0.2.53\n"
                       "www IN A 192.0.2.80\n"
                       "www IN AAAA 2001:db8::80\n"
                       "alias IN CNAME www\n"
                       "mail IN A 192.0.2.25\n",
                       SERIAL);
    /* 30 TXT records of 60 bytes: about 2 KB, too large for a 512-byte UDP answer. */
    for (int i = 0; i < 30 && off < (int)sizeof zone - 100; i++)
        off += snprintf(
            zone + off, sizeof zone - (size_t)off,
            "big IN TXT \"record %02d of a set too large for udp..........................\"\n", i);
    char confpath[128];
    snprintf(confpath, sizeof confpath, "%s/nsd.conf", n.dir);
    if (harness_daemon_write(&n, "nsd.conf", conf) < 0 ||
        harness_daemon_write(&n, "parallax.test.zone", zone) < 0)
        return 0;
    char *const argv[] = {NSD_BIN, "-d", "-c", confpath, NULL};
    (void)harness_daemon_start(&n, "nsd", argv, nsd_ready); /* need_nsd() reports a failure */
    return 0;
}

static int nsd_teardown(void **state)
{
    harness_daemon_stop(*state);
    return 0;
}

static nsd_t *need_nsd(void **state)
{
    nsd_t *n = *state;
    if (n->pid <= 0) {
        fail_msg("nsd: %s", n->why);
    }
    return n;
}

static void test_nsd_a(void **state)
{
    nsd_t *n = need_nsd(state);
    probe_target_t t = dns_target(AF_INET, n->port, "dns:www.parallax.test:A", 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(probe_dns_detail(&o.res, NULL), 0);
    assert_int_equal(dns_of(&o.res).rcode, 0);
    assert_int_equal(dns_of(&o.res).aa, 1);
    assert_int_equal(dns_of(&o.res).answers, 1);
    assert_int_equal(dns_of(&o.res).over_tcp, 0);
    assert_true(o.res.rtt_us > 0);
}

/* What nsd answers is what goes on the wire, record by record: the answer section only (no
 * glue from the additional section), names lower case with their final dot. Sorted by the
 * test, since nsd may rotate a record set. */
static int record_cmp(const void *a, const void *b)
{
    const Parallax__DnsRecord *x = *(Parallax__DnsRecord *const *)a;
    const Parallax__DnsRecord *y = *(Parallax__DnsRecord *const *)b;
    int c = strcmp(x->host, y->host);
    return c ? c : strcmp(x->address, y->address);
}

static const Parallax__DnsInfo *nsd_records(nsd_t *n, const char *spec, size_t want)
{
    probe_target_t t = dns_target(AF_INET, n->port, spec, 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(dns_of(&o.res).records_left_out, 0);
    static Parallax__DnsInfo copy;
    static Parallax__DnsRecord *ptrs[PROBE_DNS_RECORDS_MAX];
    const Parallax__DnsInfo *m = wire_dns(&o.res);
    assert_int_equal(m->n_records, want);
    copy = *m;
    if (m->n_records > 0) /* records is NULL without any, and memcpy's source may not be */
        memcpy(ptrs, m->records, m->n_records * sizeof *ptrs);
    copy.records = ptrs;
    if (want > 1 && strcmp(ptrs[0]->type, "CNAME") != 0)
        qsort(ptrs, m->n_records, sizeof *ptrs, record_cmp);
    return &copy;
}

static void test_nsd_records(void **state)
{
    nsd_t *n = need_nsd(state);
    const Parallax__DnsInfo *m = nsd_records(n, "dns:www.parallax.test:A", 1);
    assert_record(m, 0, "A", "www.parallax.test.", "192.0.2.80", "", 0);
    m = nsd_records(n, "dns:WWW.Parallax.Test:AAAA", 1);
    assert_record(m, 0, "AAAA", "www.parallax.test.", "2001:db8::80", "", 0);
    m = nsd_records(n, "dns:parallax.test:NS", 2);
    assert_record(m, 0, "NS", "parallax.test.", "", "ns1.parallax.test.", 0);
    assert_record(m, 1, "NS", "parallax.test.", "", "ns2.example.", 0);
    m = nsd_records(n, "dns:parallax.test:MX", 2);
    assert_record(m, 0, "MX", "parallax.test.", "", "mail.parallax.test.", 10);
    assert_record(m, 1, "MX", "parallax.test.", "", "mx2.example.", 20);
    /* An in-zone alias: the CNAME, then what it points to, in the answer's order. */
    m = nsd_records(n, "dns:alias.parallax.test:A", 2);
    assert_record(m, 0, "CNAME", "alias.parallax.test.", "", "www.parallax.test.", 0);
    assert_record(m, 1, "A", "www.parallax.test.", "192.0.2.80", "", 0);
    /* An SOA answer has no record of the kept types. */
    m = nsd_records(n, "dns:parallax.test:SOA", 0);
    assert_int_equal(m->n_records, 0);
}

static void test_nsd_soa(void **state)
{
    nsd_t *n = need_nsd(state);
    probe_target_t t = dns_target(AF_INET, n->port, "dns:parallax.test.:SOA", 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(dns_of(&o.res).has_soa, 1);
    assert_int_equal(dns_of(&o.res).soa_serial, SERIAL);
    assert_int_equal(dns_of(&o.res).answers, 1);
    assert_non_null(strstr(o.res.message, "2026112201"));
}

static void test_nsd_nxdomain(void **state)
{
    nsd_t *n = need_nsd(state);
    probe_target_t t = dns_target(AF_INET, n->port, "dns:nope.parallax.test", 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(o.res.app_code, 3);
    assert_int_equal(dns_of(&o.res).rcode, 3);
    assert_int_equal(dns_of(&o.res).aa, 1);
    assert_int_equal(dns_of(&o.res).answers, 0);
    /* The SOA comes in the authority section of a negative answer. */
    assert_int_equal(dns_of(&o.res).has_soa, 1);
    assert_int_equal(dns_of(&o.res).soa_serial, SERIAL);
}

static void test_nsd_foreign_zone_refused(void **state)
{
    nsd_t *n = need_nsd(state);
    probe_target_t t = dns_target(AF_INET, n->port, "dns:example.org:A", 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_APP_ERROR);
    assert_int_equal(o.res.app_code, 5);
    assert_non_null(strstr(o.res.message, "REFUSED"));
}

static void test_nsd_large_answer_over_tcp(void **state)
{
    nsd_t *n = need_nsd(state);
    probe_target_t t = dns_target(AF_INET, n->port, "dns:big.parallax.test:TXT", 2000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(dns_of(&o.res).over_tcp, 1);
    assert_int_equal(dns_of(&o.res).answers, 30);
}

static void test_nsd_many_in_flight(void **state)
{
    nsd_t *n = need_nsd(state);
    /* 50 runs at once on one loop: each gets its own answer (ids and sockets do not mix). */
    enum { RUNS = 50 };
    static probe_target_t t[RUNS];
    static outcome_t o[RUNS];
    for (int i = 0; i < RUNS; i++)
        t[i] = dns_target(AF_INET, n->port,
                          i % 2 ? "dns:parallax.test:SOA" : "dns:www.parallax.test", 3000);
    assert_int_equal(harness_run_many(t, RUNS, o, 10000), RUNS);
    for (int i = 0; i < RUNS; i++) {
        assert_int_equal(o[i].done, 1);
        assert_int_equal(o[i].res.status, PX_STATUS_OK);
        assert_int_equal(dns_of(&o[i].res).has_soa, i % 2);
    }
}

static void test_cancel_in_flight(void **state)
{
    (void)state;
    fake_t f;
    assert_int_equal(fake_start(&f, FAKE_SILENT, AF_INET), 0);
    probe_target_t t = dns_target(AF_INET, f.port, "dns:www.parallax.test", 300);
    /* Cancelled after 100 ms; 400 ms more is past the run's timeout: its timer must be gone. */
    assert_int_equal(harness_cancel_after(NULL, &t, 100, 400), 0);
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_ok_and_query_shape),
        cmocka_unit_test(test_fake_ipv6),
        cmocka_unit_test(test_fake_silent_is_timeout),
        cmocka_unit_test(test_fake_other_source_is_ignored),
        cmocka_unit_test(test_fake_unusable_replies),
        cmocka_unit_test(test_fake_wrong_id_then_ok),
        cmocka_unit_test(test_fake_rcodes),
        cmocka_unit_test(test_fake_truncated_then_tcp),
        cmocka_unit_test(test_fake_truncated_then_bad_tcp),
        cmocka_unit_test(test_closed_port_is_refused),
        cmocka_unit_test(test_bad_specs_are_local_errors),
        cmocka_unit_test(test_cancel_in_flight),
        cmocka_unit_test(test_icmp_host_unreachable),
        cmocka_unit_test(test_nsd_a),
        cmocka_unit_test(test_nsd_soa),
        cmocka_unit_test(test_nsd_records),
        cmocka_unit_test(test_nsd_nxdomain),
        cmocka_unit_test(test_nsd_foreign_zone_refused),
        cmocka_unit_test(test_nsd_large_answer_over_tcp),
        cmocka_unit_test(test_nsd_many_in_flight),
    };
    return cmocka_run_group_tests(tests, nsd_setup, nsd_teardown);
}
