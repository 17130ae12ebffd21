/* Unit tests for the spool and its parts: CRC32C, record framing, gap summing; append and
 * replay in order, acks deleting segments, a restart (also after a process that died without
 * cleaning up) resuming the same stream and seq, a torn last record cut at every byte, a
 * damaged record in the middle, a full spool dropping its oldest segment into correct gap
 * records, rejected batches going to the dead-letter file, and gaps of skipped runs added
 * from outside: sent like results, kept apart from what the spool lost, their reason kept
 * when their segment is dropped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crc32c.h"
#include "deadletter.h"
#include "spool.h"
#include "spool_gap.h"
#include "spool_record.h"
#include "statefile.h"
#include "wire.h"

#define TS0 1700000000000000LL
#define BIG (1024 * 1024)

typedef struct fixture {
    char dir[64];
    char spool[128];
    char dead[128];
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
    snprintf(f->dir, sizeof f->dir, "/tmp/px-test-spool-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->spool, sizeof f->spool, "%s/spool", f->dir);
    snprintf(f->dead, sizeof f->dead, "%s/deadletter", f->dir);
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

static spool_t *open_spool(const fixture_t *f, uint32_t batch_max, uint64_t seg, uint64_t max)
{
    spool_config_t cfg = {.dir = f->spool,
                          .deadletter = f->dead,
                          .max_bytes = max,
                          .segment_bytes = seg,
                          .batch_max = batch_max,
                          .stream = 0};
    err_t err = {{0}};
    spool_t *sp = spool_open(&cfg, &err);
    if (!sp)
        fail_msg("spool_open: %s", err.msg);
    return sp;
}

static int add(spool_t *sp, uint64_t probe_id, int64_t ts)
{
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = probe_id;
    r.ts_us = ts;
    r.status = PARALLAX__STATUS__STATUS_OK;
    r.rtt_us = 42;
    r.message = "fine";
    err_t err = {{0}};
    int rc = spool_add_result(sp, &r, &err);
    if (rc < 0)
        fail_msg("spool_add_result: %s", err.msg);
    return rc;
}

static void seal(spool_t *sp)
{
    err_t err = {{0}};
    if (spool_seal(sp, &err) < 0)
        fail_msg("spool_seal: %s", err.msg);
}

/* Batch seq as the coordinator would get it (validated). Caller frees with wire_free(). */
static Parallax__Envelope *load(spool_t *sp, uint64_t seq)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    err_t err = {{0}};
    uint64_t stream = spool_batch_stream(sp, seq);
    assert_int_not_equal(stream, 0);
    if (spool_batch_load(sp, seq, &buf, &len, &err) < 0)
        fail_msg("spool_batch_load(%llu): %s", (unsigned long long)seq, err.msg);
    Parallax__Envelope *env = wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err);
    free(buf);
    if (!env)
        fail_msg("batch %llu does not unpack: %s", (unsigned long long)seq, err.msg);
    assert_int_equal(env->body_case, PARALLAX__ENVELOPE__BODY_BATCH);
    assert_int_equal(env->batch->seq, seq);
    assert_int_equal(env->batch->stream, stream);
    return env;
}

static void ack(spool_t *sp, uint64_t seq, Parallax__AckCode code)
{
    err_t err = {{0}};
    if (spool_ack(sp, seq, code, "test reason", &err) < 0)
        fail_msg("spool_ack: %s", err.msg);
}

static size_t count_segments(const fixture_t *f)
{
    DIR *d = opendir(f->spool);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".seg"))
            n++;
    closedir(d);
    return n;
}

/* Path of the newest segment (the only one in most tests). */
static void newest_segment(const fixture_t *f, char *path, size_t len)
{
    DIR *d = opendir(f->spool);
    assert_non_null(d);
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    assert_true(best[0]);
    snprintf(path, len, "%s/%s", f->spool, best);
}

/* Deletes every segment but keep: each open starts a segment of its own, and a test that
 * rewrites one segment again and again wants it to stay the newest. */
static void remove_other_segments(const fixture_t *f, const char *keep)
{
    DIR *d = opendir(f->spool);
    assert_non_null(d);
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", f->spool, e->d_name);
        if (strstr(e->d_name, ".seg") && strcmp(path, keep) != 0)
            assert_int_equal(unlink(path), 0);
    }
    closedir(d);
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Every unacked result as probe ids in order, and the gaps' total count. */
static size_t collect(spool_t *sp, uint64_t *probes, size_t max, uint64_t *gap_total)
{
    size_t n = 0;
    *gap_total = 0;
    uint64_t seqs[4096];
    size_t nseq = 0;
    for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b))
        seqs[nseq++] = b->seq;
    for (size_t i = 0; i < nseq; i++) {
        Parallax__Envelope *env = load(sp, seqs[i]);
        for (size_t r = 0; r < env->batch->n_results && n < max; r++)
            probes[n++] = env->batch->results[r]->probe_id;
        for (size_t g = 0; g < env->batch->n_gaps; g++)
            *gap_total += env->batch->gaps[g]->count;
        wire_free(&env);
    }
    return n;
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(crc32c_update(0, "123456789", 9), 0xe3069283U);
    /* Continuing over pieces gives the same as one call. */
    uint32_t c = crc32c_update(0, "1234", 4);
    assert_int_equal(crc32c_update(c, "56789", 5), 0xe3069283U);
    assert_int_equal(crc32c_update(0, NULL, 0), 0);
}

