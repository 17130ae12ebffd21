/* store_config: what the coordinator reads of its configuration: the agents it admits, the
 * schedule and its version, change notifications; and its own key and endpoint. */
#include "store_config.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "wire.h"

int store_coordinator_key(store_t *s, char *key, size_t len, err_t *err)
{
    PGresult *res = store_exec(s, "reading the registered coordinator key", PGRES_TUPLES_OK,
                               "SELECT public_key FROM parallax.coordinator", 0, NULL, err);
    if (!res)
        return -1;
    snprintf(key, len, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return 0;
}

int store_register_coordinator(store_t *s, const char *public_key, const char *endpoint, err_t *err)
{
    const char *p[] = {public_key, endpoint};
    return store_run(
        s, "recording the coordinator's key",
        "INSERT INTO parallax.coordinator (public_key, endpoint) VALUES ($1, $2) "
        "ON CONFLICT (id) DO UPDATE SET public_key = $1, endpoint = $2, updated_at = now()",
        2, p, err);
}

int store_load_agents(store_t *s, allow_entry_t **entries, size_t *n, err_t *err)
{
    PGresult *res =
        store_exec(s, "loading agents", PGRES_TUPLES_OK,
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
        store_set_pg_error(err, "reading notifications", NULL, s->conn);
        if (PQstatus(s->conn) != CONNECTION_OK)
            store_disconnect(s);
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

static Parallax__Schedule *schedule_from_rows(const PGresult *res, store_left_out_fn left_out,
                                              void *arg)
{
    int rows = PQntuples(res);
    Parallax__Schedule *sched = calloc(1, sizeof *sched);
    if (!sched)
        return NULL;
    parallax__schedule__init(sched);
    sched->probes = calloc(rows ? (size_t)rows : 1, sizeof *sched->probes);
    if (!sched->probes)
        goto oom;
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
        p->allow_internal = strcmp(PQgetvalue(res, i, 8), "t") == 0;
        if (!p->target || !p->address || !p->spec)
            goto oom;
        err_t why = {{0}};
        if (wire_validate_probe(p, &why) < 0) {
            left_out(arg, p->probe_id, why.msg);
            sched->n_probes--;
            free(p->target);
            free(p->address);
            free(p->spec);
            free(p);
        }
    }
    return sched;
oom:
    store_schedule_free(&sched);
    return NULL;
}

int store_load_schedule(store_t *s, Parallax__Schedule **out, store_left_out_fn left_out, void *arg,
                        err_t *err)
{
    /* One snapshot for the probes and the version, so the version names exactly them. */
    if (store_run(s, "loading the schedule", "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL,
                  err) < 0)
        return -1;
    PGresult *res = store_exec(s, "loading the schedule", PGRES_TUPLES_OK,
                               "SELECT probe_id, target, address, spec, interval_s, phase_ms, "
                               "timeout_ms, control, allow_internal FROM parallax.schedule_view "
                               "ORDER BY probe_id",
                               0, NULL, err);
    if (!res)
        goto fail;
    Parallax__Schedule *sched = schedule_from_rows(res, left_out, arg);
    PQclear(res);
    if (!sched) {
        err_set(err, "out of memory loading the schedule");
        goto fail;
    }
    res = store_exec(s, "numbering the schedule", PGRES_TUPLES_OK,
                     "SELECT parallax.schedule_version_current()", 0, NULL, err);
    if (!res || store_run(s, "loading the schedule", "COMMIT", 0, NULL, err) < 0) {
        PQclear(res);
        store_schedule_free(&sched);
        goto fail;
    }
    sched->version = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    *out = sched;
    return 0;
fail:
    if (store_connected(s))
        store_run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    return -1;
}
