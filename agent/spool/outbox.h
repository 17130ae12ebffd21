/* outbox: how spooled results reach the coordinator. Results go into the spool (spool.h),
 * which batches them; the outbox seals a partial batch batch_interval_ms after it started,
 * sends sealed batches oldest first with at most `window` unacknowledged at a time, resends
 * what is not acked after resend_ms, backs off when the coordinator answers ACK_RETRY and
 * passes final answers (stored, rejected) on to the spool. */
#ifndef PX_OUTBOX_H
#define PX_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "parallax.pb-c.h"
#include "spool.h"

struct event_base;
typedef struct outbox outbox_t;

typedef struct outbox_config {
    uint32_t batch_interval_ms; /* seal a partial batch this long after its first result */
    uint32_t resend_ms;         /* resend an unacked batch after this */
    uint32_t window;            /* batches sent and not yet acked, at most (>= 1) */
    uint32_t retry_ms;          /* pause after an ACK_RETRY, doubling up to 60 s (0: 1000) */
} outbox_config_t;

/* Sends one packed envelope. Returns 0 if it was handed to the transport, -1 if not now
 * (not connected, queue full); the outbox then tries again later. buf is borrowed. */
typedef int (*outbox_send_fn)(const uint8_t *buf, size_t len, void *arg);

/* Creates an outbox over spool (borrowed: it must outlive the outbox). base is borrowed;
 * send/arg are called to send. Batches already in the spool go out as soon as send takes
 * them. Returns NULL (err set) on failure. Caller owns the result. */
outbox_t *outbox_new(struct event_base *base, const outbox_config_t *cfg, spool_t *spool,
                     outbox_send_fn send, void *arg, err_t *err);

/* Stops the timers and frees the outbox; the spool keeps everything. NULLs *ob; accepts
 * NULL. */
void outbox_destroy(outbox_t **ob);

/* Spools a copy of r (borrowed). Text that would not pass wire validation is replaced rather
 * than losing the result. Returns 0, or -1 if the spool could not take it (logged, counted as
 * dropped and reported in a gap when possible). */
int outbox_add(outbox_t *ob, const Parallax__Result *r);

/* Spools gap g (borrowed; see spool_add_gap) to be sent like results. Returns 0, or -1 if
 * the spool could not take it (logged). */
int outbox_add_gap(outbox_t *ob, const Parallax__Gap *g);

/* Seals the open batch now (if it holds anything) and sends what the window allows. */
void outbox_flush(outbox_t *ob);

/* Forgets what was in flight and sends again from the oldest unacked batch; for use right
 * after the link (re)connects, since whatever was in flight may have been lost with it. */
void outbox_resend_all(outbox_t *ob);

/* Applies an ack: ACK_STORED and ACK_REJECTED go to the spool; ACK_RETRY puts the batch
 * back in line and pauses sending (retry_ms, doubling up to 60 s while retries continue). Acks
 * for unknown batches (already answered, dropped, another stream) are ignored. */
void outbox_on_ack(outbox_t *ob, const Parallax__Ack *ack);

/* What the coordinator refused at its door of the batches it stored (results and gaps stamped
 * outside the window it accepts) and the gaps it clamped, since the outbox was made. */
typedef struct outbox_counters {
    uint64_t refused_results;
    uint64_t refused_gaps;
    uint64_t clamped_gaps;
} outbox_counters_t;

/* Fills *out. */
void outbox_counters(const outbox_t *ob, outbox_counters_t *out);

#endif