static void test_record_framing(void **state)
{
    (void)state;
    const char payload[] = "hello, spool";
    size_t plen = sizeof payload - 1;
    uint8_t rec[128];
    size_t size = spool_record_size(plen);
    spool_record_encode(rec, SPOOL_REC_RESULT, 3, 77, payload, plen);
    spool_record_t r;
    size_t used = 0;
    assert_int_equal(spool_record_decode(rec, size, 1024, &r, &used), SPOOL_RECORD_OK);
    assert_int_equal(used, size);
    assert_int_equal(r.type, SPOOL_REC_RESULT);
    assert_int_equal(r.flags, 3);
    assert_int_equal(r.seq, 77);
    assert_int_equal(r.len, plen);
    assert_memory_equal(r.payload, payload, plen);
    /* Every prefix is short, never mistaken for a record. */
    for (size_t cut = 0; cut < size; cut++)
        assert_int_equal(spool_record_decode(rec, cut, 1024, &r, &used), SPOOL_RECORD_SHORT);
    /* Every flipped bit is caught. */
    for (size_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[i] ^= (uint8_t)(1 << bit);
            assert_int_not_equal(spool_record_decode(rec, size, 1024, &r, &used), SPOOL_RECORD_OK);
            rec[i] ^= (uint8_t)(1 << bit);
        }
    }
    /* Over the caller's limit. */
    assert_int_equal(spool_record_decode(rec, size, plen - 1, &r, &used), SPOOL_RECORD_BAD);
    /* Resync finds the record after garbage, and nothing in garbage alone. */
    uint8_t buf[256];
    memset(buf, 'P', 40);
    memcpy(buf + 40, rec, size);
    assert_int_equal(spool_record_resync(buf, 40 + size, 0, 1024), 40);
    assert_int_equal(spool_record_resync(buf, 40, 0, 1024), 40);
}

static void test_gap_summing(void **state)
{
    (void)state;
    spool_gap_t *g = spool_gap_new();
    assert_non_null(g);
    assert_int_equal(spool_gap_add(g, 7, TS0 + 5, TS0 + 5, 1), 0);
    assert_int_equal(spool_gap_add(g, 3, TS0 + 9, TS0 + 9, 1), 0);
    assert_int_equal(spool_gap_add(g, 7, TS0 + 1, TS0 + 2, 4), 0);
    assert_int_equal(spool_gap_total(g), 6);
    Parallax__Gap out[SPOOL_GAP_MAX_PROBES];
    assert_int_equal(spool_gap_take(g, out, SPOOL_GAP_MAX_PROBES), 2);
    assert_int_equal(out[0].probe_id, 3);
    assert_int_equal(out[0].count, 1);
    assert_int_equal(out[1].probe_id, 7);
    assert_int_equal(out[1].from_us, TS0 + 1);
    assert_int_equal(out[1].to_us, TS0 + 5);
    assert_int_equal(out[1].count, 5);
    assert_int_equal(spool_gap_total(g), 0);
    assert_int_equal(spool_gap_take(g, out, SPOOL_GAP_MAX_PROBES), 0);
    /* Many probes: one probe-0 record with the whole range and count. */
    for (uint64_t p = 1; p <= SPOOL_GAP_MAX_PROBES + 1; p++)
        assert_int_equal(spool_gap_add(g, p, TS0 + (int64_t)p, TS0 + (int64_t)p, 2), 0);
    assert_int_equal(spool_gap_take(g, out, SPOOL_GAP_MAX_PROBES), 1);
    assert_int_equal(out[0].probe_id, 0);
    assert_int_equal(out[0].from_us, TS0 + 1);
    assert_int_equal(out[0].to_us, TS0 + SPOOL_GAP_MAX_PROBES + 1);
    assert_int_equal(out[0].count, 2 * (SPOOL_GAP_MAX_PROBES + 1));
    spool_gap_destroy(&g);
    assert_null(g);
    spool_gap_destroy(&g);
}

static void test_append_and_replay_in_order(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 3, BIG, 4 * BIG);
    uint64_t stream = spool_stream(sp);
    assert_true(stream != 0 && stream <= INT64_MAX);
    for (uint64_t i = 1; i <= 10; i++)
        add(sp, i, TS0 + (int64_t)i);
    seal(sp);
    for (int pass = 0; pass < 2; pass++) {
        static const uint32_t sizes[] = {3, 3, 3, 1};
        uint64_t seq = 1, probe = 1;
        for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b)) {
            assert_int_equal(b->seq, seq);
            assert_int_equal(b->results, sizes[seq - 1]);
            seq++;
        }
        assert_int_equal(seq, 5);
        for (seq = 1; seq <= 4; seq++) {
            Parallax__Envelope *env = load(sp, seq);
            assert_int_equal(env->batch->n_results, sizes[seq - 1]);
            for (size_t r = 0; r < env->batch->n_results; r++) {
                assert_int_equal(env->batch->results[r]->probe_id, probe);
                assert_int_equal(env->batch->results[r]->ts_us, TS0 + (int64_t)probe);
                assert_string_equal(env->batch->results[r]->message, "fine");
                probe++;
            }
            wire_free(&env);
        }
        spool_counters_t c;
        spool_counters(sp, &c);
        assert_int_equal(c.produced, 10);
        assert_int_equal(c.spooled, 10);
        assert_int_equal(c.pending, 10);
        assert_int_equal(c.batches, 4);
        assert_int_equal(c.recovered, pass ? 10 : 0);
        /* The second pass reads it all back from disk in a new spool. */
        spool_close(&sp);
        assert_null(sp);
        sp = open_spool(f, 3, BIG, 4 * BIG);
        /* Old batches keep their names; new ones get a new stream. */
        assert_int_not_equal(spool_stream(sp), stream);
        for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b))
            assert_int_equal(b->stream, stream);
    }
    spool_close(&sp);
    spool_close(&sp);
}

