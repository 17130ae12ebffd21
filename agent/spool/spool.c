/* spool: segment files DIR/<16 hex digits>.seg hold spool records (spool_record.h). Each
 * starts with a HEADER (stream, next seq, lifetime counters); then RESULT and GAP records
 * tagged with their batch's seq, ACK records for batches answered for good, DROP records for
 * segments given up. A batch is simply every RESULT/GAP record with its seq, all in one
 * segment (segments change only between batches). In memory the spool keeps one small
 * entry per unanswered batch; the results themselves are read back from disk to be sent. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deadletter.h"
#include "log.h"
#include "spool_gap.h"
#include "spool_record.h"
#include "statefile.h"
#include "timeutil.h"
#include "wire.h"

#define SPOOL_FORMAT_VERSION 1
/* HEADER payload: version (4), stream (8), next seq (8), then the lifetime counters. */
#define SPOOL_HEADER_COUNTERS 7
#define SPOOL_HEADER_PAYLOAD (20 + 8 * SPOOL_HEADER_COUNTERS)
/* A segment bigger than this is not one of ours. */
#define SPOOL_SEGMENT_READ_MAX ((size_t)1 << 30)
/* Per-result overhead in a packed envelope (tag and length), and the envelope's own. */
#define SPOOL_ITEM_OVERHEAD 6
#define SPOOL_ENVELOPE_OVERHEAD 64

/* Where a GAP record's results went (its flags byte). Only DROPPED and UNSPOOLED count as
 * lost by the spool (dropped, gaps); the others were counted where they arose. */
typedef enum gap_origin {
    GAP_CARRIED = 0,   /* a gap from a dropped batch, sent again: nothing new was lost */
    GAP_DROPPED = 1,   /* spooled results dropped (spool full, unreadable) */
    GAP_UNSPOOLED = 2, /* results that could not be written to the spool at all */
    GAP_ADDED = 3,     /* handed in by spool_add_gap(): runs that never produced results */
} gap_origin_t;

typedef struct seg {
    uint64_t number;
    uint64_t stream; /* of every batch in it (its HEADER) */
    uint64_t bytes;
    uint64_t undone; /* batches in it not yet answered or dropped */
} seg_t;

/* The public part comes first: spool_batch_next() hands out pointers to it. */
typedef struct batch {
    spool_batch_t pub;
    uint64_t segment;
    uint64_t first_off; /* byte range of its records; ACK records may lie in between */
    uint64_t end_off;
    int64_t min_ts;
    int64_t max_ts;
    int done;
} batch_t;

struct spool {
    char dir[PATH_MAX];
    char deadletter[PATH_MAX];
    spool_config_t cfg;
    uint64_t stream; /* of new batches: the active segment's */
    uint64_t next_seq;
    int restream; /* a sync failed: new batches go to a new segment under a new stream */
    seg_t *segs;  /* by number; the last is the active one, appended to */
    size_t nsegs;
    size_t segcap;
    int fd;     /* the active segment */
    batch_t *q; /* sealed batches by seq; [qhead, qend) are live */
    size_t qhead;
    size_t qend;
    size_t qcap;
    batch_t open; /* the open batch (pub.seq == next_seq) */
    size_t open_bytes;
    spool_gap_t *unspooled; /* results lost before they reached the disk, not yet in a gap */
    spool_counters_t c;
    int write_errno;     /* errno of the last failed append */
    int in_memory;       /* made by spool_index(): no files behind it */
    uint8_t *scratch[2]; /* record and payload buffers, reused */
    size_t scratch_cap[2];
};

uint64_t spool_deadletter_bound(uint64_t max_bytes)
{
    const uint64_t lo = 4ULL << 20, hi = 256ULL << 20;
    uint64_t v = max_bytes / 4;
    return v < lo ? lo : v > hi ? hi : v;
}

uint64_t spool_random_stream(err_t *err)
{
    uint64_t v = 0;
    for (int tries = 0; tries < 8; tries++) {
        if (getrandom(&v, sizeof v, 0) != sizeof v) {
            err_set(err, "getrandom failed");
            return 0;
        }
        v &= 0x7fffffffffffffffULL;
        if (v)
            return v;
    }
    err_set(err, "getrandom returned zeros");
    return 0;
}

/* A stream id for new batches: want if it is usable and no segment holds it, else a random
 * one none holds. Returns 0 (err set) if there is none. */
static uint64_t new_stream(const spool_t *sp, uint64_t want, err_t *err)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t v = tries == 0 && want ? want : spool_random_stream(err);
        int used = v == 0 || v > INT64_MAX;
        for (size_t i = 0; i < sp->nsegs && !used; i++)
            used = sp->segs[i].stream == v;
        for (size_t i = sp->qhead; i < sp->qend && !used; i++)
            used = sp->q[i].pub.stream == v;
        if (!used)
            return v;
        if (v == 0)
            return 0;
    }
    err_set(err, "no unused stream id found");
    return 0;
}

/* Room a segment's file name takes after the directory: "/" + 16 hex digits + ".seg". */
#define SEG_NAME_LEN 21

static void seg_path(const spool_t *sp, uint64_t number, char *buf, size_t len)
{
    /* spool_open() refuses directories too long for this to be cut short; an empty name
     * (never a wrong one) would be the result if it ever were. */
    int n = snprintf(buf, len, "%s/%016" PRIx64 ".seg", sp->dir, number);
    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
}

static uint8_t *scratch(spool_t *sp, int which, size_t len)
{
    if (sp->scratch_cap[which] < len) {
        size_t cap = len < 4096 ? 4096 : len;
        uint8_t *p = realloc(sp->scratch[which], cap);
        if (!p)
            return NULL;
        sp->scratch[which] = p;
        sp->scratch_cap[which] = cap;
    }
    return sp->scratch[which];
}

static seg_t *active(spool_t *sp)
{
    return &sp->segs[sp->nsegs - 1];
}

static seg_t *find_seg(spool_t *sp, uint64_t number)
{
    for (size_t i = 0; i < sp->nsegs; i++)
        if (sp->segs[i].number == number)
            return &sp->segs[i];
    return NULL;
}

static batch_t *find_batch(const spool_t *sp, uint64_t seq)
{
    size_t lo = sp->qhead, hi = sp->qend;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp->q[mid].pub.seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sp->qend && sp->q[lo].pub.seq == seq ? &sp->q[lo] : NULL;
}

/* Forgets answered batches at the front; compacts now and then so memory follows the live
 * entries. */
static void pop_done(spool_t *sp)
{
    while (sp->qhead < sp->qend && sp->q[sp->qhead].done)
        sp->qhead++;
    if (sp->qhead > 64 && sp->qhead * 2 > sp->qend) {
        memmove(sp->q, sp->q + sp->qhead, (sp->qend - sp->qhead) * sizeof *sp->q);
        sp->qend -= sp->qhead;
        sp->qhead = 0;
    }
}

static batch_t *push_batch(spool_t *sp)
{
    if (sp->qend == sp->qcap) {
        size_t cap = sp->qcap ? sp->qcap * 2 : 64;
        batch_t *q = realloc(sp->q, cap * sizeof *q);
        if (!q)
            return NULL;
        sp->q = q;
        sp->qcap = cap;
    }
    batch_t *b = &sp->q[sp->qend++];
    memset(b, 0, sizeof *b);
    return b;
}

