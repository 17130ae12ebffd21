/* Unit tests for the trace kind: the Paris payload arithmetic and the ICMP parser as tables
 * (no privileges needed), then real traces inside a three-namespace topology built by the
 * test (agent - router - target, 198.51.100.0/29 and 203.0.113.0/24, 2001:db8::/32 for IPv6)
 * with the system traceroute run in the same namespace as the reference; then the run without
 * CAP_NET_RAW. The namespace tests need root and skip with a message otherwise. */
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
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privdrop.h"
#include "probe.h"
#include "probe_harness.h"
#include "probe_trace.h"
#include "timeutil.h"
#include "trace_packet.h"

/* ---- pure: payloads with a constant checksum -------------------------------------------- */

/* The run's trace details; the test fails when there are none. */
static probe_trace_detail_t trace_of(const probe_result_t *r)
{
    probe_trace_detail_t d = {0};
    harness_need_detail(probe_trace_detail(r, &d), r, "trace");
    return d;
}

static uint32_t add_words(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i += 2)
        sum += (uint32_t)(p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
    return sum;
}

/* What a receiver does: the ones' complement sum over pseudo-header, header (with the
 * checksum field filled in) and payload must be 0xffff. Written independently of the code
 * under test, straight from RFC 768 / RFC 8200. */
