/* store: libpq behind one small interface. Results of every query are cleared in one place
 * (exec/done helpers); a failure that breaks the connection marks the store disconnected so
 * the coordinator reconnects instead of failing every later call. */
#include "store.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "status.h"

#define STORE_COPY_CHUNK (64 * 1024)
#define COPY_DETAIL_MAX (32 * 1024)
#define COPY_LINE_MAX (COPY_DETAIL_MAX + 4096)

struct store {
    char *conninfo;
    PGconn *conn;
    int has_merge;      /* the schema has parallax.merge_run() (migration 003 or later) */
    int has_heartbeats; /* ... and parallax.heartbeats */
    char sqlstate[6]; /* of the last failed statement, "" if none */
};

store_t *store_new(const char *conninfo)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(conninfo))) {
        free(s);
        return NULL;
    }
    return s;
}

static void disconnect(store_t *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
}

void store_destroy(store_t **store)
{
    if (!store || !*store)
        return;
    disconnect(*store);
    free((*store)->conninfo);
    free(*store);
    *store = NULL;
}

int store_connected(const store_t *store)
{
    return store->conn && PQstatus(store->conn) == CONNECTION_OK;
}

int store_fd(const store_t *store)
{
    return store_connected(store) ? PQsocket(store->conn) : -1;
}

/* The server's message on one line, without libpq's trailing newline. */
static void set_pg_error(err_t *err, const char *what, const PGresult *res, PGconn *conn)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m)
        m = PQerrorMessage(conn);
    char buf[ERR_MSG_MAX];
    snprintf(buf, sizeof buf, "%s", m && *m ? m : "unknown error");
    buf[strcspn(buf, "\n")] = '\0';
    err_set(err, "%s: %s", what, buf);
}

/* Runs a parameterised statement. Returns the result (caller PQclear()s it) if its status is
 * `want`, else NULL with err set; on a lost connection the store is disconnected. */
static PGresult *exec(store_t *s, const char *what, ExecStatusType want, const char *sql,
                      int n, const char *const *params, err_t *err)
{
    PGresult *res = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (res && PQresultStatus(res) == want)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
    set_pg_error(err, what, res, s->conn);
    PQclear(res);
    if (PQstatus(s->conn) != CONNECTION_OK)
        disconnect(s);
    return NULL;
}

/* Like exec() for statements whose result is not needed. */
static int run(store_t *s, const char *what, const char *sql, int n, const char *const *params,
               err_t *err)
{
    PGresult *res = exec(s, what, PGRES_COMMAND_OK, sql, n, params, err);
    PQclear(res);
    return res ? 0 : -1;
}

int store_connect(store_t *s, err_t *err)
{
    disconnect(s);
    s->conn = PQconnectdb(s->conninfo);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        set_pg_error(err, "cannot connect to the database", NULL, s->conn);
        disconnect(s);
        return -1;
    }
    PGresult *res = exec(s, "checking the schema", PGRES_TUPLES_OK,
                         "SELECT to_regclass('parallax.results') IS NOT NULL, "
                         "to_regprocedure('parallax.merge_run(timestamptz)') IS NOT NULL, "
                         "to_regclass('parallax.heartbeats') IS NOT NULL",
                         0, NULL, err);
    if (!res)
        return -1;
    int migrated = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    /* A coordinator newer than the schema still stores results; it merges once migrated. */
    s->has_merge = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    s->has_heartbeats = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    PQclear(res);
    if (!migrated) {
        err_set(err, "the database has no parallax schema: run 'parallaxctl db migrate' first");
        disconnect(s);
        return -2;
    }
    /* The ACK promises durability: never let a session weaken synchronous_commit. */
    static const char *const setup[] = {
        "SET synchronous_commit = on",
        "SET TIME ZONE 'UTC'",
        "LISTEN parallax_agents",
        "LISTEN parallax_schedule",
        "CREATE TEMP TABLE staging (LIKE parallax.results INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        if (run(s, "setting up the session", setup[i], 0, NULL, err) < 0) {
            disconnect(s);
            return -1;
        }
    }
    return 0;
}

