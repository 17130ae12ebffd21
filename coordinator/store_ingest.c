/* store_ingest: exactly-once ingest of result batches and gap records: batches grouped into
 * one transaction, their rows sent with COPY, daily partitions made on demand (and cached). */
#include "store_ingest.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdarg.h>

#include "copyrow.h"
#include "wire.h"

#include "store_internal.h"

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
    PGresult *res = store_exec(s, "reading the probe id sequence", PGRES_TUPLES_OK,
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
            return store_lost(s, "COPY", PQerrorMessage(s->conn), err);
        if (rc == 0) {
            /* libpq's buffer is full: let the server catch up. */
            if (store_flush_out(s, "COPY", deadline, err) < 0)
                return -1;
            continue;
        }
        off += n;
    }
    for (;;) {
        int rc = PQputCopyEnd(s->conn, NULL);
        if (rc < 0)
            return store_lost(s, "COPY", PQerrorMessage(s->conn), err);
        if (rc == 1)
            break;
        if (store_flush_out(s, "COPY", deadline, err) < 0)
            return -1;
    }
    if (store_flush_out(s, "COPY", deadline, err) < 0)
        return -1;
    int failed, ok = 0;
    PGresult *res;
    while ((res = store_next_result(s, "COPY", deadline, &failed, err))) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            ok = 1;
        } else if (!s->sqlstate[0]) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
            store_set_pg_error(err, "COPY", res, s->conn);
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
    PGresult *res =
        store_exec(s, "checking the agents", PGRES_TUPLES_OK,
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
    res = store_exec(s, "recording the batches", PGRES_TUPLES_OK,
                     "INSERT INTO parallax.batches (agent_id, stream, seq, results, gaps) "
                     "SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::int[], "
                     "$5::int[]) ON CONFLICT DO NOTHING RETURNING agent_id, stream, seq",
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
            store_exec(s, "creating partitions", PGRES_TUPLES_OK,
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
        int64_t deadline = store_deadline_after(STORE_STATEMENT_TIMEOUT_MS + STORE_CLIENT_SLACK_MS);
        /* Straight into the table when no row can collide with one stored before (the usual
         * case); through the staging table, dropping collisions, when one did. */
        PGresult *res = store_exec(s, "starting COPY", PGRES_COPY_IN,
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
            rc = store_run(s, "storing results",
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
        rc = store_run(
            s, "storing gaps",
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
    if (store_run(s, "BEGIN", "BEGIN", 0, NULL, err) < 0)
        return -1;
    int fresh = record_batches(s, &g, err);
    if (fresh < 0)
        goto fail;
    if (fresh > 0 && (ensure_partitions(s, &g, direct, days, &n_days, STORE_DAYS_KNOWN, err) < 0 ||
                      copy_results(s, &g, direct, err) < 0 || store_gaps(s, &g, err) < 0))
        goto fail;
    /* Only a successful COMMIT may lead to an ACK. */
    if (store_run(s, "COMMIT", "COMMIT", 0, NULL, err) < 0)
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
        store_run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
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

int store_note_refusals(store_t *s, const store_refusal_t *r, size_t n, err_t *err)
{
    text_t a = {0}, k = {0}, c = {0}, why = {0};
    text_t *cols[] = {&a, &k, &c, &why};
    for (int i = 0; i < 4; i++)
        text_put(cols[i], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        text_printf(&a, "%s%d", sep, r[i].agent_id);
        text_printf(&k, "%s%s", sep, r[i].kind);
        text_printf(&c, "%s%u", sep, r[i].count);
        /* An array element in double quotes: only " and \ need a backslash. */
        text_put(&why, sep, strlen(sep));
        text_put(&why, "\"", 1);
        for (const char *p = r[i].reason ? r[i].reason : ""; *p; p++) {
            if (*p == '"' || *p == '\\')
                text_put(&why, "\\", 1);
            text_put(&why, p, 1);
        }
        text_put(&why, "\"", 1);
    }
    for (int i = 0; i < 4; i++)
        text_put(cols[i], "}", 1);
    int rc = -1;
    if (a.failed || k.failed || c.failed || why.failed) {
        err_set(err, "out of memory");
    } else {
        const char *p[] = {a.buf, k.buf, c.buf, why.buf};
        PGresult *res =
            store_exec(s, "counting refusals", PGRES_TUPLES_OK,
                       "SELECT parallax.rejections_add($1, $2, $3::bigint[], $4)", 4, p, err);
        rc = res ? 0 : -1;
        PQclear(res);
    }
    for (int i = 0; i < 4; i++)
        text_free(cols[i]);
    return rc;
}
