/* ctl_paths: the routes and paths sections of explain (see ctl_paths.h). */
#include "ctl_paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per prefix of the outage's routes evidence: state, prefix, seeing, peers, origins,
 * withdrawal time (UTC text), seconds from the withdrawal to the first failed probe. */
static const char routes_sql[] =
    "SELECT state, prefix, seeing::text, peers::text, origins, "
    "to_char(withdrawn_at, 'YYYY-MM-DD HH24:MI:SS'), "
    "round(extract(epoch FROM first_failure - withdrawn_at))::bigint::text "
    "FROM parallax.outage_routes($1::bigint)";
enum { R_STATE, R_PREFIX, R_SEEING, R_PEERS, R_ORIGINS, R_WITHDRAWN, R_LEAD };

/* Per vantage: whether some trace reached the group's networks (the target, or a last hop
 * inside them), else the last hop of its latest trace that died outside, and the vantages
 * that did reach them. */
static const char ends_sql[] =
    "WITH p AS (SELECT * FROM parallax.path_ends WHERE outage_id = $1::bigint), "
    "a AS (SELECT agent, bool_or(reached OR coalesce(last_hop_inside, false)) AS inside, "
    " (array_agg(coalesce(host(last_hop), '') ORDER BY ts DESC) "
    "   FILTER (WHERE NOT reached AND NOT coalesce(last_hop_inside, false)))[1] AS dies_at, "
    " (array_agg(last_ttl ORDER BY ts DESC) "
    "   FILTER (WHERE NOT reached AND NOT coalesce(last_hop_inside, false)))[1] AS ttl, "
    " (array_agg(last_hop_asn ORDER BY ts DESC) "
    "   FILTER (WHERE NOT reached AND NOT coalesce(last_hop_inside, false)))[1] AS asn "
    " FROM p GROUP BY agent) "
    "SELECT agent, CASE WHEN inside THEN 't' END, dies_at, ttl::text, 'AS' || asn, "
    "(SELECT string_agg(x.agent, ', ' ORDER BY x.agent) FROM a x WHERE x.inside AND x.agent <> "
    "a.agent) FROM a ORDER BY agent";
enum { E_AGENT, E_INSIDE, E_DIES_AT, E_TTL, E_ASN, E_OTHERS };

/* Every trace's end, for the table. */
static const char table_sql[] =
    "SELECT agent, target, CASE WHEN reached THEN 'reached' ELSE 'died' END, "
    "coalesce(last_ttl::text, '-'), coalesce(host(last_hop), '-'), "
    "coalesce('AS' || last_hop_asn, '-'), "
    "CASE last_hop_inside WHEN true THEN 'inside' WHEN false THEN 'outside' ELSE '-' END, "
    "CASE WHEN requested THEN 'on demand' ELSE 'scheduled' END "
    "FROM parallax.path_ends WHERE outage_id = $1::bigint ORDER BY agent, target";

static int write_failed(err_t *err)
{
    err_set(err, "cannot write: %s", strerror(errno));
    return -1;
}

/* "40 s before the first failed probe", "12 s after ...", or "" without the figures. */
static void lead_text(const char *lead, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!lead)
        return;
    long s = strtol(lead, NULL, 10);
    snprintf(buf, len, ", %ld s %s the first failed probe", labs(s), s >= 0 ? "before" : "after");
}

