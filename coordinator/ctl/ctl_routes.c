/* ctl_routes: routes import|follow|origins (see ctl_routes.h). One importer serves both MRT
 * commands: it frames records out of a bounded buffer, decodes them with routes/mrt, inserts
 * their route events with ON CONFLICT DO NOTHING (a replay stores nothing twice) and, after
 * each commit, refreshes the visibility bins over the time span it inserted. */
#include "ctl_routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_args.h"
#include "mrt.h"

/* Rows per transaction in an import: big enough to amortise the commit and the bins refresh,
 * small enough that a failure loses little work. */
#define IMPORT_BATCH_ROWS 20000
/* follow: how often it looks at the file when there is nothing new (and commits). */
#define FOLLOW_POLL_MS 200
/* follow commits at least this often while records arrive. */
#define FOLLOW_COMMIT_MS 1000
/* Peers remembered with their row id; a collector has tens, a RIB dump a few thousand. */
#define PEER_CACHE_MAX 4096
#define READ_CHUNK 65536

typedef struct peer_id {
    mrt_peer_t peer;
    long id;
} peer_id_t;

/* Rows wait here and go to the database as one INSERT of unnest()ed arrays: a statement per
 * row would make a RIB dump of millions of rows take hours. */
#define ROWS_PER_INSERT 2000
enum { COL_TS, COL_PEER, COL_KIND, COL_PREFIX, COL_ORIGIN, COL_PATH, NCOLS };

typedef struct column {
    char *text; /* an array literal being built: "{a,b,..." */
    size_t len, cap;
} column_t;

typedef struct importer {
    ctl_db_t *db;
    const char *collector; /* borrowed */
    mrt_decoder_t *dec;
    peer_id_t *peers; /* cache of peer rows (PEER_CACHE_MAX) */
    size_t npeers;
    /* Records of the same second without microseconds get 0, 1, 2... in file order, so that
     * several updates of one prefix in a second stay distinct rows, the same in a replay. */
    uint32_t last_sec;
    uint32_t seq;
    int in_tx;
    long tx_rows;
    column_t cols[NCOLS];
    unsigned pending;        /* rows in cols */
    uint64_t tx_min, tx_max; /* microseconds since the epoch of what the transaction holds */
    /* counts */
    unsigned long records, announces, withdrawals, peer_changes, stored, malformed;
    unsigned long file_records; /* of the file being read (follow: since it was opened) */
    unsigned long skipped[MRT_SKIP_COUNT];
    /* where the record being decoded starts in its file, for messages */
    const char *path;
    uint64_t record_offset;
    err_t *err;
} importer_t;

void ctl_routes_default_collector(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(buf, cap, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
}

/* Appends an element (NULL: SQL NULL) to a column's array literal. quote: the value may hold
 * spaces, braces or commas (AS paths; never quotes or backslashes), so it goes in quotes. */
static int column_add(column_t *c, const char *v, int quote)
{
    size_t need = (v ? strlen(v) : 4) + 4;
    if (c->len + need + 2 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + need + 2)
            cap *= 2;
        char *t = realloc(c->text, cap);
        if (!t)
            return -1;
        c->text = t;
        c->cap = cap;
    }
    int n = snprintf(c->text + c->len, c->cap - c->len, "%c%s%s%s", c->len ? ',' : '{',
                     v && quote ? "\"" : "", v ? v : "NULL", v && quote ? "\"" : "");
    c->len += (size_t)n;
    return 0;
}

