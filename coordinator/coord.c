/* coord: the coordinator's loop over the agents' socket, the ZAP handler, the database's
 * notifications and a signalfd. The merge runs beside it on a thread of its own (merger), so
 * nothing here waits for it. Database trouble never stops the loop: while the database is
 * away every batch is answered "retry" (agents keep it and send it again) and the connection
 * is re-made with capped exponential back-off; once back, the allow-list and the schedule are
 * reloaded, since notifications sent meanwhile were lost. */
#include "coord.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"
#include "backoff.h"
#include "clocksync.h"
#include "door.h"
#include "keys.h"
#include "log.h"
#include "log_limit.h"
#include "merger.h"
#include "metrics.h"
#include "metrics_http.h"
#include "router.h"
#include "refusals.h"
#include "sessions.h"
#include "store.h"
#include "store_agents.h"
#include "store_config.h"
#include "store_ingest.h"
#include "timeutil.h"
#include "wire.h"

#define COORD_BACKOFF_MIN_MS 250
#define COORD_BACKOFF_MAX_MS 10000
#define COORD_MAX_SESSIONS 4096
/* Batches received together are stored in one transaction (one commit, one trigger run)
 * while each keeps its own exactly-once record; these bound one such group. */
#define COORD_GROUP_MAX_BATCHES 64
#define COORD_GROUP_MAX_RESULTS 8000
/* Clock: an estimate is written when it moved by this much; bins are re-merged when the
 * stored offset moved by COORD_CLOCK_REMERGE_MS (a quarter of the smallest bin: enough
 * results change bins to matter); offsets beyond COORD_CLOCK_WARN_MS are worth a warning. */
#define COORD_CLOCK_STEP_MS 20
#define COORD_CLOCK_REMERGE_MS 250
#define COORD_CLOCK_WARN_MS 1000
/* Damping, against an agent that heartbeats thousands of times a second or whose clock swings
 * (a bug, or a stolen key): a heartbeat is written (last_seen, the heartbeats table) at most
 * once a second per session unless it reports another schedule version, and a new clock
 * estimate stored, with the re-merge it queues, at most every 5 s. Agents heartbeat every few
 * seconds; a real clock step is still taken within 5 s. */
#define COORD_HEARTBEAT_RECORD_US 1000000
#define COORD_CLOCK_MIN_INTERVAL_US (5 * 1000000LL)
/* The one log_limit key all unregistered public keys share (not a Z85 key: it has spaces). */
#define COORD_UNREGISTERED "unregistered keys"
/* An agent speaking another protocol version is logged and its refusal stored at most this
 * often while it goes on sending (and at once when the version it speaks changes). */
#define COORD_REFUSAL_PERIOD_US (60 * 1000000LL)
/* Refused handshakes and dropped messages: one line a minute per key, with a count of the
 * rest; this many keys are told apart, the others share a line. */
#define COORD_LOG_LIMIT_KEYS 256
/* Handshakes answered per turn of the loop: a flood of them waits its turn behind the agents'
 * messages instead of starving them (each costs a lookup; 256 is far above a real fleet's
 * reconnect rate). */
#define COORD_ZAP_BUDGET 256

/* A batch waiting to be stored with the others of its group. */
typedef struct pending {
    router_msg_t msg;               /* owns the bytes and the route to answer on */
    Parallax__Envelope *env;        /* unpacked from msg */
    Parallax__ResultBatch admitted; /* a view of env's batch: what the door let in */
    door_report_t door;             /* ... and what it did not */
    int64_t recv_mono_us;           /* its receipt, for the ingest latency */
    int agent_id;
    char name[64];
} pending_t;

/* The loop's metrics (docs/metrics.md); the merger registers the database-derived ones. */
typedef struct coord_metrics {
    metrics_family_t *batches, *duplicates, *results, *latency, *rejected;
    metrics_family_t *door_results, *door_gaps, *door_clamped, *spool_dropped;
    metrics_family_t *handshakes, *messages, *sessions, *db_up;
} coord_metrics_t;

/* From a local commit (a few ms) to a database under load or a large group (seconds). */
static const double coord_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1,     2.5,  5,     10};

struct coord {
    coord_config_t cfg;
    keypair_t keys;
    router_t *router;
    store_t *store;
    allow_t *allow;
    Parallax__Schedule *schedule;
    sessions_t *sessions;
    refusals_t *refusals;  /* agents speaking another protocol version */
    log_limit_t *zap_log;  /* refused handshakes, by public key */
    log_limit_t *drop_log; /* messages dropped, by sender */
    log_limit_t *door_log; /* batches with items refused at the door, by agent */
    backoff_t backoff;
    int key_unsaved;     /* keys were made at this start: written once the database agrees */
    unsigned reload_due; /* STORE_CHANGED_* whose reload failed: tried again each turn */
    int db_ready;        /* connected, and everything a fresh connection needs is loaded */
    int db_was_up;       /* for logging the loss of the database once */
    int64_t housekeeping_mono_us;
    merger_t *merger; /* started by coord_run(), stopped at its clean end or by coord_destroy() */
    metrics_t *metrics;
    coord_metrics_t m;
    metrics_http_t *http; /* NULL: metrics_listen is none, or its address could not be bound */
    pending_t group[COORD_GROUP_MAX_BATCHES];
    size_t n_group, group_results;
    int sigfd;
    int stopping;
};

/* Reads the key pair, or makes one in memory when the file is missing: it is written only
 * once the database shows it is not replacing a registered identity (save_new_keys). */
static int load_or_make_keys(coord_t *c, err_t *err)
{
    const char *path = c->cfg.key_file;
    if (access(path, F_OK) == 0) {
        if (c->cfg.new_key) {
            err_set(err,
                    "--new-key: %s exists; the coordinator keeps the identity it holds (move "
                    "the file away first to make a new one)",
                    path);
            return -1;
        }
        return keys_file_read(path, &c->keys, err);
    }
    if (keys_generate(&c->keys, err) < 0)
        return -1;
    c->key_unsaved = 1;
    return 0;
}

/* A new key pair replaces none the database has, unless --new-key: a lost key file would
 * otherwise silently become a new identity, and every deployed agent would be locked out
 * (they trust the registered key). Returns 0 when saved, -2 (fatal set) when not to go on. */
