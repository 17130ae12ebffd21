/* probe_tcp: runtime state of one connect probe: the socket and one event that fires on
 * writability or on the timeout, whichever comes first. */
#include "probe_tcp.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe_connect.h"
#include "timeutil.h"

typedef struct tcp_state {
    probe_run_t *run;
    int fd;
    int64_t start_mono_us;
    struct event *ev;
} tcp_state_t;

static uint32_t elapsed_us(const tcp_state_t *st)
{
    int64_t d = time_mono_us() - st->start_mono_us;
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* Ends the run with the outcome of a connect that was under way. */
static void tcp_finish(tcp_state_t *st, int err)
{
    px_status_t status = probe_connect_status(err, 0);
    uint32_t rtt = status == PX_STATUS_OK || status == PX_STATUS_REFUSED ? elapsed_us(st) : 0;
    if (status == PX_STATUS_OK)
        probe_done_status(st->run, status, rtt, "connected");
    else
        probe_done_status(st->run, status, rtt, "%s", strerror(err));
}

static void tcp_event_cb(evutil_socket_t fd, short what, void *arg)
{
    tcp_state_t *st = arg;
    if (what & EV_TIMEOUT) {
        probe_done_status(st->run, PX_STATUS_TIMEOUT, 0, "no answer within %u ms",
                          (unsigned)probe_run_target(st->run)->timeout_ms);
        return;
    }
    tcp_finish(st, probe_connect_result(fd));
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
    st->start_mono_us = time_mono_us();
    probe_connect_fail_t fail;
    int at_once = 0;
    st->fd = probe_connect_start(&t->addr, t->addrlen, t->port, &fail, &at_once);
    if (st->fd < 0) {
        /* A refusal at once (a local port) is an answer, timed like a later one. */
        probe_done_status(run, fail.status, fail.status == PX_STATUS_REFUSED ? elapsed_us(st) : 0,
                          "%s: %s", fail.call, strerror(fail.err));
        return;
    }
    if (at_once) {
        /* Connected at once (loopback): that is the answer, without a turn of the loop. */
        tcp_finish(st, 0);
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
