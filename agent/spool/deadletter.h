/* deadletter: where batches the coordinator rejected for good go, so an operator can see
 * what was refused and why. One append-only file of spool records (type SPOOL_REC_DEAD,
 * seq = the batch's seq), each holding the reason and the batch's packed envelope. */
#ifndef PX_DEADLETTER_H
#define PX_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Largest dead-letter payload: a whole batch plus its reason. */
#define DEADLETTER_MAX_PAYLOAD (512 * 1024)

/* Appends one record to path (created 0600 if missing) and syncs it. reason and env (len
 * bytes, a packed Envelope) are borrowed. Returns 0, or -1 (err set). */
int deadletter_append(const char *path, uint64_t seq, const char *reason, const uint8_t *env,
                      size_t len, err_t *err);

/* Splits a dead-letter record's payload into its reason (copied into reason, NUL-terminated,
 * truncated to size) and the envelope (pointer into payload). Returns 0, or -1 if the payload
 * is malformed. */
int deadletter_parse(const uint8_t *payload, size_t len, char *reason, size_t size,
                     const uint8_t **env, size_t *env_len);

#endif