static int save_new_keys(coord_t *c, err_t *fatal)
{
    char registered[KEYS_Z85_LEN + 1];
    err_t err = {{0}};
    if (store_coordinator_key(c->store, registered, sizeof registered, &err) < 0) {
        err_set(fatal, "%s", err.msg);
        return -1;
    }
    if (*registered && strcmp(registered, c->keys.public_z85) && !c->cfg.new_key) {
        err_set(fatal,
                "key_file %s is missing, but the database has this deployment's coordinator key "
                "%s registered, which every agent trusts: restore the key file, or start once "
                "with --new-key to make a new identity (then give every agent the new key)",
                c->cfg.key_file, registered);
        return -2;
    }
    if (keys_file_write(c->cfg.key_file, &c->keys, fatal) < 0)
        return -2;
    c->key_unsaved = 0;
    if (*registered)
        log_warn("made a new coordinator key pair in %s (public key %s) replacing %s "
                 "(--new-key): every agent needs the new key",
                 c->cfg.key_file, c->keys.public_z85, registered);
    else
        log_info("created coordinator key pair in %s (public key %s)", c->cfg.key_file,
                 c->keys.public_z85);
    return 0;
}

/* Registers the loop's metrics and the process's. Returns 0, or -1 on out of memory. */
static int register_metrics(coord_t *c)
{
    metrics_t *r = c->metrics;
    coord_metrics_t *m = &c->m;
    m->batches = metrics_family_new(r, METRICS_COUNTER, "parallax_batches_ingested_total",
                                    "Result batches stored.", "agent", NULL, 0);
    m->duplicates =
        metrics_family_new(r, METRICS_COUNTER, "parallax_batches_duplicate_total",
                           "Batches received again after they were stored.", "agent", NULL, 0);
    m->results = metrics_family_new(r, METRICS_COUNTER, "parallax_results_ingested_total",
                                    "Results stored.", "agent", NULL, 0);
    m->latency =
        metrics_family_new(r, METRICS_HISTOGRAM, "parallax_ingest_latency_seconds",
                           "From a batch's receipt to its commit.", NULL, coord_latency_buckets,
                           sizeof coord_latency_buckets / sizeof coord_latency_buckets[0]);
    m->rejected = metrics_family_new(
        r, METRICS_COUNTER, "parallax_batches_rejected_total",
        "Batches not stored: invalid (never will be), not_allowed (agent disabled), retry.",
        "reason", NULL, 0);
    m->door_results = metrics_family_new(
        r, METRICS_COUNTER, "parallax_door_refused_results_total",
        "Results refused at the door: stamped outside the accepted window.", "agent", NULL, 0);
    m->door_gaps = metrics_family_new(r, METRICS_COUNTER, "parallax_door_refused_gaps_total",
                                      "Gap records refused at the door.", "agent", NULL, 0);
    m->door_clamped = metrics_family_new(r, METRICS_COUNTER, "parallax_door_clamped_gaps_total",
                                         "Gap records cut to the accepted window, then stored.",
                                         "agent", NULL, 0);
    m->spool_dropped = metrics_family_new(
        r, METRICS_COUNTER, "parallax_spool_dropped_total",
        "Runs whose results an agent's spool dropped, as its gap records report them.", "agent",
        NULL, 0);
    m->handshakes = metrics_family_new(r, METRICS_COUNTER, "parallax_handshakes_refused_total",
                                       "CURVE handshakes refused: unregistered or disabled keys.",
                                       "reason", NULL, 0);
    m->messages = metrics_family_new(r, METRICS_COUNTER, "parallax_messages_refused_total",
                                     "Messages dropped: not_admitted, malformed, protocol_version.",
                                     "reason", NULL, 0);
    m->sessions = metrics_family_new(r, METRICS_GAUGE, "parallax_sessions",
                                     "Agents with a session.", NULL, NULL, 0);
    m->db_up =
        metrics_family_new(r, METRICS_GAUGE, "parallax_database_up",
                           "1 while the loop's database connection is ready.", NULL, NULL, 0);
    metrics_family_t *build = metrics_family_new(r, METRICS_GAUGE, "parallax_build_info",
                                                 "The coordinator's version.", "version", NULL, 0);
    metrics_family_t *start =
        metrics_family_new(r, METRICS_GAUGE, "parallax_start_time_seconds",
                           "Unix time the coordinator started.", NULL, NULL, 0);
    if (!m->batches || !m->duplicates || !m->results || !m->latency || !m->rejected ||
        !m->door_results || !m->door_gaps || !m->door_clamped || !m->spool_dropped ||
        !m->handshakes || !m->messages || !m->sessions || !m->db_up || !build || !start)
        return -1;
    metrics_set(build, (const char *const[]){PX_VERSION}, 1);
    metrics_set(start, NULL, (double)time_now_us() / 1e6);
    /* Every reason from the start, so that rate() sees the first refusal as an increase. */
    static const char *const rejected[] = {"invalid", "not_allowed", "retry"};
    static const char *const handshakes[] = {"unregistered", "disabled"};
    static const char *const messages[] = {"not_admitted", "malformed", "protocol_version"};
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++)
        metrics_add(m->rejected, &rejected[i], 0);
    for (size_t i = 0; i < sizeof handshakes / sizeof handshakes[0]; i++)
        metrics_add(m->handshakes, &handshakes[i], 0);
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
        metrics_add(m->messages, &messages[i], 0);
    return 0;
}

