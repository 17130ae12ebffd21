/* Unit tests for the agent's small state files: the saved schedule (round trip, absent,
 * truncated at every length, a flipped byte, trailing bytes, a record of the wrong kind, a
 * schedule that does not validate) with clear errors; atomic replacement leaving no
 * temporary file; the stats file's format. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_stats.h"
#include "schedule_file.h"
#include "spool_record.h"
#include "statefile.h"
#include "wire.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/px-test-state-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/schedule", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A schedule of n probes, version v. */
typedef struct scheduler_fx {
    Parallax__Schedule s;
    Parallax__Probe probes[4];
    Parallax__Probe *ptrs[4];
} scheduler_fx_t;

static void make_schedule(scheduler_fx_t *x, uint64_t version, size_t n)
{
    parallax__schedule__init(&x->s);
    x->s.version = version;
    for (size_t i = 0; i < n; i++) {
        parallax__probe__init(&x->probes[i]);
        x->probes[i].probe_id = 10 + i;
        x->probes[i].target = "web";
        x->probes[i].address = "192.0.2.1";
        x->probes[i].spec = "tcp:80";
        x->probes[i].interval_s = 60;
        x->probes[i].phase_ms = (uint32_t)(i * 100);
        x->probes[i].timeout_ms = 2000;
        x->ptrs[i] = &x->probes[i];
    }
    x->s.n_probes = n;
    x->s.probes = x->ptrs;
}

