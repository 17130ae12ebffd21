/* probe_trace: runtime state of one traceroute: its UDP socket (bound once, so the source
 * port never changes), its registration as a watcher of the raw ICMP socket, one timer, and
 * a small state machine per hop. Every change (an answer, a hop's wait ending) goes through
 * trace_pump(), which decides whether the run is over and otherwise sends more TTLs. */
#include "probe_trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "icmp_mux.h"
#include "log.h"
#include "result_wire.h"
#include "timeutil.h"
#include "trace_packet.h"
#include "timer.h"

#define HOP_STATE_LIST(X)                                                                          \
    X(IDLE, "idle")         /* not sent yet */                                                     \
    X(WAITING, "waiting")   /* sent, no answer yet, within its wait */                             \
    X(ANSWERED, "answered") /* an ICMP message quoting it came back */                             \
    X(SILENT, "silent")     /* its wait (or the run's timeout) ended without an answer */

typedef enum hop_state {
#define HOP_ENUM(name, text) HOP_##name,
    HOP_STATE_LIST(HOP_ENUM)
#undef HOP_ENUM
} hop_state_t;

static const char *const hop_state_names[] = {
#define HOP_NAME(name, text) text,
    HOP_STATE_LIST(HOP_NAME)
#undef HOP_NAME
};

/* What an answer means for the trace. */
typedef enum hop_answer {
    ANSWER_NONE,
    ANSWER_TRANSIT, /* time exceeded: a router on the way */
    ANSWER_TARGET,  /* the target (port unreachable, or any error it sent itself) */
    ANSWER_UNREACH  /* a router said the destination is unreachable: the trace ends there */
} hop_answer_t;

typedef struct trace_hop {
    hop_state_t state;
    hop_answer_t answer;
    int64_t sent_mono_us;
    int64_t wait_until_us;
    uint32_t rtt_us;
    uint8_t icmp_type;
    uint8_t icmp_code;
    char addr[PROBE_ADDR_MAX];
} trace_hop_t;

typedef struct trace_state {
    probe_run_t *run;
    icmp_mux_t *mux;
    int watching;
    int fd;
    int family;
    probe_addr_t dst; /* the target with PROBE_TRACE_DPORT */
    socklen_t dstlen;
    trace_packet_flow_t flow;
    struct event *timer;
    int64_t deadline_us; /* the run's timeout, monotonic */
    int64_t hop_wait_us; /* how long one hop may take to answer */
    unsigned next_ttl;   /* the next TTL to send */
    unsigned in_flight;  /* hops WAITING */
    unsigned final_ttl;  /* lowest TTL with an answer that ends the trace; 0 = none yet */
    trace_hop_t hops[PROBE_TRACE_MAX_TTL + 1]; /* indexed by TTL; [0] unused */
} trace_state_t;

static void hop_set_state(trace_state_t *st, unsigned ttl, hop_state_t next)
{
    trace_hop_t *h = &st->hops[ttl];
    if (h->state == next)
        return;
    if (h->state == HOP_WAITING)
        st->in_flight--;
    if (next == HOP_WAITING)
        st->in_flight++;
    log_debug("trace: hop %u %s -> %s", ttl, hop_state_names[h->state], hop_state_names[next]);
    h->state = next;
}

