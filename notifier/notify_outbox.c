/* notify_outbox: synchronous libpq, parameterised statements only; every result is cleared in
 * the function that got it. Times leave the database already formatted as RFC 3339 UTC, so
 * no time zone arithmetic happens here. */
#include "notify_outbox.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notify_outbox {
    PGconn *conn;
};

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static void pg_error(err_t *err, const char *what, PGconn *conn, PGresult *res)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    err_set(err, "%s: %.*s", what, (int)n, msg);
}

/* Runs sql with params; returns the result if its status is want, else NULL with err set. */
static PGresult *run(notify_outbox_t *o, const char *what, ExecStatusType want, const char *sql,
                     int n, const char *const *params, err_t *err)
{
    PGresult *res = PQexecParams(o->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != want) {
        pg_error(err, what, o->conn, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int command(notify_outbox_t *o, const char *what, const char *sql, int n,
                   const char *const *params, err_t *err)
{
    PGresult *res = run(o, what, PGRES_COMMAND_OK, sql, n, params, err);
    PQclear(res);
    return res ? 0 : -1;
}

notify_outbox_t *notify_outbox_new(const char *conninfo, uint64_t hold_s, err_t *err)
{
    /* The defaults come before the operator's string so it may override them; client_encoding
     * comes after it: names and JSON are UTF-8 and must not be converted. */
    static const char *const keys[] = {
        "application_name", "connect_timeout", "keepalives", "keepalives_idle",
        "dbname",           "client_encoding", NULL};
    const char *values[] = {"parallax-notifier", "10", "1", "30", conninfo, "UTF8", NULL};
    notify_outbox_t *o = calloc(1, sizeof *o);
    if (!o) {
        err_set(err, "cannot connect to the database: out of memory");
        return NULL;
    }
    o->conn = PQconnectdbParams(keys, values, 1);
    if (!o->conn || PQstatus(o->conn) != CONNECTION_OK) {
        pg_error(err, "cannot connect to the database", o->conn, NULL);
        notify_outbox_destroy(&o);
        return NULL;
    }
    char hold[64];
    snprintf(hold, sizeof hold, "%" PRIu64 "s", hold_s);
    const char *p[] = {hold};
    PGresult *res = run(o, "cannot set up the session", PGRES_TUPLES_OK,
                        "SELECT set_config('idle_in_transaction_session_timeout', $1, false), "
                        "set_config('statement_timeout', '60s', false)",
                        1, p, err);
    if (!res) {
        notify_outbox_destroy(&o);
        return NULL;
    }
    PQclear(res);
    if (command(o, "cannot listen", "LISTEN parallax_notify", 0, NULL, err) < 0) {
        notify_outbox_destroy(&o);
        return NULL;
    }
    return o;
}

void notify_outbox_destroy(notify_outbox_t **o)
{
    if (!o || !*o)
        return;
    PQfinish((*o)->conn);
    free(*o);
    *o = NULL;
}

int notify_outbox_socket(const notify_outbox_t *o)
{
    return PQsocket(o->conn);
}

int notify_outbox_drain(notify_outbox_t *o, err_t *err)
{
    if (!PQconsumeInput(o->conn) || PQstatus(o->conn) != CONNECTION_OK) {
        pg_error(err, "lost the database session", o->conn, NULL);
        return -1;
    }
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(o->conn))) {
        PQfreemem(note);
        n++;
    }
    return n;
}

int notify_outbox_route(notify_outbox_t *o, err_t *err)
{
    PGresult *res = run(o, "cannot route events", PGRES_TUPLES_OK, "SELECT parallax.notify_route()",
                        0, NULL, err);
    if (!res)
        return -1;
    int n = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return n;
}

/* A copy of a column, NULL for SQL NULL; *oom set if the copy failed. */
static char *col(PGresult *res, int row, int c, int *oom)
{
    if (PQgetisnull(res, row, c))
        return NULL;
    char *s = strdup(PQgetvalue(res, row, c));
    if (!s)
        *oom = 1;
    return s;
}

static int flag(PGresult *res, int row, int c)
{
    return !PQgetisnull(res, row, c) && PQgetvalue(res, row, c)[0] == 't';
}

/* The columns of an event from column first on, in the order the queries select them:
 * key, scope, subject, group_name, role, stage, started_at, ended_at, detail, outage_id. */
static int event_cols(PGresult *res, int row, int first, notify_event_t *ev)
{
    int oom = 0;
    ev->key = col(res, row, first, &oom);
    ev->scope = col(res, row, first + 1, &oom);
    ev->subject = col(res, row, first + 2, &oom);
    ev->group = col(res, row, first + 3, &oom);
    ev->role = col(res, row, first + 4, &oom);
    ev->stage = col(res, row, first + 5, &oom);
    ev->started_at = col(res, row, first + 6, &oom);
    ev->ended_at = col(res, row, first + 7, &oom);
    ev->detail = col(res, row, first + 8, &oom);
    ev->outage_id = strtoll(PQgetvalue(res, row, first + 9), NULL, 10);
    return oom ? -1 : 0;
}

#define EVENT_COLS(e)                                                                              \
    e ".key, " e ".scope, " e ".subject, " e ".group_name, " e ".role, " e                         \
      ".stage, " RFC3339(e ".started_at") ", " RFC3339(e ".ended_at") ", " e ".detail::text, " e   \
                                                                      ".outage_id"

/* The receiver's columns from column first on: id, kind, name, url, secret, mail_from,
 * mail_to (one a line). */
static int receiver_cols(PGresult *res, int row, int first, notify_receiver_t *r)
{
    int oom = 0;
    r->id = atoi(PQgetvalue(res, row, first));
    if (notify_event_kind(PQgetvalue(res, row, first + 1), &r->kind) < 0)
        r->kind = NOTIFY_KIND_WEBHOOK;
    r->name = col(res, row, first + 2, &oom);
    r->url = col(res, row, first + 3, &oom);
    r->secret = col(res, row, first + 4, &oom);
    r->mail_from = col(res, row, first + 5, &oom);
    r->mail_to = col(res, row, first + 6, &oom);
    return oom ? -1 : 0;
}

#define RECEIVER_COLS                                                                              \
    "r.id, r.kind::text, r.name, r.url, r.secret, r.mail_from, array_to_string(r.mail_to, "        \
    "E'\\n')"

int notify_outbox_claim(notify_outbox_t *o, notify_delivery_t **out, err_t *err)
{
    *out = NULL;
    if (command(o, "cannot claim a delivery", "BEGIN", 0, NULL, err) < 0)
        return -1;
    PGresult *res = run(o, "cannot claim a delivery", PGRES_TUPLES_OK,
                        "SELECT d.event_id, d.attempts, e.event, e.late, e.maintenance, "
                        "extract(epoch FROM now() - e.created_at), " EVENT_COLS(
                            "e") ", " RECEIVER_COLS " "
                                 "FROM parallax.notify_deliveries d "
                                 "JOIN parallax.notify_events e ON e.id = d.event_id "
                                 "JOIN parallax.notify_receivers r ON r.id = d.receiver_id "
                                 "WHERE d.state = 'pending' AND d.next_at <= now() AND r.enabled "
                                 "ORDER BY d.next_at, d.event_id LIMIT 1 "
                                 "FOR UPDATE OF d SKIP LOCKED",
                        0, NULL, err);
    if (!res) {
        notify_outbox_release(o, NULL);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return notify_outbox_release(o, err) < 0 ? -1 : 0;
    }
    notify_delivery_t *d = calloc(1, sizeof *d);
    int oom = !d;
    if (d) {
        d->event.id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        d->attempts = atoi(PQgetvalue(res, 0, 1));
        d->event.event = col(res, 0, 2, &oom);
        d->event.late = flag(res, 0, 3);
        d->event.maintenance = flag(res, 0, 4);
        d->age_s = strtod(PQgetvalue(res, 0, 5), NULL);
        oom |= event_cols(res, 0, 6, &d->event) < 0;
        oom |= receiver_cols(res, 0, 16, &d->receiver) < 0;
    }
    PQclear(res);
    if (oom) {
        notify_event_delivery_destroy(&d);
        notify_outbox_release(o, NULL);
        err_set(err, "cannot claim a delivery: out of memory");
        return -1;
    }
    *out = d;
    return 1;
}

static int finish(notify_outbox_t *o, const char *what, const char *sql, int n,
                  const char *const *params, err_t *err)
{
    if (command(o, what, sql, n, params, err) < 0 || command(o, what, "COMMIT", 0, NULL, err) < 0) {
        notify_outbox_release(o, NULL);
        return -1;
    }
    return 0;
}

static void ids(const notify_delivery_t *d, char *ev, char *rcv)
{
    snprintf(ev, 24, "%" PRId64, d->event.id);
    snprintf(rcv, 24, "%d", d->receiver.id);
}

int notify_outbox_sent(notify_outbox_t *o, const notify_delivery_t *d, err_t *err)
{
    char ev[24], rcv[24];
    ids(d, ev, rcv);
    const char *p[] = {ev, rcv};
    return finish(o, "cannot mark a delivery sent",
                  "UPDATE parallax.notify_deliveries SET state = 'sent', sent_at = now(), "
                  "attempts = attempts + 1, last_error = NULL "
                  "WHERE event_id = $1 AND receiver_id = $2",
                  2, p, err);
}

int notify_outbox_retry(notify_outbox_t *o, const notify_delivery_t *d, uint64_t delay_s,
                        const char *error, int defer_others, err_t *err)
{
    char ev[24], rcv[24], delay[24];
    ids(d, ev, rcv);
    snprintf(delay, sizeof delay, "%" PRIu64, delay_s);
    const char *p[] = {ev, rcv, delay, error, defer_others ? "t" : "f"};
    /* The others are deferred without an attempt counted: they were not tried. SKIP LOCKED:
     * one another notifier holds is left to it. */
    return finish(o, "cannot mark a delivery for retry",
                  "WITH this AS (UPDATE parallax.notify_deliveries SET attempts = attempts + 1, "
                  "next_at = now() + make_interval(secs => $3::double precision), "
                  "last_error = $4 WHERE event_id = $1 AND receiver_id = $2 RETURNING next_at), "
                  "others AS (SELECT event_id FROM parallax.notify_deliveries "
                  "WHERE $5::boolean AND receiver_id = $2 AND state = 'pending' "
                  "AND event_id <> $1 AND next_at < now() + make_interval(secs => "
                  "$3::double precision) FOR UPDATE SKIP LOCKED) "
                  "UPDATE parallax.notify_deliveries SET next_at = (SELECT next_at FROM this) "
                  "WHERE receiver_id = $2 AND event_id IN (SELECT event_id FROM others)",
                  5, p, err);
}

int notify_outbox_dead(notify_outbox_t *o, const notify_delivery_t *d, const char *reason,
                       err_t *err)
{
    char ev[24], rcv[24];
    ids(d, ev, rcv);
    const char *p[] = {ev, rcv, reason};
    return finish(o, "cannot mark a delivery dead",
                  "UPDATE parallax.notify_deliveries SET state = 'dead', reason = $3, "
                  "last_error = $3, attempts = attempts + 1 "
                  "WHERE event_id = $1 AND receiver_id = $2",
                  3, p, err);
}

int notify_outbox_release(notify_outbox_t *o, err_t *err)
{
    return command(o, "cannot release a delivery", "ROLLBACK", 0, NULL, err);
}

int64_t notify_outbox_next_due_ms(notify_outbox_t *o, err_t *err)
{
    PGresult *res =
        run(o, "cannot read the next delivery's time", PGRES_TUPLES_OK,
            "SELECT greatest(0, ceil(extract(epoch FROM min(d.next_at) - now()) * 1000))::bigint "
            "FROM parallax.notify_deliveries d JOIN parallax.notify_receivers r "
            "ON r.id = d.receiver_id WHERE d.state = 'pending' AND r.enabled",
            0, NULL, err);
    if (!res)
        return -2;
    int64_t ms = PQgetisnull(res, 0, 0) ? -1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return ms;
}

/* Copies column c of every row into a new array of strings. */
static int strings(PGresult *res, int c, char ***out, size_t *n)
{
    size_t rows = (size_t)PQntuples(res);
    *out = NULL;
    *n = 0;
    if (rows == 0)
        return 0;
    char **v = calloc(rows, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < rows; i++)
        if (!(v[i] = strdup(PQgetvalue(res, (int)i, c)))) {
            while (i > 0)
                free(v[--i]);
            free(v);
            return -1;
        }
    *out = v;
    *n = rows;
    return 0;
}

int notify_outbox_earlier_stages(notify_outbox_t *o, const notify_delivery_t *d, char ***out,
                                 size_t *n, err_t *err)
{
    char ev[24], outage[24];
    snprintf(ev, sizeof ev, "%" PRId64, d->event.id);
    snprintf(outage, sizeof outage, "%" PRId64, d->event.outage_id);
    const char *p[] = {ev, outage, d->event.stage ? d->event.stage : ""};
    PGresult *res = run(o, "cannot read an outage's stages", PGRES_TUPLES_OK,
                        "SELECT DISTINCT stage FROM parallax.notify_events "
                        "WHERE outage_id = $2 AND id < $1 AND stage <> $3 AND event <> 'test'",
                        3, p, err);
    if (!res)
        return -1;
    int rc = strings(res, 0, out, n);
    PQclear(res);
    if (rc < 0)
        err_set(err, "cannot read an outage's stages: out of memory");
    return rc;
}

int notify_outbox_alertmanagers(notify_outbox_t *o, notify_receiver_t **out, size_t *n, err_t *err)
{
    *out = NULL;
    *n = 0;
    PGresult *res = run(o, "cannot read the Alertmanager receivers", PGRES_TUPLES_OK,
                        "SELECT " RECEIVER_COLS " FROM parallax.notify_receivers r "
                        "WHERE r.enabled AND r.kind = 'alertmanager' ORDER BY r.id",
                        0, NULL, err);
    if (!res)
        return -1;
    size_t rows = (size_t)PQntuples(res);
    notify_receiver_t *v = rows ? calloc(rows, sizeof *v) : NULL;
    int oom = rows && !v;
    for (size_t i = 0; !oom && i < rows; i++)
        oom = receiver_cols(res, (int)i, 0, &v[i]) < 0;
    PQclear(res);
    if (oom) {
        for (size_t i = 0; v && i < rows; i++)
            notify_event_receiver_clear(&v[i]);
        free(v);
        err_set(err, "cannot read the Alertmanager receivers: out of memory");
        return -1;
    }
    *out = v;
    *n = rows;
    return 0;
}

int notify_outbox_alerts(notify_outbox_t *o, int id, notify_event_t **out, size_t *n, err_t *err)
{
    *out = NULL;
    *n = 0;
    char rid[24];
    snprintf(rid, sizeof rid, "%d", id);
    const char *p[] = {rid};
    PGresult *res =
        run(o, "cannot read the open alerts", PGRES_TUPLES_OK,
            "SELECT " EVENT_COLS("a") " FROM parallax.notify_alerts($1::integer) a", 1, p, err);
    if (!res)
        return -1;
    size_t rows = (size_t)PQntuples(res);
    notify_event_t *v = rows ? calloc(rows, sizeof *v) : NULL;
    int oom = rows && !v;
    for (size_t i = 0; !oom && i < rows; i++)
        oom = event_cols(res, (int)i, 0, &v[i]) < 0;
    PQclear(res);
    if (oom) {
        for (size_t i = 0; v && i < rows; i++)
            notify_event_clear(&v[i]);
        free(v);
        err_set(err, "cannot read the open alerts: out of memory");
        return -1;
    }
    *out = v;
    *n = rows;
    return 0;
}
