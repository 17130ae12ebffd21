/* Unit tests for probes: tcp against a real listener (OK) and a bound but not listening port
 * (REFUSED) on loopback, icmp echo to loopback (skipped if no ICMP socket can be opened),
 * cancellation, the errno -> status map and the ICMP packet parser as a table of crafted
 * packets. Loops are bounded by a timeout; nothing sleeps. */
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
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "icmp_packet.h"
#include "probe.h"
#include "probe_harness.h"
#include "probe_connect.h"
#include "probe_tcp.h"

static void test_tcp_ok(void **state)
{
    (void)state;
    uint16_t port;
    int fd = harness_tcp_socket(AF_INET, 1, 8, &port);
    assert_true(fd >= 0);
    probe_target_t t = harness_target(PROBE_KIND_TCP, NULL, "127.0.0.1", port, 2000);
    harness_outcome_t o = harness_run(NULL, &t, 5000);
    close(fd);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_true(o.res.rtt_us > 0);
}

static void test_tcp_refused(void **state)
{
    (void)state;
    uint16_t port;
    /* Bound but not listening: the port stays ours and answers with a reset. */
    int fd = harness_tcp_socket(AF_INET, 0, 8, &port);
    assert_true(fd >= 0);
    probe_target_t t = harness_target(PROBE_KIND_TCP, NULL, "127.0.0.1", port, 2000);
    harness_outcome_t o = harness_run(NULL, &t, 5000);
    close(fd);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_REFUSED);
    assert_non_null(strstr(o.res.message, "refused"));
}

static void test_tcp_ipv6(void **state)
{
    (void)state;
    uint16_t port;
    int fd = harness_tcp_socket(AF_INET6, 1, 8, &port);
    if (fd < 0) {
        PX_SKIP_WITHOUT_IPV6();
        fail_msg("cannot listen on the IPv6 loopback");
    }
    probe_target_t t = harness_target(PROBE_KIND_TCP, NULL, "::1", port, 2000);
    harness_outcome_t o = harness_run(NULL, &t, 5000);
    close(fd);
    assert_int_equal(o.res.status, PX_STATUS_OK);
}

static void test_icmp_loopback(void **state)
{
    (void)state;
    probe_target_t t = harness_target(PROBE_KIND_ICMP, NULL, "127.0.0.1", 0, 2000);
    harness_outcome_t o = harness_run(NULL, &t, 5000);
    assert_int_equal(o.done, 1);
    if (o.res.status == PX_STATUS_LOCAL_ERROR && strstr(o.res.message, "cannot open"))
        PX_SKIP_UNLESS_ROOT(o.res.message);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_true(o.res.rtt_us > 0);
}

static void test_icmp6_loopback(void **state)
{
    (void)state;
    probe_target_t t = harness_target(PROBE_KIND_ICMP, NULL, "::1", 0, 2000);
    harness_outcome_t o = harness_run(NULL, &t, 5000);
    assert_int_equal(o.done, 1);
    if (o.res.status == PX_STATUS_LOCAL_ERROR) {
        PX_SKIP_WITHOUT_IPV6();
        PX_SKIP_UNLESS_ROOT(o.res.message);
    }
    assert_int_equal(o.res.status, PX_STATUS_OK);
}

static void test_unsupported_and_error_targets(void **state)
{
    (void)state;
    /* Every kind has ops now; only a value outside the list has none. */
    assert_null(probe_ops_find(PROBE_KIND_COUNT));
    probe_target_t t = harness_target(PROBE_KIND_HTTP, NULL, "127.0.0.1", 80, 2000);
    t.error = "bad probe spec: nonsense";
    harness_outcome_t o = harness_run(NULL, &t, 5000);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_LOCAL_ERROR);
    assert_string_equal(o.res.message, "bad probe spec: nonsense");
}

static void test_cancel_means_no_callback(void **state)
{
    (void)state;
    uint16_t port;
    int fd = harness_tcp_socket(AF_INET, 1, 8, &port);
    probe_target_t tcp = harness_target(PROBE_KIND_TCP, NULL, "127.0.0.1", port, 2000);
    probe_target_t icmp = harness_target(PROBE_KIND_ICMP, NULL, "127.0.0.1", 0, 2000);
    probe_target_t bad = harness_target(PROBE_KIND_DNS, NULL, "127.0.0.1", 0, 2000);
    /* Cancelled at once (bad: with its result already pending), then 200 ms of loop. */
    assert_int_equal(harness_cancel_after(NULL, &tcp, 0, 200), 0);
    assert_int_equal(harness_cancel_after(NULL, &icmp, 0, 200), 0);
    assert_int_equal(harness_cancel_after(NULL, &bad, 0, 200), 0);
    close(fd);
}