int ctl_paths_explain_routes(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err)
{
    const char *params[] = {outage_id};
    ctl_rows_t *rows = ctl_db_query(db, routes_sql, 1, params, err);
    if (!rows)
        return -1;
    int rc = 0;
    size_t n = ctl_rows_count(rows);
    if (n > 0) {
        const char *state = ctl_rows_get(rows, 0, R_STATE);
        const char *meaning =
            strcmp(state, "unroutable") == 0
                ? "unroutable: the group's prefixes were withdrawn from the routing table, so "
                  "it could not be routed into"
            : strcmp(state, "routed") == 0
                ? "routes present: the prefixes stayed announced while packets died (a filter, "
                  "a flood, a blackhole at or near the border)"
                : "partly routed: some prefixes, or some collector peers, had no route";
        if (fprintf(out, "\nroutes (BGP, from the route collectors): %s\n", meaning) < 0)
            rc = write_failed(err);
    }
    for (size_t r = 0; rc == 0 && r < n; r++) {
        const char *seeing = ctl_rows_get(rows, r, R_SEEING);
        const char *peers = ctl_rows_get(rows, r, R_PEERS);
        const char *withdrawn = ctl_rows_get(rows, r, R_WITHDRAWN);
        const char *origins = ctl_rows_get(rows, r, R_ORIGINS);
        char lead[96];
        lead_text(ctl_rows_get(rows, r, R_LEAD), lead, sizeof lead);
        int w;
        if (strcmp(seeing, "0") == 0)
            w = fprintf(out, "  %s withdrawn from %s of %s collector peers%s%s UTC%s\n",
                        ctl_rows_get(rows, r, R_PREFIX), peers, peers, withdrawn ? " at " : "",
                        withdrawn ? withdrawn : "", withdrawn ? lead : "");
        else if (withdrawn)
            w = fprintf(out,
                        "  %s seen by %s of %s collector peers%s%s%s, withdrawn from the others at "
                        "%s UTC%s\n",
                        ctl_rows_get(rows, r, R_PREFIX), seeing, peers, origins ? " (origin " : "",
                        origins ? origins : "", origins ? ")" : "", withdrawn, lead);
        else
            w = fprintf(out, "  %s announced, seen by %s of %s collector peers%s%s%s\n",
                        ctl_rows_get(rows, r, R_PREFIX), seeing, peers, origins ? " (origin " : "",
                        origins ? origins : "", origins ? ")" : "");
        if (w < 0)
            rc = write_failed(err);
    }
    ctl_rows_destroy(&rows);
    return rc;
}

/* Writes the table of every trace's end under its headers. */
static int print_table(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err)
{
    const char *params[] = {outage_id};
    ctl_rows_t *rows = ctl_db_query(db, table_sql, 1, params, err);
    if (!rows)
        return -1;
    int rc = 0;
    if (fprintf(out, "  %-12s %-14s %-8s %-4s %-16s %-10s %-8s %s\n", "VANTAGE", "TARGET", "TRACE",
                "HOP", "LAST_HOP", "ORIGIN", "NETWORK", "ASKED") < 0)
        rc = write_failed(err);
    for (size_t r = 0; rc == 0 && r < ctl_rows_count(rows); r++)
        if (fprintf(out, "  %-12s %-14s %-8s %-4s %-16s %-10s %-8s %s\n", ctl_rows_get(rows, r, 0),
                    ctl_rows_get(rows, r, 1), ctl_rows_get(rows, r, 2), ctl_rows_get(rows, r, 3),
                    ctl_rows_get(rows, r, 4), ctl_rows_get(rows, r, 5), ctl_rows_get(rows, r, 6),
                    ctl_rows_get(rows, r, 7)) < 0)
            rc = write_failed(err);
    ctl_rows_destroy(&rows);
    return rc;
}

int ctl_paths_explain(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err)
{
    const char *params[] = {outage_id};
    ctl_rows_t *rows = ctl_db_query(db, ends_sql, 1, params, err);
    if (!rows)
        return -1;
    int rc = 0;
    size_t n = ctl_rows_count(rows);
    if (n > 0 &&
        fprintf(out, "\nwhere paths die (each vantage's latest trace to the targets):\n") < 0)
        rc = write_failed(err);
    for (size_t r = 0; rc == 0 && r < n; r++) {
        const char *agent = ctl_rows_get(rows, r, E_AGENT);
        const char *others = ctl_rows_get(rows, r, E_OTHERS);
        int w;
        if (ctl_rows_get(rows, r, E_INSIDE)) {
            w = fprintf(out, "  %s reaches the group's networks\n", agent);
        } else {
            const char *ttl = ctl_rows_get(rows, r, E_TTL);
            const char *asn = ctl_rows_get(rows, r, E_ASN);
            const char *hop = ctl_rows_get(rows, r, E_DIES_AT);
            if (!hop || !*hop)
                w = fprintf(out,
                            "  %s: no hop answered its traces: its paths die at its first "
                            "router or before\n",
                            agent);
            else
                w = fprintf(out,
                            "  %s: its paths die at %s%s%s%s%s%s, outside the group's networks\n",
                            agent, hop, ttl ? " (hop " : "", ttl ? ttl : "", ttl ? ")" : "",
                            asn ? ", " : "", asn ? asn : "");
            if (w >= 0)
                w = others ? fprintf(out, "    while %s reach%s them\n", others,
                                     strchr(others, ',') ? "" : "es")
                           : fprintf(out, "    and no vantage reaches them\n");
        }
        if (w < 0)
            rc = write_failed(err);
    }
    if (rc == 0 && n > 0)
        rc = print_table(db, outage_id, out, err);
    ctl_rows_destroy(&rows);
    return rc;
}
