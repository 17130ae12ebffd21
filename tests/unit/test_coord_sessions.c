/* test_coord_sessions: the coordinator's table of live agents. A message creates or refreshes
 * an agent's session (route, name, time) without losing what the session has learnt; a full
 * table refuses newcomers but still serves the agents it holds; expiry forgets exactly the
 * agents silent for longer than the timeout, tells the caller about each, and leaves the rest
 * intact and reachable by find and by index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sessions.h"

#define SEC 1000000LL

static session_t *touch(sessions_t *t, int agent_id, const char *route, int64_t now_us)
{
    char name[32];
    snprintf(name, sizeof name, "agent-%d", agent_id);
    return sessions_touch(t, agent_id, name, (const uint8_t *)route, strlen(route), now_us);
}

static void test_touch_creates(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(8);
    assert_non_null(t);
    assert_int_equal(sessions_count(t), 0);
    assert_null(sessions_find(t, 1));
    assert_null(sessions_at(t, 0));

    session_t *s = touch(t, 1, "route-1", 5 * SEC);
    assert_non_null(s);
    assert_int_equal(s->agent_id, 1);
    assert_string_equal(s->name, "agent-1");
    assert_int_equal(s->route_len, 7);
    assert_memory_equal(s->route, "route-1", 7);
    assert_int_equal(s->heard_mono_us, 5 * SEC);
    /* A new session has been told nothing and has stored nothing yet. */
    assert_int_equal(s->schedule_sent, 0);
    assert_int_equal(s->recorded_mono_us, 0);
    assert_int_equal(s->clock_stored, 0);
    assert_int_equal(s->stored_rtt_ms, -1);
    assert_int_equal(sessions_count(t), 1);
    assert_ptr_equal(sessions_find(t, 1), s);
    assert_ptr_equal(sessions_at(t, 0), s);
    assert_null(sessions_at(t, 1));
    assert_null(sessions_find(t, 2));
    sessions_destroy(&t);
    assert_null(t);
}

static void test_touch_updates_and_keeps_what_was_learnt(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(8);
    session_t *s = touch(t, 7, "old-route", 1 * SEC);
    s->schedule_sent = 42;
    s->recorded_mono_us = 1 * SEC;
    s->clock_stored = 1;
    s->stored_offset_ms = -15;
    s->stored_rtt_ms = 3;
    touch(t, 8, "other", 2 * SEC);

    /* The agent reconnected (new route) and was renamed meanwhile. */
    const uint8_t route[] = {0, 1, 2, 0, 255};
    s = sessions_touch(t, 7, "renamed", route, sizeof route, 9 * SEC);
    assert_non_null(s);
    assert_int_equal(sessions_count(t), 2);
    assert_ptr_equal(sessions_find(t, 7), s);
    assert_string_equal(s->name, "renamed");
    assert_int_equal(s->route_len, sizeof route);
    assert_memory_equal(s->route, route, sizeof route); /* binary routes, NULs included */
    assert_int_equal(s->heard_mono_us, 9 * SEC);
    assert_int_equal(s->schedule_sent, 42);
    assert_int_equal(s->recorded_mono_us, 1 * SEC);
    assert_int_equal(s->clock_stored, 1);
    assert_int_equal(s->stored_offset_ms, -15);
    assert_int_equal(s->stored_rtt_ms, 3);
    /* The other agent is untouched. */
    assert_int_equal(sessions_find(t, 8)->heard_mono_us, 2 * SEC);
    sessions_destroy(&t);
}

static void test_route_and_name_limits(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(8);
    uint8_t route[ROUTER_ROUTE_MAX + 1];
    memset(route, 0xab, sizeof route);
    session_t *s = sessions_touch(t, 1, "a", route, ROUTER_ROUTE_MAX, 1);
    assert_non_null(s);
    assert_int_equal(s->route_len, ROUTER_ROUTE_MAX);
    /* A route that cannot be stored whole is refused rather than cut. */
    assert_null(sessions_touch(t, 2, "b", route, ROUTER_ROUTE_MAX + 1, 1));
    assert_null(sessions_find(t, 2));
    assert_null(sessions_touch(t, 1, "a", route, ROUTER_ROUTE_MAX + 1, 2));
    assert_int_equal(sessions_find(t, 1)->route_len, ROUTER_ROUTE_MAX);
    assert_int_equal(sessions_find(t, 1)->heard_mono_us, 1);
    assert_int_equal(sessions_count(t), 1);

    /* Names are cut to fit, always terminated. */
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    s = sessions_touch(t, 3, name, route, 1, 1);
    assert_non_null(s);
    assert_int_equal(strlen(s->name), sizeof s->name - 1);
    assert_memory_equal(s->name, name, sizeof s->name - 1);
    sessions_destroy(&t);
}