int store_register_coordinator(store_t *s, const char *public_key, const char *endpoint,
                               err_t *err)
{
    const char *p[] = {public_key, endpoint};
    return run(s, "recording the coordinator's key",
               "INSERT INTO parallax.coordinator (public_key, endpoint) VALUES ($1, $2) "
               "ON CONFLICT (id) DO UPDATE SET public_key = $1, endpoint = $2, updated_at = now()",
               2, p, err);
}

int store_load_agents(store_t *s, allow_entry_t **entries, size_t *n, err_t *err)
{
    PGresult *res = exec(s, "loading agents", PGRES_TUPLES_OK,
                         "SELECT id, name, public_key, enabled FROM parallax.agents", 0, NULL,
                         err);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    allow_entry_t *out = calloc(rows ? (size_t)rows : 1, sizeof *out);
    if (!out) {
        PQclear(res);
        err_set(err, "out of memory loading agents");
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        out[i].agent_id = atoi(PQgetvalue(res, i, 0));
        snprintf(out[i].name, sizeof out[i].name, "%s", PQgetvalue(res, i, 1));
        snprintf(out[i].public_key, sizeof out[i].public_key, "%s", PQgetvalue(res, i, 2));
        out[i].enabled = strcmp(PQgetvalue(res, i, 3), "t") == 0;
    }
    PQclear(res);
    *entries = out;
    *n = (size_t)rows;
    return 0;
}

int store_poll_changes(store_t *s, unsigned *changed, err_t *err)
{
    if (!PQconsumeInput(s->conn)) {
        set_pg_error(err, "reading notifications", NULL, s->conn);
        if (PQstatus(s->conn) != CONNECTION_OK)
            disconnect(s);
        return -1;
    }
    PGnotify *n;
    while ((n = PQnotifies(s->conn))) {
        if (strcmp(n->relname, "parallax_agents") == 0)
            *changed |= STORE_CHANGED_AGENTS;
        else if (strcmp(n->relname, "parallax_schedule") == 0)
            *changed |= STORE_CHANGED_SCHEDULE;
        PQfreemem(n);
    }
    return 0;
}

void store_schedule_free(Parallax__Schedule **s)
{
    if (!s || !*s)
        return;
    for (size_t i = 0; i < (*s)->n_probes; i++) {
        Parallax__Probe *p = (*s)->probes[i];
        if (!p)
            continue;
        free(p->target);
        free(p->address);
        free(p->spec);
        free(p);
    }
    free((*s)->probes);
    free(*s);
    *s = NULL;
}

/* FNV-1a: a stable, cheap fingerprint of the schedule's contents for its version. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int store_load_schedule(store_t *s, Parallax__Schedule **out, err_t *err)
{
    PGresult *res = exec(s, "loading the schedule", PGRES_TUPLES_OK,
                         "SELECT probe_id, target, address, spec, interval_s, phase_ms, "
                         "timeout_ms, control FROM parallax.schedule_view ORDER BY probe_id",
                         0, NULL, err);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Parallax__Schedule *sched = calloc(1, sizeof *sched);
    if (!sched)
        goto oom;
    parallax__schedule__init(sched);
    sched->probes = calloc(rows ? (size_t)rows : 1, sizeof *sched->probes);
    if (!sched->probes)
        goto oom;
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < rows; i++) {
        Parallax__Probe *p = calloc(1, sizeof *p);
        if (!p)
            goto oom;
        parallax__probe__init(p);
        sched->probes[sched->n_probes++] = p;
        p->probe_id = strtoull(PQgetvalue(res, i, 0), NULL, 10);
        p->target = strdup(PQgetvalue(res, i, 1));
        p->address = strdup(PQgetvalue(res, i, 2));
        p->spec = strdup(PQgetvalue(res, i, 3));
        p->interval_s = (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10);
        p->phase_ms = (uint32_t)strtoul(PQgetvalue(res, i, 5), NULL, 10);
        p->timeout_ms = (uint32_t)strtoul(PQgetvalue(res, i, 6), NULL, 10);
        p->control = strcmp(PQgetvalue(res, i, 7), "t") == 0;
        if (!p->target || !p->address || !p->spec)
            goto oom;
        for (int c = 0; c < 8; c++)
            h = fnv1a(h, PQgetvalue(res, i, c), (size_t)PQgetlength(res, i, c) + 1);
    }
    PQclear(res);
    /* Versions travel as uint64 but are kept below 2^63 so SQL can store them; never 0. */
    sched->version = (h & INT64_MAX) ? (h & INT64_MAX) : 1;
    *out = sched;
    return 0;
