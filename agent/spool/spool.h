/* spool: the agent's results on disk until the coordinator has stored them. Every result is
 * appended to an append-only, segmented, checksummed log before anything is sent; results
 * are grouped into batches named (stream, seq), and each segment records its stream id, so a
 * restarted agent resends the very same batches under the very same names. New results never
 * reuse a name: each open starts a new stream for them (the directory may be an older copy
 * of itself: a VM snapshot rolled back, a backup restored), and so does a failed sync (what
 * the disk holds is then unknown); seq goes on rising across streams. Segments go once all their
 * batches are acked; when the spool is full the oldest segment is dropped and what it held becomes
 * gap records, spooled and sent like results — except a segment holding a batch that was sent and
 * not answered (the coordinator may have stored it), which stays until it is answered. Plain
 * storage: no event loop, no network. */
#ifndef PX_SPOOL_H
#define PX_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "parallax.pb-c.h"

/* A batch is sealed before its packed envelope would pass this size, so it always fits the
 * coordinator's PX_WIRE_MAX_TO_COORD whatever the results hold. */
#define SPOOL_BATCH_MAX_BYTES (192 * 1024)

typedef struct spool spool_t;

typedef struct spool_config {
    const char *dir;               /* segment directory, created 0700 if missing; copied */
    const char *deadletter;        /* file rejected batches are appended to; copied */
    uint64_t deadletter_max_bytes; /* its bound (deadletter.h); 0: spool_deadletter_bound() */
    uint64_t max_bytes;     /* bound on all segments together; past it the oldest is dropped */
    uint64_t segment_bytes; /* a new segment starts at the first seal past this size */
    uint32_t batch_max;     /* results per batch, 1..PX_WIRE_MAX_RESULTS */
    uint64_t stream;        /* stream id for new results from this open; 0 (the agent): a
                               random one. Used only if no segment holds it already. */
} spool_config_t;

/* The first group are totals over the spool's whole life: they are rebuilt from the spool at
 * open, so they survive restarts and kill -9. At any quiet moment
 *     produced = acked + rejected_results + dropped + pending. */
typedef struct spool_counters {
    uint64_t produced;         /* results handed to spool_add_result() */
    uint64_t spooled;          /* ... of which written to the spool */
    uint64_t acked;            /* results in batches the coordinator stored (ACK_STORED) */
    uint64_t dropped;          /* results lost (spool full, unwritable, invalid) */
    uint64_t gaps;             /* gap records made for lost results */
    uint64_t rejected_batches; /* batches rejected (ACK_REJECTED), now in the dead-letter file */
    uint64_t rejected_results; /* results in them */
    /* This process only. */
    uint64_t invalid;   /* results refused as invalid for the wire (in dropped, no gap) */
    uint64_t corrupt;   /* damaged records skipped while reading the spool */
    uint64_t recovered; /* unacked results found in the spool at open */
    /* Now. */
    uint64_t pending;  /* results in the spool waiting for an ack, open batch included */
    uint64_t batches;  /* sealed batches waiting for an ack */
    uint64_t segments; /* segment files */
    uint64_t bytes;    /* their total size */
} spool_counters_t;

/* How a batch is being delivered. It belongs to whoever sends (the outbox), who must set
 * tries when it hands the batch over: the spool reads only that, to keep a batch that may
 * be stored out of a drop. Zeroed when the batch is sealed or loaded at open. */
typedef struct spool_delivery {
    int64_t sent_mono_us; /* when it was last handed to the link; 0: not in flight */
    uint32_t tries;       /* times sent */
} spool_delivery_t;

/* A sealed batch waiting for its ack. */
typedef struct spool_batch {
    uint64_t stream;
    uint64_t seq;
    uint32_t results;
    uint32_t gaps;
    spool_delivery_t delivery;
} spool_batch_t;

/* Opens the spool in cfg->dir: reads every segment in order, skips damaged records (a torn
 * last record is cut off the newest segment), finishes drops a crash interrupted, and seals
 * the batch a previous run left open. A segment that cannot be read at all (I/O error,
 * permissions, nothing intact in it) is moved to cfg->dir/damaged (the newest few are kept
 * there) and reported as a gap. Problems with the data are logged, never fatal. Returns
 * NULL (err set) if the directory cannot be used or no new segment can be written, or on
 * bad settings. Caller owns the result. */
spool_t *spool_open(const spool_config_t *cfg, err_t *err);

/* One segment file's bytes, for spool_index(). */
typedef struct spool_image {
    uint64_t number; /* its number (the file name), nonzero */
    const uint8_t *buf;
    size_t len;
} spool_image_t;