coord_t *coord_new(const coord_config_t *cfg, err_t *err)
{
    coord_t *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(err, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->sigfd = -1;
    backoff_init(&c->backoff, COORD_BACKOFF_MIN_MS, COORD_BACKOFF_MAX_MS);
    if (load_or_make_keys(c, err) < 0)
        goto fail;
    if (!(c->allow = allow_new()) || !(c->store = store_new(cfg->database, STORE_SESSION_INGEST)) ||
        !(c->sessions = sessions_new(COORD_MAX_SESSIONS)) ||
        !(c->refusals = refusals_new(COORD_MAX_SESSIONS)) ||
        !(c->zap_log = log_limit_new(COORD_LOG_LIMIT_KEYS, COORD_REFUSAL_PERIOD_US)) ||
        !(c->drop_log = log_limit_new(COORD_LOG_LIMIT_KEYS, COORD_REFUSAL_PERIOD_US)) ||
        !(c->door_log = log_limit_new(COORD_LOG_LIMIT_KEYS, COORD_REFUSAL_PERIOD_US)) ||
        !(c->metrics = metrics_new()) || register_metrics(c) < 0) {
        err_set(err, "out of memory");
        goto fail;
    }
    c->router = router_new(cfg->listen, &c->keys, PX_WIRE_MAX_TO_COORD, 1, err);
    if (!c->router)
        goto fail;
    return c;
fail:
    coord_destroy(&c);
    return NULL;
}

static void group_clear(coord_t *c)
{
    for (size_t i = 0; i < c->n_group; i++) {
        wire_free(&c->group[i].env);
        router_msg_clear(&c->group[i].msg);
    }
    c->n_group = 0;
    c->group_results = 0;
}

void coord_destroy(coord_t **coord)
{
    if (!coord || !*coord)
        return;
    coord_t *c = *coord;
    group_clear(c);
    metrics_http_stop(&c->http);
    merger_stop(&c->merger);
    router_destroy(&c->router);
    store_destroy(&c->store);
    allow_destroy(&c->allow);
    store_schedule_free(&c->schedule);
    sessions_destroy(&c->sessions);
    refusals_destroy(&c->refusals);
    log_limit_destroy(&c->zap_log);
    log_limit_destroy(&c->drop_log);
    log_limit_destroy(&c->door_log);
    metrics_destroy(&c->metrics);
    if (c->sigfd >= 0)
        close(c->sigfd);
    free(c);
    *coord = NULL;
}

/* ---- sending ----------------------------------------------------------------------------- */

/* Returns 0 if sent. A failed send loses nothing: the agent resends what was not
 * acknowledged and says hello again (getting its schedule) when it reconnects. */
static int send_envelope(coord_t *c, const uint8_t *route, size_t route_len,
                         const Parallax__Envelope *env, const char *agent)
{
    err_t err = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_pack(env, &buf, &len, &err) < 0) {
        log_error("agent %s: %s", agent, err.msg);
        return -1;
    }
    int rc = router_send(c->router, route, route_len, buf, len, &err);
    if (rc == -1)
        log_debug("agent %s: %s not sent (it will resend or reconnect): %s", agent,
                  wire_body_name(env), err.msg);
    else if (rc < 0)
        log_warn("agent %s: %s not sent: %s", agent, wire_body_name(env), err.msg);
    free(buf);
    return rc < 0 ? -1 : 0;
}

static void send_schedule(coord_t *c, session_t *s)
{
    if (!c->schedule)
        return;
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_SCHEDULE;
    env.schedule = c->schedule;
    if (send_envelope(c, s->route, s->route_len, &env, s->name) < 0)
        return;
    session_step(s, SESSION_EV_PUSHED, c->schedule->version, c->schedule->version);
    log_info("agent %s: sent schedule version %llu (%zu probes)", s->name,
             (unsigned long long)c->schedule->version, c->schedule->n_probes);
}

/* One-off traces the merge found due (merger.h): each goes to its agent if it has a session
 * now, and those sent are recorded; the others expire unsent (docs/routes.md). At most
 * COORD_REQUESTS_PER_TURN a turn, so a burst never holds up the loop. */
#define COORD_REQUESTS_PER_TURN 64

static void send_requests(coord_t *c)
{
    store_request_t reqs[COORD_REQUESTS_PER_TURN];
    int64_t sent[COORD_REQUESTS_PER_TURN];
    size_t n = merger_take_requests(c->merger, reqs, COORD_REQUESTS_PER_TURN), n_sent = 0;
    for (size_t i = 0; i < n; i++) {
        const store_request_t *r = &reqs[i];
        session_t *s = sessions_find(c->sessions, r->agent_id);
        if (!s || s->state == SESSION_REFUSED || s->state == SESSION_EXPIRED) {
            log_debug("probe request %lld: agent %d has no session; it expires unsent",
                      (long long)r->request_id, r->agent_id);
            continue;
        }
        Parallax__Probe probe = PARALLAX__PROBE__INIT;
        probe.probe_id = (uint64_t)r->probe_id;
        probe.target = (char *)r->target;
        probe.address = (char *)r->address;
        probe.spec = (char *)r->spec;
        /* Not used by a request, but a probe's fields must be valid on the wire. */
        probe.interval_s = PX_WIRE_MAX_INTERVAL_S;
        probe.timeout_ms = r->timeout_ms;
        probe.allow_internal = r->allow_internal;
        Parallax__ProbeRequest q = PARALLAX__PROBE_REQUEST__INIT;
        q.request_id = (uint64_t)r->request_id;
        q.probe = &probe;
        Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
        env.version = PX_PROTOCOL_VERSION;
        env.body_case = PARALLAX__ENVELOPE__BODY_REQUEST;
        env.request = &q;
        if (send_envelope(c, s->route, s->route_len, &env, s->name) == 0) {
            sent[n_sent++] = r->request_id;
            log_info("agent %s: asked for a one-off %s to %s (request %lld)", s->name, r->spec,
                     r->target, (long long)r->request_id);
        }
    }
    err_t err = {{0}};
    if (n_sent > 0 && c->db_ready && store_requests_sent(c->store, sent, n_sent, &err) < 0)
        log_warn("%zu one-off probe requests sent but not recorded as sent: %s", n_sent, err.msg);
}

/* door: what was refused of the batch at the door (for a stored batch), or NULL. */
static void send_ack(coord_t *c, const router_msg_t *msg, const Parallax__ResultBatch *b,
                     Parallax__AckCode code, const char *reason, const door_report_t *door,
                     const char *agent)
{
    Parallax__Ack ack = PARALLAX__ACK__INIT;
    ack.stream = b->stream;
    ack.seq = b->seq;
    ack.code = code;
    ack.reason = (char *)(reason ? reason : "");
    if (door) {
        ack.refused_results = door->refused_results;
        ack.refused_gaps = door->refused_gaps;
        ack.clamped_gaps = door->clamped_gaps;
        ack.refused_reason = (char *)door->reason;
    }
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    send_envelope(c, msg->route, msg->route_len, &env, agent);
}

