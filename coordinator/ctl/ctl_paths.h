/* ctl_paths: what explain says of routes and paths for one outage — whether the group's
 * prefixes were routed (BGP visibility from the collectors: parallax.outage_routes) and where
 * each vantage's traces to its targets died (parallax.path_ends). The database selects and
 * joins; this module words it. */
#ifndef PX_CTL_PATHS_H
#define PX_CTL_PATHS_H

#include <stdio.h>

#include "ctl_db.h"
#include "err.h"

/* Writes the routes section of outage_id's explanation (given as text, as explain has it):
 * nothing when the outage's evidence says nothing of BGP. Returns 0, or -1 with err set (a
 * query or write failure). */
int ctl_paths_explain_routes(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err);

/* Writes where each vantage's paths to the outage's targets died: nothing when no vantage has
 * a trace to them during the outage. Returns 0, or -1 with err set. */
int ctl_paths_explain(ctl_db_t *db, const char *outage_id, FILE *out, err_t *err);

#endif
