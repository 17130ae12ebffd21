/* outbox: results on their way to the coordinator. Results collect in an open batch that is
 * sealed when full or batch_interval_ms after its first result; sealed batches, named
 * (stream, seq), stay in memory until the coordinator acks them as stored, and are resent
 * until then. Memory is bounded by max_pending results: past it the oldest batches go,
 * counted and logged. */
#ifndef PX_OUTBOX_H
#define PX_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "parallax.pb-c.h"

struct event_base;
typedef struct outbox outbox_t;

typedef struct outbox_config {
    uint32_t batch_max;         /* results per batch, 1..PX_WIRE_MAX_RESULTS */
    uint32_t batch_interval_ms; /* seal a partial batch this long after its first result */
    uint32_t resend_ms;         /* resend an unacked batch after this */
    uint64_t max_pending;       /* results kept in memory, open batch included */
} outbox_config_t;

/* Sends one packed envelope. Returns 0 if it was handed to the transport, -1 if not now
 * (not connected, queue full); the outbox then tries again later. buf is borrowed. */
typedef int (*outbox_send_fn)(const uint8_t *buf, size_t len, void *arg);

typedef struct outbox_counters {
    uint64_t produced; /* results added */
    uint64_t stored;   /* results in batches acked ACK_STORED */
    uint64_t rejected; /* batches acked ACK_REJECTED */
    uint64_t dropped;  /* results given up: over max_pending, or unpackable (rejected batches
                        * are counted in rejected only) */
    uint64_t pending;  /* results in memory now */
    uint64_t batches;  /* sealed batches in memory now */
} outbox_counters_t;

/* Creates an outbox for stream (nonzero). base is borrowed; send/arg are called to send.
 * Returns NULL (err set) on failure. Caller owns the result. */
outbox_t *outbox_new(struct event_base *base, const outbox_config_t *cfg, uint64_t stream,
                     outbox_send_fn send, void *arg, err_t *err);

/* Frees everything, unsent and unacked batches included. NULLs *ob; accepts NULL. */
void outbox_destroy(outbox_t **ob);

/* Adds a copy of r to the open batch. Text fields that would not pass wire validation are
 * replaced. Returns -1 only when out of memory (the result is then counted as dropped). */
int outbox_add(outbox_t *ob, const Parallax__Result *r);

/* Seals the open batch now (if it has results) and tries to send it. */
void outbox_flush(outbox_t *ob);

/* Tries to send every sealed batch now, oldest first, stopping at the first that cannot be
 * sent; for use right after the link (re)connects. */
void outbox_resend_all(outbox_t *ob);

/* Applies an ack. Acks for unknown batches (already dropped, or another stream) are
 * ignored. After an ack, batches never sent yet are sent. */
void outbox_on_ack(outbox_t *ob, const Parallax__Ack *ack);

void outbox_counters(const outbox_t *ob, outbox_counters_t *out);

/* The random stream id. */
uint64_t outbox_stream(const outbox_t *ob);

/* A random nonzero 63-bit stream id (the coordinator stores it as a signed bigint).
 * Returns 0 with err if the kernel has no randomness to give. */
uint64_t outbox_random_stream(err_t *err);

#endif
