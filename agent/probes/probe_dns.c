/* probe_dns: runtime state of one DNS query: a connected UDP socket that also receives the
 * ICMP errors for it (IP_RECVERR), then, if the answer was truncated, a TCP connection that
 * sends the same query with a length prefix; one timer bounds the whole run. */
#include "probe_dns.h"

#include <errno.h>
#include <event2/event.h>
#include <ldns/ldns.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dns_answer.h"
#include "log.h"
#include "probe_connect.h"
#include "result_wire.h"
#include "timeutil.h"
#include "wire.h"

#define DNS_DEFAULT_PORT 53
/* Without EDNS0 a UDP answer is at most 512 bytes; a larger datagram is read whole up to this
 * size so that it can still be judged, and refused beyond it. */
#define DNS_UDP_BUF 4096
/* Datagrams read per wake-up: a flood of junk cannot keep the loop busy with one run. */
#define DNS_UDP_BATCH 32

/* The phases of a run. Every transition goes through set_phase(). */
typedef enum dns_phase {
    DNS_UDP_WAIT,    /* query sent over UDP, waiting for the answer */
    DNS_TCP_CONNECT, /* the answer was truncated: connecting over TCP */
    DNS_TCP_SEND,    /* connected: sending the length-prefixed query */
    DNS_TCP_READ,    /* reading the length prefix, then the answer */
} dns_phase_t;

static const char *const dns_phase_names[] = {
    [DNS_UDP_WAIT] = "waiting for the UDP answer",
    [DNS_TCP_CONNECT] = "connecting over TCP",
    [DNS_TCP_SEND] = "sending the query over TCP",
    [DNS_TCP_READ] = "waiting for the TCP answer",
};

typedef struct dns_state {
    probe_run_t *run;
    dns_phase_t phase;
    char qname[PROBESPEC_HOST_MAX];
    uint16_t qtype;
    uint16_t id;
    /* The query with its 2-byte TCP length prefix; UDP sends it from wire + 2. */
    uint8_t *wire;
    size_t wire_len;
    probe_addr_t dst; /* the server, its port included */
    socklen_t dstlen;
    uint16_t port; /* the same port in host order, for the TCP retry */
    int udp_fd;
    int tcp_fd;
    struct event *udp_ev;
    struct event *tcp_ev;
    struct event *timer;
    int64_t sent_mono_us;
    size_t tcp_sent;     /* bytes of wire sent over TCP */
    uint8_t tcp_len[2];  /* the answer's length prefix */
    size_t tcp_have;     /* bytes received: prefix first, then answer */
    uint8_t *tcp_answer; /* malloc'ed once the prefix is known */
    size_t tcp_need;     /* answer length from the prefix */
    unsigned unusable;   /* UDP replies from the server that did not answer our query */
    char last_unusable[DNS_ANSWER_WHY_MAX + 32];
    uint32_t unusable_rtt_us;
} dns_state_t;

static void set_phase(dns_state_t *st, dns_phase_t phase)
{
    log_debug("dns %s: %s -> %s", st->qname, dns_phase_names[st->phase], dns_phase_names[phase]);
    st->phase = phase;
}

static uint32_t elapsed_us(const dns_state_t *st)
{
    int64_t d = time_mono_us() - st->sent_mono_us;
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* Ends the run on a socket error. immediate: the call itself failed (connect, send), so no-
 * route errors are the vantage's own. st is gone after this. */
static void finish_errno(dns_state_t *st, int err, int immediate, const char *what)
{
    px_status_t status = probe_connect_status(err, immediate);
    if (status == PX_STATUS_OK)
        status = PX_STATUS_LOCAL_ERROR;
    uint32_t rtt = status == PX_STATUS_REFUSED ? elapsed_us(st) : 0;
    probe_done_status(st->run, status, rtt, "%s: %s", what, strerror(err));
}

_Static_assert(PROBE_DNS_RECORDS_MAX == DNS_ANSWER_RECORDS_MAX, "dns record limits differ");
_Static_assert(PROBE_DNS_TEXT_MAX <= UINT16_MAX, "dns text offsets are 16-bit");
/* What this kind sends, the wire accepts (else the whole batch would be refused): the text
 * counts each record's two NULs here, its type (5 bytes at most) there. */
_Static_assert(PROBE_DNS_RECORDS_MAX <= PX_WIRE_MAX_DNS_RECORDS,
               "more dns records than the wire takes");
_Static_assert(DNS_ANSWER_NAME_MAX - 1 <= PX_WIRE_MAX_DNS_NAME,
               "dns names longer than the wire takes");
_Static_assert(PROBE_DNS_TEXT_MAX + 3 * PROBE_DNS_RECORDS_MAX <= PX_WIRE_MAX_DNS_TEXT,
               "more dns record text than the wire takes");

/* Appends s with its NUL to d's text; returns its offset, or -1 when it does not fit. */
static int text_put(probe_dns_detail_t *d, size_t *used, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > sizeof d->text - *used)
        return -1;
    memcpy(d->text + *used, s, n);
    *used += n;
    return (int)(*used - n);
}