static void test_acks_delete_segments(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 4, 1024, 64 * 1024);
    for (uint64_t i = 1; i <= 200; i++)
        add(sp, 1 + i % 5, TS0 + (int64_t)i);
    seal(sp);
    size_t segs = count_segments(f);
    assert_true(segs > 3);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_int_equal(c.segments, segs);
    assert_int_equal(c.dropped, 0);
    /* Acks in a shuffled order: a segment goes as soon as all of its batches are answered. */
    uint64_t nb = c.batches;
    for (uint64_t s = 2; s <= nb; s += 2)
        ack(sp, s, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(count_segments(f), segs);
    for (uint64_t s = 1; s <= nb; s += 2)
        ack(sp, s, PARALLAX__ACK_CODE__ACK_STORED);
    /* Only the active segment is left, and an ack for an unknown batch is ignored. */
    assert_int_equal(count_segments(f), 1);
    ack(sp, 1, PARALLAX__ACK_CODE__ACK_STORED);
    ack(sp, 999999, PARALLAX__ACK_CODE__ACK_STORED);
    spool_counters(sp, &c);
    assert_int_equal(c.acked, 200);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.batches, 0);
    assert_null(spool_batch_next(sp, NULL));
    spool_close(&sp);
    /* After a restart nothing is resent, and the totals are still known. */
    sp = open_spool(f, 4, 1024, 64 * 1024);
    assert_null(spool_batch_next(sp, NULL));
    spool_counters(sp, &c);
    assert_int_equal(c.produced, 200);
    assert_int_equal(c.acked, 200);
    assert_int_equal(c.pending, 0);
    spool_close(&sp);
}

/* A child process that spools results and exits without closing anything, as after kill -9:
 * 5 results in batches of 2, batch 1 acked; batch 3 (one result) still open. */
static void crash_child(const fixture_t *f)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        spool_t *sp = open_spool(f, 2, BIG, 4 * BIG);
        for (uint64_t i = 1; i <= 5; i++)
            add(sp, i, TS0 + (int64_t)i);
        ack(sp, 1, PARALLAX__ACK_CODE__ACK_STORED);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_restart_resumes_stream_and_seq(void **state)
{
    fixture_t *f = *state;
    crash_child(f);
    spool_t *sp = open_spool(f, 2, BIG, 4 * BIG);
    /* Old batches keep the crashed run's stream; new ones get a new one. */
    uint64_t stream = spool_batch_stream(sp, 2);
    uint64_t stream2 = spool_stream(sp);
    assert_int_not_equal(stream, 0);
    assert_int_not_equal(stream2, stream);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_int_equal(c.produced, 5);
    assert_int_equal(c.acked, 2);
    assert_int_equal(c.pending, 3);
    assert_int_equal(c.recovered, 3);
    /* The same batches, under the same names: 2 (probes 3, 4) and 3 (probe 5, left open). */
    spool_batch_t *b = spool_batch_next(sp, NULL);
    assert_non_null(b);
    assert_int_equal(b->seq, 2);
    assert_int_equal(b->results, 2);
    b = spool_batch_next(sp, b);
    assert_non_null(b);
    assert_int_equal(b->seq, 3);
    assert_int_equal(b->results, 1);
    assert_null(spool_batch_next(sp, b));
    Parallax__Envelope *env = load(sp, 3);
    assert_int_equal(env->batch->stream, stream);
    assert_int_equal(env->batch->n_results, 1);
    assert_int_equal(env->batch->results[0]->probe_id, 5);
    wire_free(&env);
    /* New results continue the sequence. */
    add(sp, 6, TS0 + 6);
    seal(sp);
    b = spool_batch_next(sp, spool_batch_next(sp, spool_batch_next(sp, NULL)));
    assert_non_null(b);
    assert_int_equal(b->seq, 4);
    assert_int_equal(b->stream, stream2);
    spool_close(&sp);
    /* And a second restart agrees, under a third stream for what comes next. */
    sp = open_spool(f, 2, BIG, 4 * BIG);
    assert_int_equal(spool_batch_stream(sp, 2), stream);
    assert_int_equal(spool_batch_stream(sp, 3), stream);
    assert_int_equal(spool_batch_stream(sp, 4), stream2);
    assert_true(spool_stream(sp) != stream && spool_stream(sp) != stream2);
    spool_counters(sp, &c);
    assert_int_equal(c.produced, 6);
    assert_int_equal(c.pending, 4);
    spool_close(&sp);
}