static int receiver_accepts(const trace_packet_flow_t *f, const uint8_t *payload, size_t n)
{
    size_t alen = f->family == AF_INET6 ? 16 : 4;
    uint16_t ulen = (uint16_t)(8 + n);
    uint8_t pseudo[40];
    memset(pseudo, 0, sizeof pseudo);
    memcpy(pseudo, f->src, alen);
    memcpy(pseudo + alen, f->dst, alen);
    size_t plen;
    if (f->family == AF_INET6) {
        pseudo[34] = (uint8_t)(ulen >> 8);
        pseudo[35] = (uint8_t)ulen;
        pseudo[39] = 17;
        plen = 40;
    } else {
        pseudo[9] = 17;
        pseudo[10] = (uint8_t)(ulen >> 8);
        pseudo[11] = (uint8_t)ulen;
        plen = 12;
    }
    uint8_t hdr[8] = {(uint8_t)(f->sport >> 8),    (uint8_t)f->sport,    (uint8_t)(f->dport >> 8),
                      (uint8_t)f->dport,           (uint8_t)(ulen >> 8), (uint8_t)ulen,
                      (uint8_t)(f->checksum >> 8), (uint8_t)f->checksum};
    uint32_t sum = add_words(add_words(add_words(0, pseudo, plen), hdr, 8), payload, n);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

static void check_flow(trace_packet_flow_t *f)
{
    uint8_t buf[TRACE_PACKET_PAYLOAD_MAX];
    for (unsigned seq = 0; seq <= TRACE_PACKET_SEQ_MAX; seq++) {
        size_t n = trace_packet_build_payload(f, seq, buf, sizeof buf);
        assert_int_equal(n, TRACE_PACKET_PAYLOAD_MIN + seq);
        /* The same checksum for every probe: what the kernel will put in the header... */
        assert_int_equal(trace_packet_udp_checksum(f, buf, n), f->checksum);
        /* ...and a receiver finds it valid. */
        assert_true(receiver_accepts(f, buf, n));
        /* The length alone names the probe. */
        assert_int_equal(trace_packet_seq_from_len((uint16_t)(8 + n)), (int)seq);
    }
}

static void test_constant_checksum(void **state)
{
    (void)state;
    trace_packet_flow_t f;
    memset(&f, 0, sizeof f);
    f.family = AF_INET;
    inet_pton(AF_INET, "198.51.100.2", f.src);
    inet_pton(AF_INET, "203.0.113.10", f.dst);
    f.dport = PROBE_TRACE_DPORT;
    static const uint16_t sports[] = {1, 33434, 40000, 65535};
    static const uint16_t sums[] = {0x0001, 0x5058, 0x8000, 0xfffe};
    for (size_t i = 0; i < 4; i++) {
        f.sport = sports[i];
        f.checksum = sums[i];
        check_flow(&f);
    }
    f.family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1::2", f.src);
    inet_pton(AF_INET6, "2001:db8:2::10", f.dst);
    f.sport = 51000;
    f.checksum = PROBE_TRACE_CHECKSUM;
    check_flow(&f);
    /* All-ones addresses push every partial sum to its carries. */
    memset(f.src, 0xff, 16);
    memset(f.dst, 0xff, 16);
    f.sport = 0xffff;
    check_flow(&f);

    /* Refusals: checksums that cannot be sent as such, a seq too large, a short buffer. */
    uint8_t buf[TRACE_PACKET_PAYLOAD_MAX];
    f.checksum = 0;
    assert_int_equal(trace_packet_build_payload(&f, 1, buf, sizeof buf), 0);
    f.checksum = 0xffff;
    assert_int_equal(trace_packet_build_payload(&f, 1, buf, sizeof buf), 0);
    f.checksum = 0x1234;
    assert_int_equal(trace_packet_build_payload(&f, TRACE_PACKET_SEQ_MAX + 1, buf, sizeof buf), 0);
    assert_int_equal(trace_packet_build_payload(&f, 5, buf, TRACE_PACKET_PAYLOAD_MIN + 4), 0);
    assert_int_equal(trace_packet_seq_from_len(8 + TRACE_PACKET_PAYLOAD_MIN - 1), -1);
    assert_int_equal(trace_packet_seq_from_len(8 + TRACE_PACKET_PAYLOAD_MAX + 1), -1);
    assert_int_equal(trace_packet_seq_from_len(0), -1);
}

/* ---- pure: the ICMP parser as a table ----------------------------------------------------- */

/* An IPv4 ICMP error as a raw socket delivers it: outer IP header, ICMP header, then the
 * quoted IP header of proto and quote bytes of what followed it. */
static size_t make_v4_error(uint8_t *b, uint8_t type, uint8_t code, uint8_t proto, uint16_t frag,
                            size_t quote)
{
    memset(b, 0, 128);
    b[0] = 0x45;
    b[9] = 1;
    b[20] = type;
    b[21] = code;
    uint8_t *q = b + 28;
    q[0] = 0x45;
    q[6] = (uint8_t)(frag >> 8);
    q[7] = (uint8_t)frag;
    q[8] = 1;
    q[9] = proto;
    inet_pton(AF_INET, "198.51.100.2", q + 12);
    inet_pton(AF_INET, "203.0.113.10", q + 16);
    uint8_t *u = q + 20;
    u[0] = 0xa0, u[1] = 0x00; /* 40960 */
    u[2] = 0x82, u[3] = 0x9a; /* 33434 */
    u[4] = 0, u[5] = 8 + TRACE_PACKET_PAYLOAD_MIN + 3;
    u[6] = 0x50, u[7] = 0x58;
    return 28 + 20 + quote;
}

static size_t make_v6_error(uint8_t *b, uint8_t type, uint8_t code, uint8_t next, size_t quote)
{
    memset(b, 0, 128);
    b[0] = type;
    b[1] = code;
    uint8_t *q = b + 8;
    q[0] = 0x60;
    q[6] = next;
    inet_pton(AF_INET6, "2001:db8:1::2", q + 8);
    inet_pton(AF_INET6, "2001:db8:2::10", q + 24);
    uint8_t *u = q + 40;
    u[0] = 0xa0, u[1] = 0x00;
    u[2] = 0x82, u[3] = 0x9a;
    u[4] = 0, u[5] = 8 + TRACE_PACKET_PAYLOAD_MIN + 7;
    u[6] = 0x50, u[7] = 0x58;
    return 8 + 40 + quote;
}

static void test_parse_table(void **state)
{
    (void)state;
    uint8_t b[128];
    trace_packet_t p;
    struct {
        const char *what;
        size_t len;
        int family;
        int with_ip;
        trace_packet_kind_t want;
        uint8_t port_unreach;
    } rows[16];
    uint8_t bufs[16][128];
    size_t n = 0;
#define ROW(w, fam, ip, k, pu, expr)                                                               \
    do {                                                                                           \
        rows[n].len = (expr);                                                                      \
        memcpy(bufs[n], b, sizeof b);                                                              \
        rows[n].what = (w), rows[n].family = (fam), rows[n].with_ip = (ip);                        \
        rows[n].want = (k), rows[n].port_unreach = (pu);                                           \
        n++;                                                                                       \
    } while (0)
    ROW("v4 time exceeded, 8-byte quote", AF_INET, 1, TRACE_PACKET_TIME_EXCEEDED, 0,
        make_v4_error(b, 11, 0, 17, 0, 8));
    ROW("v4 port unreachable, long quote", AF_INET, 1, TRACE_PACKET_UNREACH, 1,
        make_v4_error(b, 3, 3, 17, 0, 40));
    ROW("v4 host unreachable", AF_INET, 1, TRACE_PACKET_UNREACH, 0,
        make_v4_error(b, 3, 1, 17, 0, 8));
    ROW("v4 reassembly time exceeded", AF_INET, 1, TRACE_PACKET_IGNORE, 0,
        make_v4_error(b, 11, 1, 17, 0, 8));
    ROW("v4 quote of ICMP, not UDP", AF_INET, 1, TRACE_PACKET_IGNORE, 0,
        make_v4_error(b, 11, 0, 1, 0, 8));
    ROW("v4 quote of a non-first fragment", AF_INET, 1, TRACE_PACKET_IGNORE, 0,
        make_v4_error(b, 11, 0, 17, 0x0010, 8));
    ROW("v4 quote cut inside the UDP header", AF_INET, 1, TRACE_PACKET_IGNORE, 0,
        make_v4_error(b, 11, 0, 17, 0, 7));
    ROW("v4 echo reply", AF_INET, 1, TRACE_PACKET_IGNORE, 0, make_v4_error(b, 0, 0, 17, 0, 8));
    ROW("v4 outer header too short", AF_INET, 1, TRACE_PACKET_IGNORE, 0, 19);
    ROW("v6 time exceeded", AF_INET6, 0, TRACE_PACKET_TIME_EXCEEDED, 0,
        make_v6_error(b, 3, 0, 17, 8));
    ROW("v6 port unreachable", AF_INET6, 0, TRACE_PACKET_UNREACH, 1, make_v6_error(b, 1, 4, 17, 8));
    ROW("v6 no route", AF_INET6, 0, TRACE_PACKET_UNREACH, 0, make_v6_error(b, 1, 0, 17, 8));
    ROW("v6 quote with an extension header", AF_INET6, 0, TRACE_PACKET_IGNORE, 0,
        make_v6_error(b, 3, 0, 44, 8));
    ROW("v6 quote cut inside the IPv6 header", AF_INET6, 0, TRACE_PACKET_IGNORE, 0, 8 + 39);
    ROW("v6 packet too big", AF_INET6, 0, TRACE_PACKET_IGNORE, 0, make_v6_error(b, 2, 0, 17, 8));
    ROW("unknown family", AF_UNIX, 0, TRACE_PACKET_IGNORE, 0, make_v6_error(b, 3, 0, 17, 8));
#undef ROW
    for (size_t i = 0; i < n; i++) {
        trace_packet_kind_t k =
            trace_packet_parse(rows[i].family, rows[i].with_ip, bufs[i], rows[i].len, &p);
        if (k != rows[i].want)
            fail_msg("%s: got kind %d, want %d", rows[i].what, (int)k, (int)rows[i].want);
        assert_int_equal(p.port_unreach, rows[i].port_unreach);
        if (k == TRACE_PACKET_IGNORE) {
            assert_int_equal(p.sport, 0);
            continue;
        }
        assert_int_equal(p.sport, 40960);
        assert_int_equal(p.dport, PROBE_TRACE_DPORT);
        assert_int_equal(p.udp_checksum, 0x5058);
        int seq = trace_packet_seq_from_len(p.udp_len);
        assert_int_equal(seq, rows[i].family == AF_INET6 ? 7 : 3);
        uint8_t want[16];
        inet_pton(rows[i].family, rows[i].family == AF_INET6 ? "2001:db8:2::10" : "203.0.113.10",
                  want);
        assert_memory_equal(p.quoted_dst, want, rows[i].family == AF_INET6 ? 16 : 4);
        /* Every shorter prefix of an accepted message is refused, never read past. */
        for (size_t cut = 0; cut < rows[i].len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, bufs[i], cut);
            trace_packet_kind_t kc =
                trace_packet_parse(rows[i].family, rows[i].with_ip, copy, cut, &p);
            size_t min = rows[i].family == AF_INET6 ? 8 + 40 + 8 : 28 + 20 + 8;
            assert_true(cut >= min || kc == TRACE_PACKET_IGNORE);
            free(copy);
        }
    }
    assert_int_equal(trace_packet_parse(AF_INET, 1, NULL, 100, &p), TRACE_PACKET_IGNORE);
}

