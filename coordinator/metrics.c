/* metrics: the registry and its rendering. Series are found by a linear search over their
 * label values: families hold a few dozen series (agents are few), and an update is a handful
 * of string compares under an uncontended lock. */
#include "metrics.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char *values[METRICS_LABELS_MAX];
    double value;                          /* counter, gauge; histogram: the sum */
    uint64_t count;                        /* histogram: observations */
    uint64_t buckets[METRICS_BUCKETS_MAX]; /* histogram: observations <= bound i (not cumulative) */
    int stale;
} series_t;

struct metrics_family {
    metrics_t *owner;
    metrics_type_t type;
    char *name, *help;
    char *labels[METRICS_LABELS_MAX];
    size_t n_labels;
    double bounds[METRICS_BUCKETS_MAX];
    size_t n_bounds;
    series_t **series;
    size_t n_series, cap_series;
    metrics_family_t *next;
};

struct metrics {
    pthread_mutex_t lock;
    metrics_family_t *first, *last;
    unsigned long lost; /* updates lost to the series cap or to memory */
};

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void series_free(series_t *s, size_t n_labels)
{
    if (!s)
        return;
    for (size_t i = 0; i < n_labels; i++)
        free(s->values[i]);
    free(s);
}

static void family_free(metrics_family_t *f)
{
    for (size_t i = 0; i < f->n_series; i++)
        series_free(f->series[i], f->n_labels);
    free(f->series);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_destroy(metrics_t **m)
{
    if (!m || !*m)
        return;
    metrics_family_t *f = (*m)->first;
    while (f) {
        metrics_family_t *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&(*m)->lock);
    free(*m);
    *m = NULL;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names take no colon. */
static int name_ok(const char *s, size_t len, int colon)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static metrics_family_t *find_locked(metrics_t *m, const char *name)
{
    for (metrics_family_t *f = m->first; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static series_t *series_get(metrics_family_t *f, const char *const *values);

static int parse_labels(metrics_family_t *f, const char *labels)
{
    const char *p = labels ? labels : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!name_ok(p, len, 0) || f->n_labels == METRICS_LABELS_MAX ||
            (len == 2 && !strncmp(p, "le", 2) && f->type == METRICS_HISTOGRAM))
            return -1;
        if (!(f->labels[f->n_labels] = strndup(p, len)))
            return -1;
        f->n_labels++;
        p += len + (end ? 1 : 0);
    }
    return 0;
}

metrics_family_t *metrics_family_new(metrics_t *m, metrics_type_t type, const char *name,
                                     const char *help, const char *labels, const double *buckets,
                                     size_t n_buckets)
{
    if (!name_ok(name, strlen(name), 1) ||
        (type == METRICS_HISTOGRAM ? n_buckets > METRICS_BUCKETS_MAX : n_buckets != 0))
        return NULL;
    metrics_family_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->owner = m;
    f->type = type;
    if (!(f->name = strdup(name)) || !(f->help = strdup(help ? help : "")) ||
        parse_labels(f, labels) < 0) {
        family_free(f);
        return NULL;
    }
    for (size_t i = 0; i < n_buckets; i++) {
        if (i > 0 && !(buckets[i] > buckets[i - 1])) {
            family_free(f);
            return NULL;
        }
        f->bounds[i] = buckets[i];
    }
    f->n_bounds = n_buckets;
    pthread_mutex_lock(&m->lock);
    if (find_locked(m, name)) {
        pthread_mutex_unlock(&m->lock);
        family_free(f);
        return NULL;
    }
    /* A family without labels has its one series from the start: a histogram or counter
     * nothing happened to yet reads 0, not absent. */
    if (f->n_labels == 0 && !series_get(f, NULL)) {
        pthread_mutex_unlock(&m->lock);
        family_free(f);
        return NULL;
    }
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

metrics_family_t *metrics_family_find(metrics_t *m, const char *name)
{
    pthread_mutex_lock(&m->lock);
    metrics_family_t *f = find_locked(m, name);
    pthread_mutex_unlock(&m->lock);
    return f;
}

static series_t *series_find(metrics_family_t *f, const char *const *values)
{
    for (size_t i = 0; i < f->n_series; i++) {
        series_t *s = f->series[i];
        size_t k = 0;
        while (k < f->n_labels && strcmp(s->values[k], values[k]) == 0)
            k++;
        if (k == f->n_labels)
            return s;
    }
    return NULL;
}

/* The series of values, made if missing; NULL (the update lost) past the cap or memory. */
static series_t *series_get(metrics_family_t *f, const char *const *values)
{
    series_t *s = series_find(f, values);
    if (s)
        return s;
    if (f->n_series >= METRICS_SERIES_MAX)
        goto lost;
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series ? f->cap_series * 2 : 8;
        series_t **grown = realloc(f->series, cap * sizeof *grown);
        if (!grown)
            goto lost;
        f->series = grown;
        f->cap_series = cap;
    }
    if (!(s = calloc(1, sizeof *s)))
        goto lost;
    for (size_t i = 0; i < f->n_labels; i++)
        if (!(s->values[i] = strdup(values[i]))) {
            series_free(s, f->n_labels);
            goto lost;
        }
    f->series[f->n_series++] = s;
    return s;
lost:
    f->owner->lost++;
    return NULL;
}

void metrics_add(metrics_family_t *f, const char *const *values, double by)
{
    assert(f->type != METRICS_HISTOGRAM && (f->type != METRICS_COUNTER || by >= 0));
    pthread_mutex_lock(&f->owner->lock);
    series_t *s = series_get(f, values);
    if (s) {
        s->value += by;
        s->stale = 0;
    }
    pthread_mutex_unlock(&f->owner->lock);
}

void metrics_set(metrics_family_t *f, const char *const *values, double v)
{
    assert(f->type != METRICS_HISTOGRAM);
    pthread_mutex_lock(&f->owner->lock);
    series_t *s = series_get(f, values);
    if (s) {
        s->value = v;
        s->stale = 0;
    }
    pthread_mutex_unlock(&f->owner->lock);
}

void metrics_observe(metrics_family_t *f, const char *const *values, double v)
{
    assert(f->type == METRICS_HISTOGRAM);
    pthread_mutex_lock(&f->owner->lock);
    series_t *s = series_get(f, values);
    if (s) {
        size_t i = 0;
        while (i < f->n_bounds && v > f->bounds[i])
            i++;
        if (i < f->n_bounds)
            s->buckets[i]++;
        s->count++;
        s->value += v;
        s->stale = 0;
    }
    pthread_mutex_unlock(&f->owner->lock);
}

void metrics_sweep_begin(metrics_family_t *f)
{
    pthread_mutex_lock(&f->owner->lock);
    for (size_t i = 0; i < f->n_series; i++)
        f->series[i]->stale = 1;
    pthread_mutex_unlock(&f->owner->lock);
}

void metrics_sweep_end(metrics_family_t *f, metrics_sweep_t what)
{
    pthread_mutex_lock(&f->owner->lock);
    size_t kept = 0;
    for (size_t i = 0; i < f->n_series; i++) {
        series_t *s = f->series[i];
        /* A family without labels keeps its one series (metrics_family_new). */
        if (s->stale && what == METRICS_SWEEP_DROP && f->n_labels > 0) {
            series_free(s, f->n_labels);
            continue;
        }
        if (s->stale && what != METRICS_SWEEP_KEEP) {
            s->value = 0;
            s->count = 0;
            memset(s->buckets, 0, sizeof s->buckets);
        }
        s->stale = 0;
        f->series[kept++] = s;
    }
    f->n_series = kept;
    pthread_mutex_unlock(&f->owner->lock);
}

double metrics_value(metrics_family_t *f, const char *const *values)
{
    pthread_mutex_lock(&f->owner->lock);
    const series_t *s = series_find(f, values);
    double v = !s ? 0 : f->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&f->owner->lock);
    return v;
}

/* ---- rendering --------------------------------------------------------------------------- */

static const char *type_name(metrics_type_t t)
{
    return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(FILE *out, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (*s == '"' && quote)
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

/* Integers exactly (counts, most gauges); others in the fewest digits (15 or 17) that read
 * back as the same double, so a bucket bound 0.005 stays "0.005". */
static void format_number(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "NaN");
    else if (isinf(v))
        snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(buf, len, "%.0f", v);
    else if (snprintf(buf, len, "%.15g", v) > 0 && strtod(buf, NULL) == v)
        return;
    else
        snprintf(buf, len, "%.17g", v);
}

/* name{labels[,le="bound"]} value */
static void put_sample(FILE *out, const metrics_family_t *f, const char *suffix, const series_t *s,
                       const char *le, double v)
{
    fprintf(out, "%s%s", f->name, suffix);
    if (f->n_labels || le) {
        fputc('{', out);
        for (size_t i = 0; i < f->n_labels; i++) {
            fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
            put_escaped(out, s->values[i], 1);
            fputc('"', out);
        }
        if (le)
            fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
        fputc('}', out);
    }
    char num[64];
    format_number(num, sizeof num, v);
    fprintf(out, " %s\n", num);
}

static void put_histogram(FILE *out, const metrics_family_t *f, const series_t *s)
{
    uint64_t cumulative = 0;
    for (size_t b = 0; b < f->n_bounds; b++) {
        char le[64];
        format_number(le, sizeof le, f->bounds[b]);
        cumulative += s->buckets[b];
        put_sample(out, f, "_bucket", s, le, (double)cumulative);
    }
    put_sample(out, f, "_bucket", s, "+Inf", (double)s->count);
    put_sample(out, f, "_sum", s, NULL, s->value);
    put_sample(out, f, "_count", s, NULL, (double)s->count);
}

char *metrics_render(metrics_t *m, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (const metrics_family_t *f = m->first; f; f = f->next) {
        fprintf(out, "# HELP %s ", f->name);
        put_escaped(out, f->help, 0);
        fprintf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
        for (size_t i = 0; i < f->n_series; i++) {
            if (f->type == METRICS_HISTOGRAM)
                put_histogram(out, f, f->series[i]);
            else
                put_sample(out, f, "", f->series[i], NULL, f->series[i]->value);
        }
    }
    if (m->lost)
        fprintf(out, "# %lu updates lost (series cap or out of memory)\n", m->lost);
    pthread_mutex_unlock(&m->lock);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        free(text);
        return NULL;
    }
    if (len)
        *len = size;
    return text;
}