static void test_torn_last_record_at_every_byte(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 4, BIG, 4 * BIG);
    for (uint64_t i = 1; i <= 9; i++)
        add(sp, i, TS0 + (int64_t)i);
    ack(sp, 1, PARALLAX__ACK_CODE__ACK_STORED);
    add(sp, 10, TS0 + 10); /* the last record: the one a crash tears */
    spool_close(&sp);
    char path[256];
    newest_segment(f, path, sizeof path);
    uint8_t *whole = NULL;
    size_t len = 0;
    err_t err = {{0}};
    assert_int_equal(statefile_read(path, BIG, &whole, &len, &err), 0);
    /* Find where the last record starts. */
    size_t off = 0, last = 0;
    while (off < len) {
        spool_record_t rec;
        size_t used;
        assert_int_equal(
            spool_record_decode(whole + off, len - off, SPOOL_RECORD_MAX_PAYLOAD, &rec, &used),
            SPOOL_RECORD_OK);
        last = off;
        off += used;
    }
    for (size_t cut = last; cut < len; cut++) {
        write_file(path, whole, cut);
        remove_other_segments(f, path);
        sp = open_spool(f, 4, BIG, 4 * BIG);
        spool_counters_t c;
        spool_counters(sp, &c);
        assert_int_equal(c.corrupt, cut > last ? 1 : 0);
        /* Probes 5..9 survive (1..4 were acked), in order; probe 10 is gone. */
        uint64_t probes[16], gaps;
        size_t n = collect(sp, probes, 16, &gaps);
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(probes[i], 5 + i);
        assert_int_equal(c.pending, 5);
        assert_int_equal(c.produced, 9);
        spool_close(&sp);
        /* The torn bytes were cut off: the file ends where the last intact record ends. */
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((size_t)st.st_size, last);
    }
    /* Appending after the cut works and is read back. */
    write_file(path, whole, last + 7);
    remove_other_segments(f, path);
    sp = open_spool(f, 4, BIG, 4 * BIG);
    add(sp, 11, TS0 + 11);
    seal(sp);
    spool_close(&sp);
    sp = open_spool(f, 4, BIG, 4 * BIG);
    uint64_t probes[16], gaps;
    size_t n = collect(sp, probes, 16, &gaps);
    assert_int_equal(n, 6);
    assert_int_equal(probes[5], 11);
    spool_close(&sp);
    free(whole);
}

static void test_damaged_record_in_the_middle(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 100, BIG, 4 * BIG);
    for (uint64_t i = 1; i <= 10; i++)
        add(sp, i, TS0 + (int64_t)i);
    seal(sp);
    spool_close(&sp);
    char path[256];
    newest_segment(f, path, sizeof path);
    uint8_t *buf = NULL;
    size_t len = 0;
    err_t err = {{0}};
    assert_int_equal(statefile_read(path, BIG, &buf, &len, &err), 0);
    /* Record 0 is the header; records 1..10 the results. Damage the payload of probe 4's
     * record and the length field of probe 7's. */
    size_t off = 0, index = 0;
    while (off < len) {
        spool_record_t rec;
        size_t used;
        assert_int_equal(
            spool_record_decode(buf + off, len - off, SPOOL_RECORD_MAX_PAYLOAD, &rec, &used),
            SPOOL_RECORD_OK);
        if (index == 4)
            buf[off + SPOOL_RECORD_HEADER + 2] ^= 0x40;
        if (index == 7)
            buf[off + 14] = 0x7f; /* length now far beyond the file */
        off += used;
        index++;
    }
    write_file(path, buf, len);
    free(buf);
    sp = open_spool(f, 100, BIG, 4 * BIG);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_int_equal(c.corrupt, 2);
    uint64_t probes[16], gaps;
    size_t n = collect(sp, probes, 16, &gaps);
    static const uint64_t expect[] = {1, 2, 3, 5, 6, 8, 9, 10};
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(probes[i], expect[i]);
    spool_close(&sp);
}