/* ---- the topology ------------------------------------------------------------------------ */

typedef struct topo {
    int ready;
    char agent[32], router[32], target[32];
    char why[256]; /* why the namespace tests skip */
} topo_t;

static topo_t topo;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        print_message("command failed (%d): %s\n", rc, cmd);
    return rc;
}

static void topo_delete(void)
{
    /* Deleting a namespace deletes its veth ends too. Quiet: some may not exist yet. */
    char cmd[256];
    const char *names[] = {topo.agent, topo.router, topo.target};
    for (int i = 0; i < 3; i++) {
        if (!names[i][0])
            continue;
        snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", names[i]);
        if (system(cmd) != 0) {
            /* Already gone: nothing to clean. */
        }
    }
    topo.ready = 0;
}

static int topo_setup(void **state)
{
    (void)state;
    memset(&topo, 0, sizeof topo);
    if (geteuid() != 0) {
        snprintf(topo.why, sizeof topo.why, "needs root for network namespaces and raw sockets");
        return 0;
    }
    if (system("command -v ip >/dev/null && command -v traceroute >/dev/null") != 0) {
        snprintf(topo.why, sizeof topo.why, "needs the ip and traceroute programs");
        return 0;
    }
    int pid = (int)getpid();
    snprintf(topo.agent, sizeof topo.agent, "pxtr%d-a", pid);
    snprintf(topo.router, sizeof topo.router, "pxtr%d-r", pid);
    snprintf(topo.target, sizeof topo.target, "pxtr%d-t", pid);
    /* Cleanup runs on every exit path of the process, not only after a passing group. */
    atexit(topo_delete);
    const char *A = topo.agent, *R = topo.router, *T = topo.target;
    char v[4][16];
    for (int i = 0; i < 4; i++)
        snprintf(v[i], sizeof v[i], "pxtr%d%c", pid % 1000000, "abcd"[i]);
    int rc = sh("ip netns add %s && ip netns add %s && ip netns add %s", A, R, T);
    /* IPv6 addresses, link-local ones included, must be usable at once: no DAD. */
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.accept_dad=0 "
                "net.ipv6.conf.default.accept_dad=0 && ip -n %s link set lo up",
                i == 0   ? A
                : i == 1 ? R
                         : T,
                i == 0   ? A
                : i == 1 ? R
                         : T);
    rc =
        rc ? rc
           : sh("ip link add %s netns %s address 02:00:00:00:00:01 type veth peer name %s netns %s "
                "address 02:00:00:00:00:02",
                v[0], A, v[1], R);
    rc =
        rc ? rc
           : sh("ip link add %s netns %s address 02:00:00:00:00:03 type veth peer name %s netns %s "
                "address 02:00:00:00:00:04",
                v[2], R, v[3], T);
    /* The agent has a second address of each family, the source of the reference
     * traceroute: routers rate-limit their unreachables per source address (5 at once,
     * then one a second, a host-wide setting), and the two must not share that budget. */
    rc = rc ? rc
            : sh("ip -n %s addr add 198.51.100.2/29 dev %s && ip -n %s addr add 198.51.100.3/29 "
                 "dev %s && "
                 "ip -n %s addr add 2001:db8:1::2/64 dev %s && ip -n %s addr add 2001:db8:1::3/64 "
                 "dev %s && "
                 "ip -n %s link set %s up",
                 A, v[0], A, v[0], A, v[0], A, v[0], A, v[0]);
    rc = rc ? rc
            : sh("ip -n %s addr add 198.51.100.1/29 dev %s && ip -n %s addr add 2001:db8:1::1/64 "
                 "dev %s && ip -n %s link set %s up",
                 R, v[1], R, v[1], R, v[1]);
    rc = rc ? rc
            : sh("ip -n %s addr add 203.0.113.1/24 dev %s && ip -n %s addr add 2001:db8:2::1/64 "
                 "dev %s && ip -n %s link set %s up",
                 R, v[2], R, v[2], R, v[2]);
    rc = rc ? rc
            : sh("ip -n %s addr add 203.0.113.10/24 dev %s && ip -n %s addr add 2001:db8:2::10/64 "
                 "dev %s && ip -n %s link set %s up",
                 T, v[3], T, v[3], T, v[3]);
    /* Routes with an explicit source: the trace's own address is 198.51.100.2. */
    rc = rc ? rc
            : sh("ip -n %s route add default via 198.51.100.1 src 198.51.100.2 && ip -n %s -6 "
                 "route add default via 2001:db8:1::1 src 2001:db8:1::2",
                 A, A);
    rc = rc ? rc
            : sh("ip -n %s route add default via 203.0.113.1 && ip -n %s -6 route add default via "
                 "2001:db8:2::1",
                 T, T);
    rc = rc ? rc
            : sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
                 R);
    /* Static IPv6 neighbours: on this kernel, ICMPv6 errors generated while neighbour
     * discovery is still resolving arrive with a bad checksum and are dropped (the system
     * traceroute loses them too), so a fresh topology's first trace would see nothing. */
    rc =
        rc ? rc
           : sh("ip -n %s neigh add 2001:db8:1::1 lladdr 02:00:00:00:00:02 dev %s nud permanent && "
                "ip -n %s neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:01 dev %s nud permanent && "
                "ip -n %s neigh add 2001:db8:1::3 lladdr 02:00:00:00:00:01 dev %s nud permanent && "
                "ip -n %s neigh add 2001:db8:2::10 lladdr 02:00:00:00:00:04 dev %s nud permanent "
                "&& "
                "ip -n %s neigh add 2001:db8:2::1 lladdr 02:00:00:00:00:03 dev %s nud permanent",
                A, v[0], R, v[1], R, v[1], R, v[2], T, v[3]);
    /* Linux also rate-limits ICMP errors per destination, which would make back-to-back
     * cases depend on how fast the earlier ones were: off for every ICMP type (IPv4 through
     * the type mask: a zero ratelimit would instead drain the bucket the route-unreachable
     * errors share, and silence them). */
    rc =
        rc ? rc
           : sh("ip netns exec %s sysctl -qw net.ipv4.icmp_ratemask=0 net.ipv6.icmp.ratelimit=0 && "
                "ip netns exec %s sysctl -qw net.ipv4.icmp_ratemask=0 net.ipv6.icmp.ratelimit=0",
                R, T);
    if (rc != 0) {
        topo_delete();
        snprintf(topo.why, sizeof topo.why, "could not build the namespace topology");
        return -1;
    }
    topo.ready = 1;
    return 0;
}

