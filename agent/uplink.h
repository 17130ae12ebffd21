/* uplink: the agent's connection to the coordinator and the only code that touches ZeroMQ: a
 * DEALER socket with CURVE, its monitor (to learn when the CURVE handshake succeeds or
 * fails), both driven by the libevent loop. libzmq reconnects by itself; the link turns its
 * events into up/down callbacks and one clear, rate-limited error when authentication fails. */
#ifndef PX_UPLINK_H
#define PX_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;
typedef struct link uplink_t;

typedef struct uplink_config {
    const char *endpoint;   /* tcp://host:port */
    const char *server_key; /* coordinator's public key, Z85 */
    const char *public_key; /* ours, Z85 */
    const char *secret_key; /* ours, Z85 */
} uplink_config_t;

/* Called from the event loop. up: the CURVE handshake succeeded (possibly again after a
 * reconnect). down: an up connection was lost. message: one message arrived; buf is valid
 * during the call only. The callbacks may call uplink_send() but not uplink_destroy(). */
typedef struct uplink_callbacks {
    void (*up)(void *arg);
    void (*down)(void *arg);
    void (*message)(const uint8_t *buf, size_t len, void *arg);
} uplink_callbacks_t;

/* Creates the ZeroMQ context and socket and starts connecting. cfg strings are copied; base
 * is borrowed. Returns NULL (err set) if any ZeroMQ call fails. Caller owns the result. */
uplink_t *uplink_new(struct event_base *base, const uplink_config_t *cfg,
                     const uplink_callbacks_t *cbs, void *arg, err_t *err);

/* Closes the socket (linger 0: unsent messages are discarded) and terminates the context
 * without blocking. NULLs *link; accepts NULL. */
void uplink_destroy(uplink_t **link);

/* Queues one message. Returns 0, or -1 if it cannot be queued now (not connected, send queue
 * full, or an error, logged at debug); the caller keeps it and tries again later. */
int uplink_send(uplink_t *link, const uint8_t *buf, size_t len);

/* 1 while the handshake has succeeded and the connection has not been lost. */
int uplink_is_up(const uplink_t *link);

/* What the link has been through since uplink_new(), for the agent's stats: an operator (or a
 * test) tells "connected", "cut off" and "refused" apart without reading the log. */
typedef struct uplink_counters {
    uint64_t up;                 /* 1 while up (uplink_is_up) */
    uint64_t ups;                /* handshakes that succeeded */
    uint64_t losses;             /* up connections lost */
    uint64_t handshake_failures; /* connection attempts whose CURVE handshake failed */
} uplink_counters_t;

void uplink_counters(const uplink_t *link, uplink_counters_t *out);

#endif