static void test_full_table(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(3);
    for (int id = 1; id <= 3; id++)
        assert_non_null(touch(t, id, "r", id * SEC));
    /* A newcomer is refused; nobody is evicted for it. */
    assert_null(touch(t, 4, "r", 10 * SEC));
    assert_null(sessions_find(t, 4));
    assert_int_equal(sessions_count(t), 3);
    for (int id = 1; id <= 3; id++)
        assert_non_null(sessions_find(t, id));
    /* Agents already in keep being served. */
    session_t *s = touch(t, 2, "r2", 11 * SEC);
    assert_non_null(s);
    assert_int_equal(s->heard_mono_us, 11 * SEC);
    assert_int_equal(sessions_count(t), 3);
    /* Once one expires there is room again. */
    assert_int_equal(sessions_expire(t, 12 * SEC, 10 * SEC, NULL, NULL), 1); /* agent 1 */
    assert_null(sessions_find(t, 1));
    assert_non_null(touch(t, 4, "r", 12 * SEC));
    assert_int_equal(sessions_count(t), 3);
    assert_null(touch(t, 5, "r", 12 * SEC));
    sessions_destroy(&t);

    /* A table for nobody admits nobody. */
    t = sessions_new(0);
    assert_non_null(t);
    assert_null(touch(t, 1, "r", 1));
    assert_int_equal(sessions_count(t), 0);
    sessions_destroy(&t);
}

typedef struct seen {
    int ids[64];
    char names[64][64];
    int n;
} seen_t;

static void note_expired(void *arg, const session_t *s)
{
    seen_t *seen = arg;
    assert_true(seen->n < 64);
    seen->ids[seen->n] = s->agent_id;
    snprintf(seen->names[seen->n], sizeof seen->names[0], "%s", s->name);
    seen->n++;
}

static int seen_has(const seen_t *seen, int id)
{
    for (int i = 0; i < seen->n; i++)
        if (seen->ids[i] == id)
            return 1;
    return 0;
}

static void test_expire_exactly_the_stale(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(64);
    /* Agent i last heard at i seconds, in an order unlike their ids. */
    static const int order[] = {5, 0, 9, 3, 7, 1, 8, 2, 6, 4};
    for (size_t k = 0; k < 10; k++)
        touch(t, 100 + order[k], "r", order[k] * SEC);
    assert_int_equal(sessions_count(t), 10);

    /* Timeout 5 s at 9 s: silent since before 4 s means heard at 0..3 s. Heard exactly at the
     * limit (4 s) is not yet silent for longer than the timeout. */
    seen_t seen = {0};
    assert_int_equal(sessions_expire(t, 9 * SEC, 5 * SEC, note_expired, &seen), 4);
    assert_int_equal(seen.n, 4);
    for (int i = 0; i < 10; i++) {
        int stale = i < 4;
        assert_int_equal(seen_has(&seen, 100 + i), stale);
        session_t *s = sessions_find(t, 100 + i);
        if (stale) {
            assert_null(s);
        } else {
            /* The survivors are intact, whatever moved in the table. */
            assert_non_null(s);
            assert_int_equal(s->heard_mono_us, i * SEC);
            char name[32];
            snprintf(name, sizeof name, "agent-%d", 100 + i);
            assert_string_equal(s->name, name);
        }
    }
    for (int k = 0; k < seen.n; k++) {
        char name[32];
        snprintf(name, sizeof name, "agent-%d", seen.ids[k]);
        assert_string_equal(seen.names[k], name); /* the callback saw the whole session */
    }

    /* By index: each survivor exactly once, and nothing past the count. */
    assert_int_equal(sessions_count(t), 6);
    int hits[10] = {0};
    for (size_t i = 0; i < sessions_count(t); i++) {
        session_t *s = sessions_at(t, i);
        assert_non_null(s);
        assert_true(s->agent_id >= 104 && s->agent_id <= 109);
        hits[s->agent_id - 100]++;
    }
    for (int i = 4; i < 10; i++)
        assert_int_equal(hits[i], 1);
    assert_null(sessions_at(t, 6));

    /* Nothing more is stale at the same time; a second pass expires nothing. */
    seen.n = 0;
    assert_int_equal(sessions_expire(t, 9 * SEC, 5 * SEC, note_expired, &seen), 0);
    assert_int_equal(seen.n, 0);

    /* A touch keeps an agent alive. */
    touch(t, 104, "r", 20 * SEC);
    seen.n = 0;
    assert_int_equal(sessions_expire(t, 21 * SEC, 5 * SEC, note_expired, &seen), 5);
    assert_int_equal(sessions_count(t), 1);
    assert_non_null(sessions_find(t, 104));
    assert_false(seen_has(&seen, 104));

    /* Everyone, then the table is usable again. */
    assert_int_equal(sessions_expire(t, 100 * SEC, 5 * SEC, NULL, NULL), 1);
    assert_int_equal(sessions_count(t), 0);
    assert_null(sessions_at(t, 0));
    assert_non_null(touch(t, 1, "r", 100 * SEC));
    assert_int_equal(sessions_count(t), 1);
    sessions_destroy(&t);
}