static int topo_teardown(void **state)
{
    (void)state;
    topo_delete();
    return 0;
}

#define NEED_TOPO()                                                                                \
    do {                                                                                           \
        if (!topo.ready) {                                                                         \
            PX_SKIP_UNLESS_ROOT(topo.why);                                                         \
        }                                                                                          \
    } while (0)

typedef harness_outcome_t outcome_t;

static probe_target_t trace_target(const char *addr, uint32_t timeout_ms)
{
    return harness_target(PROBE_KIND_TRACE, "trace", addr, 0, timeout_ms);
}

/* Runs a trace to completion (bounded) in the current network namespace. With cancel_ms > 0
 * the loop stops after that long instead, and a run still going is cancelled. */
static outcome_t run_trace(const probe_target_t *t, int cancel_ms)
{
    int64_t limit_ms = cancel_ms > 0 ? cancel_ms : (int64_t)t->timeout_ms + 3000;
    outcome_t o = harness_run(NULL, t, limit_ms);
    probe_trace_detail_t tr;
    if (o.done && probe_trace_detail(&o.res, &tr) == 0)
        print_message("trace: %u hops\n", (unsigned)tr.n_hops);
    return o;
}

/* Enters namespace name (the caller's namespace is returned as an fd for ns_leave()). */
static int ns_enter(const char *name)
{
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(self >= 0);
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(setns(fd, CLONE_NEWNET), 0);
    close(fd);
    return self;
}