static uint32_t clamp_us(int64_t d)
{
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static const void *addr_bytes(const probe_addr_t *a)
{
    return a->sa.sa_family == AF_INET6 ? (const void *)&a->v6.sin6_addr
                                       : (const void *)&a->v4.sin_addr;
}

static size_t addr_len(int family)
{
    return family == AF_INET6 ? 16 : 4;
}

/* Builds the run's result from hops 1..end and ends the run; st is gone afterwards. */
static void trace_finish(trace_state_t *st, unsigned end)
{
    probe_result_t res;
    memset(&res, 0, sizeof res);
    probe_trace_detail_t detail;
    memset(&detail, 0, sizeof detail);
    probe_trace_detail_t *tr = &detail;
    tr->n_hops = (uint8_t)end;
    for (unsigned ttl = 1; ttl <= end; ttl++) {
        const trace_hop_t *h = &st->hops[ttl];
        probe_trace_hop_t *out = &tr->hops[ttl - 1];
        out->ttl = (uint8_t)ttl;
        if (h->state == HOP_ANSWERED) {
            out->rtt_us = h->rtt_us;
            snprintf(out->addr, sizeof out->addr, "%s", h->addr);
            tr->last_responsive_ttl = (uint8_t)ttl;
        }
    }
    const trace_hop_t *last = end ? &st->hops[end] : NULL;
    const trace_hop_t *resp = tr->last_responsive_ttl ? &st->hops[tr->last_responsive_ttl] : NULL;
    if (last && last->state == HOP_ANSWERED && last->answer == ANSWER_TARGET) {
        tr->reached = 1;
        res.status = PX_STATUS_OK;
        res.rtt_us = last->rtt_us;
        snprintf(res.message, sizeof res.message, "reached in %u hop%s", end, end == 1 ? "" : "s");
    } else if (last && last->state == HOP_ANSWERED && last->answer == ANSWER_UNREACH) {
        res.status = PX_STATUS_UNREACHABLE;
        res.rtt_us = last->rtt_us;
        res.icmp_type = last->icmp_type;
        res.icmp_code = last->icmp_code;
        snprintf(res.icmp_from, sizeof res.icmp_from, "%s", last->addr);
        snprintf(res.message, sizeof res.message,
                 "destination unreachable (ICMP type %u code %u) from %s at hop %u",
                 (unsigned)last->icmp_type, (unsigned)last->icmp_code, last->addr, end);
    } else if (resp) {
        res.status = PX_STATUS_UNREACHABLE;
        snprintf(res.icmp_from, sizeof res.icmp_from, "%s", resp->addr);
        snprintf(res.message, sizeof res.message, "stopped after hop %u (%s); %u silent hop%s",
                 (unsigned)tr->last_responsive_ttl, resp->addr, end - tr->last_responsive_ttl,
                 end - tr->last_responsive_ttl == 1 ? "" : "s");
    } else {
        res.status = PX_STATUS_TIMEOUT;
        snprintf(res.message, sizeof res.message, "no hop answered (%u probes sent)",
                 st->next_ttl - 1);
    }
    (void)probe_result_set_detail(&res, &detail, sizeof detail); /* fits: checked below */
    probe_done(st->run, &res);
}

/* Whether the run is over: walking the TTLs in order, the first one whose earlier hops are
 * all resolved and which ends the trace decides. Sets *end to the last TTL reported. */
static int trace_over(const trace_state_t *st, unsigned *end)
{
    unsigned silent = 0;
    for (unsigned ttl = 1; ttl < st->next_ttl; ttl++) {
        const trace_hop_t *h = &st->hops[ttl];
        if (h->state == HOP_WAITING)
            return 0;
        if (h->state == HOP_SILENT) {
            if (++silent >= PROBE_TRACE_SILENT_LIMIT) {
                *end = ttl;
                return 1;
            }
            continue;
        }
        silent = 0;
        if (h->answer == ANSWER_TARGET || h->answer == ANSWER_UNREACH) {
            *end = ttl;
            return 1;
        }
    }
    if (st->next_ttl > PROBE_TRACE_MAX_TTL) {
        *end = PROBE_TRACE_MAX_TTL;
        return 1;
    }
    return 0;
}

/* Sends the probe for st->next_ttl. Returns 0, or -1 with err on a local failure. */
static int trace_send(trace_state_t *st, int64_t now, err_t *err)
{
    unsigned ttl = st->next_ttl;
    int v = (int)ttl;
    int rc = st->family == AF_INET6
                 ? setsockopt(st->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof v)
                 : setsockopt(st->fd, IPPROTO_IP, IP_TTL, &v, sizeof v);
    if (rc < 0) {
        err_set(err, "cannot set the TTL to %u: %s", ttl, strerror(errno));
        return -1;
    }
    uint8_t payload[TRACE_PACKET_PAYLOAD_MAX];
    size_t n = trace_packet_build_payload(&st->flow, ttl, payload, sizeof payload);
    trace_hop_t *h = &st->hops[ttl];
    st->next_ttl++;
    h->sent_mono_us = now;
    h->wait_until_us =
        now + st->hop_wait_us < st->deadline_us ? now + st->hop_wait_us : st->deadline_us;
    if (sendto(st->fd, payload, n, 0, &st->dst.sa, st->dstlen) < 0) {
        /* A full queue loses this probe only: the hop is reported silent. */
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            hop_set_state(st, ttl, HOP_SILENT);
            return 0;
        }
        err_set(err, "cannot send the probe with TTL %u: %s", ttl, strerror(errno));
        return -1;
    }
    hop_set_state(st, ttl, HOP_WAITING);
    return 0;
}

