/* spool_gap: sums up results the spool lost into gap records: per probe, the earliest and
 * latest timestamp and how many; or, when many probes lost results, one record for probe 0
 * ("every probe"), which is cheaper to send and says the same thing to the merge. */
#ifndef PX_SPOOL_GAP_H
#define PX_SPOOL_GAP_H

#include <stddef.h>
#include <stdint.h>

#include "parallax.pb-c.h"

/* Past this many probes, spool_gap_take() gives one probe-0 record instead of one each. */
#define SPOOL_GAP_MAX_PROBES 16

typedef struct spool_gap spool_gap_t;

/* Returns an empty accumulator, or NULL when out of memory. Caller owns the result. */
spool_gap_t *spool_gap_new(void);

/* Frees *g and NULLs it; accepts NULL. */
void spool_gap_destroy(spool_gap_t **g);

/* Counts count results of probe_id (0: any probe) stamped from_us..to_us. Returns 0, or -1
 * when out of memory; the accumulator is then unchanged. */
int spool_gap_add(spool_gap_t *g, uint64_t probe_id, int64_t from_us, int64_t to_us,
                  uint64_t count);

/* Results counted since the last take. */
uint64_t spool_gap_total(const spool_gap_t *g);

/* Moves what was counted into out (at most n records, n >= 1; each initialised here) and
 * empties the accumulator. One record per probe, or a single probe-0 record covering all when
 * more than SPOOL_GAP_MAX_PROBES probes (or more than n) are involved. Returns the number of
 * records written (0 if nothing was counted). */
size_t spool_gap_take(spool_gap_t *g, Parallax__Gap *out, size_t n);

#endif