static void ns_leave(int self)
{
    assert_int_equal(setns(self, CLONE_NEWNET), 0);
    close(self);
}

/* Traces addr from the agent namespace. */
static outcome_t trace_from_agent(const char *addr, uint32_t timeout_ms, int cancel_ms)
{
    probe_target_t t = trace_target(addr, timeout_ms);
    int self = ns_enter(topo.agent);
    outcome_t o = run_trace(&t, cancel_ms);
    ns_leave(self);
    return o;
}

/* The reference: hop addresses from `traceroute -n -q 1 -m 5` in the agent namespace
 * ("" for '*'); returns the number of hops printed. */
static int system_traceroute(const char *addr, char hops[][64], int max)
{
    char cmd[256];
    int v6 = strchr(addr, ':') != NULL;
    snprintf(cmd, sizeof cmd,
             "ip netns exec %s traceroute %s -s %s -n -q 1 -m 5 -w 1 %s 2>/dev/null", topo.agent,
             v6 ? "-6" : "-4", v6 ? "2001:db8:1::3" : "198.51.100.3", addr);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        unsigned ttl;
        char a[64];
        if (sscanf(line, " %u %63s", &ttl, a) != 2 || ttl != (unsigned)n + 1 || n >= max)
            continue;
        snprintf(hops[n], 64, "%s", strcmp(a, "*") == 0 ? "" : a);
        print_message("traceroute: %s", line);
        n++;
    }
    pclose(p);
    return n;
}

