/* deadletter: where batches the coordinator rejected for good go, so an operator can see
 * what was refused and why. An append-only file of spool records (type SPOOL_REC_DEAD,
 * seq = the batch's seq), each holding the reason and the batch's packed envelope. Bounded:
 * when a record would take the file past half the bound, it is renamed to path + ".1"
 * (replacing the one before, whose records are dropped, counted and logged) and a new one
 * begins, so both together stay within the bound (give or take one record). */
#ifndef PX_DEADLETTER_H
#define PX_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Largest dead-letter payload: a whole batch plus its reason. */
#define DEADLETTER_MAX_PAYLOAD (512 * 1024)

/* The bound used when none is given: room for several of the largest records. */
#define DEADLETTER_DEFAULT_MAX_BYTES (16ULL * 1024 * 1024)

/* Appends one record to path (created 0600 if missing) and syncs it, bounded by
 * DEADLETTER_DEFAULT_MAX_BYTES. reason and env (len bytes, a packed Envelope) are borrowed.
 * Returns 0, or -1 (err set). */
int deadletter_append(const char *path, uint64_t seq, const char *reason, const uint8_t *env,
                      size_t len, err_t *err);

/* Like deadletter_append(), bounded by max_bytes (path and path.1 together; 0: the default).
 * *dropped (may be NULL) is set to the number of older records this append dropped. */
int deadletter_append_max(const char *path, uint64_t max_bytes, uint64_t seq, const char *reason,
                          const uint8_t *env, size_t len, uint64_t *dropped, err_t *err);

/* One dead-letter record for batch seq: *rec (caller owns, free()) of *size bytes, the
 * payload being the reason (cut at 65,535 bytes) and env. Returns 0, or -1 (err set) if it
 * would pass DEADLETTER_MAX_PAYLOAD or memory runs out. */
int deadletter_encode(uint64_t seq, const char *reason, const uint8_t *env, size_t len,
                      uint8_t **rec, size_t *size, err_t *err);

/* Intact records in buf (a dead-letter file's len bytes); damaged stretches are skipped. */
uint64_t deadletter_count(const uint8_t *buf, size_t len);

/* Splits a dead-letter record's payload into its reason (copied into reason, NUL-terminated,
 * truncated to size) and the envelope (pointer into payload). Returns 0, or -1 if the payload
 * is malformed. */
int deadletter_parse(const uint8_t *payload, size_t len, char *reason, size_t size,
                     const uint8_t **env, size_t *env_len);

#endif