static void test_connect_errno_map(void **state)
{
    (void)state;
    assert_int_equal(probe_connect_status(0, 0), PX_STATUS_OK);
    assert_int_equal(probe_connect_status(ECONNREFUSED, 0), PX_STATUS_REFUSED);
    assert_int_equal(probe_connect_status(ECONNREFUSED, 1), PX_STATUS_REFUSED);
    assert_int_equal(probe_connect_status(ETIMEDOUT, 0), PX_STATUS_TIMEOUT);
    /* Accepted, then reset before the connect's outcome was read (a race on a busy host). */
    assert_int_equal(probe_connect_status(ECONNRESET, 0), PX_STATUS_PROTOCOL_ERROR);
    assert_int_equal(probe_connect_status(ECONNRESET, 1), PX_STATUS_LOCAL_ERROR);
    assert_int_equal(probe_connect_status(EHOSTUNREACH, 0), PX_STATUS_UNREACHABLE);
    assert_int_equal(probe_connect_status(ENETUNREACH, 0), PX_STATUS_UNREACHABLE);
    /* At connect() time, no route is the vantage's own problem. */
    assert_int_equal(probe_connect_status(ENETUNREACH, 1), PX_STATUS_LOCAL_ERROR);
    assert_int_equal(probe_connect_status(EADDRNOTAVAIL, 1), PX_STATUS_LOCAL_ERROR);
    assert_int_equal(probe_connect_status(EMFILE, 1), PX_STATUS_LOCAL_ERROR);
}

/* ---- ICMP parser table ---- */

static size_t ipv4_header(uint8_t *p, uint8_t proto, const char *src, const char *dst,
                          uint8_t ihl_words)
{
    memset(p, 0, (size_t)ihl_words * 4);
    p[0] = (uint8_t)(0x40 | ihl_words);
    p[8] = 64;
    p[9] = proto;
    inet_pton(AF_INET, src, p + 12);
    inet_pton(AF_INET, dst, p + 16);
    return (size_t)ihl_words * 4;
}

static size_t icmp_header(uint8_t *p, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
    memset(p, 0, 8);
    p[0] = type;
    p[1] = code;
    p[4] = (uint8_t)(id >> 8);
    p[5] = (uint8_t)id;
    p[6] = (uint8_t)(seq >> 8);
    p[7] = (uint8_t)seq;
    return 8;
}

/* IPv4 + ICMP error (type, code) quoting IPv4 + echo request (id, seq) to dst. */
static size_t v4_error(uint8_t *p, uint8_t type, uint8_t code, uint16_t id, uint16_t seq,
                       const char *dst)
{
    size_t n = ipv4_header(p, 1, "192.0.2.1", "198.51.100.7", 5);
    n += icmp_header(p + n, type, code, 0, 0);
    n += ipv4_header(p + n, 1, "198.51.100.7", dst, 5);
    n += icmp_header(p + n, 8, 0, id, seq);
    return n;
}

