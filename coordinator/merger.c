/* merger: the merge's thread. It owns its store (connection) outright; the loop's thread
 * touches only `stopping`, the wake pipe, store_interrupt(), which is made for that, and the
 * request queue, under its mutex. */
#include "merger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "log.h"
#include "store.h"
#include "store_merge.h"
#include "timeutil.h"

/* How soon a verdict follows the evidence: a bin closes at its last run once every vantage
 * has reported it, and is merged at the next call; a call with no bin due is one lookup. */
#define MERGER_PERIOD_MS 250
/* A merge call this long is logged at info: a backlog being worked off. */
#define MERGER_SLOW_US 1000000
/* Tomorrow's partition: tried every minute until made, then checked again hourly. */
#define MERGER_DAYS_RETRY_US (60 * 1000000LL)
#define MERGER_DAYS_CHECK_US (3600 * 1000000LL)
/* Retention (parallax.retention_run): a pass every ten minutes, the first soon after the
 * session is ready; a pass is many bounded steps, one per turn between merges, so a backlog
 * of old data never holds up a verdict by more than one step. A failed or put-off step is
 * tried again in a minute. */
#define MERGER_RETENTION_FIRST_US (5 * 1000000LL)
#define MERGER_RETENTION_PERIOD_US (600 * 1000000LL)
#define MERGER_RETENTION_RETRY_US (60 * 1000000LL)
/* Rows of each kind one step removes at most; a step that fails (its statement timed out on
 * a slow database, say) halves it for the next, down to the least, and each that succeeds
 * doubles it again. */
#define MERGER_RETENTION_CHUNK 10000
#define MERGER_RETENTION_CHUNK_MIN 100
/* The database-derived metrics are read this often: fresh enough for a scrape every 15 s,
 * and one small query (parallax.metrics_snapshot()) every 5 s costs the database nothing.
 * Outages change only by a merge: after one that merged bins they are read again within a
 * second, so an alert on parallax_outages_open lags the verdict by a scrape, not 5 s more. */
#define MERGER_METRICS_PERIOD_US (5 * 1000000LL)
#define MERGER_METRICS_AFTER_MERGE_US 1000000LL
/* One-off traces due are asked for after every merge that merged bins (a verdict changed
 * perhaps) and otherwise this often (a request held back by its limits may be due now). */
#define MERGER_REQUESTS_PERIOD_US (5 * 1000000LL)
#define MERGER_BACKOFF_MIN_MS 250
#define MERGER_BACKOFF_MAX_MS 10000

struct merger {
    store_t *store; /* the thread's alone, but for store_interrupt() */
    /* Requests due, for the loop: a ring of MERGER_MAX_REQUESTS under the mutex. */
    pthread_mutex_t requests_lock;
    int requests_lock_made;
    store_request_t *requests;
    size_t requests_head, requests_count;
    uint64_t requests_dropped; /* since the last warning */
    int64_t requests_due_us;
    pthread_t thread;
    atomic_int stopping;
    int wake[2]; /* a byte written ends the thread's wait between runs */
    backoff_t backoff;
    int was_up;
    int64_t days_due_us;
    int64_t retention_due_us;
    long retention_rows, retention_partitions; /* removed by the pass under way */
    long retention_chunk;
    int past_days; /* partitions kept made from this many days back */
    int64_t metrics_due_us, metrics_read_us;
    metrics_family_t *merge_seconds, *merge_bins, *snapshot_at;
    /* The families metrics_snapshot() fills, refreshed as a whole each time (metrics_sweep). */
    metrics_family_t *from_db[8];
    size_t n_from_db;
};

/* Merges of a few milliseconds (a bin or two) to a backlog of a minute. */
static const double merge_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                       0.5,   1,      2.5,   5,    10,    30,   60};

/* What parallax.metrics_snapshot() returns, as docs/metrics.md names them; gone: what becomes
 * of a series the snapshot no longer names: removed (an agent or receiver gone), or 0. */