/* Copies the answer's records into d, their strings packed into d->text; a record that no
 * longer fits there is left out and counted, as the parser counts those past its maximum. */
static void keep_records(probe_dns_detail_t *d, const dns_answer_t *a)
{
    size_t used = 0;
    d->records_left_out = a->records_left_out;
    for (unsigned i = 0; i < a->n_records && i < PROBE_DNS_RECORDS_MAX; i++) {
        const dns_answer_record_t *r = &a->records[i];
        size_t mark = used;
        int name = text_put(d, &used, r->name);
        int data = name < 0 ? -1 : text_put(d, &used, r->data);
        if (data < 0) {
            used = mark;
            if (d->records_left_out < UINT16_MAX)
                d->records_left_out++;
            continue;
        }
        d->records[d->n_records++] = (probe_dns_record_t){.type = r->type,
                                                          .preference = r->preference,
                                                          .name = (uint16_t)name,
                                                          .data = (uint16_t)data};
    }
}

/* Ends the run with a valid answer. st is gone after this. */
static void finish_answer(dns_state_t *st, const dns_answer_t *a, int over_tcp)
{
    probe_result_t res;
    memset(&res, 0, sizeof res);
    res.rtt_us = elapsed_us(st);
    res.app_code = a->rcode;
    probe_dns_detail_t d = {.rcode = a->rcode,
                            .aa = a->aa,
                            .answers = a->answers,
                            .has_soa = a->has_soa,
                            .soa_serial = a->soa_serial,
                            .over_tcp = (uint8_t)over_tcp};
    keep_records(&d, a);
    (void)probe_result_set_detail(&res, &d, sizeof d); /* fits: checked at compile time */
    /* NXDOMAIN is a working server's answer about a name, not a failure of the server. */
    res.status = a->rcode == LDNS_RCODE_NOERROR || a->rcode == LDNS_RCODE_NXDOMAIN
                     ? PX_STATUS_OK
                     : PX_STATUS_APP_ERROR;
    char rbuf[16], soa[32] = "";
    if (a->has_soa)
        snprintf(soa, sizeof soa, ", SOA serial %u", (unsigned)a->soa_serial);
    snprintf(res.message, sizeof res.message, "%s%s, %u answer%s%s%s",
             dns_answer_rcode_name(a->rcode, rbuf, sizeof rbuf), a->aa ? " (authoritative)" : "",
             (unsigned)a->answers, a->answers == 1 ? "" : "s", soa, over_tcp ? ", over TCP" : "");
    probe_done(st->run, &res);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dns_state_t *st = arg;
    unsigned ms = (unsigned)probe_run_target(st->run)->timeout_ms;
    /* Something at the server's address and port did reply, just never with an answer we
     * could use: that is evidence of a broken server, not of silence. */
    if (st->phase == DNS_UDP_WAIT && st->unusable)
        probe_done_status(st->run, PX_STATUS_PROTOCOL_ERROR, st->unusable_rtt_us,
                          "no valid answer within %u ms; %u unusable repl%s, the last: %s", ms,
                          st->unusable, st->unusable == 1 ? "y" : "ies", st->last_unusable);
    else
        probe_done_status(st->run, PX_STATUS_TIMEOUT, 0, "no answer within %u ms (%s)", ms,
                          dns_phase_names[st->phase]);
}

/* ---- TCP retry ---- */

static void tcp_cb(evutil_socket_t fd, short what, void *arg);

