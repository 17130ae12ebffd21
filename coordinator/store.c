/* store: libpq behind one small interface. Every statement goes through store_exec(), which sends
 * it asynchronously and waits with a deadline, so a hung server costs a bounded wait and a
 * reconnect, never the coordinator's loop; results are cleared in one place; a failure that
 * breaks the connection marks the store disconnected so the coordinator reconnects instead of
 * failing every later call. */
#include "store.h"

#include "store_internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

store_t *store_new(const char *conninfo, store_session_t kind)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(conninfo))) {
        free(s);
        return NULL;
    }
    s->kind = kind;
    if (pthread_mutex_init(&s->cancel_lock, NULL) != 0) {
        free(s->conninfo);
        free(s);
        return NULL;
    }
    return s;
}

static void set_cancel(store_t *s, PGcancel *cancel)
{
    pthread_mutex_lock(&s->cancel_lock);
    if (s->cancel)
        PQfreeCancel(s->cancel);
    s->cancel = cancel;
    pthread_mutex_unlock(&s->cancel_lock);
}

void store_interrupt(store_t *s)
{
    pthread_mutex_lock(&s->cancel_lock);
    char why[256];
    /* A failed request leaves the statement to its own timeout, which bounds it anyway. */
    if (s->cancel && !PQcancel(s->cancel, why, sizeof why))
        log_debug("could not ask the database to cancel a statement: %s", why);
    pthread_mutex_unlock(&s->cancel_lock);
}

void store_disconnect(store_t *s)
{
    set_cancel(s, NULL);
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
    /* A new connection may find partitions dropped meanwhile. */
    s->n_days_known = 0;
}

void store_destroy(store_t **store)
{
    if (!store || !*store)
        return;
    store_disconnect(*store);
    pthread_mutex_destroy(&(*store)->cancel_lock);
    free((*store)->conninfo);
    free(*store);
    *store = NULL;
}

int store_connected(const store_t *store)
{
    return store->conn && PQstatus(store->conn) == CONNECTION_OK;
}

int store_fd(const store_t *store)
{
    return store_connected(store) ? PQsocket(store->conn) : -1;
}

/* The server's message on one line, without libpq's trailing newline. */
void store_set_pg_error(err_t *err, const char *what, const PGresult *res, PGconn *conn)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m)
        m = conn ? PQerrorMessage(conn) : "not connected";
    char buf[ERR_MSG_MAX];
    snprintf(buf, sizeof buf, "%s", m && *m ? m : "unknown error");
    buf[strcspn(buf, "\n")] = '\0';
    err_set(err, "%s: %s", what, buf);
}

/* ---- waiting with a deadline ------------------------------------------------------------ */

/* Waits until fd has one of events or the monotonic deadline passes. Returns 1 ready, 0 timed
 * out, -1 on a poll failure. */
