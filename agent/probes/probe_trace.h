/* probe_trace: the `trace` probe kind, a Paris-style UDP traceroute. Every probe of a run has
 * the same addresses, ports (a fixed source port, destination port 33434) and UDP checksum,
 * so per-flow load balancers keep it on one path; the payload length says which TTL a probe
 * had. Answers (time-exceeded from routers, port-unreachable from the target, other
 * unreachables) arrive through the shared raw ICMP socket, so the kind needs CAP_NET_RAW.
 *
 * Bounds: TTL 1..PROBE_TRACE_MAX_TTL, one probe per TTL, at most PROBE_TRACE_WINDOW TTLs in
 * flight at once (sent in TTL order as earlier ones resolve), each waiting at most half the
 * run's timeout (at least PROBE_TRACE_HOP_WAIT_MIN_MS, at most PROBE_TRACE_HOP_WAIT_MAX_MS);
 * the whole run ends by its timeout. A run stops at the first TTL whose earlier hops are all
 * resolved and which is the target's answer, an unreachable from a router, or the
 * PROBE_TRACE_SILENT_LIMIT-th silent hop in a row.
 *
 * Result: probe_trace_detail_t (the wire's TraceInfo) with hops 1..n in TTL order ("" for silence).
 * Status OK (rtt_us: the target's) when reached; UNREACHABLE naming the router (icmp_from, type,
 * code) that said unreachable; UNREACHABLE naming the last responsive hop (type/code 0) when the
 * trace went silent; TIMEOUT when no hop answered; LOCAL_ERROR without a raw ICMP socket, a route
 * or a socket. */
#ifndef PX_PROBE_TRACE_H
#define PX_PROBE_TRACE_H

#include "probe.h"

#define PROBE_TRACE_MAX_TTL 30
#define PROBE_TRACE_WINDOW 6
#define PROBE_TRACE_SILENT_LIMIT 5
#define PROBE_TRACE_HOP_WAIT_MIN_MS 50
#define PROBE_TRACE_HOP_WAIT_MAX_MS 3000
#define PROBE_TRACE_DPORT 33434
/* The UDP checksum every probe carries (not 0, not 0xffff). */
#define PROBE_TRACE_CHECKSUM 0x5058

#define PROBE_TRACE_MAX_HOPS 64

typedef struct probe_trace_hop {
    uint8_t ttl;
    uint32_t rtt_us;
    char addr[PROBE_ADDR_MAX]; /* "" when no answer came for this TTL */
} probe_trace_hop_t;

/* The run's details, always set. */
typedef struct probe_trace_detail {
    uint8_t n_hops;
    uint8_t reached;             /* the target answered */
    uint8_t last_responsive_ttl; /* 0 when no hop answered */
    probe_trace_hop_t hops[PROBE_TRACE_MAX_HOPS];
} probe_trace_detail_t;

extern const probe_ops_t probe_trace_ops;

/* Copies the trace details of res into out (NULL: only asks). Returns 0, or -1 when res is
 * not a trace result with details. */
int probe_trace_detail(const probe_result_t *res, probe_trace_detail_t *out);

#endif