/* Appends one record to the active segment. On failure the segment is cut back to where it
 * was, so a half-written record never sits in the middle of the log. */
static int append(spool_t *sp, uint8_t type, uint8_t flags, uint64_t seq, const void *payload,
                  size_t len, uint64_t *off, err_t *err)
{
    size_t size = spool_record_size(len);
    uint8_t *rec = scratch(sp, 0, size);
    if (!rec) {
        err_set(err, "out of memory");
        return -1;
    }
    spool_record_encode(rec, type, flags, seq, payload, len);
    seg_t *s = active(sp);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(sp->fd, rec + done, size - done, (off_t)(s->bytes + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sp->write_errno = n < 0 ? errno : ENOSPC;
            char path[PATH_MAX];
            seg_path(sp, s->number, path, sizeof path);
            err_set(err, "cannot write to %s: %s", path, n < 0 ? strerror(errno) : "no space");
            /* Best effort: if even this fails, the reader skips the torn record. */
            if (ftruncate(sp->fd, (off_t)s->bytes) < 0)
                log_warn("spool: cannot cut %s back after a failed write: %s", path,
                         strerror(errno));
            return -1;
        }
        done += (size_t)n;
    }
    if (off)
        *off = s->bytes;
    s->bytes += size;
    sp->c.bytes += size;
    return 0;
}

static void open_note(spool_t *sp, uint64_t off, size_t rec_len, int64_t from, int64_t to)
{
    batch_t *o = &sp->open;
    if (o->pub.results == 0 && o->pub.gaps == 0) {
        o->first_off = off;
        o->min_ts = from;
        o->max_ts = to;
    }
    if (from < o->min_ts)
        o->min_ts = from;
    if (to > o->max_ts)
        o->max_ts = to;
    o->end_off = off + spool_record_size(rec_len);
    sp->open_bytes += rec_len + SPOOL_ITEM_OVERHEAD;
}

/* Makes the open batch a sealed one, durable first. No rotation: see after_seal(). */
static int seal_open(spool_t *sp, err_t *err)
{
    batch_t *o = &sp->open;
    if (o->pub.results == 0 && o->pub.gaps == 0)
        return 0;
    int rc = 1;
    if (fdatasync(sp->fd) < 0) {
        /* The kernel may have thrown the unwritten pages away: what the segment holds is
         * unknown, so nothing new is named in its stream any more (after_seal). */
        err_set(err, "cannot sync the spool: %s", strerror(errno));
        sp->restream = 1;
        rc = -1;
    }
    batch_t *b = push_batch(sp);
    if (!b) {
        /* The records are on disk: the next open finds the batch again. Until then its seq
         * is retired so nothing else is ever sent under it. */
        err_set(err, "out of memory sealing batch %" PRIu64, o->pub.seq);
        rc = -1;
    } else {
        *b = *o;
        b->segment = active(sp)->number;
        b->pub.stream = active(sp)->stream;
        memset(&b->pub.delivery, 0, sizeof b->pub.delivery);
        active(sp)->undone++;
        sp->c.batches++;
    }
    sp->next_seq++;
    memset(o, 0, sizeof *o);
    o->pub.seq = sp->next_seq;
    sp->open_bytes = SPOOL_ENVELOPE_OVERHEAD;
    return rc;
}

static void restream_if_due(spool_t *sp);

static int append_gap(spool_t *sp, const Parallax__Gap *g, gap_origin_t origin, err_t *err)
{
    size_t len = parallax__gap__get_packed_size(g);
    if (sp->open.pub.gaps >= PX_WIRE_MAX_GAPS ||
        sp->open_bytes + len + SPOOL_ITEM_OVERHEAD > SPOOL_BATCH_MAX_BYTES)
        (void)seal_open(sp, err); /* a sync failure is reported by the next seal */
    restream_if_due(sp);
    uint8_t *p = scratch(sp, 1, len);
    if (!p) {
        err_set(err, "out of memory");
        return -1;
    }
    parallax__gap__pack(g, p);
    uint64_t off;
    if (append(sp, SPOOL_REC_GAP, (uint8_t)origin, sp->open.pub.seq, p, len, &off, err) < 0)
        return -1;
    open_note(sp, off, len, g->from_us, g->to_us);
    sp->open.pub.gaps++;
    if (origin == GAP_DROPPED || origin == GAP_UNSPOOLED)
        sp->c.gaps++;
    return 0;
}

/* Writes every gap the accumulator holds, with reason. What cannot be written goes back
 * into it. */
static int write_gaps(spool_t *sp, spool_gap_t *acc, gap_origin_t origin,
                      Parallax__GapReason reason, err_t *err)
{
    Parallax__Gap gaps[SPOOL_GAP_MAX_PROBES];
    size_t n = spool_gap_take(acc, gaps, SPOOL_GAP_MAX_PROBES);
    for (size_t i = 0; i < n; i++)
        gaps[i].reason = reason;
    for (size_t i = 0; i < n; i++) {
        if (append_gap(sp, &gaps[i], origin, err) < 0) {
            for (; i < n; i++)
                (void)spool_gap_add(acc, gaps[i].probe_id, gaps[i].from_us, gaps[i].to_us,
                                    gaps[i].count);
            return -1;
        }
    }
    return 0;
}

/* Reads batch b's records back: its results and gaps, unpacked (caller frees with
 * free_items()). Damaged records are skipped and counted. Returns 0, or -1 if the segment
 * cannot be read. */
typedef struct items {
    Parallax__Result **results;
    size_t nresults;
    Parallax__Gap **gaps;
    size_t ngaps;
} items_t;

static void free_items(items_t *it)
{
    for (size_t i = 0; i < it->nresults; i++)
        parallax__result__free_unpacked(it->results[i], NULL);
    for (size_t i = 0; i < it->ngaps; i++)
        parallax__gap__free_unpacked(it->gaps[i], NULL);
    free(it->results);
    free(it->gaps);
    memset(it, 0, sizeof *it);
}

static int read_items(spool_t *sp, const batch_t *b, items_t *it, err_t *err)
{
    memset(it, 0, sizeof *it);
    char path[PATH_MAX];
    seg_path(sp, b->segment, path, sizeof path);
    size_t len = (size_t)(b->end_off - b->first_off);
    uint8_t *buf = malloc(len ? len : 1);
    it->results = calloc(b->pub.results ? b->pub.results : 1, sizeof *it->results);
    it->gaps = calloc(b->pub.gaps ? b->pub.gaps : 1, sizeof *it->gaps);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!buf || !it->results || !it->gaps || fd < 0) {
        err_set(err, "cannot read %s: %s", path, fd < 0 ? strerror(errno) : "out of memory");
        goto fail;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(b->first_off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err_set(err, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "file too short");
            goto fail;
        }
        got += (size_t)n;
    }
    close(fd);
    fd = -1;
    size_t off = 0;
    while (off < len) {
        spool_record_t rec;
        size_t used;
        if (spool_record_decode(buf + off, len - off, SPOOL_RECORD_MAX_PAYLOAD, &rec, &used) !=
            SPOOL_RECORD_OK) {
            /* Damage found at open was logged and counted then; the batch's index already
             * leaves it out, so it is passed over quietly here. */
            size_t next = spool_record_resync(buf, len, off + 1, SPOOL_RECORD_MAX_PAYLOAD);
            log_debug("spool: %s: damaged record at byte %" PRIu64 " of batch %" PRIu64
                      " skipped (%zu bytes)",
                      path, b->first_off + off, b->pub.seq, next - off);
            off = next;
            continue;
        }
        off += used;
        if (rec.seq != b->pub.seq)
            continue;
        if (rec.type == SPOOL_REC_RESULT && it->nresults < b->pub.results) {
            Parallax__Result *r = parallax__result__unpack(NULL, rec.len, rec.payload);
            if (r)
                it->results[it->nresults++] = r;
            else
                sp->c.corrupt++;
        } else if (rec.type == SPOOL_REC_GAP && it->ngaps < b->pub.gaps) {
            Parallax__Gap *g = parallax__gap__unpack(NULL, rec.len, rec.payload);
            if (g)
                it->gaps[it->ngaps++] = g;
            else
                sp->c.corrupt++;
        }
    }
    free(buf);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    free_items(it);
    return -1;
}

