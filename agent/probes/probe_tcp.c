/* probe_tcp: runtime state of one connect probe: the socket and one event that fires on
 * writability or on the timeout, whichever comes first. */
#include "probe_tcp.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

typedef struct tcp_state {
    probe_run_t *run;
    int fd;
    int64_t start_mono_us;
    struct event *ev;
} tcp_state_t;

px_status_t probe_tcp_status_for_errno(int err, int immediate)
{
    switch (err) {
    case 0:
        return PX_STATUS_OK;
    case ECONNREFUSED:
        return PX_STATUS_REFUSED;
    case ETIMEDOUT:
        return PX_STATUS_TIMEOUT;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENONET:
    case EPROTO:
        /* Reported at connect() time it is our own routing table saying no; reported later
         * it came from an ICMP error on the path. */
        return immediate ? PX_STATUS_LOCAL_ERROR : PX_STATUS_UNREACHABLE;
    default:
        return PX_STATUS_LOCAL_ERROR;
    }
}

static uint32_t elapsed_us(const tcp_state_t *st)
{
    int64_t d = time_mono_us() - st->start_mono_us;
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static void tcp_finish(tcp_state_t *st, int err, int immediate)
{
    px_status_t status = probe_tcp_status_for_errno(err, immediate);
    uint32_t rtt = status == PX_STATUS_OK || status == PX_STATUS_REFUSED ? elapsed_us(st) : 0;
    if (status == PX_STATUS_OK)
        probe_done_status(st->run, status, rtt, "connected");
    else
        probe_done_status(st->run, status, rtt, "%s%s", immediate ? "connect: " : "",
                          strerror(err));
}

static void tcp_event_cb(evutil_socket_t fd, short what, void *arg)
{
    tcp_state_t *st = arg;
    if (what & EV_TIMEOUT) {
        probe_done_status(st->run, PX_STATUS_TIMEOUT, 0, "no answer within %u ms",
                          (unsigned)probe_run_target(st->run)->timeout_ms);
        return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    tcp_finish(st, err, 0);
}

static void tcp_start(probe_run_t *run)
{
    const probe_target_t *t = probe_run_target(run);
    tcp_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->run = run;
    st->fd = -1;
    probe_run_set_state(run, st);
    st->fd = socket(t->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->fd < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "socket: %s", strerror(errno));
        return;
    }
    probe_addr_t dst = t->addr;
    if (dst.sa.sa_family == AF_INET6)
        dst.v6.sin6_port = htons(t->port);
    else
        dst.v4.sin_port = htons(t->port);
    st->start_mono_us = time_mono_us();
    if (connect(st->fd, &dst.sa, t->addrlen) == 0) {
        tcp_finish(st, 0, 1);
        return;
    }
    if (errno != EINPROGRESS) {
        tcp_finish(st, errno, 1);
        return;
    }
    st->ev = event_new(probe_env_base(probe_run_env(run)), st->fd, EV_WRITE, tcp_event_cb, st);
    struct timeval tv = {.tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000};
    if (!st->ev || event_add(st->ev, &tv) < 0)
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
}

static void tcp_release(probe_run_t *run)
{
    tcp_state_t *st = probe_run_state(run);
    if (!st)
        return;
    if (st->ev)
        event_free(st->ev);
    if (st->fd >= 0)
        close(st->fd);
    free(st);
    probe_run_set_state(run, NULL);
}

const probe_ops_t probe_tcp_ops = {
    .kind = PROBE_KIND_TCP,
    .start = tcp_start,
    .release = tcp_release,
};