static const struct {
    metrics_type_t type;
    const char *name, *help, *labels;
    metrics_sweep_t gone;
} merger_db_metrics[] = {
    {METRICS_GAUGE, "parallax_outages_open", "Open outages by scope and worst stage reached.",
     "scope,stage", METRICS_SWEEP_ZERO},
    {METRICS_GAUGE, "parallax_agents", "Agents by state.", "state", METRICS_SWEEP_ZERO},
    {METRICS_GAUGE, "parallax_agent_clock_offset_seconds",
     "The agent's clock minus the coordinator's, as stored.", "agent", METRICS_SWEEP_DROP},
    {METRICS_GAUGE, "parallax_merge_backlog_bins",
     "Entries waiting in parallax.merge_queue (a bin may be queued more than once).", NULL,
     METRICS_SWEEP_ZERO},
    {METRICS_GAUGE, "parallax_merge_backlog_due_bins",
     "Entries of parallax.merge_queue already closed, due to be merged.", NULL, METRICS_SWEEP_ZERO},
    {METRICS_COUNTER, "parallax_notifications_sent_total",
     "Notification deliveries the receiver accepted, as held in parallax.notify_deliveries.",
     "receiver", METRICS_SWEEP_DROP},
    {METRICS_COUNTER, "parallax_notifications_failed_total",
     "Notification deliveries that failed for good (dead-lettered).", "receiver",
     METRICS_SWEEP_DROP},
    {METRICS_GAUGE, "parallax_notifications_pending",
     "Notification deliveries waiting to be sent or retried.", "receiver", METRICS_SWEEP_DROP},
};

static int merger_register(merger_t *m, metrics_t *metrics)
{
    size_t n = sizeof merger_db_metrics / sizeof merger_db_metrics[0];
    _Static_assert(sizeof merger_db_metrics / sizeof merger_db_metrics[0] <=
                       sizeof m->from_db / sizeof m->from_db[0],
                   "room for every database-derived family");
    for (size_t i = 0; i < n; i++)
        if (!(m->from_db[i] = metrics_family_new(
                  metrics, merger_db_metrics[i].type, merger_db_metrics[i].name,
                  merger_db_metrics[i].help, merger_db_metrics[i].labels, NULL, 0)))
            return -1;
    m->n_from_db = n;
    m->merge_seconds =
        metrics_family_new(metrics, METRICS_HISTOGRAM, "parallax_merge_duration_seconds",
                           "Duration of the merge calls that merged at least one bin.", NULL,
                           merge_buckets, sizeof merge_buckets / sizeof merge_buckets[0]);
    m->merge_bins = metrics_family_new(metrics, METRICS_COUNTER, "parallax_merge_bins_total",
                                       "Bins merged.", NULL, NULL, 0);
    m->snapshot_at =
        metrics_family_new(metrics, METRICS_GAUGE, "parallax_metrics_snapshot_timestamp_seconds",
                           "Unix time the database-derived metrics were last read.", NULL, NULL, 0);
    return m->merge_seconds && m->merge_bins && m->snapshot_at ? 0 : -1;
}

static void merger_metric_row(void *arg, const char *metric, const char *label1, const char *label2,
                              double value)
{
    merger_t *m = arg;
    const char *values[] = {label1 ? label1 : "", label2 ? label2 : ""};
    for (size_t i = 0; i < m->n_from_db; i++)
        if (strcmp(merger_db_metrics[i].name, metric) == 0) {
            metrics_set(m->from_db[i], values, value);
            return;
        }
    /* A metric the SQL knows and this build does not: a newer schema; not an error. */
}

/* Reads the database-derived metrics when due. */
static void merger_metrics(merger_t *m)
{
    int64_t now = time_mono_us();
    if (now < m->metrics_due_us)
        return;
    m->metrics_due_us = now + MERGER_METRICS_PERIOD_US;
    m->metrics_read_us = now;
    for (size_t i = 0; i < m->n_from_db; i++)
        metrics_sweep_begin(m->from_db[i]);
    err_t err = {{0}};
    int rc = store_metrics_snapshot(m->store, merger_metric_row, m, &err);
    /* After a failure the series keep their last values: the snapshot's timestamp says how
     * old they are. */
    for (size_t i = 0; i < m->n_from_db; i++)
        metrics_sweep_end(m->from_db[i], rc < 0 ? METRICS_SWEEP_KEEP : merger_db_metrics[i].gone);
    if (rc < 0) {
        if (!atomic_load(&m->stopping))
            log_warn("merge: metrics: %s", err.msg);
        return;
    }
    metrics_set(m->snapshot_at, NULL, (double)time_now_us() / 1e6);
}

/* Connects when the back-off allows. Returns 1 when connected. */
static int merger_connected(merger_t *m)
{
    if (store_connected(m->store))
        return 1;
    if (m->was_up) {
        log_warn("merge: lost its database session; reconnecting");
        m->was_up = 0;
    }
    int64_t now = time_mono_us();
    if (!backoff_due(&m->backoff, now))
        return 0;
    err_t err = {{0}};
    if (store_connect(m->store, &err) != 0) {
        int64_t delay = backoff_failed(&m->backoff, now);
        log_warn("merge: %s; retrying in %lld ms", err.msg, (long long)delay);
        return 0;
    }
    backoff_reset(&m->backoff);
    m->was_up = 1;
    m->days_due_us = 0;
    m->retention_due_us = time_mono_us() + MERGER_RETENTION_FIRST_US;
    log_info("merge: its own database session is ready");
    return 1;
}

