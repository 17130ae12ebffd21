/* store_requests: one-off probe requests (traces when things break, docs/routes.md) in the
 * database: what is due after a merge (the merge's connection) and which were sent (the
 * loop's). The SQL decides what is due and within which limits (46_probe_requests.sql). */
#ifndef PX_STORE_REQUESTS_H
#define PX_STORE_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* One request to send: plain data, copied freely between threads. */
typedef struct store_request {
    int64_t request_id;
    int agent_id;
    int64_t probe_id;
    char target[64];
    char address[64];
    char spec[256];
    uint32_t timeout_ms;
    int allow_internal;
} store_request_t;

/* Called for each request due; r is valid during the call only. */
typedef void (*store_request_fn)(void *arg, const store_request_t *r);

/* Records the requests due now (parallax.probe_requests_due(now())) and calls fn for each;
 * *n says how many. One statement, its own transaction. A row that does not fit the struct
 * (a spec longer than it holds) is skipped and logged: it expires unsent. Returns 0 or -1. */
int store_requests_due(store_t *store, store_request_fn fn, void *arg, size_t *n, err_t *err);

/* Records that the requests ids[0..n) were sent now. Returns 0 or -1. */
int store_requests_sent(store_t *store, const int64_t *ids, size_t n, err_t *err);

#endif
