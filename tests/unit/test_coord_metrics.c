/* test_coord_metrics: the metrics registry and its exposition text: HELP and TYPE lines,
 * counters and gauges with and without labels, label values escaped (backslash, quote,
 * newline), histograms with cumulative buckets, +Inf, _sum and _count, a sweep that keeps or
 * drops what a snapshot no longer names, and the series cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

#define V(...) ((const char *const[]){__VA_ARGS__})

static char *render(metrics_t *m)
{
    size_t len = 0;
    char *text = metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    return text;
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing '%s' in:\n%s", line, text);
}

static void test_counter_gauge(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    assert_non_null(m);
    metrics_family_t *c = metrics_family_new(m, METRICS_COUNTER, "px_batches_total",
                                             "Batches stored.", "agent", NULL, 0);
    metrics_family_t *g =
        metrics_family_new(m, METRICS_GAUGE, "px_sessions", "Sessions.", NULL, NULL, 0);
    assert_non_null(c);
    assert_non_null(g);
    /* A name is registered once. */
    assert_null(metrics_family_new(m, METRICS_GAUGE, "px_sessions", "again", NULL, NULL, 0));
    assert_ptr_equal(metrics_family_find(m, "px_sessions"), g);
    assert_null(metrics_family_find(m, "px_nothing"));
    metrics_add(c, V("a1"), 1);
    metrics_add(c, V("a1"), 2);
    metrics_add(c, V("a2"), 1);
    metrics_set(g, NULL, 3);
    metrics_set(g, NULL, -1.5);
    assert_true(metrics_value(c, V("a1")) == 3);
    assert_true(metrics_value(c, V("a3")) == 0);
    char *text = render(m);
    assert_string_equal(text, "# HELP px_batches_total Batches stored.\n"
                              "# TYPE px_batches_total counter\n"
                              "px_batches_total{agent=\"a1\"} 3\n"
                              "px_batches_total{agent=\"a2\"} 1\n"
                              "# HELP px_sessions Sessions.\n"
                              "# TYPE px_sessions gauge\n"
                              "px_sessions -1.5\n");
    free(text);
    metrics_destroy(&m);
    assert_null(m);
    metrics_destroy(&m);
    metrics_destroy(NULL);
}

static void test_escaping(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_family_t *f =
        metrics_family_new(m, METRICS_GAUGE, "px_x", "Back\\slash and\nnewline", "a,b", NULL, 0);
    assert_non_null(f);
    metrics_set(f, V("q\"uote", "back\\slash\nline"), 1);
    metrics_set(f, V("", "plain"), 0.25);
    char *text = render(m);
    assert_has(text, "# HELP px_x Back\\\\slash and\\nnewline\n");
    assert_has(text, "px_x{a=\"q\\\"uote\",b=\"back\\\\slash\\nline\"} 1\n");
    assert_has(text, "px_x{a=\"\",b=\"plain\"} 0.25\n");
    /* Each sample is one line: no raw newline inside one. */
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    free(text);
    metrics_destroy(&m);
}

static void test_histogram(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    const double b[] = {0.0625, 0.125, 1};
    metrics_family_t *h =
        metrics_family_new(m, METRICS_HISTOGRAM, "px_latency_seconds", "Latency.", NULL, b, 3);
    metrics_family_t *hl =
        metrics_family_new(m, METRICS_HISTOGRAM, "px_by_seconds", "By kind.", "kind", b, 1);
    assert_non_null(h);
    assert_non_null(hl);
    metrics_observe(h, NULL, 0.03125);
    metrics_observe(h, NULL, 0.0625); /* on the bound: in its bucket (le is <=) */
    metrics_observe(h, NULL, 0.5);
    metrics_observe(h, NULL, 3);
    metrics_observe(hl, V("x"), 2);
    assert_true(metrics_value(h, NULL) == 4);
    char *text = render(m);
    assert_has(text, "# TYPE px_latency_seconds histogram\n"
                     "px_latency_seconds_bucket{le=\"0.0625\"} 2\n"
                     "px_latency_seconds_bucket{le=\"0.125\"} 2\n"
                     "px_latency_seconds_bucket{le=\"1\"} 3\n"
                     "px_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                     "px_latency_seconds_sum 3.59375\n"
                     "px_latency_seconds_count 4\n");
    assert_has(text, "px_by_seconds_bucket{kind=\"x\",le=\"0.0625\"} 0\n"
                     "px_by_seconds_bucket{kind=\"x\",le=\"+Inf\"} 1\n"
                     "px_by_seconds_sum{kind=\"x\"} 2\n"
                     "px_by_seconds_count{kind=\"x\"} 1\n");
    free(text);
    metrics_destroy(&m);
}