/* Inserts the pending rows. Returns 0 or -1 with err set. */
static int rows_flush(importer_t *im)
{
    if (im->pending == 0)
        return 0;
    const char *params[NCOLS];
    for (int i = 0; i < NCOLS; i++) {
        im->cols[i].text[im->cols[i].len++] = '}';
        im->cols[i].text[im->cols[i].len] = '\0';
        params[i] = im->cols[i].text;
    }
    long n = ctl_db_exec(im->db,
                         "INSERT INTO parallax.route_updates "
                         "(ts, peer_id, kind, prefix, origin_asn, as_path) "
                         "SELECT to_timestamp(0) + t * interval '1 microsecond', p, k, x, o, a "
                         "FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::cidr[], "
                         "$5::bigint[], $6::text[]) AS u(t, p, k, x, o, a) "
                         "ON CONFLICT DO NOTHING",
                         NCOLS, params, im->err);
    for (int i = 0; i < NCOLS; i++)
        im->cols[i].len = 0;
    im->pending = 0;
    if (n < 0)
        return -1;
    im->stored += (unsigned long)n;
    return 0;
}

static int tx_begin(importer_t *im)
{
    if (im->in_tx)
        return 0;
    if (ctl_db_begin(im->db, im->err) < 0)
        return -1;
    im->in_tx = 1;
    im->tx_rows = 0;
    im->tx_min = UINT64_MAX;
    im->tx_max = 0;
    return 0;
}

/* Commits and refreshes the bins over what was inserted (in its own short transaction: the
 * rows are safe even if the refresh fails, and the next refresh covers them). */
static int tx_commit(importer_t *im)
{
    if (!im->in_tx)
        return 0;
    if (rows_flush(im) < 0)
        return -1;
    im->in_tx = 0;
    if (ctl_db_commit(im->db, im->err) < 0)
        return -1;
    if (im->tx_min > im->tx_max)
        return 0;
    char from[32], to[32];
    snprintf(from, sizeof from, "%" PRIu64, im->tx_min);
    snprintf(to, sizeof to, "%" PRIu64, im->tx_max);
    const char *params[] = {from, to};
    ctl_rows_t *rows = ctl_db_query(im->db,
                                    "SELECT parallax.route_bins_refresh("
                                    "to_timestamp(0) + $1::bigint * interval '1 microsecond', "
                                    "to_timestamp(0) + $2::bigint * interval '1 microsecond')",
                                    2, params, im->err);
    if (!rows) {
        err_prefix(im->err, "the rows are stored, but refreshing the visibility bins failed");
        return -1;
    }
    ctl_rows_destroy(&rows);
    return 0;
}

static long peer_row(importer_t *im, const mrt_peer_t *p)
{
    for (size_t i = 0; i < im->npeers; i++)
        if (im->peers[i].peer.family == p->family && im->peers[i].peer.asn == p->asn &&
            memcmp(im->peers[i].peer.addr, p->addr, 16) == 0)
            return im->peers[i].id;
    char addr[INET6_ADDRSTRLEN], asn[16];
    if (!inet_ntop(p->family == 6 ? AF_INET6 : AF_INET, p->addr, addr, sizeof addr)) {
        err_set(im->err, "cannot format a peer address");
        return -1;
    }
    snprintf(asn, sizeof asn, "%" PRIu32, p->asn);
    const char *params[] = {im->collector, addr, asn};
    char *id =
        ctl_db_query_text(im->db,
                          "INSERT INTO parallax.route_peers (collector, address, asn) "
                          "VALUES ($1, $2::inet, $3::bigint) ON CONFLICT (collector, address, asn) "
                          "DO UPDATE SET asn = EXCLUDED.asn RETURNING id::text",
                          3, params, im->err);
    if (!id)
        return -1;
    long v = strtol(id, NULL, 10);
    free(id);
    /* The cache lives as long as the transaction's rows: a rolled-back peer row is never
     * cached past a failure, because a failure ends the command. */
    if (im->npeers == PEER_CACHE_MAX)
        im->npeers = 0;
    im->peers[im->npeers].peer = *p;
    im->peers[im->npeers++].id = v;
    return v;
}