/* Points the TCP event at the next phase's readiness. Returns 0, or -1 having ended the run. */
static int tcp_wait(dns_state_t *st, dns_phase_t phase, short events)
{
    set_phase(st, phase);
    if (st->tcp_ev)
        event_free(st->tcp_ev);
    st->tcp_ev = event_new(probe_env_base(probe_run_env(st->run)), st->tcp_fd,
                           (short)(events | EV_PERSIST), tcp_cb, st);
    if (!st->tcp_ev || event_add(st->tcp_ev, NULL) < 0) {
        probe_done_status(st->run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return -1;
    }
    return 0;
}

static void tcp_send(dns_state_t *st)
{
    while (st->tcp_sent < st->wire_len) {
        ssize_t n =
            send(st->tcp_fd, st->wire + st->tcp_sent, st->wire_len - st->tcp_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return; /* the persistent write event calls again */
            finish_errno(st, errno, 0, "TCP retry after a truncated answer: send");
            return;
        }
        st->tcp_sent += (size_t)n;
    }
    tcp_wait(st, DNS_TCP_READ, EV_READ);
}

static void tcp_judge(dns_state_t *st)
{
    dns_answer_t a;
    /* The connection is ours alone, so unlike a stray datagram anything on it that is not
     * the answer is the server's fault. A TC bit over TCP means nothing (RFC 7766) and the
     * answer is taken as it is. */
    if (dns_answer_parse(st->id, st->qname, st->qtype, st->tcp_answer, st->tcp_need, &a) !=
        DNS_ANSWER_VALID) {
        probe_done_status(st->run, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st),
                          "TCP answer unusable: %s: %s", dns_answer_verdict_name(a.verdict), a.why);
        return;
    }
    finish_answer(st, &a, 1);
}

static void tcp_read(dns_state_t *st)
{
    for (;;) {
        uint8_t *dst;
        size_t want;
        if (st->tcp_have < 2) {
            dst = st->tcp_len + st->tcp_have;
            want = 2 - st->tcp_have;
        } else {
            dst = st->tcp_answer + (st->tcp_have - 2);
            want = st->tcp_need - (st->tcp_have - 2);
        }
        ssize_t n = recv(st->tcp_fd, dst, want, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (errno == ECONNRESET)
                probe_done_status(st->run, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st),
                                  "TCP connection reset after %zu bytes of the answer",
                                  st->tcp_have);
            else
                finish_errno(st, errno, 0, "TCP retry after a truncated answer: recv");
            return;
        }
        if (n == 0) {
            probe_done_status(st->run, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st),
                              "TCP answer cut short: connection closed after %zu of %zu bytes",
                              st->tcp_have, st->tcp_have < 2 ? (size_t)2 : st->tcp_need + 2);
            return;
        }
        st->tcp_have += (size_t)n;
        if (st->tcp_have == 2) {
            st->tcp_need = (size_t)st->tcp_len[0] << 8 | st->tcp_len[1];
            if (st->tcp_need == 0) {
                probe_done_status(st->run, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st),
                                  "TCP answer of length 0");
                return;
            }
            st->tcp_answer = malloc(st->tcp_need);
            if (!st->tcp_answer) {
                probe_done_status(st->run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
                return;
            }
        } else if (st->tcp_have > 2 && st->tcp_have - 2 == st->tcp_need) {
            tcp_judge(st);
            return;
        }
    }
}

static void tcp_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    dns_state_t *st = arg;
    switch (st->phase) {
    case DNS_TCP_CONNECT: {
        int err = probe_connect_result(fd);
        if (err) {
            finish_errno(st, err, 0, "TCP retry after a truncated answer: connect");
            return;
        }
        if (tcp_wait(st, DNS_TCP_SEND, EV_WRITE) == 0)
            tcp_send(st);
        return;
    }
    case DNS_TCP_SEND:
        tcp_send(st);
        return;
    case DNS_TCP_READ:
        tcp_read(st);
        return;
    case DNS_UDP_WAIT:
        break;
    }
}