/* Expires hops, ends the run if it is over, otherwise sends what the window allows and
 * re-arms the timer. st may be gone when this returns. */
static void trace_pump(trace_state_t *st)
{
    int64_t now = time_mono_us();
    int past_deadline = now >= st->deadline_us;
    for (unsigned ttl = 1; ttl < st->next_ttl; ttl++)
        if (st->hops[ttl].state == HOP_WAITING &&
            (past_deadline || now >= st->hops[ttl].wait_until_us))
            hop_set_state(st, ttl, HOP_SILENT);
    unsigned end;
    if (trace_over(st, &end)) {
        trace_finish(st, end);
        return;
    }
    /* Nothing beyond an answer that ends the trace is worth sending. */
    while (!past_deadline && st->in_flight < PROBE_TRACE_WINDOW &&
           st->next_ttl <= PROBE_TRACE_MAX_TTL &&
           (!st->final_ttl || st->next_ttl < st->final_ttl)) {
        err_t err = {{0}};
        if (trace_send(st, now, &err) < 0) {
            probe_done_status(st->run, PX_STATUS_LOCAL_ERROR, 0, "%s", err.msg);
            return;
        }
    }
    if (st->in_flight == 0) {
        /* Nothing in flight and nothing more to send (deadline, or a send lost locally):
         * whatever was learnt is the result. */
        if (!trace_over(st, &end))
            end = st->next_ttl - 1;
        trace_finish(st, end);
        return;
    }
    int64_t wake = st->deadline_us;
    for (unsigned ttl = 1; ttl < st->next_ttl; ttl++)
        if (st->hops[ttl].state == HOP_WAITING && st->hops[ttl].wait_until_us < wake)
            wake = st->hops[ttl].wait_until_us;
    if (timer_arm_us(st->timer, wake - now) < 0)
        probe_done_status(st->run, PX_STATUS_LOCAL_ERROR, 0, "cannot arm the trace's timer");
}

static void trace_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    trace_pump(arg);
}

/* An ICMP message the shared raw socket did not recognise: ours if it quotes our flow. */
static void trace_icmp_cb(const uint8_t *buf, size_t len, const struct sockaddr *from,
                          int64_t recv_mono_us, void *arg)
{
    trace_state_t *st = arg;
    trace_packet_t pkt;
    if (trace_packet_parse(st->family, st->family == AF_INET, buf, len, &pkt) ==
            TRACE_PACKET_IGNORE ||
        from->sa_family != st->family)
        return;
    size_t alen = addr_len(st->family);
    /* The quoted source address is not compared: behind a 1:1 NAT (common for cloud
     * vantages) routers quote the translated one. Our source port is ours alone while the
     * socket is bound, so port, port and destination are enough. */
    if (pkt.sport != st->flow.sport || pkt.dport != st->flow.dport ||
        memcmp(pkt.quoted_dst, st->flow.dst, alen) != 0)
        return;
    int seq = trace_packet_seq_from_len(pkt.udp_len);
    if (seq < 1 || (unsigned)seq >= st->next_ttl)
        return;
    trace_hop_t *h = &st->hops[seq];
    /* A second answer for a hop (a duplicate) changes nothing; a late one after the hop's
     * wait still counts while the run is going on: it is real information. */
    if (h->state == HOP_ANSWERED)
        return;
    const probe_addr_t *src = (const probe_addr_t *)from;
    int from_target = memcmp(addr_bytes(src), st->flow.dst, alen) == 0;
    if (pkt.kind == TRACE_PACKET_TIME_EXCEEDED)
        h->answer = ANSWER_TRANSIT;
    else if (pkt.port_unreach || from_target)
        h->answer = ANSWER_TARGET;
    else
        h->answer = ANSWER_UNREACH;
    h->rtt_us = clamp_us(recv_mono_us - h->sent_mono_us);
    h->icmp_type = pkt.type;
    h->icmp_code = pkt.code;
    probe_addr_str(from, h->addr, sizeof h->addr);
    hop_set_state(st, (unsigned)seq, HOP_ANSWERED);
    if (h->answer != ANSWER_TRANSIT && (!st->final_ttl || (unsigned)seq < st->final_ttl))
        st->final_ttl = (unsigned)seq;
    evtimer_del(st->timer);
    trace_pump(st);
}