static int on_route(void *ctx, const mrt_route_t *r)
{
    static const char *const kinds[] = {"announce", "withdraw", "peer_up", "peer_down"};
    importer_t *im = ctx;
    /* 1, not -1: the decoder's own -1 means a malformed record. */
    if (tx_begin(im) < 0)
        return 1;
    long peer = peer_row(im, r->peer);
    if (peer < 0)
        return 1;
    uint64_t ts = (uint64_t)r->ts_sec * 1000000u + r->ts_usec;
    char tstext[24], id[24], prefix[64], origin[24];
    snprintf(tstext, sizeof tstext, "%" PRIu64, ts);
    snprintf(id, sizeof id, "%ld", peer);
    const char *pfx = NULL, *orig = NULL, *path = NULL;
    if (r->kind == MRT_ANNOUNCE || r->kind == MRT_WITHDRAW) {
        bgp_update_format_prefix(&r->prefix, prefix, sizeof prefix);
        pfx = prefix;
    }
    if (r->kind == MRT_ANNOUNCE) {
        path = r->as_path;
        if (r->origin_asn >= 0) {
            snprintf(origin, sizeof origin, "%" PRId64, r->origin_asn);
            orig = origin;
        }
        im->announces++;
    } else if (r->kind == MRT_WITHDRAW) {
        im->withdrawals++;
    } else {
        im->peer_changes++;
    }
    const char *vals[NCOLS] = {tstext, id, kinds[r->kind], pfx, orig, path};
    for (int i = 0; i < NCOLS; i++)
        if (column_add(&im->cols[i], vals[i], i == COL_PATH) < 0) {
            err_set(im->err, "out of memory");
            return 1;
        }
    if (++im->pending >= ROWS_PER_INSERT && rows_flush(im) < 0)
        return 1;
    im->tx_rows++;
    if (ts < im->tx_min)
        im->tx_min = ts;
    if (ts > im->tx_max)
        im->tx_max = ts;
    return 0;
}

/* Decodes one framed record into rows. Returns 0 (a malformed record is counted and named on
 * stderr: the framing still holds, so the file goes on), or -1 with err set (database). */
static int import_record(importer_t *im, mrt_record_t *rec)
{
    im->records++;
    im->file_records++;
    if (rec->type != MRT_TYPE_BGP4MP_ET) {
        if (rec->ts_sec == im->last_sec && im->file_records > 1)
            im->seq = im->seq < 999999 ? im->seq + 1 : im->seq;
        else
            im->seq = 0;
        im->last_sec = rec->ts_sec;
        rec->ts_usec = im->seq;
    }
    mrt_skip_t skip;
    mrt_error_t merr;
    int rc = mrt_decoder_decode(im->dec, rec, on_route, im, &skip, &merr);
    if (rc < 0) {
        im->malformed++;
        fprintf(stderr,
                "%s: record at byte %" PRIu64 " (type %u/%u) skipped: byte %" PRIu64 ": %s\n",
                im->path, im->record_offset, rec->type, rec->subtype,
                im->record_offset + merr.offset, merr.what);
        return 0;
    }
    if (rc != 0)
        return -1;
    if (skip != MRT_SKIP_NONE)
        im->skipped[skip]++;
    return 0;
}

static void print_counts(const importer_t *im, FILE *out)
{
    unsigned long skipped = im->malformed;
    for (int i = 1; i < MRT_SKIP_COUNT; i++)
        skipped += im->skipped[i];
    fprintf(out,
            "%s: %lu records, %lu announces, %lu withdrawals, %lu peer changes, %lu new rows, "
            "%lu skipped",
            im->path, im->records, im->announces, im->withdrawals, im->peer_changes, im->stored,
            skipped);
    const char *sep = " (";
    for (int i = 1; i < MRT_SKIP_COUNT; i++)
        if (im->skipped[i]) {
            fprintf(out, "%s%s %lu", sep, mrt_skip_name((mrt_skip_t)i), im->skipped[i]);
            sep = ", ";
        }
    if (im->malformed) {
        fprintf(out, "%smalformed %lu", sep, im->malformed);
        sep = ", ";
    }
    fprintf(out, "%s\n", sep[0] == ',' ? ")" : "");
}