static void expect_hops(const probe_result_t *r, const char *const *want, int n)
{
    const probe_trace_detail_t tr = trace_of(r);
    assert_int_equal(tr.n_hops, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(tr.hops[i].ttl, i + 1);
        assert_string_equal(tr.hops[i].addr, want[i]);
        if (want[i][0])
            assert_true(tr.hops[i].rtt_us > 0);
        else
            assert_int_equal(tr.hops[i].rtt_us, 0);
    }
}

/* Our hops must say what traceroute says, for every TTL both printed. */
static void compare_with_system(const char *addr, const probe_result_t *r, int want_n)
{
    char sys[8][64];
    int n = system_traceroute(addr, sys, 8);
    assert_int_equal(n, want_n);
    const probe_trace_detail_t tr = trace_of(r);
    for (int i = 0; i < n && i < tr.n_hops; i++) {
        if (strcmp(sys[i], tr.hops[i].addr) != 0)
            fail_msg("hop %d: traceroute says '%s', trace says '%s'", i + 1, sys[i],
                     tr.hops[i].addr);
    }
}

static void test_trace_reaches_target(void **state)
{
    (void)state;
    NEED_TOPO();
    outcome_t o = trace_from_agent("203.0.113.10", 2000, 0);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    static const char *const want[] = {"198.51.100.1", "203.0.113.10"};
    expect_hops(&o.res, want, 2);
    assert_int_equal(trace_of(&o.res).reached, 1);
    assert_int_equal(trace_of(&o.res).last_responsive_ttl, 2);
    assert_int_equal(o.res.rtt_us, trace_of(&o.res).hops[1].rtt_us);
    assert_string_equal(o.res.message, "reached in 2 hops");
    /* Every hop answered at once: no hop wait was spent. */
    assert_true(o.elapsed_us < 500000);
    compare_with_system("203.0.113.10", &o.res, 2);
}

static void test_trace_reaches_target_ipv6(void **state)
{
    (void)state;
    NEED_TOPO();
    outcome_t o = trace_from_agent("2001:db8:2::10", 2000, 0);
    assert_int_equal(o.done, 1);
    if (o.res.status == PX_STATUS_LOCAL_ERROR)
        PX_SKIP_WITHOUT_IPV6();
    assert_int_equal(o.res.status, PX_STATUS_OK);
    static const char *const want[] = {"2001:db8:1::1", "2001:db8:2::10"};
    expect_hops(&o.res, want, 2);
    assert_int_equal(trace_of(&o.res).reached, 1);
    compare_with_system("2001:db8:2::10", &o.res, 2);
}

