/* probe_rate: runs many probes of one spec through the agent's own probe engine, as fast as a
 * concurrency limit allows, and prints how long they took in wall and CPU time, so that
 * benchmark scripts can compare the agent with other tools in the same run.
 *
 *   probe_rate SPEC COUNT CONCURRENCY ADDRESS [ADDRESS...]
 * Probes cycle through the addresses. Output, one line:
 *   probes=N ok=N wall_s=X cpu_s=X per_s=X per_cpu_s=X */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "probe.h"
#include "timeutil.h"

typedef struct bench {
    struct event_base *base;
    probe_env_t *env;
    probe_target_t *targets;
    int n_targets;
    long count, started, finished, ok;
    char errbuf[PROBE_MSG_MAX];
} bench_t;

static void start_next(bench_t *b);

static void done_cb(const probe_result_t *res, void *arg)
{
    bench_t *b = arg;
    b->finished++;
    if (res->status == PX_STATUS_OK)
        b->ok++;
    if (b->started < b->count)
        start_next(b);
    else if (b->finished == b->count)
        event_base_loopbreak(b->base);
}

static void start_next(bench_t *b)
{
    const probe_target_t *t = &b->targets[b->started % b->n_targets];
    b->started++;
    if (!probe_start(b->env, t, done_cb, b)) {
        fprintf(stderr, "probe_rate: out of memory\n");
        exit(1);
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: probe_rate SPEC COUNT CONCURRENCY ADDRESS [ADDRESS...]\n");
        return 2;
    }
    bench_t b;
    memset(&b, 0, sizeof b);
    b.count = atol(argv[2]);
    long conc = atol(argv[3]);
    b.n_targets = argc - 4;
    if (b.count < 1 || conc < 1 || b.count > 10000000) {
        fprintf(stderr, "probe_rate: bad COUNT or CONCURRENCY\n");
        return 2;
    }
    b.base = event_base_new();
    b.env = probe_env_new(b.base);
    b.targets = calloc((size_t)b.n_targets, sizeof *b.targets);
    char(*errbufs)[PROBE_MSG_MAX] = calloc((size_t)b.n_targets, PROBE_MSG_MAX);
    if (!b.base || !b.env || !b.targets || !errbufs)
        return 1;
    for (int i = 0; i < b.n_targets; i++) {
        probe_target_prepare(&b.targets[i], argv[4 + i], argv[1], 5000, errbufs[i]);
        if (b.targets[i].error) {
            fprintf(stderr, "probe_rate: %s\n", b.targets[i].error);
            return 2;
        }
    }
    double cpu0 = cpu_seconds();
    int64_t t0 = time_mono_us();
    for (long i = 0; i < conc && b.started < b.count; i++)
        start_next(&b);
    event_base_dispatch(b.base);
    double wall = (time_mono_us() - t0) / 1e6;
    double cpu = cpu_seconds() - cpu0;
    printf("probes=%ld ok=%ld wall_s=%.3f cpu_s=%.3f per_s=%.0f per_cpu_s=%.0f\n", b.finished, b.ok,
           wall, cpu, b.finished / wall, cpu > 0 ? b.finished / cpu : 0.0);
    probe_env_destroy(&b.env);
    event_base_free(b.base);
    free(b.targets);
    free(errbufs);
    return b.finished == b.count ? 0 : 1;
}