/* A bounded read buffer: a record never exceeds MRT_RECORD_MAX, so neither does this. */
typedef struct rbuf {
    uint8_t *b;
    size_t len, cap;
    uint64_t offset; /* file offset of b[0] */
} rbuf_t;

/* Frames and imports every whole record in the buffer, keeping a partial one. Returns 0, or
 * -1 with err set (an unusable record header: the file cannot be framed past it). */
static int drain(importer_t *im, rbuf_t *rb)
{
    size_t at = 0;
    for (;;) {
        mrt_record_t rec;
        mrt_error_t merr;
        int rc = mrt_record_next(rb->b + at, rb->len - at, &rec, &merr);
        if (rc == 0)
            break;
        if (rc < 0) {
            err_set(im->err, "%s: record at byte %" PRIu64 ": byte %" PRIu64 ": %s", im->path,
                    rb->offset + at, rb->offset + at + merr.offset, merr.what);
            return -1;
        }
        im->record_offset = rb->offset + at;
        if (import_record(im, &rec) < 0)
            return -1;
        at += rec.total_len;
    }
    memmove(rb->b, rb->b + at, rb->len - at);
    rb->len -= at;
    rb->offset += at;
    return 0;
}

/* Reads what fd has now into the buffer (at most one chunk). Returns bytes read, 0 at the
 * end for now, -1 with err set. */
static ssize_t fill(importer_t *im, rbuf_t *rb, int fd)
{
    if (rb->cap - rb->len < READ_CHUNK && rb->cap < MRT_RECORD_MAX + MRT_HEADER_LEN) {
        size_t cap = rb->cap * 2;
        if (cap > MRT_RECORD_MAX + MRT_HEADER_LEN)
            cap = MRT_RECORD_MAX + MRT_HEADER_LEN;
        uint8_t *nb = realloc(rb->b, cap);
        if (!nb) {
            err_set(im->err, "out of memory");
            return -1;
        }
        rb->b = nb;
        rb->cap = cap;
    }
    ssize_t n;
    do
        n = read(fd, rb->b + rb->len, rb->cap - rb->len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        err_set(im->err, "%s: cannot read: %s", im->path, strerror(errno));
        return -1;
    }
    rb->len += (size_t)n;
    return n;
}

static int importer_init(importer_t *im, ctl_db_t *db, const char *collector, err_t *err)
{
    memset(im, 0, sizeof *im);
    im->db = db;
    im->collector = collector;
    im->err = err;
    im->dec = mrt_decoder_new();
    im->peers = calloc(PEER_CACHE_MAX, sizeof *im->peers);
    if (!im->dec || !im->peers) {
        mrt_decoder_destroy(&im->dec);
        free(im->peers);
        err_set(err, "out of memory");
        return -1;
    }
    return 0;
}

static void importer_fini(importer_t *im)
{
    if (im->in_tx) {
        err_t ignored;
        ctl_db_rollback(im->db, &ignored);
    }
    mrt_decoder_destroy(&im->dec);
    free(im->peers);
    im->peers = NULL;
    for (int i = 0; i < NCOLS; i++) {
        free(im->cols[i].text);
        im->cols[i].text = NULL;
    }
}

/* Starts a file afresh: a new decoder (no peer table yet) and second counter. */
static int importer_new_file(importer_t *im, const char *path)
{
    mrt_decoder_destroy(&im->dec);
    im->dec = mrt_decoder_new();
    if (!im->dec) {
        err_set(im->err, "out of memory");
        return -1;
    }
    im->path = path;
    im->last_sec = 0;
    im->seq = 0;
    im->file_records = 0;
    return 0;
}