static void merger_prepare_days(merger_t *m)
{
    int64_t now = time_mono_us();
    if (now < m->days_due_us)
        return;
    err_t err = {{0}};
    if (store_prepare_days(m->store, m->past_days, &err) < 0) {
        /* The ingest makes a missing partition itself: this is only ahead of time. */
        log_info("merge: %s; trying again in a minute", err.msg);
        m->days_due_us = now + MERGER_DAYS_RETRY_US;
        return;
    }
    m->days_due_us = now + MERGER_DAYS_CHECK_US;
}

/* One step of the retention pass, when one is due. */
static void merger_retain(merger_t *m)
{
    int64_t now = time_mono_us();
    if (now < m->retention_due_us)
        return;
    store_retention_t step;
    err_t err = {{0}};
    if (store_retention_step(m->store, m->retention_chunk, m->past_days, &step, &err) < 0) {
        if (!atomic_load(&m->stopping))
            log_warn("merge: retention: %s; trying again in a minute", err.msg);
        m->retention_chunk = m->retention_chunk / 2 > MERGER_RETENTION_CHUNK_MIN
                                 ? m->retention_chunk / 2
                                 : MERGER_RETENTION_CHUNK_MIN;
        m->retention_due_us = now + MERGER_RETENTION_RETRY_US;
        return;
    }
    m->retention_chunk = m->retention_chunk * 2 < MERGER_RETENTION_CHUNK ? m->retention_chunk * 2
                                                                         : MERGER_RETENTION_CHUNK;
    m->retention_rows += step.rows;
    m->retention_partitions += step.partitions;
    if (step.more)
        return; /* the next step at the next turn */
    if (step.note[0])
        log_info("merge: retention: %s", step.note);
    if (m->retention_rows > 0 || m->retention_partitions > 0)
        log_info("retention: removed %ld daily result partitions and %ld rows (heartbeats, "
                 "gaps, batch ids, bins, outages) older than their keep_* settings",
                 m->retention_partitions, m->retention_rows);
    m->retention_rows = m->retention_partitions = 0;
    m->retention_due_us =
        now + (step.note[0] ? MERGER_RETENTION_RETRY_US : MERGER_RETENTION_PERIOD_US);
}

/* Called by store_requests_due() on the merge's thread for each request due. */
static void merger_queue_request(void *arg, const store_request_t *r)
{
    merger_t *m = arg;
    pthread_mutex_lock(&m->requests_lock);
    if (m->requests_count < MERGER_MAX_REQUESTS) {
        m->requests[(m->requests_head + m->requests_count) % MERGER_MAX_REQUESTS] = *r;
        m->requests_count++;
    } else {
        m->requests_dropped++;
    }
    pthread_mutex_unlock(&m->requests_lock);
}

size_t merger_take_requests(merger_t *m, store_request_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&m->requests_lock);
    while (n < max && m->requests_count > 0) {
        out[n++] = m->requests[m->requests_head];
        m->requests_head = (m->requests_head + 1) % MERGER_MAX_REQUESTS;
        m->requests_count--;
    }
    pthread_mutex_unlock(&m->requests_lock);
    return n;
}

/* Asks the SQL which one-off traces are due and queues them for the loop. */
static void merger_requests(merger_t *m, long bins)
{
    int64_t now = time_mono_us();
    if (bins <= 0 && now < m->requests_due_us)
        return;
    m->requests_due_us = now + MERGER_REQUESTS_PERIOD_US;
    err_t err = {{0}};
    size_t n = 0;
    if (store_requests_due(m->store, merger_queue_request, m, &n, &err) < 0) {
        if (!atomic_load(&m->stopping))
            log_warn("merge: %s", err.msg);
        return;
    }
    pthread_mutex_lock(&m->requests_lock);
    uint64_t dropped = m->requests_dropped;
    m->requests_dropped = 0;
    pthread_mutex_unlock(&m->requests_lock);
    if (n > 0)
        log_info("merge: %zu one-off probe requests due (traces: a target turned bad or a "
                 "group's stage rose; an operator's requests: discover --via)",
                 n);
    if (dropped > 0)
        log_warn("merge: %llu one-off probe requests dropped: %d wait for the loop already; they "
                 "expire unsent",
                 (unsigned long long)dropped, MERGER_MAX_REQUESTS);
}

