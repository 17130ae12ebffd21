/* store_requests: the two statements of one-off probe requests. */
#include "store_requests.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_internal.h"

/* Copies src into dst of cap bytes; 0 if it fits, -1 if not. */
static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    if (len >= cap)
        return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

int store_requests_due(store_t *s, store_request_fn fn, void *arg, size_t *n, err_t *err)
{
    *n = 0;
    PGresult *res = store_exec(s, "asking for the traces due", PGRES_TUPLES_OK,
                               "SELECT request_id, agent_id, probe_id, target, address, spec, "
                               "timeout_ms, allow_internal "
                               "FROM parallax.probe_requests_due(now())",
                               0, NULL, err);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        store_request_t r = {0};
        r.request_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        r.agent_id = atoi(PQgetvalue(res, i, 1));
        r.probe_id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        r.timeout_ms = (uint32_t)strtoul(PQgetvalue(res, i, 6), NULL, 10);
        r.allow_internal = PQgetvalue(res, i, 7)[0] == 't';
        if (copy_field(r.target, sizeof r.target, PQgetvalue(res, i, 3)) < 0 ||
            copy_field(r.address, sizeof r.address, PQgetvalue(res, i, 4)) < 0 ||
            copy_field(r.spec, sizeof r.spec, PQgetvalue(res, i, 5)) < 0) {
            log_warn("probe request %" PRId64 " has a target, address or spec too long to send; "
                     "it expires unsent",
                     r.request_id);
            continue;
        }
        fn(arg, &r);
        (*n)++;
    }
    PQclear(res);
    return 0;
}

int store_requests_sent(store_t *s, const int64_t *ids, size_t n, err_t *err)
{
    if (n == 0)
        return 0;
    /* An array literal of bigints: {1,2,3}. */
    size_t cap = n * 21 + 3;
    char *list = malloc(cap);
    if (!list) {
        err_set(err, "out of memory");
        return -1;
    }
    size_t len = 0;
    list[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, cap - len, "%s%" PRId64, i ? "," : "", ids[i]);
    snprintf(list + len, cap - len, "}");
    const char *p[] = {list};
    /* A SELECT: its result is rows, not a command's (store_run() would call it a failure). */
    PGresult *res =
        store_exec(s, "recording the requests sent", PGRES_TUPLES_OK,
                   "SELECT parallax.probe_requests_sent($1::bigint[], now())", 1, p, err);
    free(list);
    PQclear(res);
    return res ? 0 : -1;
}
