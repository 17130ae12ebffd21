/* store_merge: the merge driver: one call of parallax.merge_run() in a transaction of its
 * own, with the longer timeout a backlog needs; the partitions, retention and the metrics
 * snapshot the merge's connection also runs. */
#include "store_merge.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int store_merge(store_t *s, long *bins, err_t *err)
{
    *bins = 0;
    /* The merge may have a backlog after an outage: it gets a longer statement_timeout, set
     * for its own transaction only. */
    char timeout[80];
    snprintf(timeout, sizeof timeout, "SET LOCAL statement_timeout = %d", STORE_MERGE_TIMEOUT_MS);
    if (store_run(s, "merging closed bins", "BEGIN", 0, NULL, err) < 0)
        return -1;
    if (store_run(s, "merging closed bins", timeout, 0, NULL, err) < 0)
        goto fail;
    PGresult *res = store_exec_within(s, "merging closed bins", PGRES_TUPLES_OK,
                                      "SELECT parallax.merge_run(now())", 0, NULL,
                                      STORE_MERGE_TIMEOUT_MS + STORE_CLIENT_SLACK_MS, err);
    if (!res)
        goto fail;
    *bins = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return store_run(s, "merging closed bins", "COMMIT", 0, NULL, err);
fail:
    if (store_connected(s))
        store_run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    return -1;
}

int store_prepare_days(store_t *s, int past_days, err_t *err)
{
    char first[16];
    snprintf(first, sizeof first, "%d", -past_days);
    const char *p[] = {first};
    if (store_run(s, "making tomorrow's partition", "BEGIN", 0, NULL, err) < 0)
        return -1;
    /* 100 ms: a CREATE waiting for the lock makes every insert into results wait behind it. */
    if (store_run(s, "making tomorrow's partition", "SET LOCAL lock_timeout = '100ms'", 0, NULL,
                  err) < 0)
        goto fail;
    PGresult *res =
        store_exec(s, "making tomorrow's partition", PGRES_TUPLES_OK,
                   "SELECT parallax.ensure_partition((now() AT TIME ZONE 'UTC')::date + d) "
                   "FROM generate_series($1::int, 1) d",
                   1, p, err);
    if (!res)
        goto fail;
    PQclear(res);
    return store_run(s, "making tomorrow's partition", "COMMIT", 0, NULL, err);
fail:
    if (store_connected(s))
        store_run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    return -1;
}

int store_retention_step(store_t *s, long chunk, int past_days, store_retention_t *step, err_t *err)
{
    memset(step, 0, sizeof *step);
    char chunk_text[32], days_text[16];
    snprintf(chunk_text, sizeof chunk_text, "%ld", chunk);
    snprintf(days_text, sizeof days_text, "%d", past_days);
    const char *params[] = {chunk_text, days_text};
    PGresult *res =
        store_exec(s, "removing data past its retention", PGRES_TUPLES_OK,
                   "SELECT kind, removed, more, coalesce(note, '') "
                   "FROM parallax.retention_run($1::integer, $2::integer * interval '1 day')",
                   2, params, err);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        long removed = atol(PQgetvalue(res, r, 1));
        if (strcmp(PQgetvalue(res, r, 0), "results") == 0)
            step->partitions += removed;
        else
            step->rows += removed;
        if (strcmp(PQgetvalue(res, r, 2), "t") == 0)
            step->more = 1;
        const char *note = PQgetvalue(res, r, 3);
        if (*note)
            snprintf(step->note, sizeof step->note, "%s", note);
    }
    PQclear(res);
    return 0;
}

int store_metrics_snapshot(store_t *s, store_metric_fn fn, void *arg, err_t *err)
{
    PGresult *res = store_exec(s, "reading the metrics snapshot", PGRES_TUPLES_OK,
                               "SELECT metric, label1, label2, value "
                               "FROM parallax.metrics_snapshot()",
                               0, NULL, err);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++)
        fn(arg, PQgetvalue(res, r, 0), PQgetisnull(res, r, 1) ? NULL : PQgetvalue(res, r, 1),
           PQgetisnull(res, r, 2) ? NULL : PQgetvalue(res, r, 2),
           strtod(PQgetvalue(res, r, 3), NULL));
    PQclear(res);
    return 0;
}