static void test_sweep(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_family_t *zero =
        metrics_family_new(m, METRICS_GAUGE, "px_open", "Open.", "stage", NULL, 0);
    metrics_family_t *drop =
        metrics_family_new(m, METRICS_GAUGE, "px_offset", "Offset.", "agent", NULL, 0);
    metrics_set(zero, V("blackout"), 1);
    metrics_set(zero, V("down"), 2);
    metrics_set(drop, V("a1"), 0.5);
    metrics_set(drop, V("a2"), 0.25);
    /* The next snapshot names only down and a2. */
    metrics_sweep_begin(zero);
    metrics_sweep_begin(drop);
    /* Until the sweep ends, what was not set yet keeps its value. */
    assert_true(metrics_value(zero, V("blackout")) == 1);
    metrics_set(zero, V("down"), 1);
    metrics_set(drop, V("a2"), 0.125);
    metrics_sweep_end(zero, METRICS_SWEEP_ZERO);
    metrics_sweep_end(drop, METRICS_SWEEP_DROP);
    char *text = render(m);
    assert_has(text, "px_open{stage=\"blackout\"} 0\npx_open{stage=\"down\"} 1\n");
    assert_has(text, "# TYPE px_offset gauge\npx_offset{agent=\"a2\"} 0.125\n");
    assert_null(strstr(text, "a1"));
    free(text);
    /* A failed snapshot keeps what was there, set or not. */
    metrics_sweep_begin(zero);
    metrics_set(zero, V("down"), 5);
    metrics_sweep_end(zero, METRICS_SWEEP_KEEP);
    metrics_set(zero, V("blackout"), 1);
    metrics_sweep_begin(zero);
    metrics_sweep_end(zero, METRICS_SWEEP_KEEP);
    assert_true(metrics_value(zero, V("blackout")) == 1);
    assert_true(metrics_value(zero, V("down")) == 5);
    /* A family without labels keeps its one series even when dropped. */
    metrics_family_t *one = metrics_family_new(m, METRICS_GAUGE, "px_one", "One.", NULL, NULL, 0);
    metrics_sweep_begin(one);
    metrics_sweep_end(one, METRICS_SWEEP_DROP);
    text = render(m);
    assert_has(text, "# TYPE px_one gauge\npx_one 0\n");
    free(text);
    metrics_destroy(&m);
}

static void test_series_cap(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_family_t *f =
        metrics_family_new(m, METRICS_COUNTER, "px_many_total", "Many.", "k", NULL, 0);
    char key[32];
    for (int i = 0; i < METRICS_SERIES_MAX + 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        metrics_add(f, V(key), 1);
    }
    /* Existing series still count past the cap; new ones are lost, and said so. */
    metrics_add(f, V("k0"), 1);
    assert_true(metrics_value(f, V("k0")) == 2);
    snprintf(key, sizeof key, "k%d", METRICS_SERIES_MAX);
    assert_true(metrics_value(f, V(key)) == 0);
    char *text = render(m);
    assert_has(text, "# 10 updates lost (series cap or out of memory)\n");
    free(text);
    metrics_destroy(&m);
}

static void test_numbers(void **state)
{
    (void)state;
    metrics_t *m = metrics_new();
    metrics_family_t *f = metrics_family_new(m, METRICS_GAUGE, "px_n", "N.", "k", NULL, 0);
    metrics_set(f, V("big"), 1e300);
    metrics_set(f, V("third"), 1.0 / 3);
    metrics_set(f, V("int"), 1733356800);
    metrics_set(f, V("neg"), -0.001);
    char *text = render(m);
    assert_has(text, "px_n{k=\"big\"} 1e+300\n");
    assert_has(text, "px_n{k=\"third\"} 0.33333333333333331\n");
    assert_has(text, "px_n{k=\"int\"} 1733356800\n");
    assert_has(text, "px_n{k=\"neg\"} -0.001\n");
    free(text);
    metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram),     cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_series_cap),    cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
