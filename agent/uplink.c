/* uplink: ZeroMQ DEALER + CURVE client in a libevent loop. ZMQ_FD is edge-triggered and only
 * says "look at ZMQ_EVENTS", so every wake-up, send and receive is followed by draining both
 * sockets until ZMQ_EVENTS shows nothing more to read. */
#include "uplink.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "timeutil.h"
#include "wire.h"
#include "timer.h"

#define UPLINK_MONITOR_ENDPOINT "inproc://parallax-link-monitor"
/* The spool is the real buffer: the socket queues only what the outbox's send window lets
 * out (8 batches) plus hellos and heartbeats. A bigger queue would only hold copies of
 * batches the spool resends anyway after a reconnect. */
#define UPLINK_SNDHWM 32
#define UPLINK_RCVHWM 1000
/* libzmq reconnects by itself: first after 100 ms, then doubling up to 5 s, so a restarted
 * coordinator is found again quickly but a dead one costs one attempt every 5 s. */
#define UPLINK_RECONNECT_IVL_MS 100
#define UPLINK_RECONNECT_IVL_MAX_MS 5000
/* ZMTP heartbeats find a dead peer or path (a cut link sends no RST) within about IVL +
 * TIMEOUT = 8 s, far sooner than TCP would; the link then goes down and the session with
 * it, and the reconnect resends what was in flight. TTL tells the coordinator to give up on
 * us after 10 s of silence. */
#define UPLINK_HEARTBEAT_IVL_MS 2000
#define UPLINK_HEARTBEAT_TIMEOUT_MS 6000
#define UPLINK_HEARTBEAT_TTL_MS 10000
/* A CURVE handshake that has not finished in 5 s is abandoned and retried. */
#define UPLINK_HANDSHAKE_IVL_MS 5000
/* Messages handled per wake-up before yielding to the rest of the loop. */
#define UPLINK_DRAIN_BUDGET 256
/* The authentication error is logged at most this often. */
#define UPLINK_AUTH_LOG_US (30 * 1000000LL)
/* After a rejected handshake libzmq 4.3 gives up on the endpoint; the link reconnects after
 * this delay itself. */
#define UPLINK_REJECTED_RETRY_MS 2000

/* Connection state as the monitor reports it. */
#define UPLINK_STATE_LIST(X)                                                                       \
    X(CONNECTING, "connecting")   /* no TCP connection (libzmq retries on its own) */              \
    X(HANDSHAKING, "handshaking") /* TCP connected, CURVE handshake under way */                   \
    X(UP, "up")                   /* handshake succeeded: messages flow */                         \
    X(REJECTED, "rejected")       /* handshake refused; waiting to reconnect ourselves */

typedef enum uplink_state {
#define UPLINK_STATE_ENUM(name, text) UPLINK_##name,
    UPLINK_STATE_LIST(UPLINK_STATE_ENUM)
#undef UPLINK_STATE_ENUM
} uplink_state_t;

static const char *const uplink_state_names[] = {
#define UPLINK_STATE_NAME(name, text) text,
    UPLINK_STATE_LIST(UPLINK_STATE_NAME)
#undef UPLINK_STATE_NAME
};

struct link {
    struct event_base *base;
    uplink_callbacks_t cbs;
    void *arg;
    char *endpoint;
    char public_key[41];
    void *ctx;
    void *sock;
    void *mon;
    struct event *sock_ev;
    struct event *mon_ev;
    struct event *drain_ev; /* activated by hand to drain after sends and on budget */
    struct event *retry_ev; /* reconnect after a rejected handshake */
    uplink_state_t state;
    int attempt_failed; /* this connection attempt was already reported as failed */
    int64_t last_auth_log_us;
    unsigned failures_since_log;
    uplink_counters_t counters; /* .up is derived from state when read */
};

static void set_state(uplink_t *l, uplink_state_t next)
{
    if (l->state == next)
        return;
    log_debug("link: %s -> %s", uplink_state_names[l->state], uplink_state_names[next]);
    uplink_state_t prev = l->state;
    l->state = next;
    if (next == UPLINK_UP) {
        l->counters.ups++;
        log_info("link: connected to coordinator %s", l->endpoint);
        l->cbs.up(l->arg);
    } else if (prev == UPLINK_UP) {
        l->counters.losses++;
        log_warn("link: lost connection to coordinator %s; reconnecting", l->endpoint);
        l->cbs.down(l->arg);
    }
}