static void delete_segment(spool_t *sp, size_t i)
{
    char path[PATH_MAX];
    seg_path(sp, sp->segs[i].number, path, sizeof path);
    if (!sp->in_memory && unlink(path) < 0 && errno != ENOENT)
        log_warn("spool: cannot delete %s: %s", path, strerror(errno));
    sp->c.bytes -= sp->segs[i].bytes;
    sp->c.segments--;
    memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof *sp->segs);
    sp->nsegs--;
}

/* Deletes segment number if every batch in it is answered and it is not the active one. */
static void maybe_delete(spool_t *sp, uint64_t number)
{
    for (size_t i = 0; i + 1 < sp->nsegs; i++) {
        if (sp->segs[i].number == number) {
            if (sp->segs[i].undone == 0)
                delete_segment(sp, i);
            return;
        }
    }
}

static void finish_batch(spool_t *sp, batch_t *b)
{
    b->done = 1;
    sp->c.batches--;
    sp->c.pending -= b->pub.results;
    seg_t *s = find_seg(sp, b->segment);
    if (s && s->undone > 0)
        s->undone--;
}

/* Gives up batch b, which cannot be read: one probe-0 gap from what the index knows. */
static void lose_batch(spool_t *sp, batch_t *b)
{
    uint64_t seg = b->segment;
    uint32_t n = b->pub.results;
    int64_t from = b->min_ts, to = b->max_ts;
    finish_batch(sp, b);
    sp->c.dropped += n;
    if (n > 0) {
        Parallax__Gap g = PARALLAX__GAP__INIT;
        g.probe_id = 0;
        g.from_us = from;
        g.to_us = to;
        g.count = n;
        err_t err = {{0}};
        if (append_gap(sp, &g, GAP_DROPPED, &err) < 0)
            log_error("spool: gap for lost batch not recorded: %s", err.msg);
    }
    maybe_delete(sp, seg);
    pop_done(sp);
}

/* The segment to drop when the spool is full: the oldest one (not the active one) holding
 * no batch that was sent and not answered. Such a batch may already be stored: declaring
 * its results lost would count them twice, and its gap would hide them from the merge. So
 * while the coordinator is away the batches sent last stay, beyond the bound by at most the
 * send window. Returns its index, or -1 if there is none. */
static long droppable(const spool_t *sp)
{
    for (size_t i = 0; i + 1 < sp->nsegs; i++) {
        int sent = 0;
        /* The queue is in seq order, so a segment's batches come after the older ones'. */
        for (size_t k = sp->qhead; k < sp->qend && !sent; k++) {
            const batch_t *b = &sp->q[k];
            if (b->segment > sp->segs[i].number)
                break;
            sent = b->segment == sp->segs[i].number && !b->done && b->pub.delivery.tries > 0;
        }
        if (!sent)
            return (long)i;
    }
    return -1;
}

/* Drops segment i: what its unanswered batches held becomes gap records (their own gaps are
 * carried over, each keeping its reason), a DROP record says it is gone, and only then is
 * the file deleted, so a crash in between can neither lose the gaps nor send the results
 * twice. */
static int drop_segment(spool_t *sp, size_t i, err_t *err)
{
    seg_t s = sp->segs[i];
    spool_gap_t *lost = spool_gap_new();
    spool_gap_t *carried = spool_gap_new();
    spool_gap_t *skipped = spool_gap_new(); /* carried gaps of runs skipped */
    if (!lost || !carried || !skipped) {
        spool_gap_destroy(&lost);
        spool_gap_destroy(&carried);
        spool_gap_destroy(&skipped);
        err_set(err, "out of memory");
        return -1;
    }
    uint64_t results = 0, batches = 0;
    for (size_t k = sp->qhead; k < sp->qend; k++) {
        batch_t *b = &sp->q[k];
        if (b->done || b->segment != s.number)
            continue;
        items_t it;
        err_t rerr = {{0}};
        int ok = read_items(sp, b, &it, &rerr) == 0;
        if (!ok)
            log_warn("spool: %s; counting its batch %" PRIu64 " as one gap", rerr.msg, b->pub.seq);
        size_t accounted = 0;
        for (size_t r = 0; ok && r < it.nresults; r++) {
            const Parallax__Result *res = it.results[r];
            if (spool_gap_add(lost, res->probe_id, res->ts_us, res->ts_us, 1) == 0)
                accounted++;
        }
        for (size_t g = 0; ok && g < it.ngaps; g++)
            (void)spool_gap_add(
                it.gaps[g]->reason == PARALLAX__GAP_REASON__GAP_RUN_SKIPPED ? skipped : carried,
                it.gaps[g]->probe_id, it.gaps[g]->from_us, it.gaps[g]->to_us, it.gaps[g]->count);
        if (accounted < b->pub.results)
            (void)spool_gap_add(lost, 0, b->min_ts, b->max_ts, b->pub.results - accounted);
        if (ok)
            free_items(&it);
        results += b->pub.results;
        batches++;
        finish_batch(sp, b);
    }
    sp->c.dropped += results;
    int rc = 0;
    if (write_gaps(sp, lost, GAP_DROPPED, PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED, err) < 0 ||
        write_gaps(sp, carried, GAP_CARRIED, PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED, err) < 0 ||
        write_gaps(sp, skipped, GAP_CARRIED, PARALLAX__GAP_REASON__GAP_RUN_SKIPPED, err) < 0 ||
        append(sp, SPOOL_REC_DROP, 0, s.number, NULL, 0, NULL, err) < 0) {
        rc = -1;
    } else if (fdatasync(sp->fd) < 0) {
        err_set(err, "cannot sync the spool: %s", strerror(errno));
        sp->restream = 1;
        rc = -1;
    }
    spool_gap_destroy(&lost);
    spool_gap_destroy(&carried);
    spool_gap_destroy(&skipped);
    log_error("spool: FULL (over %" PRIu64 " bytes): dropped the oldest segment not being "
              "delivered, with %" PRIu64 " unacknowledged results in %" PRIu64 " batches; they "
              "are reported as gaps (%" PRIu64 " results dropped in all)",
              sp->cfg.max_bytes, results, batches, sp->c.dropped);
    if (rc < 0) {
        /* Without the DROP record safely on disk the segment must stay: after a restart its
         * results would otherwise be neither sent nor reported. */
        return -1;
    }
    delete_segment(sp, i);
    pop_done(sp);
    return 0;
}