static void test_trace_route_withdrawn(void **state)
{
    (void)state;
    NEED_TOPO();
    assert_int_equal(sh("ip -n %s route add unreachable 203.0.113.10", topo.router), 0);
    outcome_t o = trace_from_agent("203.0.113.10", 2000, 0);
    char sys[8][64];
    int n = system_traceroute("203.0.113.10", sys, 8);
    assert_int_equal(sh("ip -n %s route del unreachable 203.0.113.10", topo.router), 0);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_UNREACHABLE);
    assert_string_equal(o.res.icmp_from, "198.51.100.1");
    assert_int_equal(o.res.icmp_type, 3); /* destination unreachable */
    assert_int_equal(o.res.icmp_code, 1); /* host unreachable */
    static const char *const want[] = {"198.51.100.1"};
    expect_hops(&o.res, want, 1);
    assert_int_equal(trace_of(&o.res).reached, 0);
    assert_int_equal(trace_of(&o.res).last_responsive_ttl, 1);
    assert_non_null(strstr(o.res.message, "from 198.51.100.1 at hop 1"));
    /* traceroute prints "1 198.51.100.1 ... !H" and stops there too. */
    assert_int_equal(n, 1);
    assert_string_equal(sys[0], "198.51.100.1");
}

/* The target's way back is blackholed: the router still answers, then silence. */
static void test_trace_blackholed_beyond_router(void **state)
{
    (void)state;
    NEED_TOPO();
    assert_int_equal(sh("ip -n %s route add blackhole 198.51.100.0/29", topo.target), 0);
    outcome_t o = trace_from_agent("203.0.113.10", 2000, 0);
    char sys[8][64];
    int n = system_traceroute("203.0.113.10", sys, 8);
    assert_int_equal(sh("ip -n %s route del blackhole 198.51.100.0/29", topo.target), 0);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_UNREACHABLE);
    assert_string_equal(o.res.icmp_from, "198.51.100.1");
    assert_int_equal(o.res.icmp_type, 0); /* only time exceeded came back */
    assert_int_equal(o.res.icmp_code, 0);
    /* Hop 1, then exactly the silent-hop limit of silent hops. */
    static const char *const want[] = {"198.51.100.1", "", "", "", "", ""};
    expect_hops(&o.res, want, 1 + PROBE_TRACE_SILENT_LIMIT);
    assert_int_equal(trace_of(&o.res).reached, 0);
    assert_int_equal(trace_of(&o.res).last_responsive_ttl, 1);
    assert_string_equal(o.res.message, "stopped after hop 1 (198.51.100.1); 5 silent hops");
    /* The silent hops waited in parallel, within the run's timeout. */
    assert_true(o.elapsed_us < 2000000 + 100000);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++)
        assert_string_equal(sys[i], trace_of(&o.res).hops[i].addr);
}

/* The router itself blackholes the target: Linux drops such packets before the TTL check,
 * so nothing at all answers. */
static void test_trace_blackholed_at_router(void **state)
{
    (void)state;
    NEED_TOPO();
    assert_int_equal(sh("ip -n %s route add blackhole 203.0.113.10", topo.router), 0);
    outcome_t o = trace_from_agent("203.0.113.10", 1000, 0);
    char sys[8][64];
    int n = system_traceroute("203.0.113.10", sys, 8);
    assert_int_equal(sh("ip -n %s route del blackhole 203.0.113.10", topo.router), 0);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_TIMEOUT);
    assert_string_equal(o.res.icmp_from, "");
    static const char *const want[] = {"", "", "", "", ""};
    expect_hops(&o.res, want, PROBE_TRACE_SILENT_LIMIT);
    assert_int_equal(trace_of(&o.res).last_responsive_ttl, 0);
    assert_int_equal(trace_of(&o.res).reached, 0);
    assert_true(o.elapsed_us < 1000000 + 100000);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++)
        assert_string_equal(sys[i], "");
}

/* A timeout shorter than the minimum hop wait ends the run at the deadline: the hops still
 * unanswered then are silent. */
static void test_trace_deadline(void **state)
{
    (void)state;
    NEED_TOPO();
    assert_int_equal(sh("ip -n %s route add blackhole 198.51.100.0/29", topo.target), 0);
    outcome_t o = trace_from_agent("203.0.113.10", 20, 0);
    assert_int_equal(sh("ip -n %s route del blackhole 198.51.100.0/29", topo.target), 0);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.res.status, PX_STATUS_UNREACHABLE);
    assert_int_equal(trace_of(&o.res).last_responsive_ttl, 1);
    assert_true(trace_of(&o.res).n_hops >= 2);
    assert_true(o.elapsed_us < 20000 + 50000);
}