static void test_many_agents(void **state)
{
    (void)state;
    /* More than the table's first allocation: growing must keep every session. */
    sessions_t *t = sessions_new(4096);
    for (int id = 1; id <= 1000; id++) {
        char route[16];
        snprintf(route, sizeof route, "r%d", id);
        assert_non_null(touch(t, id, route, id));
    }
    assert_int_equal(sessions_count(t), 1000);
    for (int id = 1; id <= 1000; id++) {
        session_t *s = sessions_find(t, id);
        assert_non_null(s);
        char route[16];
        snprintf(route, sizeof route, "r%d", id);
        assert_int_equal(s->route_len, strlen(route));
        assert_memory_equal(s->route, route, strlen(route));
        assert_int_equal(s->heard_mono_us, id);
    }
    /* Heard at 1..1000 µs; silent since before 501 µs: the first 500. */
    assert_int_equal(sessions_expire(t, 1001, 500, NULL, NULL), 500);
    assert_int_equal(sessions_count(t), 500);
    for (int id = 1; id <= 1000; id++)
        assert_int_equal(sessions_find(t, id) != NULL, id > 500);
    sessions_destroy(&t);
}

static void test_destroy_null(void **state)
{
    (void)state;
    sessions_destroy(NULL);
    sessions_t *t = NULL;
    sessions_destroy(&t);
    assert_null(t);
}

/* Every transition of the schedule state machine, as the coordinator drives it: one row per
 * (state, event, versions), and the state it must lead to. */