static void test_full_spool_drops_oldest_into_gaps(void **state)
{
    fixture_t *f = *state;
    const uint64_t seg = 2048, max = 8192;
    const uint64_t total = 600;
    spool_t *sp = open_spool(f, 5, seg, max);
    for (uint64_t i = 0; i < total; i++) {
        add(sp, 1 + i % 3, TS0 + (int64_t)i * 1000);
        spool_counters_t c;
        spool_counters(sp, &c);
        /* Bounded: the limit, plus at most one open batch past it. */
        assert_true(c.bytes <= max + SPOOL_BATCH_MAX_BYTES / 64);
    }
    seal(sp);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_true(c.dropped > 0);
    assert_true(c.gaps > 0);
    assert_int_equal(c.produced, total);
    assert_int_equal(c.produced, c.acked + c.rejected_results + c.dropped + c.pending);
    /* What is left is the newest results, and the gaps account for every one dropped. */
    uint64_t probes[1024], gap_total = 0;
    size_t n = collect(sp, probes, 1024, &gap_total);
    assert_int_equal(n, c.pending);
    assert_int_equal(gap_total, c.dropped);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(probes[i], 1 + (total - n + i) % 3);
    /* Per probe, the gaps cover exactly the dropped results: probe p lost every result with
     * index i < total - n and i % 3 == p - 1. */
    uint64_t per_probe[4] = {0};
    int64_t from[4] = {0}, to[4] = {0};
    for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b)) {
        Parallax__Envelope *env = load(sp, b->seq);
        for (size_t g = 0; g < env->batch->n_gaps; g++) {
            const Parallax__Gap *gp = env->batch->gaps[g];
            assert_true(gp->probe_id >= 1 && gp->probe_id <= 3);
            if (per_probe[gp->probe_id] == 0 || gp->from_us < from[gp->probe_id])
                from[gp->probe_id] = gp->from_us;
            if (gp->to_us > to[gp->probe_id])
                to[gp->probe_id] = gp->to_us;
            per_probe[gp->probe_id] += gp->count;
        }
        wire_free(&env);
    }
    uint64_t lost = total - n;
    for (uint64_t p = 1; p <= 3; p++) {
        uint64_t expect = 0;
        int64_t last = 0;
        for (uint64_t i = 0; i < lost; i++)
            if (i % 3 == p - 1) {
                expect++;
                last = TS0 + (int64_t)i * 1000;
            }
        assert_int_equal(per_probe[p], expect);
        assert_int_equal(from[p], TS0 + (int64_t)(p - 1) * 1000);
        assert_int_equal(to[p], last);
    }
    spool_close(&sp);
    /* The totals and the gaps survive a restart. */
    sp = open_spool(f, 5, seg, max);
    spool_counters_t c2;
    spool_counters(sp, &c2);
    assert_int_equal(c2.produced, c.produced);
    assert_int_equal(c2.dropped, c.dropped);
    assert_int_equal(c2.gaps, c.gaps);
    assert_int_equal(c2.pending, c.pending);
    n = collect(sp, probes, 1024, &gap_total);
    assert_int_equal(gap_total, c.dropped);
    spool_close(&sp);
}

/* A batch handed to the coordinator and not answered may already be stored: a full spool
 * must not declare it lost. The sender marks it (delivery.tries); the spool then drops the
 * next segment instead, and when the coordinator returns, the late ack settles the batch
 * with the counters exact (produced = acked + dropped + pending, the gaps = dropped). */
static void test_full_spool_keeps_batches_in_flight(void **state)
{
    fixture_t *f = *state;
    const uint64_t seg = 2048, max = 8192;
    spool_t *sp = open_spool(f, 5, seg, max);
    for (uint64_t i = 0; i < 10; i++)
        add(sp, 1, TS0 + (int64_t)i * 1000);
    /* The first two batches are sent; the coordinator goes quiet. */
    spool_batch_t *b1 = spool_batch_next(sp, NULL);
    assert_non_null(b1);
    spool_batch_t *b2 = spool_batch_next(sp, b1);
    assert_non_null(b2);
    uint64_t sent[2] = {b1->seq, b2->seq};
    b1->delivery.tries = 1;
    b2->delivery.tries = 1;
    for (uint64_t i = 10; i < 600; i++)
        add(sp, 2, TS0 + (int64_t)i * 1000);
    seal(sp);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_true(c.dropped > 0);
    /* Still there, still the oldest, and loadable. */
    spool_batch_t *first = spool_batch_next(sp, NULL);
    assert_int_equal(first->seq, sent[0]);
    assert_int_equal(spool_batch_next(sp, first)->seq, sent[1]);
    Parallax__Envelope *env = load(sp, sent[0]);
    assert_int_equal(env->batch->n_results, 5);
    assert_int_equal(env->batch->results[0]->probe_id, 1);
    wire_free(&env);
    /* Bounded all the same: past the limit by at most the segment the sent batches hold. */
    assert_true(c.bytes <= max + seg + SPOOL_BATCH_MAX_BYTES / 64);
    /* Nothing of probe 1 was reported lost: every gap is probe 2's. */
    uint64_t probes[1024], gap_total = 0;
    (void)collect(sp, probes, 1024, &gap_total);
    assert_int_equal(gap_total, c.dropped);
    for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b)) {
        env = load(sp, b->seq);
        for (size_t g = 0; g < env->batch->n_gaps; g++)
            assert_int_equal(env->batch->gaps[g]->probe_id, 2);
        wire_free(&env);
    }
    /* The coordinator was storing them: the late acks count them as acked, once. */
    ack(sp, sent[0], PARALLAX__ACK_CODE__ACK_STORED);
    ack(sp, sent[1], PARALLAX__ACK_CODE__ACK_STORED);
    spool_counters(sp, &c);
    assert_int_equal(c.acked, 10);
    assert_int_equal(c.produced, 600);
    assert_int_equal(c.produced, c.acked + c.rejected_results + c.dropped + c.pending);
    spool_close(&sp);
}

