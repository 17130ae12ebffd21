/* router: ROUTER socket with CURVE, fail-closed ZAP handler, and polling.
 * Authentication fails closed: the socket enforces its ZAP domain, so when no handler answers
 * (none bound, or a bug) no client key is admitted. */
#include "router.h"
#include "zap_request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
/* A draft option in libzmq 4.3 that the stable library still accepts. */
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* Per-agent queue bounds. An agent keeps few batches unacknowledged at a time, so a deep
 * queue only holds a misbehaving peer's flood (up to HWM x ZMQ_MAXMSGSIZE of memory each). */
#define ROUTER_HWM 100
/* ZeroMQ heartbeats notice a dead peer after about IVL + TIMEOUT; TTL tells the agent how
 * long to wait for ours. TCP keepalive catches the connections behind a silent NAT. */
#define ROUTER_HEARTBEAT_IVL_MS 5000
#define ROUTER_HEARTBEAT_TIMEOUT_MS 15000
#define ROUTER_HEARTBEAT_TTL_MS 20000
#define ROUTER_HANDSHAKE_MS 10000
#define ROUTER_KEEPALIVE_IDLE_S 60
#define ROUTER_KEEPALIVE_INTVL_S 10
#define ROUTER_KEEPALIVE_CNT 3

struct link {
    void *ctx;
    void *router;
    void *zap; /* NULL when built without a handler */
};