/* Starts segment number, the new active one, whose batches are named in stream. */
static int create_segment(spool_t *sp, uint64_t number, uint64_t stream, err_t *err)
{
    if (sp->nsegs == sp->segcap) {
        size_t cap = sp->segcap ? sp->segcap * 2 : 16;
        seg_t *segs = realloc(sp->segs, cap * sizeof *segs);
        if (!segs) {
            err_set(err, "out of memory");
            return -1;
        }
        sp->segs = segs;
        sp->segcap = cap;
    }
    char path[PATH_MAX];
    seg_path(sp, number, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t payload[SPOOL_HEADER_PAYLOAD];
    spool_record_put32(payload, SPOOL_FORMAT_VERSION);
    spool_record_put64(payload + 4, stream);
    spool_record_put64(payload + 12, sp->next_seq);
    const uint64_t counters[SPOOL_HEADER_COUNTERS] = {
        sp->c.produced, sp->c.spooled,          sp->c.acked,           sp->c.dropped,
        sp->c.gaps,     sp->c.rejected_batches, sp->c.rejected_results};
    for (int i = 0; i < SPOOL_HEADER_COUNTERS; i++)
        spool_record_put64(payload + 20 + 8 * i, counters[i]);
    uint8_t rec[SPOOL_RECORD_HEADER + SPOOL_HEADER_PAYLOAD];
    spool_record_encode(rec, SPOOL_REC_HEADER, 0, number, payload, sizeof payload);
    if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec || fdatasync(fd) < 0 ||
        statefile_sync_dir(path, err) < 0) {
        if (!err || !err->msg[0])
            err_set(err, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = fd;
    sp->stream = stream;
    sp->segs[sp->nsegs++] =
        (seg_t){.number = number, .stream = stream, .bytes = sizeof rec, .undone = 0};
    sp->c.segments++;
    sp->c.bytes += sizeof rec;
    return 0;
}

/* After a seal: a new segment when the active one is full, then drops while over the bound.
 * The bound keeps room for the active segment to fill up. */
/* Starts a new segment, under a new stream if a sync failed. Returns 0 or -1 (err set). */
static int rotate(spool_t *sp, err_t *err)
{
    uint64_t old = active(sp)->number;
    uint64_t stream = sp->stream;
    if (sp->restream && !(stream = new_stream(sp, 0, err)))
        return -1;
    if (create_segment(sp, old + 1, stream, err) < 0)
        return -1;
    if (sp->restream)
        log_warn("spool: a sync failed; new results go under stream %" PRIu64, stream);
    sp->restream = 0;
    maybe_delete(sp, old);
    return 0;
}

static void restream_if_due(spool_t *sp)
{
    if (!sp->restream || spool_open_count(sp) > 0)
        return;
    err_t err = {{0}};
    if (rotate(sp, &err) < 0)
        log_warn("spool: %s; new results stay under stream %" PRIu64 " until a new segment "
                 "can be made",
                 err.msg, sp->stream);
}

static int after_seal(spool_t *sp, err_t *err)
{
    int rc = 0;
    if (active(sp)->bytes >= sp->cfg.segment_bytes || sp->restream)
        rc = rotate(sp, err);
    while (sp->c.bytes + sp->cfg.segment_bytes > sp->cfg.max_bytes) {
        long i = droppable(sp);
        if (i < 0)
            break;
        if (drop_segment(sp, (size_t)i, err) < 0)
            return -1;
    }
    return rc;
}

/* Writes gaps for results that never reached the disk, once it takes writes again. */
static void flush_unspooled(spool_t *sp)
{
    if (spool_gap_total(sp->unspooled) == 0)
        return;
    err_t err = {{0}};
    if (write_gaps(sp, sp->unspooled, GAP_UNSPOOLED, PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED,
                   &err) < 0)
        log_debug("spool: gaps still not written: %s", err.msg);
}

int spool_seal(spool_t *sp, err_t *err)
{
    flush_unspooled(sp);
    int rc = seal_open(sp, err);
    if (rc == 0)
        return 0;
    err_t aerr = {{0}};
    if (after_seal(sp, &aerr) < 0) {
        if (rc > 0)
            err_set(err, "%s", aerr.msg);
        return -1;
    }
    return rc;
}

int spool_add_result(spool_t *sp, const Parallax__Result *r, err_t *err)
{
    sp->c.produced++;
    if (wire_validate_result(r, err) < 0) {
        sp->c.invalid++;
        sp->c.dropped++;
        return -1;
    }
    flush_unspooled(sp);
    int sealed = 0;
    size_t len = parallax__result__get_packed_size(r);
    if (sp->open_bytes + len + SPOOL_ITEM_OVERHEAD > SPOOL_BATCH_MAX_BYTES) {
        err_t serr = {{0}};
        if (spool_seal(sp, &serr) < 0)
            log_error("spool: %s", serr.msg);
        sealed = 1;
    }
    restream_if_due(sp);
    uint8_t *p = scratch(sp, 1, len);
    uint64_t off = 0;
    int rc = -1;
    if (!p) {
        err_set(err, "out of memory");
    } else {
        parallax__result__pack(r, p);
        rc = append(sp, SPOOL_REC_RESULT, 0, sp->open.pub.seq, p, len, &off, err);
        /* A disk that fills up before max_bytes is reached is handled like a full spool:
         * the oldest segment makes room (its results become gaps), then one more try. */
        long i;
        if (rc < 0 && sp->write_errno == ENOSPC && (i = droppable(sp)) >= 0) {
            err_t derr = {{0}};
            if (drop_segment(sp, (size_t)i, &derr) < 0)
                log_error("spool: %s", derr.msg);
            else if ((p = scratch(sp, 1, len)) != NULL) {
                parallax__result__pack(r, p);
                rc = append(sp, SPOOL_REC_RESULT, 0, sp->open.pub.seq, p, len, &off, err);
            }
        }
    }
    if (rc < 0) {
        sp->c.dropped++;
        if (spool_gap_add(sp->unspooled, r->probe_id, r->ts_us, r->ts_us, 1) < 0)
            log_error("spool: a lost result of probe %" PRIu64 " could not even be counted in "
                      "a gap",
                      r->probe_id);
        return -1;
    }
    open_note(sp, off, len, r->ts_us, r->ts_us);
    sp->open.pub.results++;
    sp->c.spooled++;
    sp->c.pending++;
    if (sp->open.pub.results >= sp->cfg.batch_max) {
        err_t serr = {{0}};
        if (spool_seal(sp, &serr) < 0)
            log_error("spool: %s", serr.msg);
        sealed = 1;
    }
    return sealed;
}

int spool_add_gap(spool_t *sp, const Parallax__Gap *g, err_t *err)
{
    if (g->reason == PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED) {
        err_set(err, "a spool drop is not added from outside");
        return -1;
    }
    if (wire_validate_gap(g, err) < 0)
        return -1;
    flush_unspooled(sp);
    /* Sealed here if full, with the rotation and drops a seal may need (append_gap alone
     * would only seal). */
    int sealed = 0;
    size_t len = parallax__gap__get_packed_size(g);
    if (sp->open.pub.gaps >= PX_WIRE_MAX_GAPS ||
        sp->open_bytes + len + SPOOL_ITEM_OVERHEAD > SPOOL_BATCH_MAX_BYTES) {
        err_t serr = {{0}};
        if (spool_seal(sp, &serr) < 0)
            log_error("spool: %s", serr.msg);
        sealed = 1;
    }
    if (append_gap(sp, g, GAP_ADDED, err) < 0)
        return -1;
    return sealed;
}

spool_batch_t *spool_batch_next(spool_t *sp, const spool_batch_t *prev)
{
    size_t i = sp->qhead;
    if (prev)
        i = (size_t)((const batch_t *)prev - sp->q) + 1;
    for (; i < sp->qend; i++)
        if (!sp->q[i].done)
            return &sp->q[i].pub;
    return NULL;
}

/* Fills *rb and *env as batch b with the items read back (*it keeps owning them; env points
 * at rb). */
static void batch_envelope(const batch_t *b, const items_t *it, Parallax__ResultBatch *rb,
                           Parallax__Envelope *env)
{
    *rb = (Parallax__ResultBatch)PARALLAX__RESULT_BATCH__INIT;
    rb->stream = b->pub.stream;
    rb->seq = b->pub.seq;
    rb->n_results = it->nresults;
    rb->results = it->results;
    rb->n_gaps = it->ngaps;
    rb->gaps = it->gaps;
    *env = (Parallax__Envelope)PARALLAX__ENVELOPE__INIT;
    env->version = PX_PROTOCOL_VERSION;
    env->body_case = PARALLAX__ENVELOPE__BODY_BATCH;
    env->batch = rb;
}

int spool_batch_load(spool_t *sp, uint64_t seq, uint8_t **buf, size_t *len, err_t *err)
{
    batch_t *b = find_batch(sp, seq);
    if (!b || b->done) {
        err_set(err, "batch %" PRIu64 " is not waiting to be sent", seq);
        return -1;
    }
    items_t it;
    if (read_items(sp, b, &it, err) < 0) {
        err_prefix(err, "batch %" PRIu64 " given up", seq);
        lose_batch(sp, b);
        return -1;
    }
    if (it.nresults != b->pub.results || it.ngaps != b->pub.gaps)
        log_warn("spool: batch %" PRIu64 " lost %zu of its %u results and %zu of its %u gaps "
                 "to damage on disk",
                 seq, b->pub.results - it.nresults, b->pub.results, b->pub.gaps - it.ngaps,
                 b->pub.gaps);
    int rc = -1;
    if (it.nresults + it.ngaps > 0) {
        Parallax__ResultBatch rb;
        Parallax__Envelope env;
        batch_envelope(b, &it, &rb, &env);
        rc = wire_pack(&env, buf, len, err);
    } else {
        err_set(err, "nothing readable");
    }
    free_items(&it);
    if (rc < 0) {
        err_prefix(err, "batch %" PRIu64 " given up", seq);
        lose_batch(sp, b);
    }
    return rc;
}

int spool_ack(spool_t *sp, uint64_t seq, Parallax__AckCode code, const char *reason, err_t *err)
{
    if (code != PARALLAX__ACK_CODE__ACK_STORED && code != PARALLAX__ACK_CODE__ACK_REJECTED) {
        err_set(err, "ack code %d is not a final answer", (int)code);
        return -1;
    }
    batch_t *b = find_batch(sp, seq);
    if (!b || b->done)
        return 0;
    int rc = 0;
    if (code == PARALLAX__ACK_CODE__ACK_REJECTED) {
        /* The dead-letter copy is made before the batch is let go: it is the only one left. */
        uint8_t *env = NULL;
        size_t len = 0;
        items_t it;
        err_t derr = {{0}};
        if (read_items(sp, b, &it, &derr) == 0) {
            Parallax__ResultBatch rb;
            Parallax__Envelope e;
            batch_envelope(b, &it, &rb, &e);
            /* Packed without validation: the copy is kept whatever made the coordinator
             * refuse it. */
            len = parallax__envelope__get_packed_size(&e);
            env = malloc(len ? len : 1);
            if (env)
                parallax__envelope__pack(&e, env);
            free_items(&it);
        }
        uint64_t dl_max = sp->cfg.deadletter_max_bytes ? sp->cfg.deadletter_max_bytes
                                                       : spool_deadletter_bound(sp->cfg.max_bytes);
        uint64_t dl_dropped = 0;
        if (!env || deadletter_append_max(sp->deadletter, dl_max, seq, reason, env, len,
                                          &dl_dropped, &derr) < 0) {
            if (!derr.msg[0])
                err_set(&derr, "out of memory");
            err_set(err, "rejected batch %" PRIu64 " NOT kept in the dead-letter file: %s", seq,
                    derr.msg);
            rc = -1;
        }
        free(env);
        sp->c.rejected_batches++;
        sp->c.rejected_results += b->pub.results;
    } else {
        sp->c.acked += b->pub.results;
    }
    uint8_t payload[5];
    payload[0] = (uint8_t)code;
    spool_record_put32(payload + 1, b->pub.results);
    err_t aerr = {{0}};
    if (append(sp, SPOOL_REC_ACK, 0, seq, payload, sizeof payload, NULL, &aerr) < 0) {
        /* Without the record the batch is sent again after a restart; the coordinator then
         * answers it again, so nothing is lost or stored twice. */
        log_warn("spool: ack of batch %" PRIu64 " not recorded: %s", seq, aerr.msg);
    }
    uint64_t segnum = b->segment;
    finish_batch(sp, b);
    maybe_delete(sp, segnum);
    pop_done(sp);
    return rc;
}

void spool_counters(const spool_t *sp, spool_counters_t *out)
{
    *out = sp->c;
}

uint32_t spool_open_count(const spool_t *sp)
{
    return sp->open.pub.results + sp->open.pub.gaps;
}

uint64_t spool_stream(const spool_t *sp)
{
    return sp->stream;
}

uint64_t spool_batch_stream(const spool_t *sp, uint64_t seq)
{
    const batch_t *b = find_batch(sp, seq);
    return b && !b->done ? b->pub.stream : 0;
}

/* ---- opening: replay of the segments ---- */

typedef struct replay {
    uint64_t *drops; /* segment numbers named by DROP records */
    size_t ndrops;
    size_t dropcap;
    /* The stream of the segment being read: its HEADER's, or if that is damaged the one
     * before it (a stream only ever covers consecutive segments, and seq only rises, so its
     * names are still unused), or 0 if there is none (given the new stream at open). */
    uint64_t stream;
    int64_t last_ts;         /* the latest timestamp replayed so far; INT64_MIN: none */
    struct damaged *damaged; /* segments set aside */
    size_t ndamaged;
    size_t damcap;
} replay_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Adds one RESULT or GAP record of batch seq to the index. */
static void replay_item(spool_t *sp, uint64_t segnum, uint64_t stream, uint64_t seq, uint64_t off,
                        size_t used, int is_result, int64_t from, int64_t to)
{
    if (seq == 0 || seq > INT64_MAX) {
        /* Never written by a spool (seqs start at 1; the wire takes no more): damage that
         * happens to carry a valid CRC. */
        log_warn("spool: segment %016" PRIx64 ": record of batch %" PRIu64 " out of range; skipped",
                 segnum, seq);
        sp->c.corrupt++;
        return;
    }
    batch_t *last = sp->qend > sp->qhead ? &sp->q[sp->qend - 1] : NULL;
    if (!last || last->pub.seq != seq || last->segment != segnum) {
        if (last && seq <= last->pub.seq) {
            log_warn("spool: segment %016" PRIx64 ": record of batch %" PRIu64
                     " out of order; skipped",
                     segnum, seq);
            sp->c.corrupt++;
            return;
        }
        last = push_batch(sp);
        if (!last) {
            sp->c.corrupt++;
            return;
        }
        last->pub.seq = seq;
        last->pub.stream = stream;
        last->segment = segnum;
        last->first_off = off;
        last->min_ts = from;
        last->max_ts = to;
    }
    if (from < last->min_ts)
        last->min_ts = from;
    if (to > last->max_ts)
        last->max_ts = to;
    last->end_off = off + used;
    if (is_result)
        last->pub.results++;
    else
        last->pub.gaps++;
}

static void replay_record(spool_t *sp, replay_t *rp, uint64_t segnum, const spool_record_t *rec,
                          uint64_t off, size_t used)
{
    switch (rec->type) {
    case SPOOL_REC_HEADER: {
        if (rec->len < 20)
            break;
        uint64_t stream = spool_record_get64(rec->payload + 4);
        uint64_t first = spool_record_get64(rec->payload + 12);
        if (stream != 0 && stream <= INT64_MAX)
            rp->stream = stream;
        else
            log_warn("spool: segment %016" PRIx64 " names stream %" PRIu64
                     "; its batches keep stream %" PRIu64,
                     segnum, stream, rp->stream);
        if (first > sp->next_seq)
            sp->next_seq = first;
        if (rec->len >= SPOOL_HEADER_PAYLOAD) {
            /* The newest header holds the totals up to its segment; later records add. */
            uint64_t *dst[SPOOL_HEADER_COUNTERS] = {
                &sp->c.produced, &sp->c.spooled,          &sp->c.acked,           &sp->c.dropped,
                &sp->c.gaps,     &sp->c.rejected_batches, &sp->c.rejected_results};
            for (int i = 0; i < SPOOL_HEADER_COUNTERS; i++)
                *dst[i] = spool_record_get64(rec->payload + 20 + 8 * i);
        }
        break;
    }
    case SPOOL_REC_RESULT: {
        Parallax__Result *r = parallax__result__unpack(NULL, rec->len, rec->payload);
        if (!r) {
            sp->c.corrupt++;
            break;
        }
        replay_item(sp, segnum, rp->stream, rec->seq, off, used, 1, r->ts_us, r->ts_us);
        if (r->ts_us > rp->last_ts)
            rp->last_ts = r->ts_us;
        parallax__result__free_unpacked(r, NULL);
        sp->c.produced++;
        sp->c.spooled++;
        break;
    }
    case SPOOL_REC_GAP: {
        Parallax__Gap *g = parallax__gap__unpack(NULL, rec->len, rec->payload);
        if (!g) {
            sp->c.corrupt++;
            break;
        }
        replay_item(sp, segnum, rp->stream, rec->seq, off, used, 0, g->from_us, g->to_us);
        if (g->to_us > rp->last_ts)
            rp->last_ts = g->to_us;
        if (rec->flags == GAP_DROPPED || rec->flags == GAP_UNSPOOLED) {
            sp->c.dropped += g->count;
            sp->c.gaps++;
        }
        if (rec->flags == GAP_UNSPOOLED)
            sp->c.produced += g->count;
        parallax__gap__free_unpacked(g, NULL);
        break;
    }
    case SPOOL_REC_ACK: {
        if (rec->len < 5)
            break;
        uint64_t n = spool_record_get32(rec->payload + 1);
        if (rec->payload[0] == PARALLAX__ACK_CODE__ACK_REJECTED) {
            sp->c.rejected_batches++;
            sp->c.rejected_results += n;
        } else {
            sp->c.acked += n;
        }
        batch_t *b = find_batch(sp, rec->seq);
        if (b)
            b->done = 1;
        break;
    }
    case SPOOL_REC_DROP:
        if (rp->ndrops == rp->dropcap) {
            size_t cap = rp->dropcap ? rp->dropcap * 2 : 8;
            uint64_t *d = realloc(rp->drops, cap * sizeof *d);
            if (!d)
                break;
            rp->drops = d;
            rp->dropcap = cap;
        }
        rp->drops[rp->ndrops++] = rec->seq;
        break;
    default:
        /* A record type from a newer version: it says nothing this one needs. */
        break;
    }
    if (rec->type != SPOOL_REC_HEADER && rec->type != SPOOL_REC_DROP &&
        rec->seq + 1 > sp->next_seq && rec->seq < INT64_MAX)
        sp->next_seq = rec->seq + 1;
}

static int list_segments(const char *dir, uint64_t **out, size_t *n, err_t *err);

/* Replays one segment's bytes (named by label in logs) into the index. Returns the number of
 * intact records; *valid is where a torn tail begins (len if there is none). */
static long replay_buffer(spool_t *sp, replay_t *rp, uint64_t segnum, const char *label,
                          const uint8_t *buf, size_t len, size_t *valid)
{
    long records = 0;
    size_t off = 0;
    *valid = len;
    while (off < len) {
        spool_record_t rec;
        size_t used;
        if (spool_record_decode(buf + off, len - off, SPOOL_RECORD_MAX_PAYLOAD, &rec, &used) ==
            SPOOL_RECORD_OK) {
            replay_record(sp, rp, segnum, &rec, off, used);
            records++;
            off += used;
            continue;
        }
        sp->c.corrupt++;
        size_t next = spool_record_resync(buf, len, off + 1, SPOOL_RECORD_MAX_PAYLOAD);
        if (next < len) {
            log_warn("spool: %s: damaged record at byte %zu: %zu bytes skipped", label, off,
                     next - off);
            off = next;
            continue;
        }
        /* Nothing intact follows: the record being written when the agent or the machine
         * stopped. It was never part of a batch that was sent (a batch is synced first). */
        log_warn("spool: %s: torn last record at byte %zu (%zu bytes) skipped", label, off,
                 len - off);
        *valid = off;
        break;
    }
    return records;
}

static int push_seg(spool_t *sp, const replay_t *rp, uint64_t segnum, uint64_t len)
{
    if (sp->nsegs == sp->segcap) {
        size_t cap = sp->segcap ? sp->segcap * 2 : 16;
        seg_t *segs = realloc(sp->segs, cap * sizeof *segs);
        if (!segs)
            return -1;
        sp->segs = segs;
        sp->segcap = cap;
    }
    sp->segs[sp->nsegs++] =
        (seg_t){.number = segnum, .stream = rp->stream, .bytes = len, .undone = 0};
    sp->c.segments++;
    sp->c.bytes += len;
    return 0;
}

/* Reads one segment file into the index. Returns the number of intact records, or -1 (err
 * set) if the file cannot be read. A torn tail of the newest segment is cut off. */
static long replay_segment(spool_t *sp, replay_t *rp, uint64_t segnum, int newest, err_t *err)
{
    char path[PATH_MAX];
    seg_path(sp, segnum, path, sizeof path);
    uint8_t *buf;
    size_t len;
    int rc = statefile_read(path, SPOOL_SEGMENT_READ_MAX, &buf, &len, err);
    if (rc != 0) {
        if (rc > 0)
            err_set(err, "%s vanished", path);
        return -1;
    }
    size_t valid;
    long records = replay_buffer(sp, rp, segnum, path, buf, len, &valid);
    free(buf);
    /* With nothing intact it is not a torn tail but a file to set aside whole. */
    if (valid < len && newest && records > 0) {
        if (truncate(path, (off_t)valid) < 0)
            log_warn("spool: cannot cut the torn record off %s: %s", path, strerror(errno));
        else
            len = valid;
    }
    if (push_seg(sp, rp, segnum, len) < 0) {
        err_set(err, "out of memory");
        return -1;
    }
    return records;
}

/* A segment that could not be used, set aside: the results it may have held are reported in
 * one gap once the spool is open. Their time lies after everything before it in the spool
 * and before everything after it and its last write; when nothing comes before it, a day
 * before that is assumed. */
#define SPOOL_DAMAGED_SPAN_US (24LL * 3600 * 1000000)
/* Damaged segments kept in DIR/damaged for a look; older ones are deleted. */
#define SPOOL_DAMAGED_KEEP 4

typedef struct damaged {
    uint64_t number;
    int64_t after_us;  /* the latest timestamp spooled before it; INT64_MIN: none */
    int64_t before_us; /* its last write (or now) */
} damaged_t;

/* Moves segment number into DIR/damaged (deleting it if that fails), keeping only the
 * newest SPOOL_DAMAGED_KEEP there. */
static void set_aside(spool_t *sp, uint64_t number)
{
    char path[PATH_MAX], ddir[PATH_MAX], dest[PATH_MAX + 32];
    seg_path(sp, number, path, sizeof path);
    int n1 = snprintf(ddir, sizeof ddir, "%s/damaged", sp->dir);
    int n2 = snprintf(dest, sizeof dest, "%s/%016" PRIx64 ".seg", ddir, number);
    int moved = 0;
    if (n1 < 0 || (size_t)n1 >= sizeof ddir || n2 < 0 || (size_t)n2 >= sizeof dest)
        errno = ENAMETOOLONG;
    else if (mkdir(ddir, 0700) == 0 || errno == EEXIST)
        moved = rename(path, dest) == 0;
    if (!moved) {
        log_error("spool: cannot move %s to %s (%s); deleting it", path, ddir, strerror(errno));
        if (remove(path) < 0 && errno != ENOENT)
            log_error("spool: cannot delete %s either: %s", path, strerror(errno));
        return;
    }
    uint64_t *nums;
    size_t n;
    err_t err = {{0}};
    if (list_segments(ddir, &nums, &n, &err) < 0) {
        log_warn("spool: %s", err.msg);
        return;
    }
    for (size_t i = 0; i + SPOOL_DAMAGED_KEEP < n; i++) {
        snprintf(dest, sizeof dest, "%s/%016" PRIx64 ".seg", ddir, nums[i]);
        if (remove(dest) < 0)
            log_warn("spool: cannot delete %s: %s", dest, strerror(errno));
    }
    free(nums);
}

/* Segment numbers in dir, sorted. Returns 0 or -1 (err set). */
static int list_segments(const char *dir, uint64_t **out, size_t *n, err_t *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        err_set(err, "cannot open spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".seg") != 0)
            continue;
        errno = 0;
        uint64_t num = strtoull(e->d_name, &end, 16);
        if (errno || end != e->d_name + 16 || num == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                closedir(d);
                free(*out);
                *out = NULL;
                err_set(err, "out of memory");
                return -1;
            }
            *out = v;
        }
        (*out)[(*n)++] = num;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_u64);
    return 0;
}

/* Notes segment number as damaged, for the gap spool_open() writes. */
static void note_damaged(replay_t *rp, uint64_t number, int64_t before_us)
{
    if (rp->ndamaged == rp->damcap) {
        size_t cap = rp->damcap ? rp->damcap * 2 : 4;
        damaged_t *d = realloc(rp->damaged, cap * sizeof *d);
        if (!d) {
            log_error("spool: out of memory: no gap for damaged segment %016" PRIx64, number);
            return;
        }
        rp->damaged = d;
        rp->damcap = cap;
    }
    rp->damaged[rp->ndamaged++] =
        (damaged_t){.number = number, .after_us = rp->last_ts, .before_us = before_us};
}

/* After every segment is replayed: finishes drops a crash interrupted (their gaps are
 * already in the spool), counts what is pending and deletes segments with nothing left. */
static void replay_finish(spool_t *sp, replay_t *rp)
{
    for (size_t d = 0; d < rp->ndrops; d++) {
        for (size_t i = sp->qhead; i < sp->qend; i++)
            if (sp->q[i].segment == rp->drops[d])
                sp->q[i].done = 1;
        for (size_t i = 0; i + 1 < sp->nsegs; i++) {
            if (sp->segs[i].number == rp->drops[d]) {
                log_info("spool: finishing the interrupted drop of segment %016" PRIx64,
                         rp->drops[d]);
                delete_segment(sp, i);
                break;
            }
        }
    }
    for (size_t i = sp->qhead; i < sp->qend; i++) {
        batch_t *b = &sp->q[i];
        if (b->done)
            continue;
        seg_t *s = find_seg(sp, b->segment);
        if (!s) {
            b->done = 1;
            continue;
        }
        s->undone++;
        sp->c.batches++;
        sp->c.pending += b->pub.results;
    }
    for (size_t i = 0; i + 1 < sp->nsegs;) {
        if (sp->segs[i].undone == 0)
            delete_segment(sp, i);
        else
            i++;
    }
    pop_done(sp);
}

/* A segment file with less than this and no intact record was only being created. */
#define SPOOL_SEGMENT_STUB (SPOOL_RECORD_HEADER + SPOOL_HEADER_PAYLOAD)

/* Replays every segment into the index; *last is the highest segment number seen (0: none).
 * A segment that cannot be read, or holds nothing intact, is set aside and noted in rp. */
static int replay_all(spool_t *sp, replay_t *rp, uint64_t *last, err_t *err)
{
    uint64_t *nums;
    size_t n;
    if (list_segments(sp->dir, &nums, &n, err) < 0)
        return -1;
    *last = n ? nums[n - 1] : 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        seg_path(sp, nums[i], path, sizeof path);
        struct stat st;
        int64_t mtime_us = stat(path, &st) == 0
                               ? (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000
                               : INT64_MAX;
        err_t rerr = {{0}};
        long records = replay_segment(sp, rp, nums[i], i + 1 == n, &rerr);
        if (records < 0) {
            log_warn("spool: %s: segment set aside in %s/damaged, reported as a gap", rerr.msg,
                     sp->dir);
        } else if (records == 0 && sp->segs[sp->nsegs - 1].bytes < SPOOL_SEGMENT_STUB) {
            /* Created but never written (a crash right after creation): nothing to keep. */
            log_warn("spool: segment %016" PRIx64 " holds no intact record; deleted", nums[i]);
            delete_segment(sp, sp->nsegs - 1);
            continue;
        } else if (records == 0) {
            log_warn("spool: %s holds no intact record in %" PRIu64
                     " bytes: set aside in %s/damaged, reported as a gap",
                     path, sp->segs[sp->nsegs - 1].bytes, sp->dir);
            sp->c.bytes -= sp->segs[sp->nsegs - 1].bytes;
            sp->c.segments--;
            sp->nsegs--;
        } else {
            continue;
        }
        set_aside(sp, nums[i]);
        note_damaged(rp, nums[i], mtime_us);
    }
    free(nums);
    replay_finish(sp, rp);
    return 0;
}

/* Reports each damaged segment in rp as one probe-0 gap and seals it. */
static void report_damaged(spool_t *sp, const replay_t *rp)
{
    int64_t now = time_now_us();
    for (size_t d = 0; d < rp->ndamaged; d++) {
        const damaged_t *dm = &rp->damaged[d];
        /* Whatever came after it in the spool is later than what it held. */
        int64_t to = dm->before_us < now ? dm->before_us : now;
        for (size_t i = sp->qhead; i < sp->qend; i++)
            if (sp->q[i].segment > dm->number && sp->q[i].min_ts < to)
                to = sp->q[i].min_ts;
        if (to > PX_WIRE_MAX_TS_US)
            to = PX_WIRE_MAX_TS_US;
        int64_t from = dm->after_us != INT64_MIN && dm->after_us <= to ? dm->after_us
                                                                       : to - SPOOL_DAMAGED_SPAN_US;
        if (from < PX_WIRE_MIN_TS_US)
            from = PX_WIRE_MIN_TS_US;
        if (to < from)
            to = from;
        Parallax__Gap g = PARALLAX__GAP__INIT;
        g.probe_id = 0;
        g.from_us = from;
        g.to_us = to;
        g.count = 1; /* at least one result, how many is unknown */
        g.reason = PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED;
        err_t err = {{0}};
        if (append_gap(sp, &g, GAP_CARRIED, &err) < 0)
            log_error("spool: no gap for damaged segment %016" PRIx64 ": %s", dm->number, err.msg);
        else
            log_warn("spool: damaged segment %016" PRIx64 " reported as a gap from %" PRId64
                     " to %" PRId64 " (us)",
                     dm->number, from, to);
    }
    if (rp->ndamaged) {
        err_t err = {{0}};
        if (spool_seal(sp, &err) < 0)
            log_error("spool: %s", err.msg);
    }
}

static void replay_free(replay_t *rp)
{
    free(rp->drops);
    free(rp->damaged);
    memset(rp, 0, sizeof *rp);
}

/* An empty spool, before any replay. */
static spool_t *spool_new(err_t *err)
{
    spool_t *sp = calloc(1, sizeof *sp);
    if (!sp) {
        err_set(err, "out of memory");
        return NULL;
    }
    sp->fd = -1;
    sp->next_seq = 1;
    sp->open_bytes = SPOOL_ENVELOPE_OVERHEAD;
    return sp;
}

spool_t *spool_index(const spool_image_t *segs, size_t n, uint64_t stream, err_t *err)
{
    if (stream == 0 || stream > INT64_MAX) {
        err_set(err, "invalid stream id");
        return NULL;
    }
    spool_t *sp = spool_new(err);
    if (!sp)
        return NULL;
    sp->in_memory = 1;
    replay_t rp = {.last_ts = INT64_MIN};
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && segs[i].number <= segs[i - 1].number) {
            err_set(err, "segments out of order");
            goto fail;
        }
        char label[32];
        snprintf(label, sizeof label, "segment %016" PRIx64, segs[i].number);
        size_t valid;
        long records =
            replay_buffer(sp, &rp, segs[i].number, label, segs[i].buf, segs[i].len, &valid);
        if (push_seg(sp, &rp, segs[i].number, i + 1 == n ? valid : segs[i].len) < 0) {
            err_set(err, "out of memory");
            goto fail;
        }
        if (records == 0) {
            /* Stub or garbage: either way it is gone from the spool (spool_open() sets the
             * latter aside). */
            delete_segment(sp, sp->nsegs - 1);
        }
    }
    replay_finish(sp, &rp);
    for (size_t i = sp->qhead; i < sp->qend; i++)
        if (sp->q[i].pub.stream == 0)
            sp->q[i].pub.stream = stream;
    sp->stream = stream;
    sp->open.pub.seq = sp->next_seq;
    replay_free(&rp);
    return sp;
