/* store_agents: what the coordinator learns of each agent: liveness, heartbeats, its clock,
 * its acknowledged schedule, a refusal. */
#include "store_agents.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_internal.h"

/* ---- agents ------------------------------------------------------------------------------ */

int store_touch_agent(store_t *s, int agent_id, const char *agent_version, int64_t schedule_version,
                      err_t *err)
{
    char id[16], version[24];
    snprintf(id, sizeof id, "%d", agent_id);
    snprintf(version, sizeof version, "%" PRId64, schedule_version);
    const char *p[] = {id, agent_version && *agent_version ? agent_version : NULL,
                       schedule_version >= 0 ? version : NULL};
    /* Every SET expression sees the row as it was, so the CASE compares with the old ack. */
#define STORE_TOUCH_SET                                                                            \
    "UPDATE parallax.agents SET last_seen = now(), online = true, "                                \
    "agent_version = coalesce($2, agent_version), "                                                \
    "schedule_acked_at = CASE WHEN $3::bigint IS NOT NULL AND "                                    \
    "schedule_version_acked IS DISTINCT FROM $3::bigint THEN now() "                               \
    "ELSE schedule_acked_at END, "                                                                 \
    "schedule_version_acked = coalesce($3::bigint, schedule_version_acked) "
    return store_run(s, "updating last_seen",
                     STORE_TOUCH_SET ", refused = NULL, refused_at = NULL WHERE id = $1", 3, p,
                     err);
#undef STORE_TOUCH_SET
}

int store_refuse_agent(store_t *s, int agent_id, const char *why, err_t *err)
{
    char id[16];
    snprintf(id, sizeof id, "%d", agent_id);
    const char *p[] = {id, why};
    return store_run(s, "recording a refused agent",
                     "UPDATE parallax.agents SET refused = $2, refused_at = now() WHERE id = $1", 2,
                     p, err);
}

int store_expire_agents(store_t *s, uint64_t timeout_s, void (*gone)(void *arg, const char *name),
                        void *arg, err_t *err)
{
    char secs[24];
    snprintf(secs, sizeof secs, "%" PRIu64, timeout_s);
    const char *p[] = {secs};
    PGresult *res =
        store_exec(s, "expiring silent agents", PGRES_TUPLES_OK,
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
    char id[16];
    snprintf(id, sizeof id, "%d", agent_id);
    const char *p[] = {id};
    return store_run(s, "recording a heartbeat",
                     "INSERT INTO parallax.heartbeats (agent_id, ts) VALUES ($1, now()) "
                     "ON CONFLICT DO NOTHING",
                     1, p, err);
}

int store_set_clock(store_t *s, int agent_id, int offset_ms, double rtt_ms, int remerge_ms,
                    long *queued, err_t *err)
{
    *queued = 0;
    char id[16], off[16], rtt[32], remerge[16];
    snprintf(id, sizeof id, "%d", agent_id);
    snprintf(off, sizeof off, "%d", offset_ms);
    snprintf(rtt, sizeof rtt, "%.3f", rtt_ms);
    snprintf(remerge, sizeof remerge, "%d", remerge_ms);
    const char *p[] = {id, off, rtt_ms >= 0 ? rtt : NULL, remerge};
    PGresult *res = store_exec(s, "storing the clock offset", PGRES_TUPLES_OK,
                               "SELECT parallax.agent_clock_set($1, $2, $3, $4)", 4, p, err);
    if (!res)
        return -1;
    *queued = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