static void test_reject_goes_to_dead_letter(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 2, BIG, 4 * BIG);
    add(sp, 1, TS0 + 1);
    add(sp, 2, TS0 + 2);
    add(sp, 3, TS0 + 3);
    add(sp, 4, TS0 + 4);
    ack(sp, 1, PARALLAX__ACK_CODE__ACK_REJECTED);
    /* A retry is not a final answer: the spool refuses it and keeps the batch. */
    err_t err = {{0}};
    assert_int_equal(spool_ack(sp, 2, PARALLAX__ACK_CODE__ACK_RETRY, "later", &err), -1);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_int_equal(c.rejected_batches, 1);
    assert_int_equal(c.rejected_results, 2);
    assert_int_equal(c.pending, 2);
    spool_batch_t *b = spool_batch_next(sp, NULL);
    assert_non_null(b);
    assert_int_equal(b->seq, 2);
    uint64_t stream = spool_stream(sp);
    spool_close(&sp);

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(statefile_read(f->dead, BIG, &buf, &len, &err), 0);
    spool_record_t rec;
    size_t used = 0;
    assert_int_equal(spool_record_decode(buf, len, DEADLETTER_MAX_PAYLOAD, &rec, &used),
                     SPOOL_RECORD_OK);
    assert_int_equal(used, len);
    assert_int_equal(rec.type, SPOOL_REC_DEAD);
    assert_int_equal(rec.seq, 1);
    char reason[64];
    const uint8_t *env_buf;
    size_t env_len;
    assert_int_equal(
        deadletter_parse(rec.payload, rec.len, reason, sizeof reason, &env_buf, &env_len), 0);
    assert_string_equal(reason, "test reason");
    Parallax__Envelope *env = wire_unpack(env_buf, env_len, PX_WIRE_MAX_TO_COORD, &err);
    assert_non_null(env);
    assert_int_equal(env->batch->stream, stream);
    assert_int_equal(env->batch->seq, 1);
    assert_int_equal(env->batch->n_results, 2);
    assert_int_equal(env->batch->results[1]->probe_id, 2);
    wire_free(&env);
    free(buf);

    /* Never resent after a restart either. */
    sp = open_spool(f, 2, BIG, 4 * BIG);
    b = spool_batch_next(sp, NULL);
    assert_non_null(b);
    assert_int_equal(b->seq, 2);
    spool_counters(sp, &c);
    assert_int_equal(c.rejected_batches, 1);
    spool_close(&sp);
}

/* The next fail_sync calls of fdatasync() fail with EIO: the test binary's definition takes
 * the place of libc's for the spool linked into it (as the kernel would after a lost write). */
static int fail_sync;