static void merger_merge(merger_t *m)
{
    int64_t start = time_mono_us();
    long bins = 0;
    err_t err = {{0}};
    if (store_merge(m->store, &bins, &err) < 0) {
        if (!atomic_load(&m->stopping))
            log_warn("merge: %s", err.msg);
        return;
    }
    int64_t took_us = time_mono_us() - start;
    if (bins > 0) {
        metrics_observe(m->merge_seconds, NULL, (double)took_us / 1e6);
        metrics_add(m->merge_bins, NULL, (double)bins);
        merger_requests(m, bins);
        int64_t soon = m->metrics_read_us + MERGER_METRICS_AFTER_MERGE_US;
        if (soon < m->metrics_due_us)
            m->metrics_due_us = soon;
    }
    if (bins <= 0)
        merger_requests(m, bins);
    if (took_us >= MERGER_SLOW_US)
        log_info("merged %ld bins in %.1f s (a backlog is merged run_max at a time; ingest goes "
                 "on meanwhile)",
                 bins, (double)took_us / 1e6);
    else if (bins > 0)
        log_debug("merged %ld closed bins", bins);
}

/* Waits for the next period or a wake-up. */
static void merger_wait(merger_t *m, int64_t until_us)
{
    int64_t left_ms = (until_us - time_mono_us() + 999) / 1000;
    if (left_ms <= 0)
        return;
    struct pollfd p = {.fd = m->wake[0], .events = POLLIN};
    if (poll(&p, 1, (int)left_ms) < 0 && errno != EINTR)
        log_warn("merge: poll failed: %s", strerror(errno));
}

static void *merger_main(void *arg)
{
    merger_t *m = arg;
    while (!atomic_load(&m->stopping)) {
        int64_t next = time_mono_us() + MERGER_PERIOD_MS * 1000;
        if (merger_connected(m)) {
            merger_prepare_days(m);
            if (!atomic_load(&m->stopping))
                merger_merge(m);
            if (!atomic_load(&m->stopping))
                merger_retain(m);
            if (!atomic_load(&m->stopping))
                merger_metrics(m);
        }
        merger_wait(m, next);
    }
    return NULL;
}

static void merger_free(merger_t *m)
{
    store_destroy(&m->store);
    if (m->requests_lock_made)
        pthread_mutex_destroy(&m->requests_lock);
    free(m->requests);
    for (int i = 0; i < 2; i++)
        if (m->wake[i] >= 0)
            close(m->wake[i]);
    free(m);
}

merger_t *merger_start(const char *conninfo, int past_days, metrics_t *metrics, err_t *err)
{
    merger_t *m = calloc(1, sizeof *m);
    if (!m) {
        err_set(err, "out of memory");
        return NULL;
    }
    if (merger_register(m, metrics) < 0) {
        err_set(err, "out of memory registering the merge's metrics");
        free(m);
        return NULL;
    }
    m->past_days = past_days;
    m->retention_chunk = MERGER_RETENTION_CHUNK;
    m->wake[0] = m->wake[1] = -1;
    atomic_init(&m->stopping, 0);
    backoff_init(&m->backoff, MERGER_BACKOFF_MIN_MS, MERGER_BACKOFF_MAX_MS);
    if (!(m->store = store_new(conninfo, STORE_SESSION_MERGE))) {
        err_set(err, "out of memory");
        merger_free(m);
        return NULL;
    }
    if (!(m->requests = calloc(MERGER_MAX_REQUESTS, sizeof *m->requests)) ||
        pthread_mutex_init(&m->requests_lock, NULL) != 0) {
        err_set(err, "out of memory");
        merger_free(m);
        return NULL;
    }
    m->requests_lock_made = 1;
    if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        err_set(err, "cannot start the merge: pipe: %s", strerror(errno));
        merger_free(m);
        return NULL;
    }
    int rc = pthread_create(&m->thread, NULL, merger_main, m);
    if (rc != 0) {
        err_set(err, "cannot start the merge's thread: %s", strerror(rc));
        merger_free(m);
        return NULL;
    }
    return m;
}

void merger_stop(merger_t **merger)
{
    if (!merger || !*merger)
        return;
    merger_t *m = *merger;
    atomic_store(&m->stopping, 1);
    /* The pipe is never full (one byte per stop); a failed write leaves a wait of at most
     * MERGER_PERIOD_MS, which is still a stop. */
    if (write(m->wake[1], "x", 1) < 0)
        log_debug("merge: wake-up not written: %s", strerror(errno));
    /* Again until the thread ends: a cancel that arrives between two statements of a merge
     * (its BEGIN, say) cancels nothing, and the merge_run after it would run to its end. */
    for (;;) {
        store_interrupt(m->store);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = pthread_timedjoin_np(m->thread, NULL, &until);
        if (rc == 0)
            break;
        if (rc != ETIMEDOUT) {
            log_error("merge: cannot wait for the merge's thread: %s", strerror(rc));
            break;
        }
    }
    merger_free(m);
    *merger = NULL;
}