/* What spool_open() makes of segment files, from their bytes (borrowed; segs in increasing
 * number): the same replay, without the disk, for tests and fuzzing. Batches the segments
 * give no stream for get stream (nonzero, at most INT64_MAX), as spool_open() gives them the
 * new one. The result answers spool_stream(), spool_batch_next(), spool_batch_stream(),
 * spool_counters() and spool_close() only. Returns NULL (err set) on bad arguments or out of
 * memory. Caller owns the result. */
spool_t *spool_index(const spool_image_t *segs, size_t n, uint64_t stream, err_t *err);

/* Syncs and closes. Unacked batches stay on disk for the next open. NULLs *sp; accepts NULL. */
void spool_close(spool_t **sp);

/* The stream id new batches get (nonzero, at most INT64_MAX). Batches spooled before this
 * open or before a failed sync keep theirs (spool_batch_t.stream). */
uint64_t spool_stream(const spool_t *sp);

/* The stream of unanswered batch seq, or 0 if there is no such batch: acks name both. */
uint64_t spool_batch_stream(const spool_t *sp, uint64_t seq);

/* Appends r (borrowed; it must pass wire validation) to the open batch, sealing it first or
 * after as the batch limits require. Returns 1 if a batch was sealed (one is ready to send),
 * 0 if not, -1 (err set) if the result was not spooled: it is then counted as dropped (and as
 * invalid if it would not pass validation) and, if its time is plausible, reported in a gap. */
int spool_add_result(spool_t *sp, const Parallax__Result *r, err_t *err);

/* Appends gap g (borrowed) for runs that never produced a result: g->reason says why, and must
 * not be GAP_SPOOL_DROPPED (the spool records its own drops). The gap is spooled and sent like
 * a result; it is not counted as dropped or in `gaps`, which count what the spool lost.
 * Returns 1 if a batch was sealed (one is ready to send), 0 if not, -1 (err set) if g is
 * invalid for the wire or could not be written. */
int spool_add_gap(spool_t *sp, const Parallax__Gap *g, err_t *err);

/* Seals the open batch if it holds anything: syncs it to disk (a batch is never sent before
 * it is durable, so its seq can never be reused for other results after a power cut), starts
 * a new segment when the current one is full and drops the oldest segments while the spool
 * is over max_bytes (not those with a batch in flight: see above). Returns 1 if a batch was sealed,
 * 0 if there was nothing to seal, -1 (err set) if syncing, rotating or dropping failed (the batch
 * is sealed anyway). */
int spool_seal(spool_t *sp, err_t *err);

/* Sealed, unacked batches in seq order: pass NULL for the oldest, then the previous one.
 * Returns NULL after the last. The pointer is borrowed and valid until the next call that
 * changes the spool (add, seal, ack, load). */
spool_batch_t *spool_batch_next(spool_t *sp, const spool_batch_t *prev);

/* Reads batch seq back and packs it as an Envelope ready to send: *buf (caller owns, free())
 * of *len bytes. Returns 0; or -1 (err set) if the batch is unknown or already acked, or if
 * it cannot be read at all, in which case it is given up, counted as dropped and reported in
 * a gap. Damaged single records are skipped and logged. */
int spool_batch_load(spool_t *sp, uint64_t seq, uint8_t **buf, size_t *len, err_t *err);

/* Records the coordinator's final answer for batch seq: ACK_STORED frees it; ACK_REJECTED
 * moves it to the dead-letter file with reason (borrowed, may be NULL). Segments whose
 * batches are all answered are deleted. Unknown or already answered batches are ignored
 * (returns 0). Returns -1 (err set) on an I/O failure; the batch is answered anyway. */
int spool_ack(spool_t *sp, uint64_t seq, Parallax__AckCode code, const char *reason, err_t *err);

void spool_counters(const spool_t *sp, spool_counters_t *out);

/* Results and gaps in the open batch (not yet sealed). Gap records can land there without a
 * new result (a drop, a lost batch), so whoever seals on a timer asks this. */
uint32_t spool_open_count(const spool_t *sp);

/* The dead-letter bound for a spool of max_bytes: a quarter of it, within 4..256 MiB, so
 * that rejected batches never take more room than the spool itself. */
uint64_t spool_deadletter_bound(uint64_t max_bytes);

/* A random nonzero stream id of at most INT64_MAX (the coordinator stores it as a signed
 * bigint). Returns 0 with err if the kernel has no randomness to give. */
uint64_t spool_random_stream(err_t *err);

#endif