static void tcp_start(dns_state_t *st)
{
    /* UDP is done with: a late or duplicate datagram must not be read any more. */
    event_free(st->udp_ev);
    st->udp_ev = NULL;
    close(st->udp_fd);
    st->udp_fd = -1;
    probe_connect_fail_t fail;
    st->tcp_fd = probe_connect_start(&st->dst, st->dstlen, st->port, &fail, NULL);
    if (st->tcp_fd < 0) {
        probe_done_status(
            st->run, fail.status, fail.status == PX_STATUS_REFUSED ? elapsed_us(st) : 0,
            "TCP retry after a truncated answer: %s: %s", fail.call, strerror(fail.err));
        return;
    }
    tcp_wait(st, DNS_TCP_CONNECT, EV_WRITE);
}

/* ---- UDP ---- */

/* Reads one ICMP error for the socket, if there is one, and ends the run with it. Returns 1
 * if the run ended. */
static int udp_icmp_error(dns_state_t *st)
{
    uint8_t data[64];
    union {
        char buf[512];
        struct cmsghdr align;
    } ctrl;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctrl.buf,
                         .msg_controllen = sizeof ctrl.buf};
    if (recvmsg(st->udp_fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
              (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
            continue;
        const struct sock_extended_err *ee = (const struct sock_extended_err *)CMSG_DATA(c);
        if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) {
            /* A local error (the kernel's own, e.g. a message too large) is ours. */
            probe_done_status(st->run, PX_STATUS_LOCAL_ERROR, 0, "send: %s",
                              strerror((int)ee->ee_errno));
            return 1;
        }
        probe_result_t res;
        memset(&res, 0, sizeof res);
        const struct sockaddr *from = SO_EE_OFFENDER(ee);
        char addr[PROBE_ADDR_MAX] = "?";
        if (from->sa_family == AF_INET || from->sa_family == AF_INET6)
            probe_addr_str(from, addr, sizeof addr);
        res.rtt_us = elapsed_us(st);
        if (ee->ee_errno == ECONNREFUSED) {
            /* Port unreachable: the host answered, so it is up; nothing serves DNS. */
            res.status = PX_STATUS_REFUSED;
            snprintf(res.message, sizeof res.message, "ICMP port unreachable from %s", addr);
        } else {
            res.status = PX_STATUS_UNREACHABLE;
            res.icmp_type = ee->ee_type;
            res.icmp_code = ee->ee_code;
            snprintf(res.icmp_from, sizeof res.icmp_from, "%s", addr);
            snprintf(res.message, sizeof res.message, "ICMP error type %u code %u from %s (%s)",
                     (unsigned)ee->ee_type, (unsigned)ee->ee_code, addr,
                     strerror((int)ee->ee_errno));
        }
        probe_done(st->run, &res);
        return 1;
    }
    return 0;
}

static int same_endpoint(const probe_addr_t *a, const struct sockaddr_storage *b)
{
    if (a->sa.sa_family != b->ss_family)
        return 0;
    if (a->sa.sa_family == AF_INET6) {
        const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;
        return a->v6.sin6_port == b6->sin6_port &&
               memcmp(&a->v6.sin6_addr, &b6->sin6_addr, sizeof b6->sin6_addr) == 0;
    }
    const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
    return a->v4.sin_port == b4->sin_port && a->v4.sin_addr.s_addr == b4->sin_addr.s_addr;
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    dns_state_t *st = arg;
    uint8_t buf[DNS_UDP_BUF];
    for (int i = 0; i < DNS_UDP_BATCH; i++) {
        if (udp_icmp_error(st))
            return;
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            finish_errno(st, errno, 0, "recv");
            return;
        }
        /* The socket is connected, so the kernel already drops other senders; checking
         * again costs nothing and does not depend on that. */
        if (!same_endpoint(&st->dst, &from))
            continue;
        dns_answer_t a;
        if ((size_t)n > sizeof buf) {
            snprintf(a.why, sizeof a.why, "a datagram of %zd bytes", n);
            a.verdict = DNS_ANSWER_MALFORMED;
        } else {
            dns_answer_parse(st->id, st->qname, st->qtype, buf, (size_t)n, &a);
        }
        if (a.verdict == DNS_ANSWER_VALID) {
            if (a.tc)
                tcp_start(st);
            else
                finish_answer(st, &a, 0);
            return;
        }
        /* Not our answer: ignored, as a resolver must (a spoofer may be guessing), but
         * remembered in case nothing better comes. */
        st->unusable++;
        st->unusable_rtt_us = elapsed_us(st);
        snprintf(st->last_unusable, sizeof st->last_unusable, "%s (%s)",
                 dns_answer_verdict_name(a.verdict), a.why);
    }
}

