/* ctl_request: ask, then wait on NOTIFY parallax_requests (sent by the merge thread when it
 * marks answers) with a short poll beside it, since sending is recorded without a notice. */
#include "ctl_request.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often the states are read when no notice comes (a send is recorded silently). */
#define REQUEST_POLL_MS 300
/* A running coordinator takes waiting requests within a quarter of a second: if none is
 * taken in this long, none is running, and waiting longer tells nothing more. */
#define REQUEST_TAKE_MS 5000
/* A request taken this long ago and still not sent never will be: the coordinator's loop
 * sends what it takes at once or drops it (its agent has no session). */
#define REQUEST_UNSENT_AFTER "2 seconds"

int ctl_request_ask(ctl_db_t *db, const char *agent, const char *address, unsigned timeout_ms,
                    const char *reason, ctl_request_t *reqs, size_t n, err_t *err)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%u", timeout_ms);
    if (ctl_db_exec(db, "LISTEN parallax_requests", 0, NULL, err) < 0 || ctl_db_begin(db, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *p[] = {agent, address, reqs[i].spec, timeout, reason};
        char *id = ctl_db_query_text(
            db, "SELECT parallax.probe_request_ask($1, $2::inet, $3, $4::integer, $5)::text", 5, p,
            err);
        if (!id) {
            err_t ignored = {{0}};
            ctl_db_rollback(db, &ignored);
            return -1;
        }
        reqs[i].id = strtoll(id, NULL, 10);
        reqs[i].state = CTL_REQUEST_WAITING;
        free(id);
    }
    return ctl_db_commit(db, err);
}

char *ctl_request_ids(const ctl_request_t *reqs, size_t n)
{
    size_t cap = n * 21 + 3, len = 0;
    char *list = malloc(cap);
    if (!list)
        return NULL;
    list[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, cap - len, "%s%" PRId64, i ? "," : "", reqs[i].id);
    snprintf(list + len, cap - len, "}");
    return list;
}

/* Reads every request's state; sets *open to how many may still move. Returns 0 or -1. */
static int read_states(ctl_db_t *db, const char *ids, ctl_request_t *reqs, size_t n, size_t *open,
                       err_t *err)
{
    const char *p[] = {ids};
    ctl_rows_t *rows = ctl_db_query(
        db,
        "SELECT id::text, CASE WHEN answered_at IS NOT NULL THEN 4 WHEN sent_at IS NOT NULL THEN 3 "
        "WHEN queued_at < now() - interval '" REQUEST_UNSENT_AFTER "' THEN 2 "
        "WHEN queued_at IS NOT NULL THEN 1 ELSE 0 END "
        "FROM parallax.probe_requests WHERE id = ANY ($1::bigint[])",
        1, p, err);
    if (!rows)
        return -1;
    for (size_t r = 0; r < ctl_rows_count(rows); r++) {
        int64_t id = strtoll(ctl_rows_get(rows, r, 0), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (reqs[i].id == id)
                reqs[i].state = (ctl_request_state_t)atoi(ctl_rows_get(rows, r, 1));
    }
    ctl_rows_destroy(&rows);
    *open = 0;
    for (size_t i = 0; i < n; i++)
        *open += reqs[i].state != CTL_REQUEST_ANSWERED && reqs[i].state != CTL_REQUEST_UNSENT;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_request_wait(ctl_db_t *db, ctl_request_t *reqs, size_t n, int wait_s, err_t *err)
{
    char *ids = ctl_request_ids(reqs, n);
    if (!ids) {
        err_set(err, "out of memory");
        return -1;
    }
    int64_t start = now_ms(), deadline = start + (int64_t)wait_s * 1000;
    int rc = -1;
    for (;;) {
        size_t open, waiting = 0;
        if (read_states(db, ids, reqs, n, &open, err) < 0)
            goto done;
        for (size_t i = 0; i < n; i++)
            waiting += reqs[i].state == CTL_REQUEST_WAITING;
        int64_t left = deadline - now_ms();
        if (open == 0 || left <= 0 || (waiting == n && now_ms() - start > REQUEST_TAKE_MS))
            break;
        if (ctl_db_wait(db, left < REQUEST_POLL_MS ? (int)left : REQUEST_POLL_MS, err) < 0)
            goto done;
    }
    rc = 0;
done:
    free(ids);
    return rc;
}

const char *ctl_request_state_why(ctl_request_state_t state)
{
    switch (state) {
    case CTL_REQUEST_WAITING:
        return "not taken: is the coordinator running?";
    case CTL_REQUEST_QUEUED:
    case CTL_REQUEST_UNSENT:
        return "not sent: the agent has no session with the coordinator";
    case CTL_REQUEST_SENT:
        return "sent, no answer in time (the agent's deny-list may refuse the address: see its "
               "log)";
    case CTL_REQUEST_ANSWERED:
        break;
    }
    return "answered";
}
