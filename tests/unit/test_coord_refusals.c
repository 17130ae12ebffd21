/* test_coord_refusals: the coordinator's table of agents refused for speaking another protocol
 * version. An agent's first refusal is reported, the same one again only once the period has
 * passed, another version at once; agents are reported independently; speaking this version
 * again forgets the refusal, so the next one is new; a full table forgets the agent reported
 * longest ago and keeps the others' pace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "refusals.h"

#define SEC 1000000LL
#define MINUTE (60 * SEC)

static void test_once_a_period(void **state)
{
    (void)state;
    refusals_t *t = refusals_new(8);
    assert_non_null(t);
    assert_int_equal(refusals_count(t), 0);
    assert_int_equal(refusals_note(t, 1, 0, 100 * SEC, MINUTE), 1);
    /* An old agent resending every second is reported once a minute. */
    int reported = 0;
    for (int64_t s = 101; s <= 100 + 150; s++)
        reported += refusals_note(t, 1, 0, s * SEC, MINUTE);
    assert_int_equal(reported, 2); /* at 160 s and 220 s */
    assert_int_equal(refusals_note(t, 1, 0, 220 * SEC + MINUTE - 1, MINUTE), 0);
    assert_int_equal(refusals_note(t, 1, 0, 220 * SEC + MINUTE, MINUTE), 1);
    assert_int_equal(refusals_count(t), 1);
    refusals_destroy(&t);
    assert_null(t);
    refusals_destroy(&t);
    refusals_destroy(NULL);
}

static void test_another_version_at_once(void **state)
{
    (void)state;
    refusals_t *t = refusals_new(8);
    assert_non_null(t);
    assert_int_equal(refusals_note(t, 1, 0, 10 * SEC, MINUTE), 1);
    assert_int_equal(refusals_note(t, 1, 2, 11 * SEC, MINUTE), 1);
    assert_int_equal(refusals_note(t, 1, 2, 12 * SEC, MINUTE), 0);
    /* Back to the first: the text changes again, so it is reported again. */
    assert_int_equal(refusals_note(t, 1, 0, 13 * SEC, MINUTE), 1);
    assert_int_equal(refusals_count(t), 1);
    refusals_destroy(&t);
}

static void test_agents_apart(void **state)
{
    (void)state;
    refusals_t *t = refusals_new(8);
    assert_non_null(t);
    assert_int_equal(refusals_note(t, 1, 0, 10 * SEC, MINUTE), 1);
    assert_int_equal(refusals_note(t, 2, 0, 11 * SEC, MINUTE), 1);
    assert_int_equal(refusals_note(t, 1, 0, 12 * SEC, MINUTE), 0);
    assert_int_equal(refusals_note(t, 2, 0, 12 * SEC, MINUTE), 0);
    assert_int_equal(refusals_note(t, 1, 0, 70 * SEC, MINUTE), 1);
    assert_int_equal(refusals_note(t, 2, 0, 70 * SEC, MINUTE), 0);
    assert_int_equal(refusals_note(t, 2, 0, 71 * SEC, MINUTE), 1);
    assert_int_equal(refusals_count(t), 2);
    refusals_destroy(&t);
}

static void test_forget(void **state)
{
    (void)state;
    refusals_t *t = refusals_new(8);
    assert_non_null(t);
    assert_int_equal(refusals_forget(t, 1), 0);
    assert_int_equal(refusals_note(t, 1, 0, 10 * SEC, MINUTE), 1);
    assert_int_equal(refusals_note(t, 2, 0, 10 * SEC, MINUTE), 1);
    assert_int_equal(refusals_forget(t, 1), 1);
    assert_int_equal(refusals_forget(t, 1), 0);
    assert_int_equal(refusals_count(t), 1);
    /* The agent was upgraded, then an old copy of it came back: a new refusal. */
    assert_int_equal(refusals_note(t, 1, 0, 11 * SEC, MINUTE), 1);
    /* The other agent kept its place and its pace. */
    assert_int_equal(refusals_note(t, 2, 0, 11 * SEC, MINUTE), 0);
    refusals_destroy(&t);
}

static void test_full_table(void **state)
{
    (void)state;
    assert_null(refusals_new(0));
    refusals_t *t = refusals_new(3);
    assert_non_null(t);
    for (int a = 1; a <= 3; a++)
        assert_int_equal(refusals_note(t, a, 0, a * SEC, MINUTE), 1);
    /* A fourth agent takes the place of agent 1, reported longest ago. */
    assert_int_equal(refusals_note(t, 4, 0, 5 * SEC, MINUTE), 1);
    assert_int_equal(refusals_count(t), 3);
    assert_int_equal(refusals_note(t, 2, 0, 6 * SEC, MINUTE), 0);
    assert_int_equal(refusals_note(t, 3, 0, 6 * SEC, MINUTE), 0);
    assert_int_equal(refusals_note(t, 4, 0, 6 * SEC, MINUTE), 0);
    /* Agent 1, forgotten, is reported again: one report too many, none missing. */
    assert_int_equal(refusals_note(t, 1, 0, 7 * SEC, MINUTE), 1);
    assert_int_equal(refusals_count(t), 3);
    refusals_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_a_period), cmocka_unit_test(test_another_version_at_once),
        cmocka_unit_test(test_agents_apart),  cmocka_unit_test(test_forget),
        cmocka_unit_test(test_full_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
