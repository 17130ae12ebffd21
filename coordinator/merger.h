/* merger: the merge, on a thread and a database connection of its own, so that the
 * coordinator's loop (handshakes, acks, heartbeats) never waits for it: a re-merge after
 * `settings set --remerge-since` or a backlog after a pause may take tens of seconds. Four
 * times a second it calls parallax.merge_run(); the SQL makes that safe beside the ingest
 * (the ingest only appends to merge_inbox, merge_run alone writes merge_dirty: no row lock
 * is taken by both). Between runs it makes tomorrow's result partition ahead of time, and
 * every ten minutes removes what is older than the keep_* settings (retention_run), one
 * bounded step per turn. Every few seconds it reads the database-derived metrics
 * (parallax.metrics_snapshot()) into the registry the /metrics endpoint renders, and it times
 * its merges there. While the database is away it retries with capped back-off, on its own. */
#ifndef PX_MERGER_H
#define PX_MERGER_H

#include <stddef.h>

#include "err.h"
#include "metrics.h"
#include "store_requests.h"

typedef struct merger merger_t;

/* Starts the merger's thread for the database at conninfo (copied); it keeps the result
 * partitions from past_days before today to tomorrow made (store_prepare_days), and registers
 * its metrics in metrics (borrowed: it must outlive the merger). Call it with the signals the
 * loop takes from a signalfd already blocked: the thread inherits the mask, so they are never
 * delivered to it. NULL with err set if the thread cannot start or its metrics cannot be
 * registered. */
merger_t *merger_start(const char *conninfo, int past_days, metrics_t *metrics, err_t *err);

/* One-off traces the merge found due (parallax.probe_requests_due(), after a merge that merged
 * bins and at least every few seconds) wait here for the loop, which alone knows the agents'
 * sessions: at most MERGER_MAX_REQUESTS; more are dropped with a warning (they expire
 * unsent, as those to agents without a session do). */
#define MERGER_MAX_REQUESTS 1024

/* Moves up to max waiting requests, oldest first, into out; returns how many. Safe to call
 * from the loop's thread while the merge's thread runs (a mutex guards the queue). */
size_t merger_take_requests(merger_t *merger, store_request_t *out, size_t max);

/* Stops the thread: a merge under way is cancelled and rolls back (what it had taken stays
 * queued for the next start). Waits for the thread, frees *merger and NULLs it. Accepts
 * NULL. */
void merger_stop(merger_t **merger);

#endif
