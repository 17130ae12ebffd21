/* store_merge: what the merge's connection does (the merger's thread is its only user): the
 * merge driver, and the partitions made ahead of the days that need them. */
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

#endif
