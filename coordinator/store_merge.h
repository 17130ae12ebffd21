/* store_merge: what the merge's connection does (the merger's thread is its only user): the
 * merge driver, the partitions made ahead of the days that need them, and retention. */
#ifndef PX_STORE_MERGE_H
#define PX_STORE_MERGE_H

#include "err.h"
#include "store.h"

/* Runs the SQL merge over every closed bin that new or late results changed; *bins says how
 * many were merged. A no-op on a schema without the merge. Returns 0 or -1. */
int store_merge(store_t *store, long *bins, err_t *err);

/* Makes the daily result partitions (UTC) from past_days before today to tomorrow that do not
 * exist yet — every day the coordinator accepts results for — so the ingest finds them made
 * instead of taking the results table's exclusive lock inside its own transaction. Waits at most
 * briefly for that lock (a long query on results holds it off, and every insert would queue behind
 * the wait): returns -1 with err set then, to be tried again later. Returns 0 once both exist. */
int store_prepare_days(store_t *store, int past_days, err_t *err);

/* What one retention step did (parallax.retention_run). */
typedef struct store_retention {
    long rows;       /* heartbeats, gaps, batch ids, bins and outage events removed */
    long partitions; /* daily result partitions dropped */
    int more;        /* 1: more is due now; call again */
    char note[256];  /* why something was put off ("" if nothing was), e.g. a busy lock */
} store_retention_t;

/* One bounded step of retention: at most `chunk` rows of each kind older than its keep_*
 * setting, and at most one daily result partition, whose drop waits at most 100 ms for the
 * results table's lock (else it is put off: step->note says so). No partition of the
 * past_days before today is dropped: store_prepare_days() keeps those made, and the door
 * accepts results for them. One statement, one short transaction, on the merge's
 * connection: the ingest never waits for it but for that lock. Returns 0 or -1 (err set). */
int store_retention_step(store_t *store, long chunk, int past_days, store_retention_t *step,
                         err_t *err);

/* Called for each row of parallax.metrics_snapshot(): the metric's name, its label values
 * (NULL where it has fewer labels) and its value; the strings are valid during the call. */
typedef void (*store_metric_fn)(void *arg, const char *metric, const char *label1,
                                const char *label2, double value);

/* Reads the database-derived metrics (parallax.metrics_snapshot(), docs/metrics.md) and calls
 * fn for each series. One read-only statement with the session's timeout. Returns 0 or -1
 * (err set; fn may have been called for none of the rows). */
int store_metrics_snapshot(store_t *store, store_metric_fn fn, void *arg, err_t *err);

#endif
