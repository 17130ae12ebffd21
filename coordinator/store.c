/* store: libpq behind one small interface. Every statement goes through exec(), which sends
 * it asynchronously and waits with a deadline, so a hung server costs a bounded wait and a
 * reconnect, never the coordinator's loop; results are cleared in one place; a failure that
 * breaks the connection marks the store disconnected so the coordinator reconnects instead of
 * failing every later call. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copyrow.h"
#include "timeutil.h"
#include "wire.h"

#define STORE_COPY_CHUNK (256 * 1024)
/* Days whose partition this connection knows to exist (results arrive for a few days). */
#define STORE_DAYS_KNOWN 16

struct store {
    char *conninfo;
    PGconn *conn;
    int has_merge;        /* the schema has parallax.merge_run() (migration 003 or later) */
    int has_heartbeats;   /* ... and parallax.heartbeats */
    int has_agent_state;  /* ... and migration 007 (liveness, clock, schedule versions) */
    int has_refusal;      /* ... and migration 002 after stable 1 (agents.refused) */
    char sqlstate[6];     /* of the last failed statement, "" if none */
    int64_t max_probe_id; /* highest probe id issued, as last read */
    int64_t days_known[STORE_DAYS_KNOWN]; /* committed partitions, by day number; a ring */
    int n_days_known, next_day;
};

store_t *store_new(const char *conninfo)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(conninfo))) {
        free(s);
        return NULL;
    }
    return s;
}

