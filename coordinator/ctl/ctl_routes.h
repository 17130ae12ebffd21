/* ctl_routes: parallaxctl routes import|follow|origins — BGP data into the database. MRT files
 * (RFC 6396; routes/mrt.h decodes them) become parallax.route_peers and route_updates rows,
 * either once (import, idempotent) or as a collector appends to its file (follow, the live
 * feed); a prefix-to-AS file (CAIDA pfx2as style) becomes parallax.prefix_origins. */
#ifndef PX_CTL_ROUTES_H
#define PX_CTL_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* The collector name a file gets by default: its basename without the last extension
 * ("/var/log/bird/collector.mrt" -> "collector"). Writes at most cap bytes into buf. */
void ctl_routes_default_collector(const char *path, char *buf, size_t cap);

/* Parses one line of a prefix-to-AS file ("PREFIX<TAB>LENGTH<TAB>ASN", the ASN possibly
 * "a_b" or "a,b": the first is taken) into "prefix/len" (buf, cap bytes) and *asn. Returns 1
 * for a route, 0 for a blank or comment line, -1 (err set) for anything else. */
int ctl_routes_parse_origin(const char *line, char *buf, size_t cap, unsigned long long *asn,
                            err_t *err);

extern const ctl_command_t ctl_routes_commands[];
extern const size_t ctl_routes_command_count;

#endif