static int import_file(importer_t *im, const char *path, FILE *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(im->err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (importer_new_file(im, path) < 0) {
        close(fd);
        return -1;
    }
    im->records = im->announces = im->withdrawals = im->peer_changes = im->stored = 0;
    im->malformed = 0;
    memset(im->skipped, 0, sizeof im->skipped);
    rbuf_t rb = {.b = malloc(READ_CHUNK * 2), .cap = READ_CHUNK * 2};
    int rc = rb.b ? 0 : -1;
    if (!rb.b)
        err_set(im->err, "out of memory");
    while (rc == 0) {
        ssize_t n = fill(im, &rb, fd);
        if (n < 0 || drain(im, &rb) < 0)
            rc = -1;
        else if (im->in_tx && im->tx_rows >= IMPORT_BATCH_ROWS)
            rc = tx_commit(im);
        if (n == 0)
            break;
    }
    if (rc == 0)
        rc = tx_commit(im);
    if (rc == 0 && rb.len)
        fprintf(stderr, "%s: ends inside a record at byte %" PRIu64 " (%zu bytes of it)\n", path,
                rb.offset, rb.len);
    if (rc == 0)
        print_counts(im, out);
    free(rb.b);
    close(fd);
    return rc;
}

/* ---- follow ---- */

/* Blocks SIGTERM and SIGINT and returns a signalfd for them, so the loop waits on the file
 * and the signals in one poll() (no handler, no global flag). -1 with err set. */
static int stop_signals(sigset_t *old, err_t *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, old) < 0) {
        err_set(err, "cannot block signals: %s", strerror(errno));
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) {
        err_set(err, "signalfd: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, old, NULL);
    }
    return fd;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Follows path until a signal: reads whole records as they are appended, commits at least
 * every FOLLOW_COMMIT_MS while they come, reopens the file when it is replaced (another inode
 * at the path) or truncated (shorter than what was read). */
static int follow_file(importer_t *im, const char *path, FILE *out)
{
    sigset_t old;
    int sfd = stop_signals(&old, im->err);
    if (sfd < 0)
        return -1;
    rbuf_t rb = {.b = malloc(READ_CHUNK * 2), .cap = READ_CHUNK * 2};
    int fd = -1, rc = rb.b ? 0 : -1, waiting_said = 0;
    if (!rb.b)
        err_set(im->err, "out of memory");
    struct stat cur;
    uint64_t tx_started = 0;
    while (rc == 0) {
        if (fd < 0) {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0 && errno != ENOENT) {
                err_set(im->err, "%s: cannot open: %s", path, strerror(errno));
                rc = -1;
                break;
            }
            if (fd >= 0) {
                if (fstat(fd, &cur) < 0 || importer_new_file(im, path) < 0) {
                    rc = -1;
                    break;
                }
                rb.len = 0;
                rb.offset = 0;
                fprintf(out, "%s: following\n", path);
                fflush(out);
            } else if (!waiting_said++) {
                fprintf(out, "%s: waiting for the file to appear\n", path);
                fflush(out);
            }
        }
        ssize_t n = 0;
        if (fd >= 0) {
            n = fill(im, &rb, fd);
            if (n < 0 || drain(im, &rb) < 0) {
                rc = -1;
                break;
            }
            if (im->in_tx && !tx_started)
                tx_started = now_ms();
        }
        if (im->in_tx && (n == 0 || now_ms() - tx_started >= FOLLOW_COMMIT_MS)) {
            if ((rc = tx_commit(im)) < 0)
                break;
            tx_started = 0;
            print_counts(im, out);
            fflush(out);
        }
        /* At the end for now: replaced or truncated? */
        struct stat st;
        if (n == 0 && fd >= 0 && stat(path, &st) == 0 &&
            (st.st_ino != cur.st_ino || st.st_dev != cur.st_dev ||
             (uint64_t)st.st_size < rb.offset + rb.len)) {
            if (rb.len)
                fprintf(stderr,
                        "%s: %zu bytes of a record at byte %" PRIu64 " dropped: the file "
                        "was replaced or truncated\n",
                        path, rb.len, rb.offset);
            fprintf(out, "%s: %s, reopening\n", path,
                    st.st_ino != cur.st_ino ? "replaced" : "truncated");
            close(fd);
            fd = -1;
            continue;
        }
        /* A signal stops it even while a fast writer keeps it reading (no wait then). */
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        if (poll(&pfd, 1, n > 0 ? 0 : FOLLOW_POLL_MS) > 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) < 0) {
                /* nothing to do: the signal is what counts */
            }
            break;
        }
    }
    if (rc == 0)
        rc = tx_commit(im);
    if (rc == 0) {
        fprintf(out, "stopped\n");
        print_counts(im, out);
    }
    if (fd >= 0)
        close(fd);
    free(rb.b);
    close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- origins ---- */

