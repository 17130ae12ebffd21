/* store_internal: private to the store_*.c modules (coordinator/store*.c): the store's state
 * and the statement machinery they share. Nothing else includes it. */
#ifndef PX_STORE_INTERNAL_H
#define PX_STORE_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

#define STORE_COPY_CHUNK (256 * 1024)
/* Days whose partition this connection knows to exist (results arrive for a few days). */
#define STORE_DAYS_KNOWN 16

struct store {
    char *conninfo;
    store_session_t kind;
    PGconn *conn;
    /* For store_interrupt() from another thread: made with the connection, freed with it,
     * both under cancel_lock. */
    PGcancel *cancel;
    pthread_mutex_t cancel_lock;
    char sqlstate[6];                     /* of the last failed statement, "" if none */
    int64_t max_probe_id;                 /* highest probe id issued, as last read */
    int64_t days_known[STORE_DAYS_KNOWN]; /* committed partitions, by day number; a ring */
    int n_days_known, next_day;
};

/* The server's message on one line, without libpq's trailing newline. */
void store_set_pg_error(err_t *err, const char *what, const PGresult *res, PGconn *conn);

/* Closes the connection (the store reconnects on the next store_connect()). */
void store_disconnect(store_t *s);

/* Waits until fd has one of events or the monotonic deadline passes. Returns 1 ready, 0 timed
 * out, -1 on a poll failure. */
int store_wait_fd(int fd, short events, int64_t deadline_us);

/* The monotonic time ms from now, in microseconds. */
int64_t store_deadline_after(long ms);

/* The failure of a wait: err says what and why, the connection is dropped. Returns -1. */
int store_lost(store_t *s, const char *what, const char *why, err_t *err);

/* Sends whatever libpq has buffered. Returns 0 or -1 (disconnected). */
int store_flush_out(store_t *s, const char *what, int64_t deadline, err_t *err);

/* The next result of the current command, waiting until the deadline. NULL with
 * *failed = 0 means the command is complete; *failed = 1 means the connection was dropped. */
PGresult *store_next_result(store_t *s, const char *what, int64_t deadline, int *failed,
                            err_t *err);

/* Runs a parameterised statement, waiting at most timeout_ms. Returns the result (caller
 * PQclear()s it) if its status is `want`, else NULL with err set; on a lost connection or a
 * missed deadline the store is disconnected. For want == PGRES_COPY_IN the connection is left
 * in COPY mode. */
PGresult *store_exec_within(store_t *s, const char *what, ExecStatusType want, const char *sql,
                            int n, const char *const *params, long timeout_ms, err_t *err);

/* store_exec_within() with the session's statement timeout plus the client's slack. */
PGresult *store_exec(store_t *s, const char *what, ExecStatusType want, const char *sql, int n,
                     const char *const *params, err_t *err);

/* Like store_exec() for statements whose result is not needed. Returns 0 or -1. */
int store_run(store_t *s, const char *what, const char *sql, int n, const char *const *params,
              err_t *err);

#endif