static void handshake_failed(uplink_t *l, const char *why)
{
    if (l->attempt_failed)
        return;
    l->attempt_failed = 1;
    l->failures_since_log++;
    l->counters.handshake_failures++;
    int64_t now = time_mono_us();
    if (l->last_auth_log_us && now - l->last_auth_log_us < UPLINK_AUTH_LOG_US)
        return;
    log_error("link: cannot authenticate with coordinator %s: CURVE handshake failed (%s; %u "
              "attempt%s since last report). Likely causes: wrong coordinator_key, or this "
              "agent's key is not registered or is disabled (agent public key %s). Retrying",
              l->endpoint, why, l->failures_since_log, l->failures_since_log == 1 ? "" : "s",
              l->public_key);
    l->last_auth_log_us = now;
    l->failures_since_log = 0;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    uplink_t *l = arg;
    /* zmq_disconnect may fail with ENOENT if libzmq already dropped the endpoint; either way
     * a fresh connect starts over. */
    (void)zmq_disconnect(l->sock, l->endpoint);
    if (zmq_connect(l->sock, l->endpoint) < 0) {
        log_error("link: reconnecting to %s failed: %s", l->endpoint, zmq_strerror(zmq_errno()));
        if (timer_arm_ms(l->retry_ev, UPLINK_REJECTED_RETRY_MS) < 0)
            log_error("link: cannot arm the reconnect timer: restart the agent");
        return;
    }
    set_state(l, UPLINK_CONNECTING);
}

static void monitor_event(uplink_t *l, uint16_t event, uint32_t value)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        l->attempt_failed = 0;
        set_state(l, UPLINK_HANDSHAKING);
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        l->failures_since_log = 0;
        l->last_auth_log_us = 0;
        set_state(l, UPLINK_UP);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        /* What libzmq 4.3.4 reports when the server cannot decrypt our hello, i.e. the
         * coordinator_key is wrong (value is an errno, usually EPIPE). libzmq retries. */
        handshake_failed(l, "connection closed during the handshake");
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
        /* AUTH is the coordinator's ZAP handler refusing our key (value: its status code).
         * libzmq 4.3.4 treats both as fatal and stops reconnecting, so we restart it. */
        char why[96];
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            snprintf(why, sizeof why, "coordinator refused this agent's key, ZAP status %u",
                     (unsigned)value);
        else
            snprintf(why, sizeof why, "protocol error 0x%x", (unsigned)value);
        handshake_failed(l, why);
        set_state(l, UPLINK_REJECTED);
        if (timer_arm_ms(l->retry_ev, UPLINK_REJECTED_RETRY_MS) < 0)
            log_error("link: cannot arm the reconnect timer: restart the agent");
        break;
    }
    case ZMQ_EVENT_DISCONNECTED:
        if (l->state == UPLINK_HANDSHAKING)
            handshake_failed(l, "disconnected before the handshake completed");
        if (l->state != UPLINK_REJECTED)
            set_state(l, UPLINK_CONNECTING);
        break;
    default:
        break;
    }
}

/* Reads one monitor event (two frames). Returns 1 if one was read, 0 if none was waiting. */
static int read_monitor(uplink_t *l)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, l->mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return 0;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    int valid = zmq_msg_size(&frame) == 6 && zmq_msg_more(&frame);
    if (valid) {
        const uint8_t *d = zmq_msg_data(&frame);
        memcpy(&event, d, 2);
        memcpy(&value, d + 2, 4);
    }
    /* Discard the rest of the event (the endpoint frame). */
    while (zmq_msg_more(&frame)) {
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, l->mon, ZMQ_DONTWAIT) < 0)
            break;
    }
    zmq_msg_close(&frame);
    if (valid)
        monitor_event(l, event, value);
    return 1;
}