/* Cancelled with hops in flight: no callback, nothing leaks (checked by ASan builds). */
static void test_trace_cancel(void **state)
{
    (void)state;
    NEED_TOPO();
    assert_int_equal(sh("ip -n %s route add blackhole 198.51.100.0/29", topo.target), 0);
    outcome_t o = trace_from_agent("203.0.113.10", 2000, 100);
    assert_int_equal(sh("ip -n %s route del blackhole 198.51.100.0/29", topo.target), 0);
    assert_int_equal(o.done, 0);
}

/* Several traces at once each see only their own answers (one source port each). */
static void test_concurrent_traces(void **state)
{
    (void)state;
    NEED_TOPO();
    int self = ns_enter(topo.agent);
    outcome_t o[4];
    probe_target_t t[4];
    const char *addrs[4] = {"203.0.113.10", "203.0.113.1", "198.51.100.1", "203.0.113.10"};
    for (int i = 0; i < 4; i++)
        t[i] = trace_target(addrs[i], 2000);
    size_t finished = harness_run_many(t, 4, o, 5000);
    ns_leave(self);
    assert_int_equal(finished, 4);
    static const int want_hops[4] = {2, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(o[i].res.status, PX_STATUS_OK);
        assert_int_equal(trace_of(&o[i].res).n_hops, want_hops[i]);
        assert_string_equal(trace_of(&o[i].res).hops[want_hops[i] - 1].addr, addrs[i]);
    }
}

/* Without CAP_NET_RAW (a child that dropped to nobody) the run says so. */
static void test_needs_cap_net_raw(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        /* Already unprivileged: the run here is the case itself, unless this process was
         * given CAP_NET_RAW some other way. */
        probe_target_t t = trace_target("127.0.0.1", 500);
        outcome_t o = run_trace(&t, 0);
        if (o.res.status != PX_STATUS_LOCAL_ERROR) {
            print_message("skipped: this unprivileged process can open raw sockets\n");
            skip();
        }
        /* Then why: no ICMP socket at all, or only a ping socket (ping_group_range). */
        if (strncmp(o.res.message, "trace needs CAP_NET_RAW: ", 25) != 0)
            fail_msg("unexpected message: %s", o.res.message);
        return;
    }
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        err_t err = {{0}};
        probe_result_t res;
        memset(&res, 0, sizeof res);
        if (privdrop_to_user("nobody", &err) < 0) {
            snprintf(res.message, sizeof res.message, "privdrop: %.200s", err.msg);
        } else {
            probe_target_t t = trace_target("127.0.0.1", 500);
            outcome_t o = run_trace(&t, 0);
            res = o.res;
        }
        ssize_t w = write(pipefd[1], &res, sizeof res);
        _exit(w == (ssize_t)sizeof res ? 0 : 1);
    }
    close(pipefd[1]);
    probe_result_t res;
    ssize_t got = read(pipefd[0], &res, sizeof res);
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(got, (ssize_t)sizeof res);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(res.status, PX_STATUS_LOCAL_ERROR);
    if (strncmp(res.message, "trace needs CAP_NET_RAW", 23) != 0)
        fail_msg("unexpected message: %s", res.message);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_constant_checksum),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_needs_cap_net_raw),
    };
    const struct CMUnitTest netns[] = {
        cmocka_unit_test(test_trace_reaches_target),
        cmocka_unit_test(test_trace_reaches_target_ipv6),
        cmocka_unit_test(test_trace_route_withdrawn),
        cmocka_unit_test(test_trace_blackholed_beyond_router),
        cmocka_unit_test(test_trace_blackholed_at_router),
        cmocka_unit_test(test_trace_deadline),
        cmocka_unit_test(test_trace_cancel),
        cmocka_unit_test(test_concurrent_traces),
    };
    int failed = cmocka_run_group_tests_name("trace_pure", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("trace_netns", netns, topo_setup, topo_teardown);
    return failed;
}
