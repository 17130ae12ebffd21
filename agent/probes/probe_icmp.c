/* probe_icmp: runtime state of one echo probe: its registration with the ICMP socket and
 * its timeout timer. Whichever of reply and timeout comes first ends the run. */
#include "probe_icmp.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "icmp_mux.h"
#include "timeutil.h"
#include "timer.h"

typedef struct icmp_state {
    probe_run_t *run;
    icmp_mux_t *mux;
    int registered; /* the mux still holds our sequence number */
    uint16_t seq;
    int64_t sent_mono_us;
    struct event *timeout;
} icmp_state_t;

static void icmp_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    icmp_state_t *st = arg;
    probe_done_status(st->run, PX_STATUS_TIMEOUT, 0, "no echo reply within %u ms",
                      (unsigned)probe_run_target(st->run)->timeout_ms);
}

static void icmp_reply_cb(const icmp_mux_reply_t *reply, void *arg)
{
    icmp_state_t *st = arg;
    st->registered = 0; /* the mux dropped the registration before calling us */
    int64_t rtt = reply->recv_mono_us - st->sent_mono_us;
    uint32_t rtt_us = rtt < 0 ? 0 : rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
    if (!reply->is_error) {
        probe_done_status(st->run, PX_STATUS_OK, rtt_us, "echo reply");
        return;
    }
    probe_result_t res = {.status = PX_STATUS_UNREACHABLE,
                          .rtt_us = rtt_us,
                          .icmp_type = reply->type,
                          .icmp_code = reply->code};
    snprintf(res.icmp_from, sizeof res.icmp_from, "%s", reply->from);
    snprintf(res.message, sizeof res.message, "ICMP error type %u code %u from %s",
             (unsigned)reply->type, (unsigned)reply->code, reply->from[0] ? reply->from : "?");
    probe_done(st->run, &res);
}

static void icmp_start(probe_run_t *run)
{
    const probe_target_t *t = probe_run_target(run);
    err_t err = {{0}};
    icmp_mux_t *mux = probe_env_icmp(probe_run_env(run), t->addr.sa.sa_family, &err);
    if (!mux) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "%s", err.msg);
        return;
    }
    icmp_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->run = run;
    st->mux = mux;
    probe_run_set_state(run, st);
    st->timeout = evtimer_new(probe_env_base(probe_run_env(run)), icmp_timeout_cb, st);
    if (!st->timeout) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    /* The deadline first: a request out with no deadline would wait for its reply forever. */
    if (timer_arm_ms(st->timeout, t->timeout_ms) < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "cannot arm the run's deadline");
        return;
    }
    st->sent_mono_us = time_mono_us();
    if (icmp_mux_send(mux, &t->addr.sa, t->addrlen, icmp_reply_cb, st, &st->seq, &err) < 0) {
        /* sendto() failing here (no route, address not available) is the vantage's problem. */
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "cannot send echo request: %s", err.msg);
        return;
    }
    st->registered = 1;
}

static void icmp_release(probe_run_t *run)
{
    icmp_state_t *st = probe_run_state(run);
    if (!st)
        return;
    if (st->timeout)
        event_free(st->timeout);
    if (st->registered)
        icmp_mux_forget(st->mux, st->seq);
    free(st);
    probe_run_set_state(run, NULL);
}

const probe_ops_t probe_icmp_ops = {
    .kind = PROBE_KIND_ICMP,
    .start = icmp_start,
    .release = icmp_release,
};
