/* metrics: a small registry of counters, gauges and histograms with label sets, rendered in
 * the Prometheus text exposition format (version 0.0.4). Pure apart from a mutex: the loop and
 * the merge's thread update it, the HTTP thread renders it, each under the registry's lock, so
 * a scrape sees every series as of one moment. Metrics are best effort: an update that would
 * pass the series cap or finds no memory is lost (and counted in a comment line of the text),
 * never an error of the caller's. */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include <stddef.h>

/* Series a family keeps at most: labels are meant to be bounded (agents, reasons, stages). */
#define METRICS_SERIES_MAX 4096
#define METRICS_LABELS_MAX 4
#define METRICS_BUCKETS_MAX 32

typedef enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM } metrics_type_t;

typedef struct metrics metrics_t;
typedef struct metrics_family metrics_family_t;

/* An empty registry, or NULL on out of memory. Caller owns it. */
metrics_t *metrics_new(void);

/* Frees *m with its families and NULLs it. Accepts NULL. Nothing may use it any more. */
void metrics_destroy(metrics_t **m);

/* Registers a family: name and label names are Prometheus names, labels a comma-separated
 * list of at most METRICS_LABELS_MAX label names ("" or NULL: none). Histograms take
 * n_buckets (<= METRICS_BUCKETS_MAX) increasing upper bounds (+Inf is implied); others pass
 * NULL, 0. Returns the family, owned by m, or NULL on out of memory, a name taken, or
 * anything of the above not so. */
metrics_family_t *metrics_family_new(metrics_t *m, metrics_type_t type, const char *name,
                                     const char *help, const char *labels, const double *buckets,
                                     size_t n_buckets);

/* The family called name, or NULL. */
metrics_family_t *metrics_family_find(metrics_t *m, const char *name);

/* In each of these, values holds one label value per label name of the family, in order (any
 * bytes: they are escaped when rendered); NULL for a family without labels. The series is made
 * on first use. */

/* Adds by (>= 0 for counters) to a counter's or gauge's series. */
void metrics_add(metrics_family_t *f, const char *const *values, double by);

/* Sets a counter's or gauge's series (a counter read from elsewhere, e.g. a table). */
void metrics_set(metrics_family_t *f, const char *const *values, double v);

/* Counts v into a histogram's series. */
void metrics_observe(metrics_family_t *f, const char *const *values, double v);

/* A refresh of a family from a snapshot: metrics_sweep_begin() marks every series stale, each
 * metrics_set() (or _add) marks its series fresh again, metrics_sweep_end() then does `what`
 * to the series still stale: keep them as they are (the snapshot failed), set them to 0, or
 * remove them. A scrape in between sees the old value of a series not set yet, never a
 * transient 0. */
typedef enum metrics_sweep {
    METRICS_SWEEP_KEEP,
    METRICS_SWEEP_ZERO,
    METRICS_SWEEP_DROP
} metrics_sweep_t;
void metrics_sweep_begin(metrics_family_t *f);
void metrics_sweep_end(metrics_family_t *f, metrics_sweep_t what);

/* The value of a counter's or gauge's series (0 if it does not exist), the number of
 * observations of a histogram's: for tests. */
double metrics_value(metrics_family_t *f, const char *const *values);

/* The whole registry as exposition text, families in the order they were registered, series
 * in the order they were made. Returns a NUL-terminated string the caller frees (*len its
 * length), or NULL on out of memory. */
char *metrics_render(metrics_t *m, size_t *len);

#endif
