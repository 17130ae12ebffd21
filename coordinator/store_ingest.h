/* store_ingest: result batches and gap records stored exactly once. */
#ifndef PX_STORE_INGEST_H
#define PX_STORE_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "parallax.pb-c.h"

#include "err.h"
#include "store.h"

typedef enum store_ingest {
    STORE_INGEST_STORED,      /* committed now */
    STORE_INGEST_DUPLICATE,   /* committed earlier: acknowledge again, store nothing */
    STORE_INGEST_NOT_ALLOWED, /* the agent is unknown or disabled: store nothing, no ack */
    STORE_INGEST_RETRY,       /* the database cannot take it now */
    STORE_INGEST_REJECT       /* the database will never take it (err says why) */
} store_ingest_t;

/* One batch to ingest, and (after store_ingest) its fate. */
typedef struct store_batch {
    int agent_id;                       /* in: whose batch (from the authenticated key) */
    const Parallax__ResultBatch *batch; /* in: validated by the wire module; borrowed */
    store_ingest_t verdict;             /* out */
    err_t err;                          /* out: why, for NOT_ALLOWED, RETRY and REJECT */
} store_batch_t;

/* Stores n batches, each exactly once: a batch's rows, its gap records and its id commit in
 * one transaction, and its agent must be enabled at that moment. Several batches share a
 * transaction (one commit) when they can; when the database refuses the data of a group
 * (SQLSTATE class 22 or 23), each batch is tried alone, so a bad batch is rejected without
 * costing the others their place. Results or gaps naming a probe id that was never issued
 * are rejected before the database is asked. Sets every batches[i].verdict (and err). */
void store_ingest(store_t *store, store_batch_t *batches, size_t n);

/* A count of things refused from one agent, for parallax.rejections. */
typedef struct store_refusal {
    int agent_id;
    const char *kind; /* "batch" (rejected whole), "result" or "gap" (refused at the door) */
    uint32_t count;
    const char *reason; /* the latest reason; borrowed */
} store_refusal_t;

/* Adds the n counts to parallax.rejections (one row per agent and kind: counts, first and
 * last time, latest reason). Returns 0 or -1 with err. */
int store_note_refusals(store_t *store, const store_refusal_t *r, size_t n, err_t *err);

#endif