static void write_raw(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void test_schedule_round_trip(void **state)
{
    fixture_t *f = *state;
    Parallax__Envelope *env = NULL;
    err_t err = {{0}};
    /* No file yet: not an error. */
    assert_int_equal(schedule_file_load(f->path, &env, &err), 1);
    assert_null(env);
    scheduler_fx_t x;
    make_schedule(&x, 7, 3);
    assert_int_equal(schedule_file_save(f->path, &x.s, &err), 0);
    assert_int_equal(schedule_file_load(f->path, &env, &err), 0);
    assert_non_null(env);
    assert_int_equal(env->body_case, PARALLAX__ENVELOPE__BODY_SCHEDULE);
    assert_int_equal(env->schedule->version, 7);
    assert_int_equal(env->schedule->n_probes, 3);
    assert_int_equal(env->schedule->probes[2]->probe_id, 12);
    assert_string_equal(env->schedule->probes[2]->spec, "tcp:80");
    assert_int_equal(env->schedule->probes[2]->phase_ms, 200);
    wire_free(&env);
    /* Replaced by a newer one, atomically: no temporary file left. */
    make_schedule(&x, 8, 1);
    assert_int_equal(schedule_file_save(f->path, &x.s, &err), 0);
    assert_int_equal(schedule_file_load(f->path, &env, &err), 0);
    assert_int_equal(env->schedule->version, 8);
    assert_int_equal(env->schedule->n_probes, 1);
    wire_free(&env);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    assert_int_equal(access(tmp, F_OK), -1);
    /* An empty schedule is a schedule too (the coordinator took every probe away). */
    make_schedule(&x, 9, 0);
    assert_int_equal(schedule_file_save(f->path, &x.s, &err), 0);
    assert_int_equal(schedule_file_load(f->path, &env, &err), 0);
    assert_int_equal(env->schedule->n_probes, 0);
    wire_free(&env);
}

static void expect_damaged(const fixture_t *f, const uint8_t *buf, size_t len, const char *what)
{
    write_raw(f->path, buf, len);
    Parallax__Envelope *env = NULL;
    err_t err = {{0}};
    assert_int_equal(schedule_file_load(f->path, &env, &err), -1);
    assert_null(env);
    /* The message names the file, so the operator knows what to look at. */
    if (!strstr(err.msg, f->path) || !strstr(err.msg, what))
        fail_msg("message '%s' lacks '%s' or '%s'", err.msg, f->path, what);
}

static void test_schedule_damaged(void **state)
{
    fixture_t *f = *state;
    scheduler_fx_t x;
    make_schedule(&x, 7, 2);
    err_t err = {{0}};
    assert_int_equal(schedule_file_save(f->path, &x.s, &err), 0);
    uint8_t *good = NULL;
    size_t len = 0;
    assert_int_equal(statefile_read(f->path, 1 << 20, &good, &len, &err), 0);
    for (size_t cut = 0; cut < len; cut++)
        expect_damaged(f, good, cut, cut < 4 && cut > 0 ? "truncated" : "damaged");
    uint8_t *bad = malloc(len + 1);
    for (size_t i = 0; i < len; i += 3) {
        memcpy(bad, good, len);
        bad[i] ^= 0x10;
        expect_damaged(f, bad, len, "damaged");
    }
    memcpy(bad, good, len);
    bad[len] = 'x';
    expect_damaged(f, bad, len + 1, "trailing bytes");
    free(bad);
    free(good);

    /* Intact framing around the wrong kind of record, or a schedule that fails validation. */
    uint8_t rec[256];
    spool_record_encode(rec, SPOOL_REC_RESULT, 0, 7, "x", 1);
    expect_damaged(f, rec, spool_record_size(1), "not a schedule record");
    Parallax__Envelope e = PARALLAX__ENVELOPE__INIT;
    e.version = PX_PROTOCOL_VERSION;
    e.body_case = PARALLAX__ENVELOPE__BODY_SCHEDULE;
    x.probes[0].interval_s = 0; /* invalid */
    e.schedule = &x.s;
    size_t plen = parallax__envelope__get_packed_size(&e);
    uint8_t *packed = malloc(plen);
    parallax__envelope__pack(&e, packed);
    uint8_t *r2 = malloc(spool_record_size(plen));
    spool_record_encode(r2, SPOOL_REC_SCHEDULE, 0, 7, packed, plen);
    expect_damaged(f, r2, spool_record_size(plen), "no valid schedule");
    /* A version that differs from the record's. */
    x.probes[0].interval_s = 60;
    free(packed);
    free(r2);
    plen = parallax__envelope__get_packed_size(&e);
    packed = malloc(plen);
    r2 = malloc(spool_record_size(plen));
    parallax__envelope__pack(&e, packed);
    spool_record_encode(r2, SPOOL_REC_SCHEDULE, 0, 8, packed, plen);
    expect_damaged(f, r2, spool_record_size(plen), "not the schedule it claims");
    free(packed);
    free(r2);
    /* A directory where the file should be. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(mkdir(f->path, 0700), 0);
    Parallax__Envelope *env = NULL;
    assert_int_equal(schedule_file_load(f->path, &env, &err), -1);
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(rmdir(f->path), 0);
}

static void test_stats_file(void **state)
{
    fixture_t *f = *state;
    agent_stats_t s;
    memset(&s, 0, sizeof s);
    s.spool.produced = 12;
    s.spool.acked = 9;
    s.spool.dropped = 1;
    s.spool.pending = 2;
    s.stream = 4242;
    s.schedule_version = 3;
    s.sched.runs = 10;
    s.sched.skipped_late = 1;
    s.sched.skipped_busy = 2;
    s.pid = 77;
    s.sched.requests = 4;
    s.sched.requests_refused = 1;
    s.sched.requests_denied = 2;
    s.link.up = 1;
    s.link.ups = 2;
    s.link.losses = 1;
    s.link.handshake_failures = 5;
    char line[1024];
    size_t n = agent_stats_format(&s, " ", line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_non_null(strstr(line, "produced=12 spooled=0 acked=9 dropped=1 "));
    assert_non_null(strstr(line, " stream=4242 schedule_version=3 runs=10 runs_skipped=3 "
                                 "runs_skipped_late=1 runs_skipped_busy=2 requests=4 "
                                 "requests_refused=1 requests_denied=2 link_up=1 link_ups=2 "
                                 "link_losses=1 handshake_failures=5 pid=77 "));
    /* Truncation is safe and reports the length needed. */
    char small[16];
    assert_int_equal(agent_stats_format(&s, " ", small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    char path[160];
    snprintf(path, sizeof path, "%s/stats", f->dir);
    err_t err = {{0}};
    assert_int_equal(agent_stats_write(path, &s, &err), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(statefile_read(path, 1 << 16, &buf, &len, &err), 0);
    buf = realloc(buf, len + 1);
    buf[len] = '\0';
    assert_non_null(strstr((char *)buf, "\nacked=9\n"));
    assert_non_null(strstr((char *)buf, "\npending=2\n"));
    assert_int_equal(buf[len - 1], '\n');
    free(buf);
    /* An unwritable place is an error naming it. */
    assert_int_equal(agent_stats_write("/dev/null/stats", &s, &err), -1);
    assert_non_null(strstr(err.msg, "/dev/null/stats"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schedule_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedule_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