int fdatasync(int fd)
{
    if (fail_sync > 0) {
        fail_sync--;
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

static void test_failed_sync_starts_a_new_stream(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 2, BIG, 4 * BIG);
    uint64_t s1 = spool_stream(sp);
    add(sp, 1, TS0 + 1);
    add(sp, 2, TS0 + 2); /* batch 1 sealed, synced */
    add(sp, 3, TS0 + 3);
    fail_sync = 2; /* batch 2's sync, and the new segment's: the disk is still failing */
    err_t err = {{0}};
    assert_int_equal(spool_seal(sp, &err), -1);
    assert_int_equal(fail_sync, 0);
    assert_non_null(strstr(err.msg, "sync"));
    /* Batch 2 keeps its name (it may be sent and stored); what follows is named anew. */
    assert_int_equal(spool_batch_stream(sp, 1), s1);
    assert_int_equal(spool_batch_stream(sp, 2), s1);
    /* The new segment could not be made yet; the next result makes it first. */
    assert_int_equal(spool_stream(sp), s1);
    add(sp, 4, TS0 + 4);
    uint64_t s2 = spool_stream(sp);
    assert_int_not_equal(s2, s1);
    add(sp, 5, TS0 + 5);
    assert_int_equal(spool_batch_stream(sp, 3), s2);
    spool_close(&sp);
    /* And so it stays after a restart. */
    sp = open_spool(f, 2, BIG, 4 * BIG);
    assert_int_equal(spool_batch_stream(sp, 2), s1);
    assert_int_equal(spool_batch_stream(sp, 3), s2);
    Parallax__Envelope *env = load(sp, 3);
    assert_int_equal(env->batch->results[0]->probe_id, 4);
    wire_free(&env);
    spool_close(&sp);
}

/* Files in dir. */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_unreadable_segment_set_aside(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 2, BIG, 4 * BIG);
    for (uint64_t i = 1; i <= 6; i++)
        add(sp, i, TS0 + (int64_t)i);
    ack(sp, 1, PARALLAX__ACK_CODE__ACK_STORED);
    spool_close(&sp);
    char first[256];
    newest_segment(f, first, sizeof first);
    sp = open_spool(f, 2, BIG, 4 * BIG);
    add(sp, 7, TS0 + 7);
    add(sp, 8, TS0 + 8);
    spool_close(&sp);
    /* The first segment (batches 2 and 3) turns to garbage; a "segment" that cannot even be
     * read (a directory: EISDIR, as an I/O error or a permission would fail the read) sits
     * after the last one. */
    uint8_t junk[3000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    write_file(first, junk, sizeof junk);
    char unreadable[256], damaged[192];
    snprintf(unreadable, sizeof unreadable, "%s/00000000000000aa.seg", f->spool);
    assert_int_equal(mkdir(unreadable, 0700), 0);
    snprintf(damaged, sizeof damaged, "%s/damaged", f->spool);

    sp = open_spool(f, 2, BIG, 4 * BIG);
    assert_int_equal(count_entries(damaged), 2);
    struct stat st;
    assert_int_equal(stat(first, &st), -1);
    assert_int_equal(stat(unreadable, &st), -1);
    /* Batch 4 (probes 7, 8) is still there; each damaged segment is a probe-0 gap: the
     * first ends where the next data begins, the second begins where the last data ends. */
    uint64_t seqs[8];
    size_t n = 0;
    for (spool_batch_t *b = spool_batch_next(sp, NULL); b && n < 8; b = spool_batch_next(sp, b))
        seqs[n++] = b->seq;
    assert_int_equal(n, 2);
    Parallax__Envelope *env = load(sp, seqs[0]);
    assert_int_equal(env->batch->n_results, 2);
    assert_int_equal(env->batch->results[0]->probe_id, 7);
    wire_free(&env);
    env = load(sp, seqs[1]);
    assert_int_equal(env->batch->n_results, 0);
    assert_int_equal(env->batch->n_gaps, 2);
    const Parallax__Gap *g0 = env->batch->gaps[0], *g1 = env->batch->gaps[1];
    assert_int_equal(g0->probe_id, 0);
    assert_int_equal(g0->reason, PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED);
    assert_int_equal(g0->to_us, TS0 + 7);
    assert_true(g0->from_us < g0->to_us);
    assert_int_equal(g1->from_us, TS0 + 8);
    assert_true(g1->to_us > g1->from_us);
    assert_int_equal(env->batch->stream, spool_stream(sp));
    wire_free(&env);
    spool_close(&sp);
    /* What is kept aside is bounded. */
    for (int i = 0; i < 6; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%016x.seg", f->spool, 0x1000 + i);
        write_file(path, junk, sizeof junk);
        sp = open_spool(f, 2, BIG, 4 * BIG);
        spool_close(&sp);
    }
    assert_int_equal(count_entries(damaged), 4);
}

/* Records in a dead-letter file (0 if it is missing). */
static uint64_t dead_records(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    err_t err = {{0}};
    int rc = statefile_read(path, BIG, &buf, &len, &err);
    assert_true(rc >= 0);
    uint64_t n = rc == 0 ? deadletter_count(buf, len) : 0;
    free(buf);
    return n;
}

static void test_deadletter_bounded(void **state)
{
    fixture_t *f = *state;
    const uint64_t max = 64 * 1024;
    uint8_t env[3000];
    memset(env, 0xab, sizeof env);
    char old[192];
    snprintf(old, sizeof old, "%s.1", f->dead);
    uint64_t total = 0, dropped_sum = 0;
    for (uint64_t seq = 1; seq <= 200; seq++) {
        uint64_t dropped = 99;
        err_t err = {{0}};
        assert_int_equal(
            deadletter_append_max(f->dead, max, seq, "too old", env, sizeof env, &dropped, &err),
            0);
        total++;
        dropped_sum += dropped;
        struct stat a, b;
        assert_int_equal(stat(f->dead, &a), 0);
        uint64_t both = (uint64_t)a.st_size + (stat(old, &b) == 0 ? (uint64_t)b.st_size : 0);
        assert_true(both <= max);
        /* Nothing goes unaccounted: kept in either file, or dropped and counted. */
        assert_int_equal(dead_records(f->dead) + dead_records(old) + dropped_sum, total);
    }
    assert_true(dropped_sum > 100);
    /* The newest record is the last of the current file, readable as ever. */
    uint8_t *buf = NULL;
    size_t len = 0;
    err_t err = {{0}};
    assert_int_equal(statefile_read(f->dead, BIG, &buf, &len, &err), 0);
    size_t off = 0;
    spool_record_t rec = {0};
    while (off < len) {
        size_t used;
        assert_int_equal(
            spool_record_decode(buf + off, len - off, DEADLETTER_MAX_PAYLOAD, &rec, &used),
            SPOOL_RECORD_OK);
        off += used;
    }
    assert_int_equal(rec.seq, 200);
    free(buf);
    /* The spool's own bound follows its size, within limits. */
    assert_int_equal(spool_deadletter_bound(1 << 20), 4 << 20);
    assert_int_equal(spool_deadletter_bound(64ULL << 20), 16 << 20);
    assert_int_equal(spool_deadletter_bound(64ULL << 30), 256 << 20);
}

static void test_invalid_result_refused(void **state)
{
    fixture_t *f = *state;
    spool_t *sp = open_spool(f, 2, BIG, 4 * BIG);
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = 1;
    r.ts_us = 5; /* 1970: a broken clock */
    r.status = PARALLAX__STATUS__STATUS_OK;
    err_t err = {{0}};
    assert_int_equal(spool_add_result(sp, &r, &err), -1);
    assert_non_null(strstr(err.msg, "timestamp"));
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_int_equal(c.produced, 1);
    assert_int_equal(c.invalid, 1);
    assert_int_equal(c.dropped, 1);
    assert_int_equal(c.pending, 0);
    spool_close(&sp);
}

static void test_bad_settings(void **state)
{
    fixture_t *f = *state;
    spool_config_t cfg = {.dir = f->spool,
                          .deadletter = f->dead,
                          .max_bytes = 4096,
                          .segment_bytes = 4096,
                          .batch_max = 10};
    err_t err = {{0}};
    assert_null(spool_open(&cfg, &err));
    assert_non_null(strstr(err.msg, "invalid"));
    cfg.dir = "/dev/null/spool";
    cfg.max_bytes = BIG;
    assert_null(spool_open(&cfg, &err));
    assert_non_null(strstr(err.msg, "/dev/null/spool"));
}

static int add_skip(spool_t *sp, uint64_t probe_id, int64_t from, int64_t to, uint64_t count)
{
    Parallax__Gap g = PARALLAX__GAP__INIT;
    g.probe_id = probe_id;
    g.from_us = from;
    g.to_us = to;
    g.count = count;
    g.reason = PARALLAX__GAP_REASON__GAP_RUN_SKIPPED;
    err_t err = {{0}};
    int rc = spool_add_gap(sp, &g, &err);
    if (rc < 0)
        fail_msg("spool_add_gap: %s", err.msg);
    return rc;
}

/* Sums the counts of the unacked gaps by reason: [0] spool drops, [1] skipped runs. */
static void gaps_by_reason(spool_t *sp, uint64_t sums[2], uint64_t probe, uint64_t *of_probe)
{
    sums[0] = sums[1] = 0;
    *of_probe = 0;
    for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b)) {
        Parallax__Envelope *env = load(sp, b->seq);
        assert_true(env->batch->n_gaps <= PX_WIRE_MAX_GAPS);
        for (size_t g = 0; g < env->batch->n_gaps; g++) {
            const Parallax__Gap *gp = env->batch->gaps[g];
            assert_true(gp->reason <= PARALLAX__GAP_REASON__GAP_RUN_SKIPPED);
            sums[gp->reason] += gp->count;
            if (gp->probe_id == probe && gp->reason == PARALLAX__GAP_REASON__GAP_RUN_SKIPPED)
                *of_probe += gp->count;
        }
        wire_free(&env);
    }
}

