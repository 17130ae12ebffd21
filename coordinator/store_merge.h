/* store_merge: the merge driver. */
#ifndef PX_STORE_MERGE_H
#define PX_STORE_MERGE_H

#include "err.h"
#include "store.h"

/* Runs the SQL merge over every closed bin that new or late results changed; *bins says how
 * many were merged. A no-op on a schema without the merge. Returns 0 or -1. */
int store_merge(store_t *store, long *bins, err_t *err);

#endif
