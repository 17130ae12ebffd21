/* icmp_mux: the shared ICMP sockets. Raw sockets see every ICMP packet the host receives, so
 * each one is filtered by identifier, sequence and address; ping sockets see only their own
 * echo traffic (the kernel rewrites the identifier) and receive errors on the error queue. */
#include "icmp_mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "icmp_packet.h"
#include "log.h"
#include "timeutil.h"

#define ICMP_MUX_SLOTS 65536
#define ICMP_MUX_PAYLOAD 24
#define ICMP_MUX_RCVBUF (1024 * 1024)
/* Packets read per readiness callback, so a flood cannot starve the rest of the loop. */
#define ICMP_MUX_READ_BUDGET 256

typedef struct icmp_mux_watch {
    icmp_mux_watch_fn fn; /* NULL: removed while watchers were being called */
    void *arg;
} icmp_mux_watch_t;

typedef struct icmp_slot {
    icmp_mux_fn fn;
    void *arg;
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } dst;
} icmp_slot_t;

struct icmp_mux {
    struct event_base *base;
    int family;
    int raw; /* 1: SOCK_RAW, 0: ping socket */
    int fd;
    struct event *ev;
    uint16_t id;
    uint16_t next_seq;
    unsigned in_flight;
    icmp_slot_t **slots; /* ICMP_MUX_SLOTS entries, indexed by sequence number */
    /* Watchers of other ICMP messages. While they are being called, an unwatch only clears
     * fn (the array is compacted afterwards), so the loop never skips or repeats one. */
    icmp_mux_watch_t *watchers;
    size_t n_watchers, cap_watchers;
    int notifying;
};

static void mux_read_cb(evutil_socket_t fd, short what, void *arg);

static int open_socket(int family, int *raw)
{
    int proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd >= 0) {
        *raw = 1;
        return fd;
    }
    if (errno != EPERM && errno != EACCES)
        return -1;
    *raw = 0;
    return socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}