fail:
    replay_free(&rp);
    spool_close(&sp);
    return NULL;
}

spool_t *spool_open(const spool_config_t *cfg, err_t *err)
{
    if (!cfg->dir || !cfg->deadletter || cfg->batch_max < 1 ||
        cfg->batch_max > PX_WIRE_MAX_RESULTS || cfg->segment_bytes < 1024 ||
        cfg->max_bytes < 2 * cfg->segment_bytes || cfg->stream > INT64_MAX) {
        err_set(err, "invalid spool settings");
        return NULL;
    }
    spool_t *sp = spool_new(err);
    if (!sp)
        return NULL;
    sp->cfg = *cfg;
    replay_t rp = {.last_ts = INT64_MIN};
    if (snprintf(sp->dir, sizeof sp->dir, "%s", cfg->dir) >= (int)sizeof sp->dir - SEG_NAME_LEN ||
        snprintf(sp->deadletter, sizeof sp->deadletter, "%s", cfg->deadletter) >=
            (int)sizeof sp->deadletter) {
        err_set(err, "spool path too long");
        goto fail;
    }
    sp->cfg.dir = sp->dir;
    sp->cfg.deadletter = sp->deadletter;
    if (!(sp->unspooled = spool_gap_new())) {
        err_set(err, "out of memory");
        goto fail;
    }
    if (mkdir(sp->dir, 0700) < 0 && errno != EEXIST) {
        err_set(err, "cannot create spool directory %s: %s", sp->dir, strerror(errno));
        goto fail;
    }
    uint64_t last_seg = 0;
    if (!(sp->segs = calloc(16, sizeof *sp->segs))) {
        err_set(err, "out of memory");
        goto fail;
    }
    sp->segcap = 16;
    if (replay_all(sp, &rp, &last_seg, err) < 0)
        goto fail;
    /* This directory may be an older copy of itself, whose stream went on elsewhere with
     * seqs it does not know of: new batches get a stream no segment holds. */
    uint64_t stream = new_stream(sp, cfg->stream, err);
    if (!stream)
        goto fail;
    for (size_t i = sp->qhead; i < sp->qend; i++)
        if (sp->q[i].pub.stream == 0)
            sp->q[i].pub.stream = stream;
    if (sp->nsegs > 0) {
        /* What a killed predecessor left in the page cache is made durable now, before any
         * of it is sent. Should that fail the batches are sent all the same: under their old
         * names, which nothing new will take. */
        char path[PATH_MAX];
        seg_path(sp, active(sp)->number, path, sizeof path);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || fdatasync(fd) < 0)
            log_warn("spool: cannot sync %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    uint64_t old = sp->nsegs > 0 ? active(sp)->number : 0;
    sp->open.pub.seq = sp->next_seq;
    if (create_segment(sp, last_seg + 1, stream, err) < 0)
        goto fail;
    if (old)
        maybe_delete(sp, old);
    report_damaged(sp, &rp);
    replay_free(&rp);
    sp->c.recovered = sp->c.pending;
    return sp;
fail:
    replay_free(&rp);
    spool_close(&sp);
    return NULL;
}

void spool_close(spool_t **spp)
{
    if (!spp || !*spp)
        return;
    spool_t *sp = *spp;
    if (sp->fd >= 0) {
        if (fdatasync(sp->fd) < 0)
            log_warn("spool: cannot sync %s at close: %s", sp->dir, strerror(errno));
        close(sp->fd);
    }
    spool_gap_destroy(&sp->unspooled);
    free(sp->segs);
    free(sp->q);
    free(sp->scratch[0]);
    free(sp->scratch[1]);
    free(sp);
    *spp = NULL;
}
