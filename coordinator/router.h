/* router: the coordinator's ZeroMQ side, and the only coordinator code that touches ZeroMQ:
 * the CURVE ROUTER socket agents connect to, the ZAP handler socket that decides which keys
 * may connect, and waiting on both plus the caller's own file descriptors. */
#ifndef PX_COORD_ROUTER_H
#define PX_COORD_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define ROUTER_ROUTE_MAX 256
#define ROUTER_USER_ID_MAX 64
#define ROUTER_ZAP_DOMAIN "parallax"

typedef struct link router_t;

/* Answers one authentication request: return 1 to admit public_key (writing the User-Id
 * that every later message of the connection will carry into user_id), 0 to refuse. */
typedef int (*router_authorize_fn)(void *arg, const char *public_key, char *user_id, size_t len);

/* One message from an agent. data is owned by the message: release with router_msg_clear(). */
typedef struct router_msg {
    uint8_t route[ROUTER_ROUTE_MAX];
    size_t route_len;
    char user_id[ROUTER_USER_ID_MAX]; /* from the ZAP handler; "" if none was attached */
    uint8_t *data;
    size_t len;
} router_msg_t;

/* Opens the ZAP handler socket (when with_zap; production always passes 1 — 0 exists so a
 * test can prove that without a handler nobody gets in), then the ROUTER socket with CURVE
 * and every protective option, bound to endpoint. Returns NULL on any failure (err says which
 * step) and leaves nothing open. Caller owns the result. */
router_t *router_new(const char *endpoint, const keypair_t *keys, size_t max_msg, int with_zap,
                     err_t *err);

/* Closes the sockets and the ZeroMQ context, frees *link, NULLs it. Accepts NULL. */
void router_destroy(router_t **link);

/* Waits up to timeout_ms (-1: forever) until the ROUTER or ZAP socket has input or one of the
 * nfds descriptors in fds is readable. ready[i] is set to 1 for each readable fds[i].
 * Returns 0 (also on timeout and on EINTR) or -1 on a ZeroMQ failure. */
int router_wait(router_t *link, const int *fds, int *ready, int nfds, long timeout_ms, err_t *err);

/* Answers pending ZAP requests with authorize's verdict, at most budget of them, so that a
 * flood of handshakes cannot keep the loop from the agents' messages (the rest wait for the
 * next call). Requests that are not CURVE, or malformed, are refused. Returns the number
 * answered, or -1 on a socket failure. */
int router_serve_zap(router_t *link, router_authorize_fn authorize, void *arg, int budget,
                     err_t *err);

/* Takes one pending message without blocking. Returns 1 with *msg filled, 0 if none is
 * pending, -1 on failure. Multi-part messages (agents send one frame) are dropped whole and
 * reported as -1 with err set; the caller logs and goes on. */
int router_recv(router_t *link, router_msg_t *msg, err_t *err);

/* Frees msg->data. Safe to call twice. */
void router_msg_clear(router_msg_t *msg);

/* Sends len bytes to the agent behind route, without blocking. Returns 0; -1 if the peer is
 * gone or its queue is full (EHOSTUNREACH, EAGAIN: expected, nothing is lost because the agent
 * resends whatever was not acknowledged, so the caller logs at debug level); -2 on any other
 * failure (err set). */
int router_send(router_t *link, const uint8_t *route, size_t route_len, const uint8_t *data,
                size_t len, err_t *err);

#endif