icmp_mux_t *icmp_mux_new(struct event_base *base, int family, err_t *err)
{
    icmp_mux_t *mux = calloc(1, sizeof *mux);
    if (!mux) {
        err_set(err, "out of memory");
        return NULL;
    }
    mux->base = base;
    mux->family = family;
    mux->fd = open_socket(family, &mux->raw);
    if (mux->fd < 0) {
        err_set(err,
                "cannot open an ICMP%s socket (raw needs root or CAP_NET_RAW; ping "
                "sockets need net.ipv4.ping_group_range): %s",
                family == AF_INET6 ? "v6" : "", strerror(errno));
        goto fail;
    }
    int size = ICMP_MUX_RCVBUF;
    /* A small receive buffer only loses replies under load; not worth failing for. */
    (void)setsockopt(mux->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (family == AF_INET && mux->raw) {
        /* The kernel hands a raw socket every ICMP packet the host receives; the mux reads
         * only these three, so the rest (anyone's echo requests, redirects...) never wake it.
         * ICMP_FILTER's bits say which types to block. */
        struct icmp_filter filter = {.data = ~((1U << ICMP_ECHOREPLY) | (1U << ICMP_DEST_UNREACH) |
                                               (1U << ICMP_TIME_EXCEEDED))};
        if (setsockopt(mux->fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) < 0) {
            err_set(err, "cannot set the ICMP filter: %s", strerror(errno));
            goto fail;
        }
    }
    if (family == AF_INET6 && mux->raw) {
        struct icmp6_filter filter;
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
        ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filter);
        if (setsockopt(mux->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0) {
            err_set(err, "cannot set the ICMPv6 filter: %s", strerror(errno));
            goto fail;
        }
    }
    if (!mux->raw) {
        /* Ping sockets report ICMP errors only through the error queue. */
        int on = 1;
        int rc = family == AF_INET6
                     ? setsockopt(mux->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on)
                     : setsockopt(mux->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
        if (rc < 0) {
            err_set(err, "cannot enable ICMP error reports on the ping socket: %s",
                    strerror(errno));
            goto fail;
        }
    }
    if (getrandom(&mux->id, sizeof mux->id, GRND_NONBLOCK) != sizeof mux->id)
        mux->id = (uint16_t)getpid();
    mux->next_seq = (uint16_t)(mux->id * 7919u);
    mux->slots = calloc(ICMP_MUX_SLOTS, sizeof *mux->slots);
    mux->ev = event_new(base, mux->fd, EV_READ | EV_PERSIST, mux_read_cb, mux);
    if (!mux->slots || !mux->ev || event_add(mux->ev, NULL) < 0) {
        err_set(err, "out of memory");
        goto fail;
    }
    return mux;
fail:
    icmp_mux_destroy(&mux);
    return NULL;
}

void icmp_mux_destroy(icmp_mux_t **mux)
{
    if (!mux || !*mux)
        return;
    icmp_mux_t *m = *mux;
    if (m->ev)
        event_free(m->ev);
    if (m->slots) {
        for (size_t i = 0; i < ICMP_MUX_SLOTS; i++)
            free(m->slots[i]);
        free(m->slots);
    }
    free(m->watchers);
    if (m->fd >= 0)
        close(m->fd);
    free(m);
    *mux = NULL;
}

const char *icmp_mux_mode(const icmp_mux_t *mux)
{
    return mux->raw ? "raw" : "ping";
}

int icmp_mux_send(icmp_mux_t *mux, const struct sockaddr *dst, socklen_t dstlen, icmp_mux_fn fn,
                  void *arg, uint16_t *seq_out, err_t *err)
{
    if (dst->sa_family != mux->family || dstlen > sizeof(((icmp_slot_t *)0)->dst)) {
        err_set(err, "address family does not match the ICMP socket");
        return -1;
    }
    if (mux->in_flight >= ICMP_MUX_SLOTS - 1) {
        err_set(err, "too many ICMP echo requests in flight");
        return -1;
    }
    uint16_t seq = mux->next_seq;
    while (mux->slots[seq])
        seq++;
    mux->next_seq = (uint16_t)(seq + 1);
    icmp_slot_t *slot = calloc(1, sizeof *slot);
    if (!slot) {
        err_set(err, "out of memory");
        return -1;
    }
    slot->fn = fn;
    slot->arg = arg;
    memcpy(&slot->dst, dst, dstlen);
    uint8_t pkt[64];
    size_t n = icmp_packet_build_echo(mux->family, mux->id, seq, ICMP_MUX_PAYLOAD, pkt, sizeof pkt);
    ssize_t rc = sendto(mux->fd, pkt, n, 0, dst, dstlen);
    /* An ICMP error that arrived for an earlier request can be reported once, as this
     * call's errno (the socket's pending error); the second try tells a real failure. */
    if (rc < 0 && (errno == EHOSTUNREACH || errno == ENETUNREACH || errno == ECONNREFUSED ||
                   errno == EHOSTDOWN || errno == EPROTO))
        rc = sendto(mux->fd, pkt, n, 0, dst, dstlen);
    if (rc < 0) {
        err_set(err, "%s", strerror(errno));
        free(slot);
        return -1;
    }
    mux->slots[seq] = slot;
    mux->in_flight++;
    *seq_out = seq;
    return 0;
}

void icmp_mux_forget(icmp_mux_t *mux, uint16_t seq)
{
    if (!mux->slots[seq])
        return;
    free(mux->slots[seq]);
    mux->slots[seq] = NULL;
    mux->in_flight--;
}

static int same_addr(int family, const icmp_slot_t *slot, const void *addr_bytes)
{
    if (family == AF_INET6)
        return memcmp(&slot->dst.v6.sin6_addr, addr_bytes, 16) == 0;
    return memcmp(&slot->dst.v4.sin_addr, addr_bytes, 4) == 0;
}

static const void *sockaddr_bytes(int family, const struct sockaddr_storage *ss)
{
    if (family == AF_INET6)
        return &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return &((const struct sockaddr_in *)ss)->sin_addr;
}

/* Takes the registration for seq out of the table and calls it. */
static void deliver(icmp_mux_t *mux, uint16_t seq, const icmp_mux_reply_t *reply)
{
    icmp_slot_t *slot = mux->slots[seq];
    mux->slots[seq] = NULL;
    mux->in_flight--;
    icmp_mux_fn fn = slot->fn;
    void *arg = slot->arg;
    free(slot);
    fn(reply, arg);
}

int icmp_mux_watch(icmp_mux_t *mux, icmp_mux_watch_fn fn, void *arg, err_t *err)
{
    if (!mux->raw) {
        err_set(err, "the ICMP%s socket is an unprivileged ping socket, not a raw one",
                mux->family == AF_INET6 ? "v6" : "");
        return -1;
    }
    if (mux->n_watchers == mux->cap_watchers) {
        size_t cap = mux->cap_watchers ? mux->cap_watchers * 2 : 8;
        icmp_mux_watch_t *w = realloc(mux->watchers, cap * sizeof *w);
        if (!w) {
            err_set(err, "out of memory");
            return -1;
        }
        mux->watchers = w;
        mux->cap_watchers = cap;
    }
    mux->watchers[mux->n_watchers++] = (icmp_mux_watch_t){.fn = fn, .arg = arg};
    return 0;
}

void icmp_mux_unwatch(icmp_mux_t *mux, icmp_mux_watch_fn fn, void *arg)
{
    for (size_t i = 0; i < mux->n_watchers; i++) {
        if (mux->watchers[i].fn != fn || mux->watchers[i].arg != arg)
            continue;
        if (mux->notifying) {
            mux->watchers[i].fn = NULL;
        } else {
            mux->watchers[i] = mux->watchers[--mux->n_watchers];
        }
        return;
    }
}

static void notify_watchers(icmp_mux_t *mux, const uint8_t *buf, size_t len,
                            const struct sockaddr_storage *from, int64_t now)
{
    if (mux->n_watchers == 0)
        return;
    mux->notifying = 1;
    /* Re-read n_watchers and the array each time: a callback may add a watcher. */
    for (size_t i = 0; i < mux->n_watchers; i++)
        if (mux->watchers[i].fn)
            mux->watchers[i].fn(buf, len, (const struct sockaddr *)from, now, mux->watchers[i].arg);
    mux->notifying = 0;
    size_t kept = 0;
    for (size_t i = 0; i < mux->n_watchers; i++)
        if (mux->watchers[i].fn)
            mux->watchers[kept++] = mux->watchers[i];
    mux->n_watchers = kept;
}

static void handle_packet(icmp_mux_t *mux, const uint8_t *buf, size_t len,
                          const struct sockaddr_storage *from, int64_t now)
{
    icmp_packet_t pkt;
    int with_ip = mux->family == AF_INET && mux->raw;
    if (icmp_packet_parse(mux->family, with_ip, buf, len, &pkt) == ICMP_PACKET_IGNORE) {
        if (mux->raw)
            notify_watchers(mux, buf, len, from, now);
        return;
    }
    /* Ping sockets get their identifier from the kernel, and only see their own packets. */
    if (mux->raw && pkt.id != mux->id)
        return;
    icmp_slot_t *slot = mux->slots[pkt.seq];
    if (!slot)
        return;
    icmp_mux_reply_t reply = {.type = pkt.type, .code = pkt.code, .recv_mono_us = now};
    if (from->ss_family != mux->family)
        return;
    const void *src = sockaddr_bytes(mux->family, from);
    inet_ntop(mux->family, src, reply.from, sizeof reply.from);
    if (pkt.kind == ICMP_PACKET_ECHO_REPLY) {
        if (!same_addr(mux->family, slot, src))
            return;
    } else {
        if (!same_addr(mux->family, slot, pkt.quoted_dst))
            return;
        reply.is_error = 1;
    }
    deliver(mux, pkt.seq, &reply);
}

/* A ping socket's ICMP error: the payload is our request, the cmsg says what happened. */
static void handle_errqueue(icmp_mux_t *mux, const uint8_t *buf, size_t len,
                            const struct sockaddr_storage *dst, struct msghdr *msg, int64_t now)
{
    if (len < 8 || dst->ss_family != mux->family)
        return;
    uint16_t seq = (uint16_t)((buf[6] << 8) | buf[7]);
    icmp_slot_t *slot = mux->slots[seq];
    if (!slot || !same_addr(mux->family, slot, sockaddr_bytes(mux->family, dst)))
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        int v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
        int v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!(v4 || v6) || c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err)))
            continue;
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
            continue;
        icmp_mux_reply_t reply = {
            .is_error = 1, .type = ee.ee_type, .code = ee.ee_code, .recv_mono_us = now};
        size_t off_len = c->cmsg_len - CMSG_LEN(sizeof ee);
        struct sockaddr_storage offender;
        memset(&offender, 0, sizeof offender);
        if (off_len > 0) {
            memcpy(&offender, CMSG_DATA(c) + sizeof ee,
                   off_len < sizeof offender ? off_len : sizeof offender);
            if (offender.ss_family == mux->family)
                inet_ntop(mux->family, sockaddr_bytes(mux->family, &offender), reply.from,
                          sizeof reply.from);
        }
        deliver(mux, seq, &reply);
        return;
    }
}