static void test_icmp_parser_table(void **state)
{
    (void)state;
    uint8_t pkts[12][128];
    size_t lens[12];
    size_t n;
    /* 0: echo reply with IP header. */
    n = ipv4_header(pkts[0], 1, "203.0.113.5", "198.51.100.7", 5);
    n += icmp_header(pkts[0] + n, 0, 0, 0x1234, 7);
    lens[0] = n + 16;
    /* 1: destination unreachable (host, code 1) quoting our request. */
    lens[1] = v4_error(pkts[1], 3, 1, 0x1234, 8, "203.0.113.5");
    /* 2: time exceeded quoting our request. */
    lens[2] = v4_error(pkts[2], 11, 0, 0x1234, 9, "203.0.113.9");
    /* 3: the error truncated inside the quoted ICMP header. */
    lens[3] = v4_error(pkts[3], 3, 1, 0x1234, 8, "203.0.113.5") - 4;
    memcpy(pkts[3], pkts[1], lens[3]);
    /* 4: garbage. */
    memcpy(pkts[4], "\xff\x00\x13\x37garbage-garbage-garbage", 27);
    lens[4] = 27;
    /* 5: echo reply, wrong id (still parsed: the mux compares the id). */
    n = ipv4_header(pkts[5], 1, "203.0.113.5", "198.51.100.7", 5);
    n += icmp_header(pkts[5] + n, 0, 0, 0x9999, 7);
    lens[5] = n;
    /* 6: IP header claims 60 bytes but only 24 arrived. */
    ipv4_header(pkts[6], 1, "203.0.113.5", "198.51.100.7", 15);
    lens[6] = 24;
    /* 7: an echo request (we see our own on loopback). */
    n = ipv4_header(pkts[7], 1, "127.0.0.1", "127.0.0.1", 5);
    n += icmp_header(pkts[7] + n, 8, 0, 0x1234, 7);
    lens[7] = n;
    /* 8: unreachable quoting a UDP datagram, not our echo. */
    n = ipv4_header(pkts[8], 1, "192.0.2.1", "198.51.100.7", 5);
    n += icmp_header(pkts[8] + n, 3, 3, 0, 0);
    n += ipv4_header(pkts[8] + n, 17, "198.51.100.7", "203.0.113.5", 5);
    memset(pkts[8] + n, 0, 8);
    lens[8] = n + 8;
    /* 9: ping-socket style echo reply without IP header. */
    lens[9] = icmp_header(pkts[9], 0, 0, 0x0042, 300);
    /* 10: ICMPv6 echo reply. */
    lens[10] = icmp_header(pkts[10], 129, 0, 0x1234, 11);
    /* 11: ICMPv6 unreachable (code 3) quoting IPv6 + echo request to 2001:db8::5. */
    n = icmp_header(pkts[11], 1, 3, 0, 0);
    memset(pkts[11] + n, 0, 40);
    pkts[11][n] = 0x60;
    pkts[11][n + 6] = 58;
    inet_pton(AF_INET6, "2001:db8::5", pkts[11] + n + 24);
    n += 40;
    n += icmp_header(pkts[11] + n, 128, 0, 0x1234, 12);
    lens[11] = n;

    static const struct {
        int family, with_ip;
        icmp_packet_kind_t kind;
        uint8_t type, code;
        uint16_t id, seq;
        const char *dst;
    } want[] = {
        {AF_INET, 1, ICMP_PACKET_ECHO_REPLY, 0, 0, 0x1234, 7, NULL},
        {AF_INET, 1, ICMP_PACKET_ERROR, 3, 1, 0x1234, 8, "203.0.113.5"},
        {AF_INET, 1, ICMP_PACKET_ERROR, 11, 0, 0x1234, 9, "203.0.113.9"},
        {AF_INET, 1, ICMP_PACKET_IGNORE, 3, 1, 0, 0, NULL},
        {AF_INET, 1, ICMP_PACKET_IGNORE, 0, 0, 0, 0, NULL},
        {AF_INET, 1, ICMP_PACKET_ECHO_REPLY, 0, 0, 0x9999, 7, NULL},
        {AF_INET, 1, ICMP_PACKET_IGNORE, 0, 0, 0, 0, NULL},
        {AF_INET, 1, ICMP_PACKET_IGNORE, 8, 0, 0, 0, NULL},
        {AF_INET, 1, ICMP_PACKET_IGNORE, 3, 3, 0, 0, NULL},
        {AF_INET, 0, ICMP_PACKET_ECHO_REPLY, 0, 0, 0x0042, 300, NULL},
        {AF_INET6, 0, ICMP_PACKET_ECHO_REPLY, 129, 0, 0x1234, 11, NULL},
        {AF_INET6, 0, ICMP_PACKET_ERROR, 1, 3, 0x1234, 12, "2001:db8::5"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        icmp_packet_t p;
        icmp_packet_kind_t k =
            icmp_packet_parse(want[i].family, want[i].with_ip, pkts[i], lens[i], &p);
        if (k != want[i].kind || p.kind != k)
            fail_msg("case %zu: kind %d, expected %d", i, k, want[i].kind);
        if (k != ICMP_PACKET_IGNORE || want[i].type)
            if (p.type != want[i].type || p.code != want[i].code)
                fail_msg("case %zu: type/code %u/%u", i, p.type, p.code);
        assert_int_equal(p.id, want[i].id);
        assert_int_equal(p.seq, want[i].seq);
        if (want[i].dst) {
            uint8_t d[16];
            inet_pton(want[i].family, want[i].dst, d);
            assert_memory_equal(p.quoted_dst, d, want[i].family == AF_INET6 ? 16 : 4);
        }
    }
    /* Every prefix of every packet parses without reading past its end (ASan checks). */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        for (size_t len = 0; len <= lens[i]; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, pkts[i], len);
            icmp_packet_t p;
            icmp_packet_parse(want[i].family, want[i].with_ip, copy, len, &p);
            free(copy);
        }
    icmp_packet_t p;
    assert_int_equal(icmp_packet_parse(AF_INET, 1, NULL, 0, &p), ICMP_PACKET_IGNORE);
}

static void test_icmp_build_echo(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = icmp_packet_build_echo(AF_INET, 0xbeef, 513, 24, buf, sizeof buf);
    assert_int_equal(n, 32);
    assert_int_equal(buf[0], 8);
    assert_int_equal(icmp_packet_checksum(buf, n), 0); /* a valid checksum sums to zero */
    assert_int_equal(icmp_packet_build_echo(AF_INET, 1, 1, 60, buf, sizeof buf), 0);
    n = icmp_packet_build_echo(AF_INET6, 1, 2, 8, buf, sizeof buf);
    assert_int_equal(buf[0], 128);
    assert_int_equal(n, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_ok),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_tcp_ipv6),
        cmocka_unit_test(test_icmp_loopback),
        cmocka_unit_test(test_icmp6_loopback),
        cmocka_unit_test(test_unsupported_and_error_targets),
        cmocka_unit_test(test_cancel_means_no_callback),
        cmocka_unit_test(test_connect_errno_map),
        cmocka_unit_test(test_icmp_parser_table),
        cmocka_unit_test(test_icmp_build_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
