/* store: the coordinator's PostgreSQL side, and the only coordinator code that includes
 * libpq, in modules by job: this one, the connection with reconnect and the features of the
 * schema; store_config (the allow-list, the schedule and its version, change notifications);
 * store_ingest (the exactly-once ingest of result batches and gap records); store_agents
 * (liveness, clock, acknowledged schedule, refusal); store_merge (the merge driver).
 * Parameterised queries only. No call blocks without a bound: connecting gives up after
 * STORE_CONNECT_TIMEOUT_MS, every statement runs under a server-side statement_timeout and a
 * client-side deadline a little longer, after which the connection is dropped (a hung server
 * or network then looks like a lost connection, and the coordinator reconnects). */
#ifndef PX_STORE_H
#define PX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Give up connecting after this long (a database host that drops packets). */
#define STORE_CONNECT_TIMEOUT_MS 3000
/* statement_timeout of the session: a slow database answers "canceled" rather than never. */
#define STORE_STATEMENT_TIMEOUT_MS 5000
/* ... except the merge, which may have a backlog of bins to work through after an outage. */
#define STORE_MERGE_TIMEOUT_MS 30000
/* How much longer than statement_timeout the client waits before it drops the connection:
 * the server's own cancel should come first; this catches a server that cannot answer. */
#define STORE_CLIENT_SLACK_MS 3000

typedef struct store store_t;

/* What a connection is for. The coordinator has two: the ingest's, on its loop (it LISTENs
 * for changes and has the COPY staging table), and the merge's, on the merger's thread. */
typedef enum store_session {
    STORE_SESSION_INGEST,
    STORE_SESSION_MERGE,
} store_session_t;

/* A store for conninfo (copied) and sessions of that kind; does not connect yet. NULL on out
 * of memory. */
store_t *store_new(const char *conninfo, store_session_t kind);

/* Disconnects, frees *store and NULLs it. Accepts NULL. */
void store_destroy(store_t **store);

/* Connects and prepares the session: checks the schema is migrated to this build's newest
 * migration, sets the timeouts, and for the ingest's session LISTENs for changes and
 * creates the staging table. Returns 0, -1 (err set) if the database is unreachable or too
 * slow (try again later), or -2 if it will not work without an operator (schema missing or
 * older than this coordinator). */
int store_connect(store_t *store, err_t *err);

/* 1 if connected. A failure that loses the connection (or a deadline that drops it) makes
 * this 0. */
int store_connected(const store_t *store);

/* Asks the server to cancel the statement running on store's connection, if any: the
 * statement fails as canceled and its transaction rolls back. The one call that may be made
 * from another thread than the store's user (to stop a long merge at shutdown). */
void store_interrupt(store_t *store);

/* The connection's socket, to wait on for notifications; -1 when disconnected. */
int store_fd(const store_t *store);

#endif