/* Finds the source address the kernel would use towards dst, with a throw-away connected
 * socket: the probe socket is bound to it so the checksum's pseudo-header is known, and it
 * stays unconnected so no ICMP error ever surfaces as a send() failure on it. */
static int trace_source(const trace_state_t *st, probe_addr_t *src, socklen_t *srclen, err_t *err)
{
    int fd = socket(st->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err_set(err, "cannot open a UDP socket: %s", strerror(errno));
        return -1;
    }
    *srclen = sizeof *src;
    if (connect(fd, &st->dst.sa, st->dstlen) < 0 || getsockname(fd, &src->sa, srclen) < 0) {
        /* No route from here is the vantage's own problem. */
        err_set(err, "no route to the target: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int trace_open(trace_state_t *st, err_t *err)
{
    probe_addr_t src;
    socklen_t srclen;
    if (trace_source(st, &src, &srclen, err) < 0)
        return -1;
    if (st->family == AF_INET6)
        src.v6.sin6_port = 0;
    else
        src.v4.sin_port = 0;
    st->fd = socket(st->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->fd < 0) {
        err_set(err, "cannot open a UDP socket: %s", strerror(errno));
        return -1;
    }
    /* Port 0: the kernel picks a source port no other socket has, which is what tells this
     * run's answers from every other trace's. */
    if (bind(st->fd, &src.sa, srclen) < 0 || getsockname(st->fd, &src.sa, &srclen) < 0) {
        err_set(err, "cannot bind the probe socket: %s", strerror(errno));
        return -1;
    }
    /* Nothing is ever read from it; a tiny receive buffer bounds what strays can cost. */
    int small = 1024;
    (void)setsockopt(st->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t alen = addr_len(st->family);
    st->flow.family = st->family;
    memcpy(st->flow.src, addr_bytes(&src), alen);
    memcpy(st->flow.dst, addr_bytes(&st->dst), alen);
    st->flow.sport = ntohs(st->family == AF_INET6 ? src.v6.sin6_port : src.v4.sin_port);
    st->flow.dport = PROBE_TRACE_DPORT;
    st->flow.checksum = PROBE_TRACE_CHECKSUM;
    return 0;
}

static void trace_start(probe_run_t *run)
{
    const probe_target_t *t = probe_run_target(run);
    int family = t->addr.sa.sa_family;
    if (family != AF_INET && family != AF_INET6) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "trace: unsupported address family");
        return;
    }
    if (t->spec) {
        probespec_t spec;
        err_t perr = {{0}};
        if (probespec_parse(t->spec, &spec, &perr) < 0 || spec.kind != PROBE_KIND_TRACE) {
            probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "bad trace spec: %s",
                              perr.msg[0] ? perr.msg : t->spec);
            return;
        }
    }
    err_t err = {{0}};
    icmp_mux_t *mux = probe_env_icmp(probe_run_env(run), family, &err);
    if (!mux) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "trace needs CAP_NET_RAW: %s", err.msg);
        return;
    }
    trace_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->run = run;
    st->mux = mux;
    st->fd = -1;
    st->family = family;
    st->next_ttl = 1;
    probe_run_set_state(run, st);
    if (icmp_mux_watch(mux, trace_icmp_cb, st, &err) < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "trace needs CAP_NET_RAW: %s", err.msg);
        return;
    }
    st->watching = 1;
    st->dst = t->addr;
    st->dstlen = t->addrlen;
    if (family == AF_INET6)
        st->dst.v6.sin6_port = htons(PROBE_TRACE_DPORT);
    else
        st->dst.v4.sin_port = htons(PROBE_TRACE_DPORT);
    st->timer = evtimer_new(probe_env_base(probe_run_env(run)), trace_timer_cb, st);
    if (!st->timer) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    if (trace_open(st, &err) < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "trace: %s", err.msg);
        return;
    }
    int64_t wait_ms = t->timeout_ms / 2;
    if (wait_ms < PROBE_TRACE_HOP_WAIT_MIN_MS)
        wait_ms = PROBE_TRACE_HOP_WAIT_MIN_MS;
    if (wait_ms > PROBE_TRACE_HOP_WAIT_MAX_MS)
        wait_ms = PROBE_TRACE_HOP_WAIT_MAX_MS;
    st->hop_wait_us = wait_ms * 1000;
    st->deadline_us = time_mono_us() + (int64_t)t->timeout_ms * 1000;
    trace_pump(st);
}