/* ---- database ---------------------------------------------------------------------------- */

static int session_admitted(void *arg, const session_t *s)
{
    const coord_t *c = arg;
    return allow_find_enabled(c->allow, s->public_key) != NULL;
}

static int reload_agents(coord_t *c, err_t *err)
{
    allow_entry_t *entries = NULL;
    size_t n = 0;
    if (store_load_agents(c->store, &entries, &n, err) < 0)
        return -1;
    int rc = allow_replace(c->allow, entries, n);
    free(entries);
    if (rc < 0) {
        /* The previous list stays in force, which is the safe side for a transient failure. */
        err_set(err, "out of memory reloading agents; keeping the previous allow-list");
        return -1;
    }
    log_info("allow-list loaded: %zu agents", n);
    /* Revocation cuts at once: a disabled, removed or re-keyed agent's session goes, so it
     * gets no schedule over the connection it still has (its messages are dropped by key). */
    size_t cut = sessions_revoke(c->sessions, session_admitted, c);
    if (cut)
        log_info("ended %zu session%s of agents no longer admitted", cut, cut == 1 ? "" : "s");
    return 0;
}

static void probe_left_out(void *arg, uint64_t probe_id, const char *why)
{
    (void)arg;
    /* Once per schedule change: the operator fixes the row, the change reloads. */
    log_warn("probe %llu left out of the schedule, the rest is sent: %s",
             (unsigned long long)probe_id, why);
}

static int reload_schedule(coord_t *c, err_t *err)
{
    Parallax__Schedule *fresh = NULL;
    if (store_load_schedule(c->store, &fresh, probe_left_out, c, err) < 0)
        return -1;
    if (c->schedule && c->schedule->version == fresh->version) {
        store_schedule_free(&fresh);
        return 0;
    }
    store_schedule_free(&c->schedule);
    c->schedule = fresh;
    log_info("schedule version %llu: %zu probes", (unsigned long long)fresh->version,
             fresh->n_probes);
    /* Live schedule changes: every agent heard from recently gets the new version now. */
    for (size_t i = 0; i < sessions_count(c->sessions); i++) {
        session_t *s = sessions_at(c->sessions, i);
        session_step(s, SESSION_EV_PUBLISHED, 0, fresh->version);
        send_schedule(c, s);
    }
    return 0;
}

/* Connects when the back-off allows, and loads what a fresh connection needs. Returns 0 when
 * the database is ready, -1 when not (batches get "retry"), -2 when it never will be without
 * an operator (fatal set). */
static int db_ensure(coord_t *c, err_t *fatal)
{
    if (!store_connected(c->store)) {
        c->db_ready = 0;
        if (c->db_was_up) {
            log_warn("lost the database connection: answering batches with retry until it is "
                     "back");
            c->db_was_up = 0;
        }
    }
    if (c->db_ready)
        return 0;
    int64_t now = time_mono_us();
    if (!backoff_due(&c->backoff, now))
        return -1;
    err_t err = {{0}};
    if (!store_connected(c->store)) {
        int rc = store_connect(c->store, &err);
        if (rc == -2) {
            err_set(fatal, "%s", err.msg);
            return -2;
        }
        if (rc < 0)
            goto failed;
    }
    if (c->key_unsaved) {
        int rc = save_new_keys(c, &err);
        if (rc == -2) {
            err_set(fatal, "%s", err.msg);
            return -2;
        }
        if (rc < 0)
            goto failed;
    }
    if (store_register_coordinator(c->store, c->keys.public_z85, c->cfg.advertise, &err) < 0 ||
        reload_agents(c, &err) < 0 || reload_schedule(c, &err) < 0)
        goto failed;
    backoff_reset(&c->backoff);
    c->db_ready = 1;
    c->db_was_up = 1;
    log_info("connected to the database; public key %s, agents connect to %s", c->keys.public_z85,
             c->cfg.advertise);
    return 0;
failed:;
    int64_t delay = backoff_failed(&c->backoff, now);
    log_warn("%s; retrying in %lld ms", err.msg, (long long)delay);
    return -1;
}

static void db_changes(coord_t *c)
{
    err_t err = {{0}};
    unsigned changed = 0;
    if (store_poll_changes(c->store, &changed, &err) < 0) {
        log_warn("%s", err.msg);
        return;
    }
    /* The notification is consumed: a reload that fails (a lock held by an operator, a
     * timeout) is remembered and tried again every turn until it succeeds. A reload that
     * lost the connection is redone by db_ensure anyway. */
    changed |= c->reload_due;
    c->reload_due = 0;
    if ((changed & STORE_CHANGED_AGENTS) && reload_agents(c, &err) < 0) {
        log_warn("%s; trying again", err.msg);
        c->reload_due |= STORE_CHANGED_AGENTS;
    }
    if ((changed & STORE_CHANGED_SCHEDULE) && reload_schedule(c, &err) < 0) {
        log_warn("%s; trying again", err.msg);
        c->reload_due |= STORE_CHANGED_SCHEDULE;
    }
}

/* ---- agents' messages -------------------------------------------------------------------- */

/* Whether a line about key may be written now (log_limit_allow): if so, note is set to
 * " (and N more like it since the last line)", or "" when nothing was held back, and *shared
 * says the line must not name key. */
static int log_allowed(log_limit_t *l, const char *key, char *note, size_t len, int *shared)
{
    unsigned long held;
    if (!log_limit_allow(l, key, time_mono_us(), &held, shared))
        return 0;
    if (held)
        snprintf(note, len, " (and %lu more like it since the last line)", held);
    else
        note[0] = '\0';
    return 1;
}

static int authorize(void *arg, const char *public_key, char *user_id, size_t len)
{
    coord_t *c = arg;
    const allow_entry_t *e = allow_find_enabled(c->allow, public_key);
    if (!e) {
        const allow_entry_t *known = allow_find(c->allow, public_key);
        metrics_add(c->m.handshakes, (const char *const[]){known ? "disabled" : "unregistered"}, 1);
        /* Limited: an unauthenticated peer reconnecting in a loop must not flood the log. A
         * known (disabled) agent gets a line a minute of its own; unregistered keys share
         * one, since a peer can make any number of them. */
        int shared;
        char note[80];
        if (!log_allowed(c->zap_log, known ? public_key : COORD_UNREGISTERED, note, sizeof note,
                         &shared))
            return 0;
        if (shared)
            log_warn("refused connections from more keys than are told apart%s", note);
        else if (known)
            log_warn("refused agent %s: disabled%s", known->name, note);
        else
            log_warn("refused connection from unregistered key %s%s", public_key, note);
        return 0;
    }
    /* The key itself becomes the connection's User-Id: each message is checked against the
     * live allow-list by key, so disabling takes effect on established connections too. */
    snprintf(user_id, len, "%s", public_key);
    return 1;
}

