/* fuzz_spool_index: fuzz target for the spool's replay index, what spool_open() makes of
 * the segment files to find the unacknowledged batches, run in memory by spool_index(). The
 * input is split at each "\xffSEG" into segments numbered 1, 2, ...; unless its last byte is
 * odd, the CRCs of whatever is framed like a record are fixed up first (spool_fixup.h), so
 * the fuzzer reaches the replay's logic. Checked beyond "no crash": the batches offered add
 * up to the pending counters, in rising seq, each named by a stream from a segment header or
 * by the new one, as spool_batch_stream() says; and damage is skipped, never misread: the
 * same segments rebuilt from their intact records alone give the same index. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"
#include "spool_fixup.h"
#include "spool_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGS 8
#define NEW_STREAM 0x5eed5eedULL
#define MAX_BATCHES 4096

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_spool_index: %s\n", what);
    abort();
}

typedef struct view {
    spool_counters_t c;
    size_t n;
    uint64_t stream[MAX_BATCHES], seq[MAX_BATCHES];
    uint32_t results[MAX_BATCHES], gaps[MAX_BATCHES];
} view_t;

/* Is stream named by an intact HEADER record in the images? */
static int header_stream(const spool_image_t *img, size_t n, uint64_t stream)
{
    for (size_t i = 0; i < n; i++) {
        size_t off = 0;
        while (off < img[i].len) {
            spool_record_t rec;
            size_t used;
            if (spool_record_decode(img[i].buf + off, img[i].len - off, SPOOL_RECORD_MAX_PAYLOAD,
                                    &rec, &used) != SPOOL_RECORD_OK) {
                off =
                    spool_record_resync(img[i].buf, img[i].len, off + 1, SPOOL_RECORD_MAX_PAYLOAD);
                continue;
            }
            if (rec.type == SPOOL_REC_HEADER && rec.len >= 20 &&
                spool_record_get64(rec.payload + 4) == stream)
                return 1;
            off += used;
        }
    }
    return 0;
}

/* Indexes the images and checks what any index must hold; fills *v. */
static void index_view(const spool_image_t *img, size_t n, view_t *v)
{
    err_t err = {{0}};
    spool_t *sp = spool_index(img, n, NEW_STREAM, &err);
    if (!sp)
        fuzz_fail(err.msg);
    memset(v, 0, sizeof *v);
    spool_counters(sp, &v->c);
    uint64_t pending = 0, prev = 0;
    for (spool_batch_t *b = spool_batch_next(sp, NULL); b; b = spool_batch_next(sp, b)) {
        if (b->seq <= prev || b->seq == 0)
            fuzz_fail("batches not in rising seq order");
        prev = b->seq;
        if (b->stream == 0 || b->stream > INT64_MAX)
            fuzz_fail("batch without a usable stream");
        if (b->stream != NEW_STREAM && !header_stream(img, n, b->stream))
            fuzz_fail("batch stream named by no segment header");
        if (spool_batch_stream(sp, b->seq) != b->stream)
            fuzz_fail("spool_batch_stream disagrees with the batch");
        if (b->results + b->gaps == 0)
            fuzz_fail("empty batch offered");
        pending += b->results;
        if (v->n < MAX_BATCHES) {
            v->stream[v->n] = b->stream;
            v->seq[v->n] = b->seq;
            v->results[v->n] = b->results;
            v->gaps[v->n] = b->gaps;
            v->n++;
        }
    }
    if (pending != v->c.pending)
        fuzz_fail("batches offered do not add up to pending");
    if (spool_stream(sp) != NEW_STREAM)
        fuzz_fail("new batches not under the new stream");
    spool_close(&sp);
}

/* The intact records of src, back to back, into dst (as large as src). Returns the length. */
static size_t intact_only(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t off = 0, out = 0;
    while (off < len) {
        spool_record_t rec;
        size_t used;
        if (spool_record_decode(src + off, len - off, SPOOL_RECORD_MAX_PAYLOAD, &rec, &used) !=
            SPOOL_RECORD_OK) {
            off = spool_record_resync(src, len, off + 1, SPOOL_RECORD_MAX_PAYLOAD);
            continue;
        }
        memcpy(dst + out, src + off, used);
        out += used;
        off += used;
    }
    return out;
}

static void same_view(const view_t *a, const view_t *b)
{
    const spool_counters_t *x = &a->c, *y = &b->c;
    if (x->produced != y->produced || x->spooled != y->spooled || x->acked != y->acked ||
        x->dropped != y->dropped || x->gaps != y->gaps ||
        x->rejected_batches != y->rejected_batches || x->rejected_results != y->rejected_results ||
        x->pending != y->pending || x->batches != y->batches || x->segments != y->segments ||
        a->n != b->n)
        fuzz_fail("intact records alone give another index (counters)");
    for (size_t i = 0; i < a->n; i++)
        if (a->stream[i] != b->stream[i] || a->seq[i] != b->seq[i] ||
            a->results[i] != b->results[i] || a->gaps[i] != b->gaps[i])
            fuzz_fail("intact records alone give another index (batches)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    uint8_t *clean = malloc(size ? size : 1);
    if (!buf || !clean) {
        free(buf);
        free(clean);
        return 0;
    }
    memcpy(buf, data, size);
    spool_image_t img[MAX_SEGS], cimg[MAX_SEGS];
    size_t n = 0, start = 0;
    for (size_t i = 0; i + 4 <= size && n + 1 < MAX_SEGS; i++) {
        if (memcmp(buf + i, "\xffSEG", 4) == 0) {
            img[n] = (spool_image_t){.number = n + 1, .buf = buf + start, .len = i - start};
            n++;
            start = i + 4;
            i += 3;
        }
    }
    img[n] = (spool_image_t){.number = n + 1, .buf = buf + start, .len = size - start};
    n++;
    if (!(size > 0 && (data[size - 1] & 1)))
        for (size_t i = 0; i < n; i++)
            spool_fixup_crcs((uint8_t *)img[i].buf, img[i].len);
    static view_t v1, v2;
    index_view(img, n, &v1);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = intact_only(img[i].buf, img[i].len, clean + off);
        cimg[i] = (spool_image_t){.number = img[i].number, .buf = clean + off, .len = len};
        off += len;
    }
    index_view(cimg, n, &v2);
    same_view(&v1, &v2);
    free(buf);
    free(clean);
    return 0;
}
