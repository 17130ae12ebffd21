/* test_coord_door: the time window at the coordinator's door. Results and gaps inside it are
 * let in, in their order; those outside are refused one by one and counted; a gap reaching
 * past an edge is cut to it; the window is read on the agent's clock; the batch keeps every
 * item it owns (only their order changes), so freeing it frees all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "door.h"

#define SEC 1000000LL
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define NOW (1796515200LL * SEC) /* 2026-12-06T00:00:00Z */

static const door_window_t week = {.past_us = 7 * DAY, .ahead_us = HOUR};

typedef struct fixture {
    Parallax__Result r[8];
    Parallax__Result *rp[8];
    Parallax__Gap g[4];
    Parallax__Gap *gp[4];
    Parallax__ResultBatch b;
} fixture_t;

/* A batch of results stamped at ts[i] (probe i + 1) and gaps [from, to] pairs. */
static void make(fixture_t *f, const int64_t *ts, size_t n, const int64_t (*gaps)[2], size_t m)
{
    memset(f, 0, sizeof *f);
    parallax__result_batch__init(&f->b);
    for (size_t i = 0; i < n; i++) {
        parallax__result__init(&f->r[i]);
        f->r[i].probe_id = i + 1;
        f->r[i].ts_us = ts[i];
        f->rp[i] = &f->r[i];
    }
    for (size_t i = 0; i < m; i++) {
        parallax__gap__init(&f->g[i]);
        f->g[i].probe_id = 10 + i;
        f->g[i].from_us = gaps[i][0];
        f->g[i].to_us = gaps[i][1];
        f->g[i].count = 1;
        f->gp[i] = &f->g[i];
    }
    f->b.n_results = n;
    f->b.results = f->rp;
    f->b.n_gaps = m;
    f->b.gaps = f->gp;
}

static void test_inside_all_in(void **state)
{
    (void)state;
    fixture_t f;
    const int64_t ts[] = {NOW - 6 * DAY, NOW - SEC, NOW, NOW + 59 * 60 * SEC};
    const int64_t gaps[][2] = {{NOW - DAY, NOW - HOUR}};
    make(&f, ts, 4, gaps, 1);
    Parallax__ResultBatch in;
    door_report_t rep;
    door_admit(&f.b, NOW, 0, &week, &in, &rep);
    assert_int_equal(in.n_results, 4);
    assert_int_equal(in.n_gaps, 1);
    assert_int_equal(rep.refused_results + rep.refused_gaps + rep.clamped_gaps, 0);
    assert_string_equal(rep.reason, "");
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(in.results[i]->probe_id, i + 1);
    assert_int_equal(f.g[0].from_us, NOW - DAY);
}

static void test_outside_refused_in_order(void **state)
{
    (void)state;
    fixture_t f;
    /* Probes 1, 3, 5 outside; 2, 4, 6 inside. */
    const int64_t ts[] = {NOW - 8 * DAY, NOW - HOUR,      NOW + 2 * HOUR,
                          NOW,           NOW - 400 * DAY, NOW - 7 * DAY + SEC};
    make(&f, ts, 6, NULL, 0);
    Parallax__ResultBatch in;
    door_report_t rep;
    door_admit(&f.b, NOW, 0, &week, &in, &rep);
    assert_int_equal(rep.refused_results, 3);
    assert_int_equal(in.n_results, 3);
    assert_int_equal(in.results[0]->probe_id, 2);
    assert_int_equal(in.results[1]->probe_id, 4);
    assert_int_equal(in.results[2]->probe_id, 6);
    /* The batch still holds every result, the refused ones after the admitted. */
    assert_int_equal(f.b.n_results, 6);
    int seen[7] = {0};
    for (size_t i = 0; i < 6; i++)
        seen[f.b.results[i]->probe_id]++;
    for (int p = 1; p <= 6; p++)
        assert_int_equal(seen[p], 1);
    /* The first refusal names its stamp and the window. */
    assert_string_equal(rep.reason, "result stamped 2026-11-28T00:00:00Z is outside the accepted "
                                    "window 2026-11-29T00:00:00Z .. 2026-12-06T01:00:00Z");
}

