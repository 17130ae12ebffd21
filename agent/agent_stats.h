/* agent_stats: the agent's counters in one form for its log line and for the stats file in
 * state_dir, which tests and operators read to compare what the agent produced with what
 * reached the database. The file is `key=value` lines, replaced atomically. */
#ifndef PX_AGENT_STATS_H
#define PX_AGENT_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "uplink.h"
#include "scheduler.h"
#include "outbox.h"
#include "spool.h"

typedef struct agent_stats {
    spool_counters_t spool;
    uplink_counters_t link;     /* the connection to the coordinator */
    outbox_counters_t door;     /* refused at the coordinator's door (stamped out of its window) */
    uint64_t stream;            /* the spool's result stream */
    uint64_t schedule_version;  /* schedule in force (0: none) */
    scheduler_counters_t sched; /* runs started and not started on time, this process */
    long pid;
    int64_t updated_us; /* wall clock when the numbers were taken */
} agent_stats_t;

/* Writes "key=value" pairs separated by sep (e.g. " " for a log line, "\n" for the file)
 * into buf (NUL-terminated, truncated to len). Returns the length it needed. */
size_t agent_stats_format(const agent_stats_t *s, const char *sep, char *buf, size_t len);

/* Replaces path with the stats, one pair a line. Returns 0, or -1 (err set). */
int agent_stats_write(const char *path, const agent_stats_t *s, err_t *err);

#endif