static void test_state_machine_table(void **state)
{
    (void)state;
    static const struct {
        session_state_t from;
        uint64_t sent; /* schedule_sent before the event */
        session_event_t event;
        uint64_t version, current;
        session_state_t to;
    } rows[] = {
        /* A session begins heard; a push makes it pushed and records what was sent. */
        {SESSION_HEARD, 0, SESSION_EV_MESSAGE, 0, 5, SESSION_HEARD},
        {SESSION_HEARD, 0, SESSION_EV_PUSHED, 5, 5, SESSION_PUSHED},
        /* Reports: the current version makes it current; another, not pushed, behind. */
        {SESSION_PUSHED, 5, SESSION_EV_REPORTED, 5, 5, SESSION_CURRENT},
        {SESSION_PUSHED, 5, SESSION_EV_REPORTED, 4, 5, SESSION_PUSHED}, /* still in flight */
        {SESSION_HEARD, 0, SESSION_EV_REPORTED, 4, 5, SESSION_BEHIND},
        {SESSION_HEARD, 0, SESSION_EV_REPORTED, 5, 5, SESSION_CURRENT},
        {SESSION_CURRENT, 5, SESSION_EV_REPORTED, 5, 5, SESSION_CURRENT},
        {SESSION_PUSHED, 4, SESSION_EV_REPORTED, 4, 5, SESSION_BEHIND}, /* pushed an old one */
        /* A report that says nothing, or with no schedule in force, changes nothing. */
        {SESSION_HEARD, 0, SESSION_EV_REPORTED, 0, 5, SESSION_HEARD},
        {SESSION_PUSHED, 5, SESSION_EV_REPORTED, 7, 0, SESSION_PUSHED},
        /* A new schedule in force: a current session falls behind until pushed. */
        {SESSION_CURRENT, 5, SESSION_EV_PUBLISHED, 0, 6, SESSION_BEHIND},
        {SESSION_BEHIND, 5, SESSION_EV_PUSHED, 6, 6, SESSION_PUSHED},
        {SESSION_PUSHED, 5, SESSION_EV_PUBLISHED, 0, 6, SESSION_PUSHED},
        {SESSION_HEARD, 0, SESSION_EV_PUBLISHED, 0, 6, SESSION_HEARD},
        /* Another protocol version: refused until a message of this one. */
        {SESSION_CURRENT, 5, SESSION_EV_REFUSED, 2, 0, SESSION_REFUSED},
        {SESSION_REFUSED, 5, SESSION_EV_REPORTED, 5, 5, SESSION_REFUSED},
        {SESSION_REFUSED, 5, SESSION_EV_MESSAGE, 0, 0, SESSION_HEARD},
        /* Silence ends every state, and expired is final. */
        {SESSION_PUSHED, 5, SESSION_EV_SILENT, 0, 0, SESSION_EXPIRED},
        {SESSION_REFUSED, 5, SESSION_EV_SILENT, 0, 0, SESSION_EXPIRED},
        {SESSION_EXPIRED, 5, SESSION_EV_MESSAGE, 0, 0, SESSION_EXPIRED},
        {SESSION_EXPIRED, 5, SESSION_EV_PUSHED, 6, 6, SESSION_EXPIRED},
        /* Its key no longer admits it: the session ends whatever its state. */
        {SESSION_CURRENT, 5, SESSION_EV_REVOKED, 0, 5, SESSION_EXPIRED},
        {SESSION_HEARD, 0, SESSION_EV_REVOKED, 0, 0, SESSION_EXPIRED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        session_t s = {.state = rows[i].from, .schedule_sent = rows[i].sent};
        snprintf(s.name, sizeof s.name, "row-%zu", i);
        session_state_t to = session_step(&s, rows[i].event, rows[i].version, rows[i].current);
        if (to != rows[i].to || s.state != rows[i].to)
            fail_msg("row %zu: %s --%s %llu/%llu--> %s, expected %s", i,
                     session_state_name(rows[i].from), session_event_name(rows[i].event),
                     (unsigned long long)rows[i].version, (unsigned long long)rows[i].current,
                     session_state_name(to), session_state_name(rows[i].to));
        if (rows[i].event == SESSION_EV_PUSHED)
            assert_int_equal(s.schedule_sent, rows[i].version);
        else
            assert_int_equal(s.schedule_sent, rows[i].sent);
    }
    /* Every state and event has a name; out of range is "?". */
    for (int st = 0; st < SESSION_N_STATES; st++)
        assert_string_not_equal(session_state_name((session_state_t)st), "?");
    for (int ev = 0; ev < SESSION_N_EVENTS; ev++)
        assert_string_not_equal(session_event_name((session_event_t)ev), "?");
    assert_string_equal(session_state_name(SESSION_N_STATES), "?");
}

static void note_state(void *arg, const session_t *s)
{
    *(session_state_t *)arg = s->state;
}

static void test_new_session_heard_and_expiry_steps(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(4);
    session_t *s = touch(t, 1, "r", 1 * SEC);
    assert_int_equal(s->state, SESSION_HEARD);
    session_step(s, SESSION_EV_PUSHED, 3, 3);
    /* A touch keeps the state: it is the coordinator's to step. */
    s = touch(t, 1, "r2", 2 * SEC);
    assert_int_equal(s->state, SESSION_PUSHED);
    session_state_t seen = SESSION_HEARD;
    assert_int_equal(sessions_expire(t, 100 * SEC, 10 * SEC, note_state, &seen), 1);
    assert_int_equal(seen, SESSION_EXPIRED);
    sessions_destroy(&t);
}

static int admit_even(void *arg, const session_t *s)
{
    (*(int *)arg)++;
    return s->agent_id % 2 == 0;
}

/* After the allow-list changed: exactly the sessions no longer admitted go, each asked once;
 * the rest stay reachable. */
static void test_revoke(void **state)
{
    (void)state;
    sessions_t *t = sessions_new(16);
    for (int id = 1; id <= 9; id++)
        touch(t, id, "r", id * SEC);
    int asked = 0;
    assert_int_equal(sessions_revoke(t, admit_even, &asked), 5);
    assert_int_equal(asked, 9);
    assert_int_equal(sessions_count(t), 4);
    for (int id = 1; id <= 9; id++) {
        if (id % 2)
            assert_null(sessions_find(t, id));
        else
            assert_non_null(sessions_find(t, id));
    }
    asked = 0;
    assert_int_equal(sessions_revoke(t, admit_even, &asked), 0);
    assert_int_equal(asked, 4);
    sessions_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_touch_creates),
        cmocka_unit_test(test_touch_updates_and_keeps_what_was_learnt),
        cmocka_unit_test(test_route_and_name_limits),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_expire_exactly_the_stale),
        cmocka_unit_test(test_many_agents),
        cmocka_unit_test(test_destroy_null),
        cmocka_unit_test(test_state_machine_table),
        cmocka_unit_test(test_new_session_heard_and_expiry_steps),
        cmocka_unit_test(test_revoke),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