/* Records in the database that the agent was heard from. Heartbeats and hellos always
 * write; other messages at most every third of the session timeout, which keeps last_seen
 * (and so `online`) true for an agent that only sends batches, without a write per batch. */
static void record_heard(coord_t *c, session_t *s, int agent_id, const char *agent_version,
                         int64_t schedule_version, int heartbeat)
{
    int64_t now = time_mono_us();
    if (!heartbeat && !agent_version && s && s->recorded_mono_us &&
        now - s->recorded_mono_us < (int64_t)c->cfg.session_timeout_s * 1000000 / 3)
        return;
    if (heartbeat && s && s->recorded_mono_us &&
        now - s->recorded_mono_us < COORD_HEARTBEAT_RECORD_US &&
        schedule_version == s->recorded_version)
        return;
    if (!c->db_ready) {
        log_debug("agent %d: database away; liveness not recorded", agent_id);
        return;
    }
    err_t err = {{0}};
    if (store_touch_agent(c->store, agent_id, agent_version, schedule_version, &err) < 0 ||
        (heartbeat && store_heartbeat(c->store, agent_id, &err) < 0)) {
        log_warn("%s", err.msg);
        return;
    }
    if (s) {
        s->recorded_mono_us = now;
        s->recorded_version = schedule_version;
    }
}

static void update_clock(coord_t *c, session_t *s, int agent_id)
{
    int64_t offset_us, rtt_us;
    if (!s || clocksync_estimate(&s->clock, &offset_us, &rtt_us) < 0)
        return;
    int64_t now = time_mono_us();
    if (s->clock_stored && now - s->clock_stored_mono_us < COORD_CLOCK_MIN_INTERVAL_US) {
        s->clock_pending = 1; /* housekeeping stores it once the interval has passed */
        return;
    }
    s->clock_pending = 0;
    int64_t offset_ms = offset_us >= 0 ? (offset_us + 500) / 1000 : -((-offset_us + 500) / 1000);
    int64_t rtt_ms = rtt_us < 0 ? -1 : (rtt_us + 500) / 1000;
    if (!clocksync_worth_storing(s->clock_stored, s->stored_offset_ms, s->stored_rtt_ms, offset_ms,
                                 rtt_ms, COORD_CLOCK_STEP_MS) ||
        !c->db_ready)
        return;
    err_t err = {{0}};
    long queued = 0;
    if (store_set_clock(c->store, agent_id, (int)offset_ms, rtt_us < 0 ? -1.0 : rtt_us / 1000.0,
                        COORD_CLOCK_REMERGE_MS, &queued, &err) < 0) {
        log_warn("agent %s: %s", s->name, err.msg);
        return;
    }
    int was_far = s->clock_stored && llabs(s->stored_offset_ms) > COORD_CLOCK_WARN_MS;
    int far = llabs(offset_ms) > COORD_CLOCK_WARN_MS;
    /* Logged when the offset changes, never per heartbeat (nor when only the RTT did). */
    int moved = !s->clock_stored || llabs(offset_ms - s->stored_offset_ms) >= COORD_CLOCK_STEP_MS;
    if (far && moved)
        log_warn("agent %s: clock is %lld ms %s the coordinator's (rtt %lld ms); its results are "
                 "placed corrected",
                 s->name, (long long)llabs(offset_ms), offset_ms > 0 ? "ahead of" : "behind",
                 (long long)rtt_ms);
    else if (was_far && !far)
        log_info("agent %s: clock back within %d ms (offset %lld ms)", s->name, COORD_CLOCK_WARN_MS,
                 (long long)offset_ms);
    else
        log_debug("agent %s: clock offset %lld ms, rtt %lld ms", s->name, (long long)offset_ms,
                  (long long)rtt_ms);
    if (queued > 0)
        log_info("agent %s: clock offset changed; %ld bins queued to merge again", s->name, queued);
    s->clock_stored = 1;
    s->clock_stored_mono_us = now;
    s->stored_offset_ms = offset_ms;
    s->stored_rtt_ms = rtt_ms;
}

static void handle_heartbeat(coord_t *c, session_t *s, const router_msg_t *msg,
                             const allow_entry_t *agent, const Parallax__Heartbeat *hb,
                             int64_t recv_us)
{
    Parallax__Heartbeat reply = PARALLAX__HEARTBEAT__INIT;
    reply.agent_sent_us = hb->agent_sent_us;
    reply.coord_recv_us = recv_us;
    reply.coord_sent_us = time_now_us();
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &reply;
    send_envelope(c, msg->route, msg->route_len, &env, agent->name);
    if (s) {
        clocksync_add_oneway(&s->clock, hb->agent_sent_us, recv_us);
        if (hb->echo_agent_sent_us)
            clocksync_add_exchange(&s->clock, hb->echo_agent_sent_us, hb->echo_coord_recv_us,
                                   hb->echo_coord_sent_us, hb->echo_agent_recv_us);
        update_clock(c, s, agent->agent_id);
    }
    /* 0 is what an agent that does not report its version sends: it acknowledges nothing. */
    record_heard(c, s, agent->agent_id, NULL,
                 hb->schedule_version ? (int64_t)hb->schedule_version : -1, 1);
    /* Behind: it runs another version than the current one, which this session has not sent
     * it: its session expired while it was silent but its connection survived (a hung host, a
     * cut shorter than the ZMTP heartbeat timeout), or the push failed. Only a hello is
     * otherwise answered with a schedule, so it would keep the old one until it reconnects. */
    if (s && c->schedule && hb->schedule_version &&
        session_step(s, SESSION_EV_REPORTED, hb->schedule_version, c->schedule->version) ==
            SESSION_BEHIND)
        send_schedule(c, s);
}

