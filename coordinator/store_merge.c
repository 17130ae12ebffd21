/* store_merge: the merge driver: one call of parallax.merge_run() in a transaction of its
 * own, with the longer timeout a backlog needs. */
#include "store_merge.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

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