static int set_int(void *sock, int opt, int value, const char *name, err_t *err)
{
    if (zmq_setsockopt(sock, opt, &value, sizeof value) != 0) {
        err_set(err, "cannot set %s: %s", name, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int set_bytes(void *sock, int opt, const void *value, size_t len, const char *name,
                     err_t *err)
{
    if (zmq_setsockopt(sock, opt, value, len) != 0) {
        err_set(err, "cannot set %s: %s", name, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int router_configure(void *r, const keypair_t *keys, size_t max_msg, err_t *err)
{
    int64_t maxmsg = (int64_t)max_msg;
    if (set_int(r, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER", err) < 0 ||
        set_bytes(r, ZMQ_CURVE_SECRETKEY, keys->secret_z85, KEYS_Z85_LEN + 1, "ZMQ_CURVE_SECRETKEY",
                  err) < 0 ||
        set_bytes(r, ZMQ_ZAP_DOMAIN, ROUTER_ZAP_DOMAIN, strlen(ROUTER_ZAP_DOMAIN), "ZMQ_ZAP_DOMAIN",
                  err) < 0 ||
        set_int(r, ZMQ_ZAP_ENFORCE_DOMAIN, 1, "ZMQ_ZAP_ENFORCE_DOMAIN", err) < 0 ||
        /* Unroutable replies fail loudly instead of vanishing. */
        set_int(r, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY", err) < 0 ||
        set_bytes(r, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg, "ZMQ_MAXMSGSIZE", err) < 0 ||
        set_int(r, ZMQ_SNDHWM, ROUTER_HWM, "ZMQ_SNDHWM", err) < 0 ||
        set_int(r, ZMQ_RCVHWM, ROUTER_HWM, "ZMQ_RCVHWM", err) < 0 ||
        /* A peer that connects and never finishes the handshake is dropped. */
        set_int(r, ZMQ_HANDSHAKE_IVL, ROUTER_HANDSHAKE_MS, "ZMQ_HANDSHAKE_IVL", err) < 0 ||
        set_int(r, ZMQ_HEARTBEAT_IVL, ROUTER_HEARTBEAT_IVL_MS, "ZMQ_HEARTBEAT_IVL", err) < 0 ||
        set_int(r, ZMQ_HEARTBEAT_TIMEOUT, ROUTER_HEARTBEAT_TIMEOUT_MS, "ZMQ_HEARTBEAT_TIMEOUT",
                err) < 0 ||
        set_int(r, ZMQ_HEARTBEAT_TTL, ROUTER_HEARTBEAT_TTL_MS, "ZMQ_HEARTBEAT_TTL", err) < 0 ||
        set_int(r, ZMQ_TCP_KEEPALIVE, 1, "ZMQ_TCP_KEEPALIVE", err) < 0 ||
        set_int(r, ZMQ_TCP_KEEPALIVE_IDLE, ROUTER_KEEPALIVE_IDLE_S, "ZMQ_TCP_KEEPALIVE_IDLE", err) <
            0 ||
        set_int(r, ZMQ_TCP_KEEPALIVE_INTVL, ROUTER_KEEPALIVE_INTVL_S, "ZMQ_TCP_KEEPALIVE_INTVL",
                err) < 0 ||
        set_int(r, ZMQ_TCP_KEEPALIVE_CNT, ROUTER_KEEPALIVE_CNT, "ZMQ_TCP_KEEPALIVE_CNT", err) < 0 ||
        set_int(r, ZMQ_LINGER, 0, "ZMQ_LINGER", err) < 0)
        return -1;
    return 0;
}

router_t *router_new(const char *endpoint, const keypair_t *keys, size_t max_msg, int with_zap,
                     err_t *err)
{
    if (!zmq_has("curve")) {
        err_set(err, "libzmq was built without CURVE support");
        return NULL;
    }
    router_t *link = calloc(1, sizeof *link);
    if (!link) {
        err_set(err, "out of memory");
        return NULL;
    }
    link->ctx = zmq_ctx_new();
    if (!link->ctx) {
        err_set(err, "cannot create ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (with_zap) {
        /* The handler must exist before any client can start a handshake. */
        link->zap = zmq_socket(link->ctx, ZMQ_REP);
        if (!link->zap || set_int(link->zap, ZMQ_LINGER, 0, "ZMQ_LINGER", err) < 0)
            goto fail_zmq;
        if (zmq_bind(link->zap, ZAP_ENDPOINT) != 0) {
            err_set(err, "cannot bind the ZAP handler: %s", zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    link->router = zmq_socket(link->ctx, ZMQ_ROUTER);
    if (!link->router)
        goto fail_zmq;
    if (router_configure(link->router, keys, max_msg, err) < 0)
        goto fail;
    if (zmq_bind(link->router, endpoint) != 0) {
        err_set(err, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    return link;
fail_zmq:
    err_set(err, "cannot create ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
fail:
    router_destroy(&link);
    return NULL;
}

void router_destroy(router_t **link)
{
    if (!link || !*link)
        return;
    if ((*link)->router)
        zmq_close((*link)->router);
    if ((*link)->zap)
        zmq_close((*link)->zap);
    if ((*link)->ctx)
        zmq_ctx_term((*link)->ctx);
    free(*link);
    *link = NULL;
}

int router_wait(router_t *link, const int *fds, int *ready, int nfds, long timeout_ms, err_t *err)
{
    zmq_pollitem_t items[2 + 8];
    if (nfds > 8) {
        err_set(err, "too many descriptors to wait on");
        return -1;
    }
    int n = 0;
    items[n++] = (zmq_pollitem_t){.socket = link->router, .events = ZMQ_POLLIN};
    if (link->zap)
        items[n++] = (zmq_pollitem_t){.socket = link->zap, .events = ZMQ_POLLIN};
    int first_fd = n;
    for (int i = 0; i < nfds; i++) {
        items[n++] = (zmq_pollitem_t){.socket = NULL, .fd = fds[i], .events = ZMQ_POLLIN};
        ready[i] = 0;
    }
    int rc = zmq_poll(items, n, timeout_ms);
    if (rc < 0) {
        if (zmq_errno() == EINTR)
            return 0;
        err_set(err, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    for (int i = 0; i < nfds; i++)
        ready[i] = (items[first_fd + i].revents & ZMQ_POLLIN) != 0;
    return 0;
}

/* Receives one frame into a caller buffer, truncating silently; returns its length and
 * whether more frames follow, or -1. */
static int recv_frame(void *sock, char *buf, size_t cap, size_t *len, int *more)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    size_t n = zmq_msg_size(&m);
    *len = n;
    if (n > cap)
        n = cap;
    memcpy(buf, zmq_msg_data(&m), n);
    *more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    return 0;
}

static int send_frames(void *sock, const char *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

/* One ZAP request: its frames are received here, read by zap_request_parse(), answered here. */
static int zap_serve_one(router_t *link, router_authorize_fn authorize, void *arg)
{
    uint8_t bufs[ZAP_REQUEST_FRAMES][ZAP_REQUEST_FRAME_MAX];
    zap_frame_t frames[ZAP_REQUEST_FRAMES];
    size_t nframes = 0;
    int more = 1;
    while (more) {
        char scratch[ZAP_REQUEST_FRAME_MAX];
        size_t len;
        char *dst = nframes < ZAP_REQUEST_FRAMES ? (char *)bufs[nframes] : scratch;
        if (recv_frame(link->zap, dst, ZAP_REQUEST_FRAME_MAX, &len, &more) < 0)
            return nframes == 0 && zmq_errno() == EAGAIN ? 0 : -1;
        if (nframes < ZAP_REQUEST_FRAMES)
            frames[nframes] = (zap_frame_t){.data = bufs[nframes], .len = len};
        nframes++;
    }
    zap_request_t req;
    const char *why = NULL;
    int admit = 0;
    char user_id[ROUTER_USER_ID_MAX] = "";
    if (zap_request_parse(frames, nframes, ROUTER_ZAP_DOMAIN, &req, &why) == 0)
        admit = authorize(arg, req.public_key, user_id, sizeof user_id);
    const char *reply[6] = {"1.0",
                            (const char *)req.request_id,
                            admit ? "200" : "400",
                            admit ? "OK" : "not an enabled agent",
                            admit ? user_id : "",
                            ""};
    size_t reply_lens[6] = {3, req.request_id_len, 3, strlen(reply[3]), strlen(reply[4]), 0};
    if (send_frames(link->zap, reply, reply_lens, 6) < 0)
        return -1;
    return 1;
}

int router_serve_zap(router_t *link, router_authorize_fn authorize, void *arg, int budget,
                     err_t *err)
{
    if (!link->zap)
        return 0;
    int answered = 0;
    while (answered < budget) {
        int rc = zap_serve_one(link, authorize, arg);
        if (rc < 0) {
            err_set(err, "ZAP handler: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (rc == 0)
            return answered;
        answered++;
    }
    return answered;
}

int router_recv(router_t *link, router_msg_t *msg, err_t *err)
{
    memset(msg, 0, sizeof *msg);
    int more = 0;
    if (recv_frame(link->router, (char *)msg->route, sizeof msg->route, &msg->route_len, &more) <
        0) {
        if (zmq_errno() == EAGAIN)
            return 0;
        err_set(err, "receive: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (msg->route_len > sizeof msg->route || !more) {
        err_set(err, "malformed message: bad routing frame");
        goto drain;
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, link->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        err_set(err, "receive: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    more = zmq_msg_more(&m);
    const char *uid = zmq_msg_gets(&m, "User-Id");
    if (uid) {
        size_t n = strnlen(uid, sizeof msg->user_id - 1);
        memcpy(msg->user_id, uid, n);
        msg->user_id[n] = '\0';
    }
    if (more) {
        zmq_msg_close(&m);
        err_set(err, "malformed message: more than one frame");
        goto drain;
    }
    msg->len = zmq_msg_size(&m);
    msg->data = malloc(msg->len ? msg->len : 1);
    if (!msg->data) {
        zmq_msg_close(&m);
        err_set(err, "out of memory for a %zu-byte message", msg->len);
        return -1;
    }
    memcpy(msg->data, zmq_msg_data(&m), msg->len);
    zmq_msg_close(&m);
    return 1;
drain:
    /* Swallow the rest of a bad multi-part message so the next read starts clean. */
    while (more) {
        char scratch[1];
        size_t len;
        if (recv_frame(link->router, scratch, 0, &len, &more) < 0)
            break;
    }
    return -1;
}

void router_msg_clear(router_msg_t *msg)
{
    free(msg->data);
    msg->data = NULL;
    msg->len = 0;
}

int router_send(router_t *link, const uint8_t *route, size_t route_len, const uint8_t *data,
                size_t len, err_t *err)
{
    /* With ROUTER_MANDATORY the routing frame fails at once (EHOSTUNREACH) for a peer that is
     * gone, and with EAGAIN for one whose queue is full; after it was accepted, the body frame
     * of the same message is queued with it. */
    if (zmq_send(link->router, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(link->router, data, len, ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        err_set(err, "send: %s", zmq_strerror(e));
        return e == EHOSTUNREACH || e == EAGAIN ? -1 : -2;
    }
    return 0;
}