/* Logs what the door refused of p's batch: a line per agent and minute at most, since an
 * agent with a broken clock refused at every batch would flood the log. */
static void note_door(coord_t *c, const pending_t *p)
{
    int shared;
    char note[80];
    if (!log_allowed(c->door_log, p->name, note, sizeof note, &shared))
        return;
    if (shared)
        log_warn("refused items of batches from more agents than are told apart%s", note);
    else
        log_warn("agent %s: batch %llu: %u results and %u gaps refused, %u gaps clamped: %s%s",
                 p->name, (unsigned long long)p->env->batch->seq, p->door.refused_results,
                 p->door.refused_gaps, p->door.clamped_gaps, p->door.reason, note);
}

static void report_door(void *arg, const char *key, unsigned long held)
{
    (void)arg;
    if (key)
        log_warn("agent %s: %lu more batches with items refused in the last minute", key, held);
    else
        log_warn("%lu more batches with items refused from agents not told apart in the last "
                 "minute",
                 held);
}

/* Counts what was refused of the group (rejected batches, results and gaps refused at the
 * door) in parallax.rejections, where operators see it without the agents' logs. */
static void record_refusals(coord_t *c, const store_batch_t *items)
{
    store_refusal_t r[COORD_GROUP_MAX_BATCHES * 3];
    size_t n = 0;
    for (size_t i = 0; i < c->n_group; i++) {
        const pending_t *p = &c->group[i];
        if (items[i].verdict == STORE_INGEST_REJECT)
            r[n++] = (store_refusal_t){p->agent_id, "batch", 1, items[i].err.msg};
        if (items[i].verdict != STORE_INGEST_STORED)
            continue;
        if (p->door.refused_results)
            r[n++] =
                (store_refusal_t){p->agent_id, "result", p->door.refused_results, p->door.reason};
        if (p->door.refused_gaps)
            r[n++] = (store_refusal_t){p->agent_id, "gap", p->door.refused_gaps, p->door.reason};
    }
    err_t err = {{0}};
    if (n && c->db_ready && store_note_refusals(c->store, r, n, &err) < 0)
        log_warn("refusals not counted in the database: %s", err.msg);
}

/* Counts the fate of the group's batches (docs/metrics.md), once stored. */
static void count_group(coord_t *c, const store_batch_t *items)
{
    int64_t now = time_mono_us();
    for (size_t i = 0; i < c->n_group; i++) {
        const pending_t *p = &c->group[i];
        const char *const agent[] = {p->name};
        switch (items[i].verdict) {
        case STORE_INGEST_STORED:
            break;
        case STORE_INGEST_DUPLICATE:
            metrics_add(c->m.duplicates, agent, 1);
            continue;
        case STORE_INGEST_NOT_ALLOWED:
            metrics_add(c->m.rejected, (const char *const[]){"not_allowed"}, 1);
            continue;
        case STORE_INGEST_RETRY:
            metrics_add(c->m.rejected, (const char *const[]){"retry"}, 1);
            continue;
        case STORE_INGEST_REJECT:
            metrics_add(c->m.rejected, (const char *const[]){"invalid"}, 1);
            continue;
        }
        metrics_add(c->m.batches, agent, 1);
        metrics_add(c->m.results, agent, (double)p->admitted.n_results);
        metrics_observe(c->m.latency, NULL, (double)(now - p->recv_mono_us) / 1e6);
        uint64_t dropped = 0;
        for (size_t g = 0; g < p->admitted.n_gaps; g++)
            if (p->admitted.gaps[g]->reason == PARALLAX__GAP_REASON__GAP_SPOOL_DROPPED)
                dropped += p->admitted.gaps[g]->count;
        if (dropped)
            metrics_add(c->m.spool_dropped, agent, (double)dropped);
        if (p->door.refused_results)
            metrics_add(c->m.door_results, agent, p->door.refused_results);
        if (p->door.refused_gaps)
            metrics_add(c->m.door_gaps, agent, p->door.refused_gaps);
        if (p->door.clamped_gaps)
            metrics_add(c->m.door_clamped, agent, p->door.clamped_gaps);
    }
}

/* Stores the group of batches received so far and answers each. */
static void group_flush(coord_t *c)
{
    if (c->n_group == 0)
        return;
    store_batch_t items[COORD_GROUP_MAX_BATCHES];
    for (size_t i = 0; i < c->n_group; i++)
        items[i] =
            (store_batch_t){.agent_id = c->group[i].agent_id, .batch = &c->group[i].admitted};
    store_ingest(c->store, items, c->n_group);
    count_group(c, items);
    record_refusals(c, items);
    for (size_t i = 0; i < c->n_group; i++) {
        const pending_t *p = &c->group[i];
        const Parallax__ResultBatch *b = p->env->batch;
        const char *why = items[i].err.msg;
        switch (items[i].verdict) {
        case STORE_INGEST_STORED:
            log_debug("agent %s: stored batch %llu (%zu results, %zu gaps)", p->name,
                      (unsigned long long)b->seq, b->n_results, b->n_gaps);
            send_ack(c, &p->msg, b, PARALLAX__ACK_CODE__ACK_STORED, NULL, &p->door, p->name);
            break;
        case STORE_INGEST_DUPLICATE:
            log_info("agent %s: batch %llu was already stored; acknowledging again", p->name,
                     (unsigned long long)b->seq);
            send_ack(c, &p->msg, b, PARALLAX__ACK_CODE__ACK_STORED, NULL, &p->door, p->name);
            break;
        case STORE_INGEST_NOT_ALLOWED:
            log_warn("agent %s: %s; batch dropped", p->name, why);
            break;
        case STORE_INGEST_RETRY:
            log_warn("agent %s: batch %llu not stored now (%s); asked to retry", p->name,
                     (unsigned long long)b->seq, why);
            send_ack(c, &p->msg, b, PARALLAX__ACK_CODE__ACK_RETRY, why, NULL, p->name);
            break;
        case STORE_INGEST_REJECT:
            log_error("agent %s: batch %llu rejected: %s", p->name, (unsigned long long)b->seq,
                      why);
            send_ack(c, &p->msg, b, PARALLAX__ACK_CODE__ACK_REJECTED, why, NULL, p->name);
            break;
        }
    }
    group_clear(c);
}