static void disconnect(store_t *s)
{
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
    disconnect(*store);
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

int store_has_agent_state(const store_t *store)
{
    return store->has_agent_state;
}

int store_has_refusal(const store_t *store)
{
    return store->has_refusal;
}

/* The server's message on one line, without libpq's trailing newline. */
static void set_pg_error(err_t *err, const char *what, const PGresult *res, PGconn *conn)
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
static int wait_fd(int fd, short events, int64_t deadline_us)
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

static int64_t deadline_after(long ms)
{
    return time_mono_us() + (int64_t)ms * 1000;
}

/* The failure of a wait: the connection is dropped (it is in an unknown state, and a server
 * too slow to answer would hold up the loop again). */
static int lost(store_t *s, const char *what, const char *why, err_t *err)
{
    err_set(err, "%s: %s; connection dropped", what, why);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", "");
    disconnect(s);
    return -1;
}

/* Sends whatever libpq has buffered. Returns 0 or -1 (disconnected). */
static int flush_out(store_t *s, const char *what, int64_t deadline, err_t *err)
{
    for (;;) {
        int rc = PQflush(s->conn);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return lost(s, what, PQerrorMessage(s->conn), err);
        int w = wait_fd(PQsocket(s->conn), POLLOUT | POLLIN, deadline);
        if (w <= 0)
            return lost(s, what,
                        w == 0 ? "the database did not take the data in time" : "poll failed", err);
        /* Input must be read too, or a server blocked on writing to us never reads. */
        if (!PQconsumeInput(s->conn))
            return lost(s, what, PQerrorMessage(s->conn), err);
    }
}

/* The next result of the current command, waiting until the deadline. NULL with
 * *failed = 0 means the command is complete; *failed = 1 means the connection was dropped. */
static PGresult *next_result(store_t *s, const char *what, int64_t deadline, int *failed,
                             err_t *err)
{
    *failed = 0;
    while (PQisBusy(s->conn)) {
        int w = wait_fd(PQsocket(s->conn), POLLIN, deadline);
        if (w <= 0 || !PQconsumeInput(s->conn)) {
            lost(s, what,
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
static PGresult *exec_within(store_t *s, const char *what, ExecStatusType want, const char *sql,
                             int n, const char *const *params, long timeout_ms, err_t *err)
{
    s->sqlstate[0] = '\0';
    if (!store_connected(s)) {
        err_set(err, "%s: database not connected", what);
        disconnect(s);
        return NULL;
    }
    int64_t deadline = deadline_after(timeout_ms);
    if (!PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0)) {
        set_pg_error(err, what, NULL, s->conn);
        if (PQstatus(s->conn) != CONNECTION_OK)
            disconnect(s);
        return NULL;
    }
    if (flush_out(s, what, deadline, err) < 0)
        return NULL;
    int failed;
    PGresult *res = next_result(s, what, deadline, &failed, err);
    if (failed)
        return NULL;
    if (res && PQresultStatus(res) == PGRES_COPY_IN)
        return want == PGRES_COPY_IN ? res : (PQclear(res), NULL);
    /* Collect the rest so the connection is ready for the next command. */
    PGresult *extra;
    while ((extra = next_result(s, what, deadline, &failed, err)))
        PQclear(extra);
    if (failed) {
        PQclear(res);
        return NULL;
    }
    if (res && PQresultStatus(res) == want)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
    set_pg_error(err, what, res, s->conn);
    PQclear(res);
    if (PQstatus(s->conn) != CONNECTION_OK)
        disconnect(s);
    return NULL;
}

static PGresult *exec(store_t *s, const char *what, ExecStatusType want, const char *sql, int n,
                      const char *const *params, err_t *err)
{
    return exec_within(s, what, want, sql, n, params,
                       STORE_STATEMENT_TIMEOUT_MS + STORE_CLIENT_SLACK_MS, err);
}

/* Like exec() for statements whose result is not needed. */
static int run(store_t *s, const char *what, const char *sql, int n, const char *const *params,
               err_t *err)
{
    PGresult *res = exec(s, what, PGRES_COMMAND_OK, sql, n, params, err);
    PQclear(res);
    return res ? 0 : -1;
}

/* ---- connecting -------------------------------------------------------------------------- */

/* Starts a connection and drives it to the end or the deadline. The defaults come first so
 * that whatever the operator's conninfo says overrides them. */
static int open_conn(store_t *s, err_t *err)
{
    static const char *const keys[] = {
        "application_name", "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
    const char *values[] = {
        "parallax-coordinator", "1", "30", "10", "3", "30000", s->conninfo, NULL};
    int64_t deadline = deadline_after(STORE_CONNECT_TIMEOUT_MS);
    s->conn = PQconnectStartParams(keys, values, 1);
    if (!s->conn) {
        err_set(err, "cannot connect to the database: out of memory");
        return -1;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(s->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        int w =
            wait_fd(PQsocket(s->conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w <= 0) {
            err_set(err, "cannot connect to the database: %s",
                    w == 0 ? "no answer within the connect timeout" : "poll failed");
            disconnect(s);
            return -1;
        }
        st = PQconnectPoll(s->conn);
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        set_pg_error(err, "cannot connect to the database", NULL, s->conn);
        disconnect(s);
        return -1;
    }
    /* Non-blocking, so a server that stops reading cannot block a COPY forever. */
    if (PQsetnonblocking(s->conn, 1) != 0) {
        set_pg_error(err, "cannot make the database connection non-blocking", NULL, s->conn);
        disconnect(s);
        return -1;
    }
    return 0;
}

int store_connect(store_t *s, err_t *err)
{
    disconnect(s);
    if (open_conn(s, err) < 0)
        return -1;
    PGresult *res = exec(s, "checking the schema", PGRES_TUPLES_OK,
                         "SELECT to_regclass('parallax.results') IS NOT NULL, "
                         "to_regprocedure('parallax.merge_run(timestamptz)') IS NOT NULL, "
                         "to_regclass('parallax.heartbeats') IS NOT NULL, "
                         "to_regclass('parallax.schedule_versions') IS NOT NULL, "
                         "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                         "to_regclass('parallax.agents') AND attname = 'refused' "
                         "AND NOT attisdropped)",
                         0, NULL, err);
    if (!res)
        return -1;
    int migrated = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    /* A coordinator newer than the schema still stores results; it merges once migrated. */
    s->has_merge = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    s->has_heartbeats = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    s->has_agent_state = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    s->has_refusal = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    PQclear(res);
    if (!migrated) {
        err_set(err, "the database has no parallax schema: run 'parallaxctl db migrate' first");
        disconnect(s);
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
        "LISTEN parallax_agents",
        "LISTEN parallax_schedule",
        "CREATE TEMP TABLE staging (LIKE parallax.results INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        if (run(s, "setting up the session", setup[i], 0, NULL, err) < 0) {
            disconnect(s);
            return -1;
        }
    }
    return 0;
}

int store_register_coordinator(store_t *s, const char *public_key, const char *endpoint, err_t *err)
{
    const char *p[] = {public_key, endpoint};
    return run(s, "recording the coordinator's key",
               "INSERT INTO parallax.coordinator (public_key, endpoint) VALUES ($1, $2) "
               "ON CONFLICT (id) DO UPDATE SET public_key = $1, endpoint = $2, updated_at = now()",
               2, p, err);
}

int store_load_agents(store_t *s, allow_entry_t **entries, size_t *n, err_t *err)
{
    PGresult *res = exec(s, "loading agents", PGRES_TUPLES_OK,
                         "SELECT id, name, public_key, enabled FROM parallax.agents", 0, NULL, err);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    allow_entry_t *out = calloc(rows ? (size_t)rows : 1, sizeof *out);
    if (!out) {
        PQclear(res);
        err_set(err, "out of memory loading agents");
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        out[i].agent_id = atoi(PQgetvalue(res, i, 0));
        snprintf(out[i].name, sizeof out[i].name, "%s", PQgetvalue(res, i, 1));
        snprintf(out[i].public_key, sizeof out[i].public_key, "%s", PQgetvalue(res, i, 2));
        out[i].enabled = strcmp(PQgetvalue(res, i, 3), "t") == 0;
    }
    PQclear(res);
    *entries = out;
    *n = (size_t)rows;
    return 0;
}

int store_poll_changes(store_t *s, unsigned *changed, err_t *err)
{
    if (!store_connected(s)) {
        err_set(err, "reading notifications: database not connected");
        return -1;
    }
    if (!PQconsumeInput(s->conn)) {
        set_pg_error(err, "reading notifications", NULL, s->conn);
        if (PQstatus(s->conn) != CONNECTION_OK)
            disconnect(s);
        return -1;
    }
    PGnotify *n;
    while ((n = PQnotifies(s->conn))) {
        if (strcmp(n->relname, "parallax_agents") == 0)
            *changed |= STORE_CHANGED_AGENTS;
        else if (strcmp(n->relname, "parallax_schedule") == 0)
            *changed |= STORE_CHANGED_SCHEDULE;
        PQfreemem(n);
    }
    return 0;
}

/* ---- the schedule ------------------------------------------------------------------------ */

void store_schedule_free(Parallax__Schedule **s)
{
    if (!s || !*s)
        return;
    for (size_t i = 0; i < (*s)->n_probes; i++) {
        Parallax__Probe *p = (*s)->probes[i];
        if (!p)
            continue;
        free(p->target);
        free(p->address);
        free(p->spec);
        free(p);
    }
    free((*s)->probes);
    free(*s);
    *s = NULL;
}

/* FNV-1a: the version of a schedule on a schema without parallax.schedule_versions. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static Parallax__Schedule *schedule_from_rows(const PGresult *res, uint64_t *hash)
{
    int rows = PQntuples(res);
    Parallax__Schedule *sched = calloc(1, sizeof *sched);
    if (!sched)
        return NULL;
    parallax__schedule__init(sched);
    sched->probes = calloc(rows ? (size_t)rows : 1, sizeof *sched->probes);
    if (!sched->probes)
        goto oom;
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < rows; i++) {
        Parallax__Probe *p = calloc(1, sizeof *p);
        if (!p)
            goto oom;
        parallax__probe__init(p);
        sched->probes[sched->n_probes++] = p;
        p->probe_id = strtoull(PQgetvalue(res, i, 0), NULL, 10);
        p->target = strdup(PQgetvalue(res, i, 1));
        p->address = strdup(PQgetvalue(res, i, 2));
        p->spec = strdup(PQgetvalue(res, i, 3));
        p->interval_s = (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10);
        p->phase_ms = (uint32_t)strtoul(PQgetvalue(res, i, 5), NULL, 10);
        p->timeout_ms = (uint32_t)strtoul(PQgetvalue(res, i, 6), NULL, 10);
        p->control = strcmp(PQgetvalue(res, i, 7), "t") == 0;
        if (!p->target || !p->address || !p->spec)
            goto oom;
        for (int c = 0; c < 8; c++)
            h = fnv1a(h, PQgetvalue(res, i, c), (size_t)PQgetlength(res, i, c) + 1);
    }
    *hash = h;
    return sched;
oom:
    store_schedule_free(&sched);
    return NULL;
}

int store_load_schedule(store_t *s, Parallax__Schedule **out, err_t *err)
{
    /* One snapshot for the probes and the version, so the version names exactly them. */
    if (s->has_agent_state &&
        run(s, "loading the schedule", "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, err) < 0)
        return -1;
    PGresult *res = exec(s, "loading the schedule", PGRES_TUPLES_OK,
                         "SELECT probe_id, target, address, spec, interval_s, phase_ms, "
                         "timeout_ms, control FROM parallax.schedule_view ORDER BY probe_id",
                         0, NULL, err);
    if (!res)
        goto fail;
    uint64_t h = 0;
    Parallax__Schedule *sched = schedule_from_rows(res, &h);
    PQclear(res);
    if (!sched) {
        err_set(err, "out of memory loading the schedule");
        goto fail;
    }
    if (s->has_agent_state) {
        res = exec(s, "numbering the schedule", PGRES_TUPLES_OK,
                   "SELECT parallax.schedule_version_current()", 0, NULL, err);
        if (!res || run(s, "loading the schedule", "COMMIT", 0, NULL, err) < 0) {
            PQclear(res);
            store_schedule_free(&sched);
            goto fail;
        }
        sched->version = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    } else {
        /* Versions travel as uint64 but are kept below 2^63 so SQL can store them; never 0. */
        sched->version = (h & INT64_MAX) ? (h & INT64_MAX) : 1;
    }
    *out = sched;
    return 0;
fail:
    if (s->has_agent_state && store_connected(s))
        run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    return -1;
}

/* ---- ingest ------------------------------------------------------------------------------ */

/* A growing text buffer for array literals and COPY data. Out of memory sticks in `failed`
 * and is checked once at the end. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text_t;

static void text_put(text_t *t, const char *data, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_printf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_t *t, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small)
        t->failed = 1;
    else
        text_put(t, small, (size_t)n);
}

static void text_free(text_t *t)
{
    free(t->buf);
    *t = (text_t){0};
}

/* A failure no retry can fix: the data itself was refused (SQLSTATE class 22, data
 * exception, or 23, integrity violation) on a healthy connection. Anything else — a lost
 * connection, a shutdown, a timeout, a missing table — may heal, so it is retried. */
static int refused_data(const store_t *s)
{
    return store_connected(s) &&
           (strncmp(s->sqlstate, "22", 2) == 0 || strncmp(s->sqlstate, "23", 2) == 0);
}

static int64_t day_of(int64_t ts_us)
{
    return ts_us / (86400LL * 1000000);
}

static int day_known(const store_t *s, int64_t day)
{
    for (int i = 0; i < s->n_days_known; i++)
        if (s->days_known[i] == day)
            return 1;
    return 0;
}

static void day_remember(store_t *s, int64_t day)
{
    if (day_known(s, day))
        return;
    s->days_known[s->next_day] = day;
    s->next_day = (s->next_day + 1) % STORE_DAYS_KNOWN;
    if (s->n_days_known < STORE_DAYS_KNOWN)
        s->n_days_known++;
}

/* Reads the highest probe id the database has issued. Returns 0 or -1. */
static int refresh_max_probe(store_t *s, err_t *err)
{
    PGresult *res = exec(s, "reading the probe id sequence", PGRES_TUPLES_OK,
                         "SELECT coalesce(pg_sequence_last_value("
                         "pg_get_serial_sequence('parallax.probes', 'id')::regclass), 0)",
                         0, NULL, err);
    if (!res)
        return -1;
    s->max_probe_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* Results of probes removed since (the agent was cut off) are evidence and are stored; an id
 * that was never issued is a broken agent. Returns 1 if every id in b was issued, 0 if not
 * (err says which), -1 if the database could not tell. */
static int probes_issued(store_t *s, const Parallax__ResultBatch *b, err_t *err)
{
    uint64_t top = 0;
    for (size_t i = 0; i < b->n_results; i++)
        if (b->results[i]->probe_id > top)
            top = b->results[i]->probe_id;
    for (size_t i = 0; i < b->n_gaps; i++)
        if (b->gaps[i]->probe_id > top)
            top = b->gaps[i]->probe_id;
    if (top <= (uint64_t)s->max_probe_id)
        return 1;
    if (refresh_max_probe(s, err) < 0)
        return -1;
    if (top <= (uint64_t)s->max_probe_id)
        return 1;
    for (size_t i = 0; i < b->n_results; i++)
        if (b->results[i]->probe_id > (uint64_t)s->max_probe_id) {
            err_set(err, "result %zu names probe %" PRIu64 ", which does not exist", i,
                    b->results[i]->probe_id);
            return 0;
        }
    for (size_t i = 0; i < b->n_gaps; i++)
        if (b->gaps[i]->probe_id > (uint64_t)s->max_probe_id) {
            err_set(err, "gap %zu names probe %" PRIu64 ", which does not exist", i,
                    b->gaps[i]->probe_id);
            return 0;
        }
    return 1;
}

/* Streams text into the COPY begun on the connection and ends it. Returns 0 or -1 (err and
 * sqlstate set; disconnected if the connection failed). */
static int copy_send(store_t *s, const text_t *t, int64_t deadline, err_t *err)
{
    for (size_t off = 0; off < t->len;) {
        size_t n = t->len - off > STORE_COPY_CHUNK ? STORE_COPY_CHUNK : t->len - off;
        int rc = PQputCopyData(s->conn, t->buf + off, (int)n);
        if (rc < 0)
            return lost(s, "COPY", PQerrorMessage(s->conn), err);
        if (rc == 0) {
            /* libpq's buffer is full: let the server catch up. */
            if (flush_out(s, "COPY", deadline, err) < 0)
                return -1;
            continue;
        }
        off += n;
    }
    for (;;) {
        int rc = PQputCopyEnd(s->conn, NULL);
        if (rc < 0)
            return lost(s, "COPY", PQerrorMessage(s->conn), err);
        if (rc == 1)
            break;
        if (flush_out(s, "COPY", deadline, err) < 0)
            return -1;
    }
    if (flush_out(s, "COPY", deadline, err) < 0)
        return -1;
    int failed, ok = 0;
    PGresult *res;
    while ((res = next_result(s, "COPY", deadline, &failed, err))) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            ok = 1;
        } else if (!s->sqlstate[0]) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
            set_pg_error(err, "COPY", res, s->conn);
        }
        PQclear(res);
    }
    if (failed)
        return -1;
    return ok && !s->sqlstate[0] ? 0 : -1;
}

/* Per-transaction scratch: which of the group's batches are fresh, and the texts. */
typedef struct group {
    store_batch_t *items;
    const size_t *idx;
    size_t m;
    store_ingest_t *verdict; /* m verdicts, applied only once the transaction committed */
} group_t;

static int agent_allowed(const PGresult *res, int agent_id)
{
    for (int r = 0; r < PQntuples(res); r++)
        if (atoi(PQgetvalue(res, r, 0)) == agent_id)
            return 1;
    return 0;
}

/* Records the batch ids of g (skipping agents not allowed); sets verdicts to STORED for the
 * fresh ones and DUPLICATE for the rest. Returns the number fresh, or -1. */
static int record_batches(store_t *s, group_t *g, err_t *err)
{
    text_t ids = {0};
    text_put(&ids, "{", 1);
    for (size_t k = 0; k < g->m; k++)
        text_printf(&ids, "%s%d", k ? "," : "", g->items[g->idx[k]].agent_id);
    text_put(&ids, "}", 1);
    if (ids.failed) {
        text_free(&ids);
        err_set(err, "out of memory");
        return -1;
    }
    const char *p1[] = {ids.buf};
    /* FOR SHARE holds off a concurrent disable until these batches are in. */
    PGresult *res = exec(s, "checking the agents", PGRES_TUPLES_OK,
                         "SELECT id FROM parallax.agents WHERE id = ANY($1::int[]) AND enabled "
                         "FOR SHARE",
                         1, p1, err);
    text_free(&ids);
    if (!res)
        return -1;
    text_t a = {0}, st = {0}, sq = {0}, nr = {0}, ng = {0};
    text_t *cols[] = {&a, &st, &sq, &nr, &ng};
    for (int c = 0; c < 5; c++)
        text_put(cols[c], "{", 1);
    int any = 0;
    for (size_t k = 0; k < g->m; k++) {
        const store_batch_t *it = &g->items[g->idx[k]];
        if (!agent_allowed(res, it->agent_id)) {
            g->verdict[k] = STORE_INGEST_NOT_ALLOWED;
            continue;
        }
        g->verdict[k] = STORE_INGEST_DUPLICATE;
        const char *sep = any++ ? "," : "";
        text_printf(&a, "%s%d", sep, it->agent_id);
        text_printf(&st, "%s%" PRId64, sep, (int64_t)it->batch->stream);
        text_printf(&sq, "%s%" PRId64, sep, (int64_t)it->batch->seq);
        text_printf(&nr, "%s%zu", sep, it->batch->n_results);
        text_printf(&ng, "%s%zu", sep, it->batch->n_gaps);
    }
    PQclear(res);
    int fresh = -1;
    for (int c = 0; c < 5; c++)
        text_put(cols[c], "}", 1);
    if (a.failed || st.failed || sq.failed || nr.failed || ng.failed) {
        err_set(err, "out of memory");
        goto out;
    }
    if (!any) {
        fresh = 0;
        goto out;
    }
    const char *p[] = {a.buf, st.buf, sq.buf, nr.buf, ng.buf};
    res = exec(s, "recording the batches", PGRES_TUPLES_OK,
               s->has_agent_state
                   ? "INSERT INTO parallax.batches (agent_id, stream, seq, results, gaps) "
                     "SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::int[], "
                     "$5::int[]) ON CONFLICT DO NOTHING RETURNING agent_id, stream, seq"
                   : "INSERT INTO parallax.batches (agent_id, stream, seq, results) "
                     "SELECT a, s, q, r FROM unnest($1::int[], $2::bigint[], $3::bigint[], "
                     "$4::int[], $5::int[]) AS u(a, s, q, r, g) "
                     "ON CONFLICT DO NOTHING RETURNING agent_id, stream, seq",
               5, p, err);
    if (!res)
        goto out;
    fresh = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int agent = atoi(PQgetvalue(res, r, 0));
        int64_t stream = strtoll(PQgetvalue(res, r, 1), NULL, 10);
        int64_t seq = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        for (size_t k = 0; k < g->m; k++) {
            const store_batch_t *it = &g->items[g->idx[k]];
            if (it->agent_id == agent && (int64_t)it->batch->stream == stream &&
                (int64_t)it->batch->seq == seq && g->verdict[k] == STORE_INGEST_DUPLICATE) {
                g->verdict[k] = STORE_INGEST_STORED;
                fresh++;
                break;
            }
        }
    }
    PQclear(res);
out:
    for (int c = 0; c < 5; c++)
        text_free(cols[c]);
    return fresh;
}

/* Makes sure the daily partitions of the fresh results exist (all of them when !trust_cache).
 * *days collects the days touched, remembered once the transaction commits. */
static int ensure_partitions(store_t *s, group_t *g, int trust_cache, int64_t *days, int *n_days,
                             int max_days, err_t *err)
{
    text_t list = {0};
    text_put(&list, "{", 1);
    int listed = 0;
    *n_days = 0;
    for (size_t k = 0; k < g->m; k++) {
        if (g->verdict[k] != STORE_INGEST_STORED)
            continue;
        const Parallax__ResultBatch *b = g->items[g->idx[k]].batch;
        for (size_t i = 0; i < b->n_results; i++) {
            int64_t day = day_of(b->results[i]->ts_us);
            int seen = 0;
            for (int d = 0; d < *n_days && !seen; d++)
                seen = days[d] == day;
            if (seen)
                continue;
            if (*n_days < max_days)
                days[(*n_days)++] = day;
            if (trust_cache && day_known(s, day))
                continue;
            time_t secs = (time_t)(day * 86400);
            struct tm tm;
            gmtime_r(&secs, &tm);
            text_printf(&list, "%s%04d-%02d-%02d", listed++ ? "," : "", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday);
        }
    }
    text_put(&list, "}", 1);
    int rc = 0;
    if (list.failed) {
        err_set(err, "out of memory");
        rc = -1;
    } else if (listed) {
        const char *p[] = {list.buf};
        PGresult *res =
            exec(s, "creating partitions", PGRES_TUPLES_OK,
                 "SELECT parallax.ensure_partition(d) FROM unnest($1::date[]) d", 1, p, err);
        PQclear(res);
        rc = res ? 0 : -1;
    }
    text_free(&list);
    return rc;
}

static int copy_results(store_t *s, group_t *g, int direct, err_t *err)
{
    text_t data = {0};
    char *line = malloc(COPYROW_LINE_MAX);
    if (!line) {
        err_set(err, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < g->m; k++) {
        if (g->verdict[k] != STORE_INGEST_STORED)
            continue;
        const store_batch_t *it = &g->items[g->idx[k]];
        for (size_t i = 0; i < it->batch->n_results; i++) {
            int n = copyrow_result(line, COPYROW_LINE_MAX, it->agent_id, it->batch->results[i]);
            if (n < 0) {
                data.failed = 1;
                break;
            }
            text_put(&data, line, (size_t)n);
        }
    }
    free(line);
    if (data.failed) {
        text_free(&data);
        err_set(err, "out of memory encoding results");
        return -1;
    }
    int rc = 0;
    if (data.len) {
        int64_t deadline = deadline_after(STORE_STATEMENT_TIMEOUT_MS + STORE_CLIENT_SLACK_MS);
        /* Straight into the table when no row can collide with one stored before (the usual
         * case); through the staging table, dropping collisions, when one did. */
        PGresult *res = exec(s, "starting COPY", PGRES_COPY_IN,
                             direct ? "COPY parallax.results (" COPYROW_COLUMNS ") FROM STDIN"
                                    : "COPY pg_temp.staging (" COPYROW_COLUMNS ") FROM STDIN",
                             0, NULL, err);
        if (!res) {
            text_free(&data);
            return -1;
        }
        PQclear(res);
        rc = copy_send(s, &data, deadline, err);
        if (rc == 0 && !direct)
            rc = run(s, "storing results",
                     "INSERT INTO parallax.results (" COPYROW_COLUMNS ") "
                     "SELECT " COPYROW_COLUMNS " FROM pg_temp.staging ON CONFLICT DO NOTHING",
                     0, NULL, err);
    }
    text_free(&data);
    return rc;
}

static int store_gaps(store_t *s, group_t *g, err_t *err)
{
    text_t a = {0}, p = {0}, f = {0}, t = {0}, c = {0}, r = {0};
    text_t *cols[] = {&a, &p, &f, &t, &c, &r};
    for (int i = 0; i < 6; i++)
        text_put(cols[i], "{", 1);
    int any = 0;
    for (size_t k = 0; k < g->m; k++) {
        if (g->verdict[k] != STORE_INGEST_STORED)
            continue;
        const store_batch_t *it = &g->items[g->idx[k]];
        for (size_t i = 0; i < it->batch->n_gaps; i++) {
            const Parallax__Gap *gap = it->batch->gaps[i];
            const char *sep = any++ ? "," : "";
            text_printf(&a, "%s%d", sep, it->agent_id);
            text_printf(&p, "%s%" PRIu64, sep, gap->probe_id);
            text_printf(&f, "%s%" PRId64, sep, gap->from_us);
            text_printf(&t, "%s%" PRId64, sep, gap->to_us);
            text_printf(&c, "%s%" PRIu64, sep, gap->count);
            /* Validated on the way in: the reason has a label. */
            text_printf(&r, "%s%s", sep, wire_gap_reason_name((int)gap->reason));
        }
    }
    for (int i = 0; i < 6; i++)
        text_put(cols[i], "}", 1);
    int rc = 0;
    if (a.failed || p.failed || f.failed || t.failed || c.failed || r.failed) {
        err_set(err, "out of memory");
        rc = -1;
    } else if (any) {
        const char *params[] = {a.buf, p.buf, f.buf, t.buf, c.buf, r.buf};
        /* probe_id 0 on the wire means every probe: NULL in the table. */
        rc = run(s, "storing gaps",
                 "INSERT INTO parallax.gaps (agent_id, probe_id, ts_from, ts_to, dropped_count, "
                 "reason) "
                 "SELECT a, nullif(p, 0), timestamptz 'epoch' + f * interval '1 microsecond', "
                 "timestamptz 'epoch' + t * interval '1 microsecond', c, r "
                 "FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], "
                 "$6::parallax.gap_reason[]) AS g(a, p, f, t, c, r)",
                 6, params, err);
    }
    for (int i = 0; i < 6; i++)
        text_free(cols[i]);
    return rc;
}

/* One transaction for the m batches items[idx[..]]. Returns 0 once committed (verdicts set)
 * or -1 (err and sqlstate set; nothing of it stored). */
static int ingest_tx(store_t *s, store_batch_t *items, const size_t *idx, size_t m, int direct,
                     err_t *err)
{
    store_ingest_t verdict[m];
    group_t g = {.items = items, .idx = idx, .m = m, .verdict = verdict};
    int64_t days[STORE_DAYS_KNOWN];
    int n_days = 0;
    if (run(s, "BEGIN", "BEGIN", 0, NULL, err) < 0)
        return -1;
    int fresh = record_batches(s, &g, err);
    if (fresh < 0)
        goto fail;
    if (fresh > 0 && (ensure_partitions(s, &g, direct, days, &n_days, STORE_DAYS_KNOWN, err) < 0 ||
                      copy_results(s, &g, direct, err) < 0 || store_gaps(s, &g, err) < 0))
        goto fail;
    /* Only a successful COMMIT may lead to an ACK. */
    if (run(s, "COMMIT", "COMMIT", 0, NULL, err) < 0)
        return -1;
    for (int d = 0; d < n_days; d++)
        day_remember(s, days[d]);
    for (size_t k = 0; k < m; k++) {
        items[idx[k]].verdict = verdict[k];
        if (verdict[k] == STORE_INGEST_NOT_ALLOWED)
            err_set(&items[idx[k]].err, "agent %d is disabled or removed", items[idx[k]].agent_id);
    }
    return 0;
fail:;
    /* Keep the statement's own SQLSTATE: the ROLLBACK would clear it. */
    char state[sizeof s->sqlstate];
    memcpy(state, s->sqlstate, sizeof state);
    if (store_connected(s))
        run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    memcpy(s->sqlstate, state, sizeof state);
    return -1;
}

static int same_batch(const store_batch_t *a, const store_batch_t *b)
{
    return a->agent_id == b->agent_id && a->batch->stream == b->batch->stream &&
           a->batch->seq == b->batch->seq;
}

void store_ingest(store_t *s, store_batch_t *items, size_t n)
{
    if (n == 0)
        return;
    size_t *idx = calloc(n, sizeof *idx);
    size_t *twin = calloc(n, sizeof *twin); /* the earlier copy of a batch sent twice, or n */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].verdict = STORE_INGEST_RETRY;
        err_clear(&items[i].err);
    }
    if (!idx || !twin) {
        for (size_t i = 0; i < n; i++)
            err_set(&items[i].err, "out of memory");
        goto out;
    }
    if (!store_connected(s)) {
        for (size_t i = 0; i < n; i++)
            err_set(&items[i].err, "database not connected");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        twin[i] = n;
        for (size_t j = 0; j < i && twin[i] == n; j++)
            if (twin[j] == n && same_batch(&items[i], &items[j]))
                twin[i] = j;
        if (twin[i] != n)
            continue;
        int ok = probes_issued(s, items[i].batch, &items[i].err);
        if (ok == 0)
            items[i].verdict = STORE_INGEST_REJECT;
        else if (ok > 0)
            idx[m++] = i;
        else if (!store_connected(s))
            break;
    }
    err_t err = {{0}};
    err_clear(&err);
    int rc = m ? ingest_tx(s, items, idx, m, 1, &err) : 0;
    if (rc < 0 && refused_data(s))
        rc = ingest_tx(s, items, idx, m, 0, &err);
    if (rc < 0 && refused_data(s) && m > 1) {
        /* Someone's data is bad: find whose, one batch per transaction. */
        for (size_t k = 0; k < m; k++) {
            store_batch_t *it = &items[idx[k]];
            if (ingest_tx(s, items, &idx[k], 1, 0, &it->err) < 0)
                it->verdict = refused_data(s) ? STORE_INGEST_REJECT : STORE_INGEST_RETRY;
        }
    } else if (rc < 0) {
        int reject = refused_data(s);
        for (size_t k = 0; k < m; k++) {
            items[idx[k]].verdict = reject ? STORE_INGEST_REJECT : STORE_INGEST_RETRY;
            items[idx[k]].err = err;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (twin[i] == n)
            continue;
        const store_batch_t *first = &items[twin[i]];
        items[i].verdict =
            first->verdict == STORE_INGEST_STORED ? STORE_INGEST_DUPLICATE : first->verdict;
        items[i].err = first->err;
    }
out:
    for (size_t i = 0; i < n; i++)
        if (items[i].verdict == STORE_INGEST_RETRY && !items[i].err.msg[0])
            err_set(&items[i].err, "database not connected");
    free(idx);
    free(twin);
}

/* ---- agents ------------------------------------------------------------------------------ */

int store_touch_agent(store_t *s, int agent_id, const char *agent_version, int64_t schedule_version,
                      err_t *err)
{
    char id[16], version[24];
    snprintf(id, sizeof id, "%d", agent_id);
    snprintf(version, sizeof version, "%" PRId64, schedule_version);
    const char *p[] = {id, agent_version && *agent_version ? agent_version : NULL,
                       schedule_version >= 0 ? version : NULL};
    if (!s->has_agent_state)
        return run(s, "updating last_seen",
                   "UPDATE parallax.agents SET last_seen = now(), "
                   "agent_version = coalesce($2, agent_version) WHERE id = $1",
                   2, p, err);
        /* Every SET expression sees the row as it was, so the CASE compares with the old ack. */
#define STORE_TOUCH_SET                                                                            \
    "UPDATE parallax.agents SET last_seen = now(), online = true, "                                \
    "agent_version = coalesce($2, agent_version), "                                                \
    "schedule_acked_at = CASE WHEN $3::bigint IS NOT NULL AND "                                    \
    "schedule_version_acked IS DISTINCT FROM $3::bigint THEN now() "                               \
    "ELSE schedule_acked_at END, "                                                                 \
    "schedule_version_acked = coalesce($3::bigint, schedule_version_acked) "
    return run(s, "updating last_seen",
               s->has_refusal ? STORE_TOUCH_SET ", refused = NULL, refused_at = NULL WHERE id = $1"
                              : STORE_TOUCH_SET "WHERE id = $1",
               3, p, err);
#undef STORE_TOUCH_SET
}

int store_refuse_agent(store_t *s, int agent_id, const char *why, err_t *err)
{
    if (!s->has_refusal)
        return 0;
    char id[16];
    snprintf(id, sizeof id, "%d", agent_id);
    const char *p[] = {id, why};
    return run(s, "recording a refused agent",
               "UPDATE parallax.agents SET refused = $2, refused_at = now() WHERE id = $1", 2, p,
               err);
}

int store_expire_agents(store_t *s, uint64_t timeout_s, void (*gone)(void *arg, const char *name),
                        void *arg, err_t *err)
{
    if (!s->has_agent_state)
        return 0;
    char secs[24];
    snprintf(secs, sizeof secs, "%" PRIu64, timeout_s);
    const char *p[] = {secs};
    PGresult *res =
        exec(s, "expiring silent agents", PGRES_TUPLES_OK,
             "UPDATE parallax.agents SET online = false WHERE online AND "
             "(last_seen IS NULL OR last_seen < now() - $1::bigint * interval '1 second') "
             "RETURNING name",
             1, p, err);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        gone(arg, PQgetvalue(res, i, 0));
    PQclear(res);
    return n;
}

int store_heartbeat(store_t *s, int agent_id, err_t *err)
{
    if (!s->has_heartbeats)
        return 0;
    char id[16];
    snprintf(id, sizeof id, "%d", agent_id);
    const char *p[] = {id};
    return run(s, "recording a heartbeat",
               "INSERT INTO parallax.heartbeats (agent_id, ts) VALUES ($1, now()) "
               "ON CONFLICT DO NOTHING",
               1, p, err);
}

int store_set_clock(store_t *s, int agent_id, int offset_ms, double rtt_ms, int remerge_ms,
                    long *queued, err_t *err)
{
    *queued = 0;
    if (!s->has_agent_state)
        return 0;
    char id[16], off[16], rtt[32], remerge[16];
    snprintf(id, sizeof id, "%d", agent_id);
    snprintf(off, sizeof off, "%d", offset_ms);
    snprintf(rtt, sizeof rtt, "%.3f", rtt_ms);
    snprintf(remerge, sizeof remerge, "%d", remerge_ms);
    const char *p[] = {id, off, rtt_ms >= 0 ? rtt : NULL, remerge};
    PGresult *res = exec(s, "storing the clock offset", PGRES_TUPLES_OK,
                         "SELECT parallax.agent_clock_set($1, $2, $3, $4)", 4, p, err);
    if (!res)
        return -1;
    *queued = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int store_merge(store_t *s, long *bins, err_t *err)
{
    *bins = 0;
    if (!s->has_merge)
        return 0;
    /* The merge may have a backlog after an outage: it gets a longer statement_timeout, set
     * for its own transaction only. */
    char timeout[80];
    snprintf(timeout, sizeof timeout, "SET LOCAL statement_timeout = %d", STORE_MERGE_TIMEOUT_MS);
    if (run(s, "merging closed bins", "BEGIN", 0, NULL, err) < 0)
        return -1;
    if (run(s, "merging closed bins", timeout, 0, NULL, err) < 0)
        goto fail;
    PGresult *res =
        exec_within(s, "merging closed bins", PGRES_TUPLES_OK, "SELECT parallax.merge_run(now())",
                    0, NULL, STORE_MERGE_TIMEOUT_MS + STORE_CLIENT_SLACK_MS, err);
    if (!res)
        goto fail;
    *bins = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return run(s, "merging closed bins", "COMMIT", 0, NULL, err);
fail:
    if (store_connected(s))
        run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    return -1;
}