oom:
    PQclear(res);
    store_schedule_free(&sched);
    err_set(err, "out of memory loading the schedule");
    return -1;
}

/* Appends src to the COPY text buffer, escaping what the text format treats specially. */
static size_t copy_escape(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (const char *p = src; *p && n + 2 < cap; p++) {
        switch (*p) {
        case '\\':
            dst[n++] = '\\';
            dst[n++] = '\\';
            break;
        case '\t':
            dst[n++] = '\\';
            dst[n++] = 't';
            break;
        case '\n':
            dst[n++] = '\\';
            dst[n++] = 'n';
            break;
        case '\r':
            dst[n++] = '\\';
            dst[n++] = 'r';
            break;
        default:
            dst[n++] = *p;
        }
    }
    dst[n] = '\0';
    return n;
}

static void json_ms(json_t *j, const char *key, uint32_t us)
{
    char num[32];
    snprintf(num, sizeof num, "%.3f", us / 1000.0);
    if (key)
        json_key(j, key);
    json_raw_number(j, num);
}

/* The kind-specific details of r as a JSON document (caller frees), or NULL if it has none
 * or memory ran out (the row is then stored without them). */
static char *detail_json(const Parallax__Result *r)
{
    if (!r->http && !r->tls && !r->dns && !r->trace)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    json_t *j = json_new(f);
    if (!j) {
        fclose(f);
        free(text);
        return NULL;
    }
    json_object_begin(j);
    if (r->http) {
        json_key(j, "http");
        json_object_begin(j);
        json_ms(j, "connect_ms", r->http->connect_us);
        json_ms(j, "tls_ms", r->http->tls_us);
        json_ms(j, "first_byte_ms", r->http->first_byte_us);
        json_ms(j, "total_ms", r->http->total_us);
        json_object_end(j);
    }
    if (r->tls) {
        json_key(j, "tls");
        json_object_begin(j);
        json_key(j, "verified");
        json_bool(j, r->tls->verified);
        json_key(j, "days_left");
        json_int(j, r->tls->days_left);
        json_key(j, "verify_error");
        json_string(j, r->tls->verify_error);
        json_object_end(j);
    }
    if (r->dns) {
        json_key(j, "dns");
        json_object_begin(j);
        json_key(j, "rcode");
        json_int(j, r->dns->rcode);
        json_key(j, "aa");
        json_bool(j, r->dns->aa);
        json_key(j, "answers");
        json_int(j, r->dns->answers);
        json_key(j, "soa_serial");
        if (r->dns->has_soa)
            json_int(j, r->dns->soa_serial);
        else
            json_null(j);
        json_key(j, "over_tcp");
        json_bool(j, r->dns->over_tcp);
        json_object_end(j);
    }
    if (r->trace) {
        json_key(j, "trace");
        json_object_begin(j);
        json_key(j, "reached");
        json_bool(j, r->trace->reached);
        json_key(j, "last_responsive_ttl");
        json_int(j, r->trace->last_responsive_ttl);
        json_key(j, "hops");
        json_array_begin(j);
        for (size_t i = 0; i < r->trace->n_hops; i++) {
            const Parallax__TraceHop *h = r->trace->hops[i];
            json_object_begin(j);
            json_key(j, "ttl");
            json_int(j, h->ttl);
            json_key(j, "address");
            json_string(j, h->address && *h->address ? h->address : NULL);
            json_key(j, "rtt_ms");
            if (h->address && *h->address)
                json_ms(j, NULL, h->rtt_us);
            else
                json_null(j);
            json_object_end(j);
        }
        json_array_end(j);
        json_object_end(j);
    }
    json_object_end(j);
    int failed = json_error(j) < 0;
    json_destroy(&j);
    if (fclose(f) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

/* One result as a line of COPY text; returns its length. Fields are validated by the wire
 * module, so their sizes are bounded and the line fits. */
static int copy_line(char *buf, size_t cap, int agent_id, const Parallax__Result *r)
{
    char msg[2 * 512 + 8];
    copy_escape(msg, sizeof msg, r->message ? r->message : "");
    /* Details are bounded by the wire limits (64 hops), so twice their size fits the line. */
    char *detail = detail_json(r);
    char detail_esc[COPY_DETAIL_MAX];
    if (detail && strlen(detail) * 2 + 1 > sizeof detail_esc) {
        free(detail);
        detail = NULL;
    }
    int has_detail = detail != NULL;
    if (has_detail)
        copy_escape(detail_esc, sizeof detail_esc, detail);
    free(detail);
    time_t secs = (time_t)(r->ts_us / 1000000);
    long usec = (long)(r->ts_us % 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char rtt[32] = "\\N", app[16] = "\\N", itype[8] = "\\N", icode[8] = "\\N";
    if (r->rtt_us || r->status == PARALLAX__STATUS__STATUS_OK)
        snprintf(rtt, sizeof rtt, "%.3f", r->rtt_us / 1000.0);
    if (r->app_code)
        snprintf(app, sizeof app, "%d", (int)r->app_code);
    if (r->status == PARALLAX__STATUS__STATUS_UNREACHABLE && (r->icmp_type || r->icmp_code)) {
        snprintf(itype, sizeof itype, "%u", (unsigned)r->icmp_type);
        snprintf(icode, sizeof icode, "%u", (unsigned)r->icmp_code);
    }
    const char *from = r->icmp_from && *r->icmp_from ? r->icmp_from : "\\N";
    return snprintf(buf, cap,
                    "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00\t%d\t%" PRIu64
                    "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                    tm.tm_sec, usec, agent_id, r->probe_id, status_name(r->status), rtt, app,
                    itype, icode, from, r->message && *r->message ? msg : "\\N",
                    r->control ? "t" : "f", has_detail ? detail_esc : "\\N");
}

static int copy_batch(store_t *s, int agent_id, const Parallax__ResultBatch *b, err_t *err)
{
    PGresult *res = exec(s, "starting COPY", PGRES_COPY_IN,
                         "COPY pg_temp.staging (ts, agent_id, probe_id, status, rtt_ms, "
                         "app_code, icmp_type, icmp_code, icmp_from, message, control, detail) "
                         "FROM STDIN",
                         0, NULL, err);
    if (!res)
        return -1;
    PQclear(res);
    char *buf = malloc(STORE_COPY_CHUNK);
    char *line = malloc(COPY_LINE_MAX);
    if (!buf || !line) {
        free(buf);
        free(line);
        PQputCopyEnd(s->conn, "out of memory");
        err_set(err, "out of memory");
        return -1;
    }
    size_t used = 0;
    int ok = 1;
    for (size_t i = 0; ok && i < b->n_results; i++) {
        int n = copy_line(line, COPY_LINE_MAX, agent_id, b->results[i]);
        if (n < 0 || (size_t)n >= COPY_LINE_MAX) {
            ok = 0;
            break;
        }
        if (used + (size_t)n > STORE_COPY_CHUNK) {
            ok = PQputCopyData(s->conn, buf, (int)used) == 1;
            used = 0;
        }
        memcpy(buf + used, line, (size_t)n);
        used += (size_t)n;
    }
    if (ok && used)
        ok = PQputCopyData(s->conn, buf, (int)used) == 1;
    free(buf);
    free(line);
    if (PQputCopyEnd(s->conn, ok ? NULL : "batch could not be encoded") != 1)
        ok = 0;
    res = PQgetResult(s->conn);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
        set_pg_error(err, "COPY", res, s->conn);
        ok = 0;
    }
    PQclear(res);
    while ((res = PQgetResult(s->conn)))
        PQclear(res);
    if (PQstatus(s->conn) != CONNECTION_OK)
        disconnect(s);
    return ok ? 0 : -1;
}

/* A failure no retry can fix: the data itself was refused (SQLSTATE class 22, data
 * exception, or 23, integrity violation) on a healthy connection. Anything else — a lost
 * connection, a shutdown, a lock timeout, a missing table — may heal, so it is retried. */
static int refused_data(const store_t *s)
{
    return store_connected(s) && (strncmp(s->sqlstate, "22", 2) == 0 ||
                                  strncmp(s->sqlstate, "23", 2) == 0);
}

static store_ingest_t abort_ingest(store_t *s, store_ingest_t verdict)
{
    if (store_connected(s))
        run(s, "ROLLBACK", "ROLLBACK", 0, NULL, NULL);
    return verdict;
}

store_ingest_t store_ingest(store_t *s, int agent_id, const Parallax__ResultBatch *b, err_t *err)
{
    if (!store_connected(s)) {
        err_set(err, "database not connected");
        return STORE_INGEST_RETRY;
    }
    char id[16], stream[24], seq[24], count[16];
    snprintf(id, sizeof id, "%d", agent_id);
    snprintf(stream, sizeof stream, "%" PRId64, (int64_t)b->stream);
    snprintf(seq, sizeof seq, "%" PRId64, (int64_t)b->seq);
    snprintf(count, sizeof count, "%zu", b->n_results);
    const char *p[] = {id, stream, seq, count};
    if (run(s, "BEGIN", "BEGIN", 0, NULL, err) < 0)
        return STORE_INGEST_RETRY;
    /* FOR SHARE holds off a concurrent disable until this batch is in. */
    PGresult *res = exec(s, "checking the agent", PGRES_TUPLES_OK,
                         "SELECT 1 FROM parallax.agents WHERE id = $1 AND enabled FOR SHARE", 1,
                         p, err);
    if (!res)
        return abort_ingest(s, STORE_INGEST_RETRY);
    int allowed = PQntuples(res) == 1;
    PQclear(res);
    if (!allowed) {
        err_set(err, "agent %d is disabled or removed", agent_id);
        return abort_ingest(s, STORE_INGEST_NOT_ALLOWED);
    }
    res = exec(s, "recording the batch", PGRES_COMMAND_OK,
               "INSERT INTO parallax.batches (agent_id, stream, seq, results) "
               "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
               4, p, err);
    if (!res)
        return abort_ingest(s, STORE_INGEST_RETRY);
    int fresh = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!fresh)
        return abort_ingest(s, STORE_INGEST_DUPLICATE);
    if (copy_batch(s, agent_id, b, err) < 0)
        goto failed;
    res = exec(s, "creating partitions", PGRES_TUPLES_OK,
               "SELECT parallax.ensure_partition(d) FROM "
               "(SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date AS d FROM pg_temp.staging) days",
               0, NULL, err);
    if (!res)
        goto failed;
    PQclear(res);
    res = exec(s, "storing results", PGRES_COMMAND_OK,
               "INSERT INTO parallax.results (ts, agent_id, probe_id, status, rtt_ms, app_code, "
               "icmp_type, icmp_code, icmp_from, message, control, detail) "
               "SELECT ts, agent_id, probe_id, status, rtt_ms, app_code, icmp_type, icmp_code, "
               "icmp_from, message, control, detail FROM pg_temp.staging "
               "ON CONFLICT DO NOTHING",
               0, NULL, err);
    if (!res)
        goto failed;
    PQclear(res);
    /* Only a successful COMMIT may lead to an ACK. */
    if (run(s, "COMMIT", "COMMIT", 0, NULL, err) < 0)
        return abort_ingest(s, STORE_INGEST_RETRY);
    return STORE_INGEST_STORED;
failed:
    return abort_ingest(s, refused_data(s) ? STORE_INGEST_REJECT : STORE_INGEST_RETRY);
}

int store_touch_agent(store_t *s, int agent_id, const char *agent_version, err_t *err)
{
    char id[16];
    snprintf(id, sizeof id, "%d", agent_id);
    const char *p[] = {id, agent_version && *agent_version ? agent_version : NULL};
    return run(s, "updating last_seen",
               "UPDATE parallax.agents SET last_seen = now(), "
               "agent_version = coalesce($2, agent_version) WHERE id = $1",
               2, p, err);
}

int store_heartbeat(store_t *s, int agent_id, err_t *err)
{
    if (!s->has_heartbeats)
        return 0;
    char id[16];
    snprintf(id, sizeof id, "%d", agent_id);
    const char *p[] = {id};
    return run(s, "recording a heartbeat",
               "INSERT INTO parallax.heartbeats (agent_id, ts) VALUES ($1, now())", 1, p, err);
}

int store_merge(store_t *s, long *bins, err_t *err)
{
    *bins = 0;
    if (!s->has_merge)
        return 0;
    PGresult *res = exec(s, "merging closed bins", PGRES_TUPLES_OK,
                         "SELECT parallax.merge_run(now())", 0, NULL, err);
    if (!res)
        return -1;
    *bins = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