/* Queues a batch for the group, taking over msg's bytes and env; only what lies in the
 * accepted window of time around recv_us (on the agent's clock as measured so far) will be
 * stored. */
static void group_add(coord_t *c, router_msg_t *msg, Parallax__Envelope **env,
                      const allow_entry_t *agent, session_t *s, int64_t recv_us)
{
    if (c->n_group == COORD_GROUP_MAX_BATCHES ||
        c->group_results + (*env)->batch->n_results > COORD_GROUP_MAX_RESULTS)
        group_flush(c);
    pending_t *p = &c->group[c->n_group++];
    p->msg = *msg;
    msg->data = NULL;
    msg->len = 0;
    p->env = *env;
    *env = NULL;
    p->agent_id = agent->agent_id;
    p->recv_mono_us = time_mono_us();
    snprintf(p->name, sizeof p->name, "%s", agent->name);
    int64_t offset_us = 0, rtt_us;
    if (s && clocksync_estimate(&s->clock, &offset_us, &rtt_us) < 0)
        offset_us = 0;
    door_window_t window = {.past_us = (int64_t)c->cfg.accept_past_s * 1000000,
                            .ahead_us = (int64_t)c->cfg.accept_ahead_s * 1000000};
    door_admit(p->env->batch, recv_us, offset_us, &window, &p->admitted, &p->door);
    c->group_results += p->admitted.n_results;
    if (p->door.refused_results || p->door.refused_gaps || p->door.clamped_gaps)
        note_door(c, p);
}

/* A message from agent in another protocol version: nothing in it is used, since its fields
 * may mean something else there, and nothing is answered, since the agent may not read this
 * version either (docs/upgrading.md). The refusal is logged and stored once a minute at most
 * per agent, so an old agent resending its spool costs neither log nor database much; it
 * stays in agents.refused until the agent speaks this version. */
static void refuse_version(coord_t *c, const allow_entry_t *agent, uint32_t version)
{
    session_t *s = sessions_find(c->sessions, agent->agent_id);
    if (s)
        session_step(s, SESSION_EV_REFUSED, version, 0);
    if (!refusals_note(c->refusals, agent->agent_id, version, time_mono_us(),
                       COORD_REFUSAL_PERIOD_US))
        return;
    char why[160];
    snprintf(why, sizeof why,
             "speaks protocol %u; this coordinator speaks %d: upgrade agent and coordinator "
             "together",
             version, PX_PROTOCOL_VERSION);
    log_warn("agent %s: refused: %s (nothing it sends is used; logged once a minute while it "
             "goes on)",
             agent->name, why);
    if (!c->db_ready) {
        log_debug("agent %s: database away; refusal recorded at the next report", agent->name);
        return;
    }
    err_t err = {{0}};
    if (store_refuse_agent(c->store, agent->agent_id, why, &err) < 0)
        log_warn("agent %s: %s", agent->name, err.msg);
}

static void handle_message(coord_t *c, router_msg_t *msg)
{
    int64_t recv_us = time_now_us();
    /* Identity comes from the key that authenticated the connection, never from the payload. */
    const allow_entry_t *agent = allow_find_enabled(c->allow, msg->user_id);
    int shared;
    char note[80];
    if (!agent) {
        metrics_add(c->m.messages, (const char *const[]){"not_admitted"}, 1);
        /* Limited: a disabled agent resends its whole spool. */
        if (!log_allowed(c->drop_log, msg->user_id, note, sizeof note, &shared))
            return;
        const allow_entry_t *known = allow_find(c->allow, msg->user_id);
        if (shared)
            log_warn("dropped messages from more senders than are told apart%s", note);
        else
            log_warn("dropped a message from %s %s%s", known ? "disabled agent" : "unknown key",
                     known ? known->name : (*msg->user_id ? msg->user_id : "(none)"), note);
        return;
    }
    err_t err = {{0}};
    Parallax__Envelope *env = wire_unpack(msg->data, msg->len, PX_WIRE_MAX_TO_COORD, &err);
    if (!env) {
        /* Another version's message is refused whatever wire_unpack made of the rest. */
        uint32_t version;
        int other =
            wire_peek_version(msg->data, msg->len, &version) == 0 && version != PX_PROTOCOL_VERSION;
        metrics_add(c->m.messages, (const char *const[]){other ? "protocol_version" : "malformed"},
                    1);
        if (other)
            refuse_version(c, agent, version);
        else if (!log_allowed(c->drop_log, msg->user_id, note, sizeof note, &shared))
            return;
        else if (shared)
            log_warn("dropped messages from more senders than are told apart%s", note);
        else
            log_warn("agent %s: dropped a bad message: %s%s", agent->name, err.msg, note);
        return;
    }
    session_t *s = sessions_touch(c->sessions, agent->agent_id, agent->name, msg->route,
                                  msg->route_len, time_mono_us());
    if (s) {
        snprintf(s->public_key, sizeof s->public_key, "%s", msg->user_id);
        session_step(s, SESSION_EV_MESSAGE, 0, 0);
    }
    /* It speaks this version now: the next record of it clears the refusal in the database,
     * so it is made now whatever the message. */
    if (refusals_forget(c->refusals, agent->agent_id)) {
        log_info("agent %s speaks protocol %d now: refusal lifted", agent->name,
                 PX_PROTOCOL_VERSION);
        if (s)
            s->recorded_mono_us = 0;
    }
    switch (env->body_case) {
    case PARALLAX__ENVELOPE__BODY_HELLO:
        if (env->hello->name && *env->hello->name && strcmp(env->hello->name, agent->name))
            log_warn("agent %s introduced itself as '%s'; its key says it is %s", agent->name,
                     env->hello->name, agent->name);
        log_info("agent %s: hello (version %s, schedule %llu)", agent->name,
                 env->hello->agent_version, (unsigned long long)env->hello->schedule_version);
        record_heard(c, s, agent->agent_id,
                     env->hello->agent_version && *env->hello->agent_version
                         ? env->hello->agent_version
                         : "",
                     (int64_t)env->hello->schedule_version, 0);
        if (s)
            send_schedule(c, s);
        break;
    case PARALLAX__ENVELOPE__BODY_BATCH:
        record_heard(c, s, agent->agent_id, NULL, -1, 0);
        group_add(c, msg, &env, agent, s, recv_us);
        break;
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        handle_heartbeat(c, s, msg, agent, env->heartbeat, recv_us);
        break;
    default:
        log_warn("agent %s: unexpected %s message ignored", agent->name, wire_body_name(env));
        break;
    }
    wire_free(&env);
}