/* Builds the query into st->wire. Returns 0, or -1 with a message in why. */
static int build_query(dns_state_t *st, char *why, size_t len)
{
    ldns_rdf *name = ldns_dname_new_frm_str(st->qname);
    if (!name) {
        snprintf(why, len, "query name '%.200s' cannot be encoded", st->qname);
        return -1;
    }
    /* No flags: RD=0, because the probe asks a server about its own zones and a recursive
     * answer would measure something else; no EDNS0 either, so old servers and middleboxes
     * that choke on OPT records do not turn into FORMERR, and large answers go by TCP. */
    ldns_pkt *pkt = ldns_pkt_query_new(name, st->qtype, LDNS_RR_CLASS_IN, 0);
    if (!pkt) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    ldns_pkt_set_id(pkt, st->id);
    uint8_t *q = NULL;
    size_t qlen = 0;
    ldns_status s = ldns_pkt2wire(&q, pkt, &qlen);
    ldns_pkt_free(pkt);
    if (s != LDNS_STATUS_OK || qlen > UINT16_MAX) {
        free(q);
        snprintf(why, len, "cannot encode the query: %s", ldns_get_errorstr_by_id(s));
        return -1;
    }
    st->wire = malloc(qlen + 2);
    if (!st->wire) {
        free(q);
        snprintf(why, len, "out of memory");
        return -1;
    }
    st->wire[0] = (uint8_t)(qlen >> 8);
    st->wire[1] = (uint8_t)qlen;
    memcpy(st->wire + 2, q, qlen);
    st->wire_len = qlen + 2;
    free(q);
    return 0;
}

/* Parses the spec and fills the query parameters. Returns 0, or -1 with a message. */
static int dns_params(dns_state_t *st, const probe_target_t *t, char *why, size_t len)
{
    probespec_t ps;
    err_t err = {{0}};
    if (!t->spec) {
        snprintf(why, len, "dns probe without a spec");
        return -1;
    }
    if (probespec_parse(t->spec, &ps, &err) < 0 || ps.kind != PROBE_KIND_DNS) {
        snprintf(why, len, "bad dns spec: %.200s", err.msg[0] ? err.msg : t->spec);
        return -1;
    }
    snprintf(st->qname, sizeof st->qname, "%s", ps.host);
    st->qtype = (uint16_t)ldns_get_rr_type_by_name(ps.qtype);
    if (st->qtype == 0) {
        snprintf(why, len, "query type '%s' unknown to ldns", ps.qtype);
        return -1;
    }
    if (getrandom(&st->id, sizeof st->id, 0) != (ssize_t)sizeof st->id) {
        snprintf(why, len, "getrandom: %s", strerror(errno));
        return -1;
    }
    st->dst = t->addr;
    st->dstlen = t->addrlen;
    st->port = t->port ? t->port : DNS_DEFAULT_PORT;
    if (st->dst.sa.sa_family == AF_INET6)
        st->dst.v6.sin6_port = htons(st->port);
    else
        st->dst.v4.sin_port = htons(st->port);
    return 0;
}

static void dns_start(probe_run_t *run)
{
    const probe_target_t *t = probe_run_target(run);
    dns_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->run = run;
    st->udp_fd = st->tcp_fd = -1;
    st->phase = DNS_UDP_WAIT;
    probe_run_set_state(run, st);
    char why[PROBE_MSG_MAX];
    if (dns_params(st, t, why, sizeof why) < 0 || build_query(st, why, sizeof why) < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "%s", why);
        return;
    }
    int family = st->dst.sa.sa_family;
    st->udp_fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->udp_fd < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "socket: %s", strerror(errno));
        return;
    }
    /* Without IP_RECVERR Linux reports only port unreachable on a UDP socket; with it every
     * ICMP error for our flow arrives, with its type, code and sender. */
    int on = 1;
    if (family == AF_INET6 ? setsockopt(st->udp_fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on)
                           : setsockopt(st->udp_fd, SOL_IP, IP_RECVERR, &on, sizeof on)) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "IP_RECVERR: %s", strerror(errno));
        return;
    }
    struct event_base *base = probe_env_base(probe_run_env(run));
    st->timer = evtimer_new(base, timeout_cb, st);
    st->udp_ev = event_new(base, st->udp_fd, EV_READ | EV_PERSIST, udp_cb, st);
    if (!st->timer || !st->udp_ev) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    /* connect() makes the kernel deliver only the server's datagrams and its ICMP errors. */
    st->sent_mono_us = time_mono_us();
    if (connect(st->udp_fd, &st->dst.sa, st->dstlen) < 0) {
        finish_errno(st, errno, 1, "connect");
        return;
    }
    if (send(st->udp_fd, st->wire + 2, st->wire_len - 2, 0) < 0) {
        finish_errno(st, errno, 1, "send");
        return;
    }
    struct timeval tv = {.tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000};
    if (event_add(st->udp_ev, NULL) < 0 || evtimer_add(st->timer, &tv) < 0)
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "cannot add events");
}