int ctl_routes_parse_origin(const char *line, char *buf, size_t cap, unsigned long long *asn,
                            err_t *err)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line || *line == '#' || *line == '\n' || *line == '\r')
        return 0;
    char addr[64], len[8], as[64];
    const char *f[3];
    size_t fl[3];
    const char *p = line;
    for (int i = 0; i < 3; i++) {
        f[i] = p;
        fl[i] = strcspn(p, i < 2 ? "\t" : "\t\r\n");
        p += fl[i];
        if (i < 2) {
            if (*p != '\t') {
                err_set(err, "expected PREFIX<TAB>LENGTH<TAB>ASN");
                return -1;
            }
            p++;
        }
    }
    if (fl[0] == 0 || fl[0] >= sizeof addr || fl[1] == 0 || fl[1] >= sizeof len || fl[2] == 0 ||
        fl[2] >= sizeof as) {
        err_set(err, "expected PREFIX<TAB>LENGTH<TAB>ASN");
        return -1;
    }
    memcpy(addr, f[0], fl[0]);
    addr[fl[0]] = '\0';
    memcpy(len, f[1], fl[1]);
    len[fl[1]] = '\0';
    memcpy(as, f[2], fl[2]);
    as[fl[2]] = '\0';
    uint8_t bin[16];
    int v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) {
        err_set(err, "'%s' is not an IP address", addr);
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long bits = strtoul(len, &end, 10);
    if (*end || end == len || bits > (v6 ? 128u : 32u)) {
        err_set(err, "'%s' is not a prefix length for %s", len, addr);
        return -1;
    }
    /* Multi-origin prefixes ("a_b") and AS sets ("a,b"): the first AS stands for them. */
    as[strcspn(as, "_,")] = '\0';
    errno = 0;
    unsigned long long a = strtoull(as, &end, 10);
    if (*end || end == as || errno || a > 4294967295ull || as[0] == '-') {
        err_set(err, "'%s' is not an AS number", as);
        return -1;
    }
    *asn = a;
    snprintf(buf, cap, "%s/%lu", addr, bits);
    return 1;
}