/* Reads one message from the coordinator. Returns 1 if one was read, 0 if none. */
static int read_message(uplink_t *l)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, l->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return 0;
    }
    int more = zmq_msg_more(&msg);
    if (more) {
        /* The contract is one frame per message; drop all frames of anything else. */
        log_warn("link: dropping a multi-frame message from the coordinator");
        while (more) {
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, l->sock, ZMQ_DONTWAIT) < 0)
                break;
            more = zmq_msg_more(&msg);
        }
        zmq_msg_close(&msg);
        return 1;
    }
    l->cbs.message(zmq_msg_data(&msg), zmq_msg_size(&msg), l->arg);
    zmq_msg_close(&msg);
    return 1;
}

static int has_input(void *sock)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) < 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

static void drain(uplink_t *l)
{
    for (int budget = UPLINK_DRAIN_BUDGET; budget > 0; budget--) {
        int did = 0;
        if (has_input(l->mon))
            did |= read_monitor(l);
        if (has_input(l->sock))
            did |= read_message(l);
        if (!did)
            return;
    }
    /* More is waiting: continue on the next loop iteration, after other events. */
    event_active(l->drain_ev, EV_READ, 0);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain(arg);
}

static int set_int(void *sock, int option, int value, const char *name, err_t *err)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) < 0) {
        err_set(err, "zmq_setsockopt(%s): %s", name, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int set_key(void *sock, int option, const char *z85, const char *name, err_t *err)
{
    if (zmq_setsockopt(sock, option, z85, strlen(z85)) < 0) {
        err_set(err, "zmq_setsockopt(%s): %s", name, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int configure(void *s, const uplink_config_t *cfg, err_t *err)
{
    int64_t maxmsg = PX_WIRE_MAX_TO_AGENT;
    if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0) {
        err_set(err, "zmq_setsockopt(ZMQ_MAXMSGSIZE): %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (set_key(s, ZMQ_CURVE_SERVERKEY, cfg->server_key, "ZMQ_CURVE_SERVERKEY", err) < 0 ||
        set_key(s, ZMQ_CURVE_PUBLICKEY, cfg->public_key, "ZMQ_CURVE_PUBLICKEY", err) < 0 ||
        set_key(s, ZMQ_CURVE_SECRETKEY, cfg->secret_key, "ZMQ_CURVE_SECRETKEY", err) < 0 ||
        /* Unsent messages are worthless at close: every batch is in the spool until acked
         * and is resent by the next run; lingering would only delay the exit. */
        set_int(s, ZMQ_LINGER, 0, "ZMQ_LINGER", err) < 0 ||
        /* Queue only to a completed connection, so a send while disconnected fails at once
         * (EAGAIN) and the batch stays in the spool instead of an invisible queue. */
        set_int(s, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE", err) < 0 ||
        set_int(s, ZMQ_SNDHWM, UPLINK_SNDHWM, "ZMQ_SNDHWM", err) < 0 ||
        /* Schedules and acks only; bounded so a flooding peer cannot grow our memory. */
        set_int(s, ZMQ_RCVHWM, UPLINK_RCVHWM, "ZMQ_RCVHWM", err) < 0 ||
        set_int(s, ZMQ_RECONNECT_IVL, UPLINK_RECONNECT_IVL_MS, "ZMQ_RECONNECT_IVL", err) < 0 ||
        set_int(s, ZMQ_RECONNECT_IVL_MAX, UPLINK_RECONNECT_IVL_MAX_MS, "ZMQ_RECONNECT_IVL_MAX",
                err) < 0 ||
        set_int(s, ZMQ_HEARTBEAT_IVL, UPLINK_HEARTBEAT_IVL_MS, "ZMQ_HEARTBEAT_IVL", err) < 0 ||
        set_int(s, ZMQ_HEARTBEAT_TIMEOUT, UPLINK_HEARTBEAT_TIMEOUT_MS, "ZMQ_HEARTBEAT_TIMEOUT",
                err) < 0 ||
        set_int(s, ZMQ_HEARTBEAT_TTL, UPLINK_HEARTBEAT_TTL_MS, "ZMQ_HEARTBEAT_TTL", err) < 0 ||
        set_int(s, ZMQ_HANDSHAKE_IVL, UPLINK_HANDSHAKE_IVL_MS, "ZMQ_HANDSHAKE_IVL", err) < 0)
        return -1;
    return 0;
}

static struct event *watch_fd(uplink_t *l, void *sock, err_t *err)
{
    int fd = -1;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0) {
        err_set(err, "zmq_getsockopt(ZMQ_FD): %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    struct event *ev = event_new(l->base, fd, EV_READ | EV_PERSIST, drain_cb, l);
    if (!ev || event_add(ev, NULL) < 0) {
        if (ev)
            event_free(ev);
        err_set(err, "cannot watch the ZeroMQ socket");
        return NULL;
    }
    return ev;
}

uplink_t *uplink_new(struct event_base *base, const uplink_config_t *cfg,
                     const uplink_callbacks_t *cbs, void *arg, err_t *err)
{
    uplink_t *l = calloc(1, sizeof *l);
    if (!l) {
        err_set(err, "out of memory");
        return NULL;
    }
    l->base = base;
    l->cbs = *cbs;
    l->arg = arg;
    l->state = UPLINK_CONNECTING;
    snprintf(l->public_key, sizeof l->public_key, "%s", cfg->public_key);
    l->endpoint = strdup(cfg->endpoint);
    l->ctx = zmq_ctx_new();
    if (!l->endpoint || !l->ctx) {
        err_set(err, "cannot create the ZeroMQ context");
        goto fail;
    }
    l->sock = zmq_socket(l->ctx, ZMQ_DEALER);
    if (!l->sock) {
        err_set(err, "zmq_socket(DEALER): %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (configure(l->sock, cfg, err) < 0)
        goto fail;
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(l->sock, UPLINK_MONITOR_ENDPOINT, events) < 0) {
        err_set(err, "zmq_socket_monitor: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    l->mon = zmq_socket(l->ctx, ZMQ_PAIR);
    if (!l->mon || set_int(l->mon, ZMQ_LINGER, 0, "ZMQ_LINGER", err) < 0 ||
        zmq_connect(l->mon, UPLINK_MONITOR_ENDPOINT) < 0) {
        if (!err || !err->msg[0])
            err_set(err, "cannot connect the ZeroMQ monitor: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    l->drain_ev = event_new(base, -1, 0, drain_cb, l);
    l->retry_ev = evtimer_new(base, retry_cb, l);
    if (!l->drain_ev || !l->retry_ev) {
        err_set(err, "out of memory");
        goto fail;
    }
    if (!(l->sock_ev = watch_fd(l, l->sock, err)) || !(l->mon_ev = watch_fd(l, l->mon, err)))
        goto fail;
    if (zmq_connect(l->sock, l->endpoint) < 0) {
        err_set(err, "cannot connect to coordinator '%s': %s", l->endpoint,
                zmq_strerror(zmq_errno()));
        goto fail;
    }
    return l;
fail:
    uplink_destroy(&l);
    return NULL;
}

void uplink_destroy(uplink_t **link)
{
    if (!link || !*link)
        return;
    uplink_t *l = *link;
    if (l->sock_ev)
        event_free(l->sock_ev);
    if (l->mon_ev)
        event_free(l->mon_ev);
    if (l->drain_ev)
        event_free(l->drain_ev);
    if (l->retry_ev)
        event_free(l->retry_ev);
    if (l->sock) {
        (void)zmq_socket_monitor(l->sock, NULL, 0);
        zmq_close(l->sock);
    }
    if (l->mon)
        zmq_close(l->mon);
    /* Both sockets have linger 0, so this returns at once. */
    if (l->ctx)
        zmq_ctx_term(l->ctx);
    free(l->endpoint);
    free(l);
    *link = NULL;
}

int uplink_send(uplink_t *l, const uint8_t *buf, size_t len)
{
    if (l->state != UPLINK_UP)
        return -1;
    int rc = zmq_send(l->sock, buf, len, ZMQ_DONTWAIT);
    int saved = zmq_errno();
    /* The send may have consumed the edge ZMQ_FD would have signalled input with. */
    event_active(l->drain_ev, EV_READ, 0);
    if (rc < 0) {
        if (saved != EAGAIN)
            log_debug("link: send failed: %s", zmq_strerror(saved));
        return -1;
    }
    return 0;
}

int uplink_is_up(const uplink_t *l)
{
    return l->state == UPLINK_UP;
}

void uplink_counters(const uplink_t *l, uplink_counters_t *out)
{
    *out = l->counters;
    out->up = l->state == UPLINK_UP;
}