static void test_added_gaps(void **state)
{
    fixture_t *f = *state;
    const uint64_t seg = 2048, max = 8192;
    spool_t *sp = open_spool(f, 5, seg, max);
    Parallax__Gap bad = PARALLAX__GAP__INIT;
    bad.probe_id = 7;
    bad.from_us = bad.to_us = TS0;
    bad.count = 1;
    err_t err = {{0}};
    /* Spool drops are the spool's own; an invalid gap would poison its batch. */
    assert_int_equal(spool_add_gap(sp, &bad, &err), -1);
    bad.reason = PARALLAX__GAP_REASON__GAP_RUN_SKIPPED;
    bad.to_us = TS0 - 1;
    assert_int_equal(spool_add_gap(sp, &bad, &err), -1);
    assert_non_null(strstr(err.msg, "implausible time range"));

    /* A gap of three skipped runs travels in the batch with a result. */
    assert_int_equal(add_skip(sp, 7, TS0, TS0 + 2000000, 3), 0);
    add(sp, 1, TS0 + 3000000);
    seal(sp);
    spool_counters_t c;
    spool_counters(sp, &c);
    assert_int_equal(c.produced, 1);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(c.gaps, 0);
    Parallax__Envelope *env = load(sp, 1);
    assert_int_equal(env->batch->n_results, 1);
    assert_int_equal(env->batch->n_gaps, 1);
    assert_int_equal(env->batch->gaps[0]->reason, PARALLAX__GAP_REASON__GAP_RUN_SKIPPED);
    assert_int_equal(env->batch->gaps[0]->count, 3);
    assert_int_equal(env->batch->gaps[0]->probe_id, 7);
    wire_free(&env);
    spool_close(&sp);

    /* Reopened: still not counted as lost, still in its batch. */
    sp = open_spool(f, 5, seg, max);
    spool_counters(sp, &c);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(c.gaps, 0);
    uint64_t sums[2], of7;
    gaps_by_reason(sp, sums, 7, &of7);
    assert_int_equal(sums[1], 3);
    assert_int_equal(of7, 3);

    /* More than a batch holds: sealed at PX_WIRE_MAX_GAPS, none lost. */
    int sealed = 0;
    for (int i = 0; i < PX_WIRE_MAX_GAPS + 6; i++)
        sealed += add_skip(sp, 8, TS0 + 10000000 + i, TS0 + 10000000 + i, 1);
    assert_int_equal(sealed, 1);
    seal(sp);
    gaps_by_reason(sp, sums, 7, &of7);
    assert_int_equal(sums[1], 3 + PX_WIRE_MAX_GAPS + 6);

    /* A full spool drops the oldest segment: its skipped runs are carried as skipped runs,
     * its results become spool drops, and each kind adds up. */
    for (uint64_t i = 0; i < 600; i++)
        add(sp, 1 + i % 3, TS0 + 20000000 + (int64_t)i * 1000);
    seal(sp);
    spool_counters(sp, &c);
    assert_true(c.dropped > 0);
    /* Batch 1, with probe 7's gap, went with the first segment dropped. */
    assert_true(spool_batch_next(sp, NULL)->seq > 1);
    gaps_by_reason(sp, sums, 7, &of7);
    assert_int_equal(sums[0], c.dropped);
    assert_int_equal(sums[1], 3 + PX_WIRE_MAX_GAPS + 6);
    assert_int_equal(of7, 3);
    spool_close(&sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_record_framing),
        cmocka_unit_test(test_gap_summing),
        cmocka_unit_test_setup_teardown(test_append_and_replay_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acks_delete_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_stream_and_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_record_at_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_drops_oldest_into_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_keeps_batches_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_goes_to_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadletter_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_segment_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_starts_a_new_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_result_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_added_gaps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