static void dns_release(probe_run_t *run)
{
    dns_state_t *st = probe_run_state(run);
    if (!st)
        return;
    /* Events first, so no callback can run on a closed socket or freed state. */
    if (st->timer)
        event_free(st->timer);
    if (st->udp_ev)
        event_free(st->udp_ev);
    if (st->tcp_ev)
        event_free(st->tcp_ev);
    if (st->udp_fd >= 0)
        close(st->udp_fd);
    if (st->tcp_fd >= 0)
        close(st->tcp_fd);
    free(st->wire);
    free(st->tcp_answer);
    free(st);
    probe_run_set_state(run, NULL);
}

_Static_assert(sizeof(probe_dns_detail_t) <= PROBE_DETAIL_MAX, "dns details too large");

int probe_dns_detail(const probe_result_t *res, probe_dns_detail_t *out)
{
    if (res->kind != PROBE_KIND_DNS)
        return -1;
    return probe_result_get_detail(res, out, sizeof *out);
}

/* The records' messages point into a copy of the details in w, which lives as long as w. */
static int dns_encode(const probe_result_t *res, result_wire_t *w)
{
    probe_dns_detail_t *d = result_wire_alloc(w, sizeof *d);
    Parallax__DnsInfo *m = result_wire_alloc(w, sizeof *m);
    if (!d || !m || probe_dns_detail(res, d) < 0)
        return -1;
    size_t n = d->n_records < PROBE_DNS_RECORDS_MAX ? d->n_records : PROBE_DNS_RECORDS_MAX;
    Parallax__DnsRecord *recs = n ? result_wire_alloc(w, n * sizeof *recs) : NULL;
    Parallax__DnsRecord **ptrs = n ? result_wire_alloc(w, n * sizeof *ptrs) : NULL;
    if (n && (!recs || !ptrs))
        return -1;
    /* Only keep_records() fills the text, and it ends every string; ending the copy too
     * means no mistake there can make the wire read past it. */
    d->text[sizeof d->text - 1] = '\0';
    parallax__dns_info__init(m);
    for (size_t i = 0; i < n; i++) {
        const probe_dns_record_t *r = &d->records[i];
        const char *type = dns_answer_type_name(r->type);
        if (!type || r->name >= sizeof d->text || r->data >= sizeof d->text)
            return -1;
        int addr = r->type == LDNS_RR_TYPE_A || r->type == LDNS_RR_TYPE_AAAA;
        parallax__dns_record__init(&recs[i]);
        recs[i].type = (char *)type;
        recs[i].name = d->text + r->name;
        recs[i].address = addr ? d->text + r->data : (char *)"";
        recs[i].host = addr ? (char *)"" : d->text + r->data;
        recs[i].preference = r->preference;
        ptrs[i] = &recs[i];
    }
    m->rcode = d->rcode;
    m->aa = d->aa;
    m->answers = d->answers;
    m->has_soa = d->has_soa;
    m->soa_serial = d->soa_serial;
    m->over_tcp = d->over_tcp;
    m->n_records = n;
    m->records = ptrs;
    w->res.dns = m;
    return 0;
}

const probe_ops_t probe_dns_ops = {
    .kind = PROBE_KIND_DNS,
    .start = dns_start,
    .release = dns_release,
    .encode = dns_encode,
};