static int import_origins(ctl_db_t *db, const char *path, const char *source, FILE *out, err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    unsigned long lineno = 0, rows = 0;
    int rc = ctl_db_begin(db, err);
    const char *src[] = {source};
    if (rc == 0 &&
        ctl_db_exec(db, "DELETE FROM parallax.prefix_origins WHERE source = $1", 1, src, err) < 0)
        rc = -1;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            err_set(err, "%s:%lu: line too long", path, lineno);
            rc = -1;
            break;
        }
        char prefix[80], asn[24];
        unsigned long long a;
        int r = ctl_routes_parse_origin(line, prefix, sizeof prefix, &a, err);
        if (r < 0) {
            err_prefix(err, "%s:%lu", path, lineno);
            rc = -1;
        } else if (r > 0) {
            snprintf(asn, sizeof asn, "%llu", a);
            const char *params[] = {prefix, asn, source};
            /* The network of the address: files list prefixes, some with host bits set. */
            if (ctl_db_exec(db,
                            "INSERT INTO parallax.prefix_origins (prefix, asn, source) "
                            "VALUES (network($1::inet), $2::bigint, $3) ON CONFLICT (prefix) "
                            "DO UPDATE SET asn = EXCLUDED.asn, source = EXCLUDED.source, "
                            "imported_at = now()",
                            3, params, err) < 0) {
                err_prefix(err, "%s:%lu", path, lineno);
                rc = -1;
            }
            rows++;
        }
    }
    if (rc == 0 && ferror(f)) {
        err_set(err, "%s: cannot read: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc == 0)
        rc = ctl_db_commit(db, err);
    if (rc < 0) {
        err_t ignored;
        ctl_db_rollback(db, &ignored);
        return -1;
    }
    fprintf(out, "%s: %lu prefixes from source %s\n", path, rows, source);
    return 0;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_routes[] =
    "usage: " CTL_PROG " [--db CONNINFO] routes import [--collector NAME] FILE...\n"
    "       " CTL_PROG " [--db CONNINFO] routes follow [--collector NAME] FILE\n"
    "       " CTL_PROG " [--db CONNINFO] routes origins [--source NAME] FILE\n"
    "\n"
    "BGP data into the database: MRT files from a route collector (once, or followed as the\n"
    "collector writes them) and prefix-to-AS files. See 'routes import --help'.\n";

static const char usage_routes_import[] =
    "usage: " CTL_PROG " [--db CONNINFO] routes import [--collector NAME] FILE...\n"
    "\n"
    "Imports MRT files (RFC 6396: BGP4MP and BGP4MP_ET updates and state changes, 2- and\n"
    "4-byte AS; TABLE_DUMP_V2 IPv4/IPv6 unicast RIBs) as the collector's peers, announcements,\n"
    "withdrawals and session changes, and refreshes the visibility bins they cover. Importing\n"
    "a file again stores nothing twice. Records of other types, messages other than UPDATE,\n"
    "what the collector itself sent, and malformed records (named on stderr with their byte\n"
    "offset) are skipped and counted. Prints per file: records, announces, withdrawals, peer\n"
    "changes, new rows, skipped records and why.\n"
    "Files are read uncompressed: zcat FILE.gz | ... routes import --collector NAME /dev/stdin.\n"
    "  --collector NAME  the collector the peers of all the files are heard by (default: the\n"
    "                    first file's name without its extension; letters, digits, '.', '_',\n"
    "                    '-')\n"
    "SQL: SELECT * FROM parallax.route_updates JOIN parallax.route_peers p ON p.id = peer_id;\n";

static const char usage_routes_follow[] =
    "usage: " CTL_PROG " [--db CONNINFO] routes follow [--collector NAME] FILE\n"
    "\n"
    "The live feed: follows an MRT file a collector appends to (BIRD's mrtdump), from its\n"
    "start, importing whole records as they arrive and committing at least every second while\n"
    "they do (then refreshing the visibility bins); waits for the file if it is not there yet,\n"
    "and reopens it when it is replaced (rotated) or truncated. Runs until SIGTERM or SIGINT,\n"
    "then commits and prints its counts. Memory is bounded by the largest record (4 MiB).\n"
    "  --collector NAME  as for import (default: the file's name without its extension)\n";

static const char usage_routes_origins[] =
    "usage: " CTL_PROG " [--db CONNINFO] routes origins [--source NAME] FILE\n"
    "\n"
    "Imports a prefix-to-AS file (CAIDA pfx2as style: PREFIX<TAB>LENGTH<TAB>ASN per line; an\n"
    "ASN 'a_b' or 'a,b' counts as its first AS; '#' comments) into parallax.prefix_origins,\n"
    "replacing the rows of the same source, all or nothing. Where paths die names a hop's AS\n"
    "from it when the collectors announce nothing covering the hop.\n"
    "  --source NAME  the source the rows are kept under (default: the file's name)\n"
    "SQL: SELECT * FROM parallax.prefix_origins;\n";

/* The collector name from --collector or the first file's name, checked as the table does. */
static int collector_name(const ctl_args_t *args, const char *file, char *buf, size_t cap,
                          err_t *err)
{
    const char *given = ctl_args_value(args, "collector", 0);
    if (given)
        snprintf(buf, cap, "%s", given);
    else
        ctl_routes_default_collector(file, buf, cap);
    size_t n = strlen(buf);
    int ok = n > 0 && n <= 63 &&
             strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                         "XYZ0123456789._-") == n &&
             buf[0] != '.' && buf[0] != '_' && buf[0] != '-';
    if (!ok) {
        err_set(err,
                "collector name '%s' must be 1-63 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit%s",
                buf, given ? "" : " (give one with --collector)");
        return -1;
    }
    return 0;
}

static int cmd_routes_mrt(ctl_session_t *s, int argc, char **argv, err_t *err, int follow)
{
    static const ctl_opt_t opts[] = {{"collector", 0, 1, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, follow ? 1 : 64, err);
    if (!args)
        return CTL_EXIT_USAGE;
    char collector[80];
    size_t nfiles = ctl_args_npos(args);
    int rc = CTL_EXIT_USAGE;
    if (nfiles == 0) {
        err_set(err, "routes %s needs %s", follow ? "follow" : "import",
                follow ? "a FILE" : "one or more FILEs");
        goto done;
    }
    if (collector_name(args, ctl_args_pos(args, 0), collector, sizeof collector, err) < 0)
        goto done;
    rc = CTL_EXIT_FAIL;
    ctl_db_t *db = ctl_session_db(s, err);
    if (!db)
        goto done;
    importer_t im;
    if (importer_init(&im, db, collector, err) < 0)
        goto done;
    int work = 0;
    if (follow) {
        work = follow_file(&im, ctl_args_pos(args, 0), stdout);
    } else {
        /* One collector for all the files: usually one collector's dumps and updates, whose
         * peers must not count twice in the visibility bins. */
        for (size_t i = 0; i < nfiles && work == 0; i++)
            work = import_file(&im, ctl_args_pos(args, i), stdout);
    }
    importer_fini(&im);
    rc = ctl_outcome(work);
done:
    ctl_args_destroy(&args);
    return rc;
}

static int cmd_routes_import(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return cmd_routes_mrt(s, argc, argv, err, 0);
}

static int cmd_routes_follow(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return cmd_routes_mrt(s, argc, argv, err, 1);
}

static int cmd_routes_origins(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{"source", 0, 1, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    int rc = CTL_EXIT_USAGE;
    if (ctl_args_npos(args) != 1) {
        err_set(err, "routes origins needs a FILE");
        goto done;
    }
    const char *path = ctl_args_pos(args, 0);
    const char *source = ctl_args_value(args, "source", 0);
    if (!source) {
        const char *slash = strrchr(path, '/');
        source = slash ? slash + 1 : path;
    }
    rc = CTL_EXIT_FAIL;
    ctl_db_t *db = ctl_session_db(s, err);
    if (db)
        rc = ctl_outcome(import_origins(db, path, source, stdout, err));
done:
    ctl_args_destroy(&args);
    return rc;
}

const ctl_command_t ctl_routes_commands[] = {
    {"routes", NULL, usage_routes, NULL},
    {"routes", "import", usage_routes_import, cmd_routes_import},
    {"routes", "follow", usage_routes_follow, cmd_routes_follow},
    {"routes", "origins", usage_routes_origins, cmd_routes_origins},
};
const size_t ctl_routes_command_count = sizeof ctl_routes_commands / sizeof ctl_routes_commands[0];
