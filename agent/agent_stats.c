/* agent_stats: one table of names and values, so the log line and the file never disagree. */
#include "agent_stats.h"

#include <stdio.h>

#include "statefile.h"

size_t agent_stats_format(const agent_stats_t *s, const char *sep, char *buf, size_t len)
{
    const spool_counters_t *c = &s->spool;
    const struct {
        const char *name;
        unsigned long long value;
    } v[] = {
        {"produced", c->produced},
        {"spooled", c->spooled},
        {"acked", c->acked},
        {"dropped", c->dropped},
        {"gaps", c->gaps},
        {"rejected_batches", c->rejected_batches},
        {"rejected_results", c->rejected_results},
        {"refused_results", s->door.refused_results},
        {"refused_gaps", s->door.refused_gaps},
        {"clamped_gaps", s->door.clamped_gaps},
        {"pending", c->pending},
        {"batches", c->batches},
        {"invalid", c->invalid},
        {"corrupt", c->corrupt},
        {"recovered", c->recovered},
        {"segments", c->segments},
        {"spool_bytes", c->bytes},
        {"stream", s->stream},
        {"schedule_version", s->schedule_version},
        {"runs", s->sched.runs},
        {"runs_skipped", s->sched.skipped_late + s->sched.skipped_busy},
        {"runs_skipped_late", s->sched.skipped_late},
        {"runs_skipped_busy", s->sched.skipped_busy},
        {"requests", s->sched.requests},
        {"requests_refused", s->sched.requests_refused},
        {"requests_denied", s->sched.requests_denied},
        {"link_up", s->link.up},
        {"link_ups", s->link.ups},
        {"link_losses", s->link.losses},
        {"handshake_failures", s->link.handshake_failures},
        {"pid", (unsigned long long)s->pid},
        {"updated_us", (unsigned long long)s->updated_us},
    };
    size_t need = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int n = snprintf(len > need ? buf + need : NULL, len > need ? len - need : 0, "%s%s=%llu",
                         i ? sep : "", v[i].name, v[i].value);
        if (n < 0)
            break;
        need += (size_t)n;
    }
    return need;
}

int agent_stats_write(const char *path, const agent_stats_t *s, err_t *err)
{
    char buf[2048];
    size_t n = agent_stats_format(s, "\n", buf, sizeof buf - 1);
    if (n >= sizeof buf - 1) {
        err_set(err, "stats do not fit");
        return -1;
    }
    buf[n++] = '\n';
    /* Not synced: the counters are rebuilt from the spool at every start. */
    return statefile_write(path, buf, n, 0, err);
}