int store_wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left_ms = (deadline_us - time_mono_us() + 999) / 1000;
        if (left_ms <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

int64_t store_deadline_after(long ms)
{
    return time_mono_us() + (int64_t)ms * 1000;
}

/* The failure of a wait: the connection is dropped (it is in an unknown state, and a server
 * too slow to answer would hold up the loop again). */
int store_lost(store_t *s, const char *what, const char *why, err_t *err)
{
    err_set(err, "%s: %s; connection dropped", what, why);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", "");
    store_disconnect(s);
    return -1;
}

/* Sends whatever libpq has buffered. Returns 0 or -1 (disconnected). */
int store_flush_out(store_t *s, const char *what, int64_t deadline, err_t *err)
{
    for (;;) {
        int rc = PQflush(s->conn);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return store_lost(s, what, PQerrorMessage(s->conn), err);
        int w = store_wait_fd(PQsocket(s->conn), POLLOUT | POLLIN, deadline);
        if (w <= 0)
            return store_lost(s, what,
                              w == 0 ? "the database did not take the data in time" : "poll failed",
                              err);
        /* Input must be read too, or a server blocked on writing to us never reads. */
        if (!PQconsumeInput(s->conn))
            return store_lost(s, what, PQerrorMessage(s->conn), err);
    }
}

/* The next result of the current command, waiting until the deadline. NULL with
 * *failed = 0 means the command is complete; *failed = 1 means the connection was dropped. */
PGresult *store_next_result(store_t *s, const char *what, int64_t deadline, int *failed, err_t *err)
{
    *failed = 0;
    while (PQisBusy(s->conn)) {
        int w = store_wait_fd(PQsocket(s->conn), POLLIN, deadline);
        if (w <= 0 || !PQconsumeInput(s->conn)) {
            store_lost(s, what,
                       w == 0  ? "the database did not answer in time"
                       : w < 0 ? "poll failed"
                               : PQerrorMessage(s->conn),
                       err);
            *failed = 1;
            return NULL;
        }
    }
    return PQgetResult(s->conn);
}

/* Runs a parameterised statement, waiting at most timeout_ms. Returns the result (caller
 * PQclear()s it) if its status is `want`, else NULL with err set; on a lost connection or a
 * missed deadline the store is disconnected. For want == PGRES_COPY_IN the connection is left
 * in COPY mode. */
PGresult *store_exec_within(store_t *s, const char *what, ExecStatusType want, const char *sql,
                            int n, const char *const *params, long timeout_ms, err_t *err)
{
    s->sqlstate[0] = '\0';
    if (!store_connected(s)) {
        err_set(err, "%s: database not connected", what);
        store_disconnect(s);
        return NULL;
    }
    int64_t deadline = store_deadline_after(timeout_ms);
    if (!PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0)) {
        store_set_pg_error(err, what, NULL, s->conn);
        if (PQstatus(s->conn) != CONNECTION_OK)
            store_disconnect(s);
        return NULL;
    }
    if (store_flush_out(s, what, deadline, err) < 0)
        return NULL;
    int failed;
    PGresult *res = store_next_result(s, what, deadline, &failed, err);
    if (failed)
        return NULL;
    if (res && PQresultStatus(res) == PGRES_COPY_IN)
        return want == PGRES_COPY_IN ? res : (PQclear(res), NULL);
    /* Collect the rest so the connection is ready for the next command. */
    PGresult *extra;
    while ((extra = store_next_result(s, what, deadline, &failed, err)))
        PQclear(extra);
    if (failed) {
        PQclear(res);
        return NULL;
    }
    if (res && PQresultStatus(res) == want)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
    store_set_pg_error(err, what, res, s->conn);
    PQclear(res);
    if (PQstatus(s->conn) != CONNECTION_OK)
        store_disconnect(s);
    return NULL;
}

PGresult *store_exec(store_t *s, const char *what, ExecStatusType want, const char *sql, int n,
                     const char *const *params, err_t *err)
{
    return store_exec_within(s, what, want, sql, n, params,
                             STORE_STATEMENT_TIMEOUT_MS + STORE_CLIENT_SLACK_MS, err);
}

/* Like store_exec() for statements whose result is not needed. */
int store_run(store_t *s, const char *what, const char *sql, int n, const char *const *params,
              err_t *err)
{
    PGresult *res = store_exec(s, what, PGRES_COMMAND_OK, sql, n, params, err);
    PQclear(res);
    return res ? 0 : -1;
}

/* ---- connecting -------------------------------------------------------------------------- */

/* Starts a connection and drives it to the end or the deadline. The defaults come first so
 * that whatever the operator's conninfo says overrides them; client_encoding comes after it,
 * so nothing overrides it: the wire carries UTF-8 (agent names, messages, JSON), and text in
 * another client encoding would be converted, or refused, by the server. */