static void drain_agents(coord_t *c)
{
    /* Bounded, so a flood on the socket cannot starve ZAP, signals and the database. */
    for (int i = 0; i < 1000; i++) {
        router_msg_t msg;
        err_t err = {{0}};
        int rc = router_recv(c->router, &msg, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            log_warn("%s", err.msg);
            continue;
        }
        handle_message(c, &msg);
        router_msg_clear(&msg);
    }
    group_flush(c);
}

/* ---- housekeeping ------------------------------------------------------------------------ */

static void session_expired(void *arg, const session_t *s)
{
    coord_t *c = arg;
    log_info("agent %s silent for %llus: session expired", s->name,
             (unsigned long long)c->cfg.session_timeout_s);
}

static void agent_offline(void *arg, const char *name)
{
    (void)arg;
    log_info("agent %s marked offline", name);
}

/* What a log limit held back, told once its period is over. */
static void report_refused(void *arg, const char *key, unsigned long held)
{
    coord_t *c = arg;
    const allow_entry_t *known = key ? allow_find(c->allow, key) : NULL;
    if (!key)
        log_warn("refused %lu more connections from keys not told apart in the last minute", held);
    else if (!strcmp(key, COORD_UNREGISTERED))
        log_warn("refused %lu more connections from unregistered keys in the last minute", held);
    else if (known)
        log_warn("refused agent %s %lu more times in the last minute: disabled", known->name, held);
    else
        log_warn("refused %lu more connections from unregistered key %s in the last minute", held,
                 key);
}

static void report_dropped(void *arg, const char *key, unsigned long held)
{
    coord_t *c = arg;
    const allow_entry_t *known = key ? allow_find(c->allow, key) : NULL;
    if (!key)
        log_warn("dropped %lu more messages from senders not told apart in the last minute", held);
    else if (known)
        log_warn("dropped %lu more messages from %sagent %s in the last minute", held,
                 known->enabled ? "" : "disabled ", known->name);
    else
        log_warn("dropped %lu more messages from %s in the last minute", held, key);
}

/* Once a second: expire silent sessions and mark silent agents offline. */
static void housekeeping(coord_t *c)
{
    int64_t now = time_mono_us();
    if (now - c->housekeeping_mono_us < 1000000)
        return;
    c->housekeeping_mono_us = now;
    /* Clock estimates held back by the damping, before their sessions may expire. */
    for (size_t i = 0; i < sessions_count(c->sessions); i++) {
        session_t *s = sessions_at(c->sessions, i);
        if (s->clock_pending)
            update_clock(c, s, s->agent_id);
    }
    sessions_expire(c->sessions, now, (int64_t)c->cfg.session_timeout_s * 1000000, session_expired,
                    c);
    log_limit_flush(c->zap_log, now, report_refused, c);
    log_limit_flush(c->drop_log, now, report_dropped, c);
    log_limit_flush(c->door_log, now, report_door, c);
    if (!c->db_ready)
        return;
    err_t err = {{0}};
    if (store_expire_agents(c->store, c->cfg.session_timeout_s, agent_offline, c, &err) < 0)
        log_warn("%s", err.msg);
}

/* ---- loop -------------------------------------------------------------------------------- */

static int open_signalfd(coord_t *c, err_t *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (c->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        err_set(err, "cannot set up signal handling: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int coord_run(coord_t *c, err_t *err)
{
    if (open_signalfd(c, err) < 0)
        return -1;
    /* After the signals are blocked, so that its thread inherits the mask. */
    /* Every day of the accepted window (door.h) has its partition before a result comes. */
    int past_days = (int)((c->cfg.accept_past_s + 86399) / 86400);
    if (!(c->merger = merger_start(c->cfg.database, past_days, c->metrics, err)))
        return -1;
    log_info("listening on %s", c->cfg.listen);
    /* Also after the signals are blocked. A failure is no reason to stop taking results:
     * several coordinators may share a host, and only one gets the default port. */
    if (strcmp(c->cfg.metrics_listen, METRICS_HTTP_OFF) != 0) {
        err_t merr = {{0}};
        if (!(c->http = metrics_http_start(c->cfg.metrics_listen, c->metrics, &merr)))
            log_warn("%s; running on without the metrics endpoint (metrics_listen)", merr.msg);
        else
            log_info("metrics at http://%s/metrics", c->cfg.metrics_listen);
    }
    while (!c->stopping) {
        if (db_ensure(c, err) == -2)
            return -1;
        int fds[2] = {c->sigfd, store_fd(c->store)};
        int ready[2] = {0, 0};
        int nfds = fds[1] >= 0 ? 2 : 1;
        /* Wake at least a few times a second to expire sessions and retry the database. */
        if (router_wait(c->router, fds, ready, nfds, 250, err) < 0)
            return -1;
        if (ready[0]) {
            struct signalfd_siginfo si;
            if (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                log_info("received signal %u: stopping", si.ssi_signo);
                c->stopping = 1;
            }
        }
        err_t zerr = {{0}};
        if (router_serve_zap(c->router, authorize, c, COORD_ZAP_BUDGET, &zerr) < 0)
            log_error("%s", zerr.msg);
        /* Not only when the socket is readable: a notification that arrived while another
         * query was running has already been read into libpq's queue, and would otherwise
         * wait there for the next unrelated traffic. */
        if (c->db_ready && store_connected(c->store))
            db_changes(c);
        drain_agents(c);
        send_requests(c);
        housekeeping(c);
        metrics_set(c->m.sessions, NULL, (double)sessions_count(c->sessions));
        metrics_set(c->m.db_up, NULL, c->db_ready ? 1 : 0);
    }
    metrics_http_stop(&c->http);
    /* A merge under way is cancelled: what it had taken stays queued for the next start. */
    merger_stop(&c->merger);
    log_info("stopped");
    return 0;
}
