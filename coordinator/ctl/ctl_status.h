/* ctl_status: `parallaxctl status`, the operator's first look: every agent online, offline,
 * impaired or disabled (with its spool drops and clock offset) and the outages going on now.
 * Read from parallax.agent_status() and parallax.outages. */
#ifndef PX_CTL_STATUS_H
#define PX_CTL_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* The session window when --window is not given: the coordinator's default session
 * timeout, after which it forgets a silent agent. */
#define CTL_STATUS_WINDOW_S 60

/* Parses the arguments after "status": --window DURATION and --json. Returns 0, or -1 with
 * err naming the bad argument (a usage error). */
int ctl_status_parse(int argc, char **argv, uint64_t *window_s, int *json, err_t *err);

/* Writes the status to out: a summary line, the agents table and the ongoing outages, or
 * one JSON object {window_s, agents, outages} when json is set. An agent is online if
 * anything was heard from it within window_s seconds. Returns 0 or -1 (err set). */
int ctl_status_show(ctl_db_t *db, uint64_t window_s, int json, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_status_commands[];
extern const size_t ctl_status_command_count;

#endif