static int open_conn(store_t *s, err_t *err)
{
    static const char *const keys[] = {"application_name",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       "dbname",
                                       "client_encoding",
                                       NULL};
    const char *values[] = {s->kind == STORE_SESSION_MERGE ? "parallax-merge"
                                                           : "parallax-coordinator",
                            "1",
                            "30",
                            "10",
                            "3",
                            "30000",
                            s->conninfo,
                            "UTF8",
                            NULL};
    int64_t deadline = store_deadline_after(STORE_CONNECT_TIMEOUT_MS);
    s->conn = PQconnectStartParams(keys, values, 1);
    if (!s->conn) {
        err_set(err, "cannot connect to the database: out of memory");
        return -1;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(s->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        int w = store_wait_fd(PQsocket(s->conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                              deadline);
        if (w <= 0) {
            err_set(err, "cannot connect to the database: %s",
                    w == 0 ? "no answer within the connect timeout" : "poll failed");
            store_disconnect(s);
            return -1;
        }
        st = PQconnectPoll(s->conn);
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        store_set_pg_error(err, "cannot connect to the database", NULL, s->conn);
        store_disconnect(s);
        return -1;
    }
    if (PQclientEncoding(s->conn) != pg_char_to_encoding("UTF8")) {
        err_set(err, "cannot connect to the database: client_encoding is %s, not UTF8",
                pg_encoding_to_char(PQclientEncoding(s->conn)));
        store_disconnect(s);
        return -1;
    }
    /* Non-blocking, so a server that stops reading cannot block a COPY forever. */
    if (PQsetnonblocking(s->conn, 1) != 0) {
        store_set_pg_error(err, "cannot make the database connection non-blocking", NULL, s->conn);
        store_disconnect(s);
        return -1;
    }
    PGcancel *cancel = PQgetCancel(s->conn);
    if (!cancel) {
        err_set(err, "cannot connect to the database: out of memory");
        store_disconnect(s);
        return -1;
    }
    set_cancel(s, cancel);
    return 0;
}

int store_connect(store_t *s, err_t *err)
{
    store_disconnect(s);
    if (open_conn(s, err) < 0)
        return -1;
    /* The schema must be the one this coordinator was built with (PX_SCHEMA_LATEST, the
     * newest file of schema/migrations/, set by CMake): an older one lacks what it writes,
     * and before migration 003 the ingest's triggers and a merge on its own connection could
     * deadlock. */
    const char *latest[] = {PX_SCHEMA_LATEST};
    PGresult *res = store_exec(s, "checking the schema", PGRES_TUPLES_OK,
                               "SELECT to_regclass('parallax.schema_migrations') IS NOT NULL "
                               "AND EXISTS (SELECT 1 FROM parallax.schema_migrations "
                               "WHERE name = $1)",
                               1, latest, err);
    if (!res) {
        /* Without the table the EXISTS fails to plan: no schema at all. */
        if (strcmp(s->sqlstate, "42P01") && strcmp(s->sqlstate, "3F000"))
            return -1;
        err_set(err, "the database has no parallax schema: run 'parallaxctl db migrate' first");
        store_disconnect(s);
        return -2;
    }
    int migrated = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!migrated) {
        err_set(err,
                "the database's schema is older than this coordinator (it lacks migration %s): "
                "run 'parallaxctl db migrate'",
                PX_SCHEMA_LATEST);
        store_disconnect(s);
        return -2;
    }
    char timeout[64];
    snprintf(timeout, sizeof timeout, "SET statement_timeout = %d", STORE_STATEMENT_TIMEOUT_MS);
    /* The ACK promises durability: never let a session weaken synchronous_commit. */
    const char *const setup[] = {
        "SET synchronous_commit = on",
        "SET TIME ZONE 'UTC'",
        timeout,
        /* A row lock held by a stuck parallaxctl must not eat the whole statement budget. */
        "SET lock_timeout = '2s'",
        /* The ingest's session only: the merge's never reads notifications, which would pile
         * up in libpq, nor COPYs. */
        "LISTEN parallax_agents",
        "LISTEN parallax_schedule",
        "CREATE TEMP TABLE staging (LIKE parallax.results INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS",
    };
    size_t n_setup = sizeof setup / sizeof setup[0];
    if (s->kind == STORE_SESSION_MERGE)
        n_setup -= 3;
    for (size_t i = 0; i < n_setup; i++) {
        if (store_run(s, "setting up the session", setup[i], 0, NULL, err) < 0) {
            store_disconnect(s);
            return -1;
        }
    }
    return 0;
}