static void test_gaps_clamped_or_refused(void **state)
{
    (void)state;
    fixture_t f;
    const int64_t gaps[][2] = {
        {NOW - 3 * 365 * DAY, NOW},       /* years back: cut to a week */
        {NOW - 30 * DAY, NOW - 20 * DAY}, /* wholly before: refused */
        {NOW - HOUR, NOW + 5 * HOUR},     /* reaching ahead: cut to an hour ahead */
        {NOW + 2 * HOUR, NOW + 3 * HOUR}, /* wholly ahead: refused */
    };
    make(&f, NULL, 0, gaps, 4);
    Parallax__ResultBatch in;
    door_report_t rep;
    door_admit(&f.b, NOW, 0, &week, &in, &rep);
    assert_int_equal(rep.clamped_gaps, 2);
    assert_int_equal(rep.refused_gaps, 2);
    assert_int_equal(in.n_gaps, 2);
    assert_int_equal(in.gaps[0]->probe_id, 10);
    assert_int_equal(in.gaps[0]->from_us, NOW - 7 * DAY);
    assert_int_equal(in.gaps[0]->to_us, NOW);
    assert_int_equal(in.gaps[1]->probe_id, 12);
    assert_int_equal(in.gaps[1]->from_us, NOW - HOUR);
    assert_int_equal(in.gaps[1]->to_us, NOW + HOUR);
    assert_non_null(strstr(rep.reason, "gap reaching"));
}

static void test_agent_clock(void **state)
{
    (void)state;
    fixture_t f;
    /* An agent whose clock is 40 minutes ahead: its stamp 90 minutes ahead is 50 minutes ahead
     * on the coordinator's clock, let in; its stamp of 7 days less 30 minutes ago is 7 days
     * and 10 minutes ago there, refused. Without the offset it would be the other way round. */
    const int64_t ts[] = {NOW + 90 * 60 * SEC, NOW - 7 * DAY + 30 * 60 * SEC};
    make(&f, ts, 2, NULL, 0);
    Parallax__ResultBatch in;
    door_report_t rep;
    door_admit(&f.b, NOW, 40 * 60 * SEC, &week, &in, &rep);
    assert_int_equal(in.n_results, 1);
    assert_int_equal(in.results[0]->probe_id, 1);
    assert_int_equal(rep.refused_results, 1);
}

/* The offset is the agent's word: believed up to the window's reach ahead, no further, so a
 * key claiming a clock weeks ahead cannot move the window (and the partitions it touches). */
static void test_agent_clock_believed_only_so_far(void **state)
{
    (void)state;
    fixture_t f;
    const int64_t ts[] = {NOW + 20 * DAY, NOW + 30 * 60 * SEC, NOW + 2 * HOUR - SEC};
    make(&f, ts, 3, NULL, 0);
    Parallax__ResultBatch in;
    door_report_t rep;
    door_admit(&f.b, NOW, 20 * DAY, &week, &in, &rep);
    /* Offset taken as one hour: the window reaches two hours ahead. */
    assert_int_equal(rep.refused_results, 1);
    assert_int_equal(in.n_results, 2);
    assert_int_equal(in.results[0]->probe_id, 2);
    assert_int_equal(in.results[1]->probe_id, 3);
    const int64_t back[] = {NOW - 20 * DAY};
    make(&f, back, 1, NULL, 0);
    door_admit(&f.b, NOW, -20 * DAY, &week, &in, &rep);
    assert_int_equal(rep.refused_results, 1);
}

static void test_empty(void **state)
{
    (void)state;
    fixture_t f;
    make(&f, NULL, 0, NULL, 0);
    Parallax__ResultBatch in;
    door_report_t rep;
    door_admit(&f.b, NOW, 0, &week, &in, &rep);
    assert_int_equal(in.n_results, 0);
    assert_int_equal(in.n_gaps, 0);
    assert_int_equal(rep.refused_results, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside_all_in),
        cmocka_unit_test(test_outside_refused_in_order),
        cmocka_unit_test(test_gaps_clamped_or_refused),
        cmocka_unit_test(test_agent_clock),
        cmocka_unit_test(test_agent_clock_believed_only_so_far),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