static int read_one(icmp_mux_t *mux, int flags)
{
    uint8_t buf[1500];
    uint8_t control[512];
    struct sockaddr_storage from;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_name = &from,
                         .msg_namelen = sizeof from,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof control};
    memset(&from, 0, sizeof from);
    ssize_t n = recvmsg(mux->fd, &msg, flags | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        /* A raw socket may report a pending ICMP error once as errno; it is consumed now. */
        log_debug("icmp: receive error ignored: %s", strerror(errno));
        return errno == EINTR || errno == EHOSTUNREACH || errno == ENETUNREACH ||
                       errno == ECONNREFUSED || errno == EPROTO
                   ? 1
                   : 0;
    }
    /* MSG_TRUNC: the tail is missing but the headers we need come first; parse what we have. */
    size_t len = (size_t)n > sizeof buf ? sizeof buf : (size_t)n;
    int64_t now = time_mono_us();
    if (flags & MSG_ERRQUEUE)
        handle_errqueue(mux, buf, len, &from, &msg, now);
    else
        handle_packet(mux, buf, len, &from, now);
    return 1;
}

static void mux_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    icmp_mux_t *mux = arg;
    int budget = ICMP_MUX_READ_BUDGET;
    while (budget-- > 0 && read_one(mux, 0))
        ;
    if (!mux->raw)
        while (budget-- > 0 && read_one(mux, MSG_ERRQUEUE))
            ;
}