static void trace_release(probe_run_t *run)
{
    trace_state_t *st = probe_run_state(run);
    if (!st)
        return;
    if (st->timer)
        event_free(st->timer);
    if (st->watching)
        icmp_mux_unwatch(st->mux, trace_icmp_cb, st);
    if (st->fd >= 0)
        close(st->fd);
    free(st);
    probe_run_set_state(run, NULL);
}

_Static_assert(sizeof(probe_trace_detail_t) <= PROBE_DETAIL_MAX, "trace details too large");

int probe_trace_detail(const probe_result_t *res, probe_trace_detail_t *out)
{
    if (res->kind != PROBE_KIND_TRACE)
        return -1;
    return probe_result_get_detail(res, out, sizeof *out);
}

/* The hops' messages point into a copy of the details in w, which lives as long as w. */
static int trace_encode(const probe_result_t *res, result_wire_t *w)
{
    probe_trace_detail_t *d = result_wire_alloc(w, sizeof *d);
    Parallax__TraceInfo *m = result_wire_alloc(w, sizeof *m);
    if (!d || !m || probe_trace_detail(res, d) < 0)
        return -1;
    size_t n = d->n_hops < PROBE_TRACE_MAX_HOPS ? d->n_hops : PROBE_TRACE_MAX_HOPS;
    Parallax__TraceHop *hops = n ? result_wire_alloc(w, n * sizeof *hops) : NULL;
    Parallax__TraceHop **ptrs = n ? result_wire_alloc(w, n * sizeof *ptrs) : NULL;
    if (n && (!hops || !ptrs))
        return -1;
    parallax__trace_info__init(m);
    for (size_t i = 0; i < n; i++) {
        parallax__trace_hop__init(&hops[i]);
        hops[i].ttl = d->hops[i].ttl;
        hops[i].address = d->hops[i].addr;
        hops[i].rtt_us = d->hops[i].rtt_us;
        ptrs[i] = &hops[i];
    }
    m->n_hops = n;
    m->hops = ptrs;
    m->reached = d->reached;
    m->last_responsive_ttl = d->last_responsive_ttl;
    w->res.trace = m;
    return 0;
}

const probe_ops_t probe_trace_ops = {
    .kind = PROBE_KIND_TRACE,
    .start = trace_start,
    .release = trace_release,
    .encode = trace_encode,
    /* One probe per TTL; a run usually sends far fewer, but the ceiling must hold. */
    .max_packets = PROBE_TRACE_MAX_TTL,
};
