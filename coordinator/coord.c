/* coord: the coordinator's single-threaded loop over the agents' socket, the ZAP handler,
 * the database's notifications and a signalfd. Database trouble never stops it: batches are
 * answered "retry" and the connection is re-made with back-off. */
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
#include "keys.h"
#include "link.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"
#include "wire.h"

#define COORD_BACKOFF_MIN_MS 250
#define COORD_BACKOFF_MAX_MS 10000
#define COORD_MAX_SESSIONS 4096

/* The last route an agent spoke from, so schedule changes can be pushed to it. */
typedef struct session {
    int agent_id;
    char name[64];
    uint8_t route[LINK_ROUTE_MAX];
    size_t route_len;
    int64_t last_heard_mono_us;
    uint64_t schedule_version; /* last sent (or reported in hello) */
} session_t;

struct coord {
    coord_config_t cfg;
    keypair_t keys;
    link_t *link;
    store_t *store;
    allow_t *allow;
    Parallax__Schedule *schedule;
    session_t *sessions;
    size_t n_sessions;
    int64_t reconnect_at_mono_us;
    int64_t merged_at_mono_us;
    long backoff_ms;
    int sigfd;
    int stopping;
};

static int load_or_create_keys(const char *path, keypair_t *kp, err_t *err)
{
    if (access(path, F_OK) == 0)
        return keys_file_read(path, kp, err);
    if (keys_generate(kp, err) < 0 || keys_file_write(path, kp, err) < 0)
        return -1;
    log_info("created coordinator key pair in %s (public key %s)", path, kp->public_z85);
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
    c->backoff_ms = COORD_BACKOFF_MIN_MS;
    if (load_or_create_keys(cfg->key_file, &c->keys, err) < 0)
        goto fail;
    if (!(c->allow = allow_new()) || !(c->store = store_new(cfg->database))) {
        err_set(err, "out of memory");
        goto fail;
    }
    c->link = link_new(cfg->listen, &c->keys, PX_WIRE_MAX_TO_COORD, 1, err);
    if (!c->link)
        goto fail;
    return c;
fail:
    coord_destroy(&c);
    return NULL;
}

void coord_destroy(coord_t **coord)
{
    if (!coord || !*coord)
        return;
    coord_t *c = *coord;
    link_destroy(&c->link);
    store_destroy(&c->store);
    allow_destroy(&c->allow);
    store_schedule_free(&c->schedule);
    free(c->sessions);
    if (c->sigfd >= 0)
        close(c->sigfd);
    free(c);
    *coord = NULL;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static session_t *session_find(coord_t *c, int agent_id)
{
    for (size_t i = 0; i < c->n_sessions; i++)
        if (c->sessions[i].agent_id == agent_id)
            return &c->sessions[i];
    return NULL;
}

/* Records that agent_id spoke from route; returns its session, or NULL if the table is full
 * (the message is still handled, only schedule pushes to it are lost until it says hello). */
static session_t *session_touch(coord_t *c, const allow_entry_t *agent, const link_msg_t *msg)
{
    int agent_id = agent->agent_id;
    session_t *s = session_find(c, agent_id);
    if (!s) {
        if (c->n_sessions == COORD_MAX_SESSIONS)
            return NULL;
        session_t *grown = realloc(c->sessions, (c->n_sessions + 1) * sizeof *grown);
        if (!grown)
            return NULL;
        c->sessions = grown;
        s = &c->sessions[c->n_sessions++];
        memset(s, 0, sizeof *s);
        s->agent_id = agent_id;
    }
    memcpy(s->name, agent->name, sizeof s->name);
    memcpy(s->route, msg->route, msg->route_len);
    s->route_len = msg->route_len;
    s->last_heard_mono_us = time_mono_us();
    return s;
}

static void sessions_expire(coord_t *c)
{
    int64_t limit = time_mono_us() - (int64_t)c->cfg.session_timeout_s * 1000000;
    for (size_t i = 0; i < c->n_sessions;) {
        if (c->sessions[i].last_heard_mono_us < limit) {
            log_info("agent %s silent for %llus: session expired", c->sessions[i].name,
                     (unsigned long long)c->cfg.session_timeout_s);
            c->sessions[i] = c->sessions[--c->n_sessions];
        } else {
            i++;
        }
    }
}

/* ---- sending ----------------------------------------------------------------------------- */

/* Returns 0 if sent. A failed send loses nothing: the agent resends what was not
 * acknowledged and says hello again (getting its schedule) when it reconnects. */
static int send_envelope(coord_t *c, const uint8_t *route, size_t route_len,
                         const Parallax__Envelope *env, const char *agent)
{
    err_t err;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_pack(env, &buf, &len, &err) < 0) {
        log_error("agent %s: %s", agent, err.msg);
        return -1;
    }
    int rc = link_send(c->link, route, route_len, buf, len, &err);
    if (rc < 0)
        log_warn("agent %s: %s not sent: %s", agent, wire_body_name(env), err.msg);
    free(buf);
    return rc;
}

static void send_schedule(coord_t *c, session_t *s, const char *agent)
{
    if (!c->schedule)
        return;
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_SCHEDULE;
    env.schedule = c->schedule;
    if (send_envelope(c, s->route, s->route_len, &env, agent) < 0)
        return;
    s->schedule_version = c->schedule->version;
    log_info("agent %s: sent schedule version %llu (%zu probes)", agent,
             (unsigned long long)c->schedule->version, c->schedule->n_probes);
}

static void send_ack(coord_t *c, const link_msg_t *msg, const Parallax__ResultBatch *b,
                     Parallax__AckCode code, const char *reason, const char *agent)
{
    Parallax__Ack ack = PARALLAX__ACK__INIT;
    ack.stream = b->stream;
    ack.seq = b->seq;
    ack.code = code;
    ack.reason = (char *)(reason ? reason : "");
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    send_envelope(c, msg->route, msg->route_len, &env, agent);
}

/* ---- database ---------------------------------------------------------------------------- */

static int reload_agents(coord_t *c)
{
    err_t err;
    allow_entry_t *entries = NULL;
    size_t n = 0;
    if (store_load_agents(c->store, &entries, &n, &err) < 0) {
        log_warn("%s", err.msg);
        return -1;
    }
    int rc = allow_replace(c->allow, entries, n);
    free(entries);
    if (rc < 0)
        log_error("out of memory reloading agents; keeping the previous allow-list");
    else
        log_info("allow-list loaded: %zu agents", n);
    return rc;
}

static int reload_schedule(coord_t *c)
{
    err_t err;
    Parallax__Schedule *fresh = NULL;
    if (store_load_schedule(c->store, &fresh, &err) < 0) {
        log_warn("%s", err.msg);
        return -1;
    }
    if (c->schedule && c->schedule->version == fresh->version) {
        store_schedule_free(&fresh);
        return 0;
    }
    store_schedule_free(&c->schedule);
    c->schedule = fresh;
    log_info("schedule version %llu: %zu probes", (unsigned long long)fresh->version,
             fresh->n_probes);
    /* Live schedule changes: every agent heard from recently gets the new version now. */
    for (size_t i = 0; i < c->n_sessions; i++)
        send_schedule(c, &c->sessions[i], c->sessions[i].name);
    return 0;
}

/* Connects when the back-off allows; on success loads everything a fresh connection needs. */
static int db_ensure(coord_t *c, err_t *fatal)
{
    if (store_connected(c->store))
        return 0;
    int64_t now = time_mono_us();
    if (now < c->reconnect_at_mono_us)
        return -1;
    err_t err;
    int rc = store_connect(c->store, &err);
    if (rc == -2) {
        err_set(fatal, "%s", err.msg);
        return -2;
    }
    if (rc < 0 || store_register_coordinator(c->store, c->keys.public_z85, c->cfg.advertise,
                                             &err) < 0 ||
        reload_agents(c) < 0 || reload_schedule(c) < 0) {
        if (rc == 0)
            log_warn("database session setup failed: %s", err.msg);
        else
            log_warn("%s; retrying in %ld ms", err.msg, c->backoff_ms);
        c->reconnect_at_mono_us = now + c->backoff_ms * 1000;
        c->backoff_ms = c->backoff_ms * 2 > COORD_BACKOFF_MAX_MS ? COORD_BACKOFF_MAX_MS
                                                                 : c->backoff_ms * 2;
        return -1;
    }
    c->backoff_ms = COORD_BACKOFF_MIN_MS;
    log_info("connected to the database; public key %s, agents connect to %s",
             c->keys.public_z85, c->cfg.advertise);
    return 0;
}

static void db_changes(coord_t *c)
{
    err_t err;
    unsigned changed = 0;
    if (store_poll_changes(c->store, &changed, &err) < 0) {
        log_warn("%s", err.msg);
        return;
    }
    if (changed & STORE_CHANGED_AGENTS)
        reload_agents(c);
    if (changed & STORE_CHANGED_SCHEDULE)
        reload_schedule(c);
}

/* ---- agents' messages -------------------------------------------------------------------- */

static int authorize(void *arg, const char *public_key, char *user_id, size_t len)
{
    coord_t *c = arg;
    const allow_entry_t *e = allow_find_enabled(c->allow, public_key);
    if (!e) {
        const allow_entry_t *known = allow_find(c->allow, public_key);
        if (known)
            log_warn("refused agent %s: disabled", known->name);
        else
            log_warn("refused connection from unregistered key %s", public_key);
        return 0;
    }
    /* The key itself becomes the connection's User-Id: each message is checked against the
     * live allow-list by key, so disabling takes effect on established connections too. */
    snprintf(user_id, len, "%s", public_key);
    return 1;
}

static void handle_batch(coord_t *c, const link_msg_t *msg, const allow_entry_t *agent,
                         const Parallax__ResultBatch *b)
{
    err_t err;
    err_clear(&err);
    switch (store_ingest(c->store, agent->agent_id, b, &err)) {
    case STORE_INGEST_STORED:
        log_debug("agent %s: stored batch %llu (%zu results)", agent->name,
                  (unsigned long long)b->seq, b->n_results);
        send_ack(c, msg, b, PARALLAX__ACK_CODE__ACK_STORED, NULL, agent->name);
        break;
    case STORE_INGEST_DUPLICATE:
        log_info("agent %s: batch %llu was already stored; acknowledging again", agent->name,
                 (unsigned long long)b->seq);
        send_ack(c, msg, b, PARALLAX__ACK_CODE__ACK_STORED, NULL, agent->name);
        break;
    case STORE_INGEST_NOT_ALLOWED:
        log_warn("agent %s: %s; batch dropped", agent->name, err.msg);
        break;
    case STORE_INGEST_RETRY:
        log_warn("agent %s: batch %llu not stored now (%s); asked to retry", agent->name,
                 (unsigned long long)b->seq, err.msg);
        send_ack(c, msg, b, PARALLAX__ACK_CODE__ACK_RETRY, err.msg, agent->name);
        break;
    case STORE_INGEST_REJECT:
        log_error("agent %s: batch %llu rejected: %s", agent->name, (unsigned long long)b->seq,
                  err.msg);
        send_ack(c, msg, b, PARALLAX__ACK_CODE__ACK_REJECTED, err.msg, agent->name);
        break;
    }
}

static void handle_heartbeat(coord_t *c, const link_msg_t *msg, const allow_entry_t *agent,
                             const Parallax__Heartbeat *hb, int64_t recv_us)
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
}

static void handle_message(coord_t *c, const link_msg_t *msg)
{
    int64_t recv_us = time_now_us();
    /* Identity comes from the key that authenticated the connection, never from the payload. */
    const allow_entry_t *agent = allow_find_enabled(c->allow, msg->user_id);
    if (!agent) {
        const allow_entry_t *known = allow_find(c->allow, msg->user_id);
        log_warn("dropped a message from %s %s", known ? "disabled agent" : "unknown key",
                 known ? known->name : (*msg->user_id ? msg->user_id : "(none)"));
        return;
    }
    err_t err;
    Parallax__Envelope *env = wire_unpack(msg->data, msg->len, PX_WIRE_MAX_TO_COORD, &err);
    if (!env) {
        log_warn("agent %s: dropped a bad message: %s", agent->name, err.msg);
        return;
    }
    session_t *s = session_touch(c, agent, msg);
    switch (env->body_case) {
    case PARALLAX__ENVELOPE__BODY_HELLO:
        if (env->hello->name && *env->hello->name && strcmp(env->hello->name, agent->name))
            log_warn("agent %s introduced itself as '%s'; its key says it is %s", agent->name,
                     env->hello->name, agent->name);
        log_info("agent %s: hello (version %s, schedule %llu)", agent->name,
                 env->hello->agent_version, (unsigned long long)env->hello->schedule_version);
        if (store_touch_agent(c->store, agent->agent_id, env->hello->agent_version, &err) < 0)
            log_warn("%s", err.msg);
        if (s)
            send_schedule(c, s, agent->name);
        break;
    case PARALLAX__ENVELOPE__BODY_BATCH:
        handle_batch(c, msg, agent, env->batch);
        break;
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        handle_heartbeat(c, msg, agent, env->heartbeat, recv_us);
        if (store_touch_agent(c->store, agent->agent_id, NULL, &err) < 0 ||
            store_heartbeat(c->store, agent->agent_id, &err) < 0)
            log_warn("%s", err.msg);
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
        link_msg_t msg;
        err_t err;
        int rc = link_recv(c->link, &msg, &err);
        if (rc == 0)
            return;
        if (rc < 0) {
            log_warn("%s", err.msg);
            continue;
        }
        handle_message(c, &msg);
        link_msg_clear(&msg);
    }
}

/* ---- merge ------------------------------------------------------------------------------- */

/* The merge runs in SQL as bins close; once a second is enough for bins of a second or more,
 * and it costs next to nothing when no bin is dirty. */
static void merge_due(coord_t *c)
{
    int64_t now = time_mono_us();
    if (!store_connected(c->store) || now - c->merged_at_mono_us < 1000000)
        return;
    c->merged_at_mono_us = now;
    long bins = 0;
    err_t err;
    if (store_merge(c->store, &bins, &err) < 0)
        log_warn("%s", err.msg);
    else if (bins > 0)
        log_info("merged %ld closed bins", bins);
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
    log_info("listening on %s", c->cfg.listen);
    while (!c->stopping) {
        if (db_ensure(c, err) == -2)
            return -1;
        int fds[2] = {c->sigfd, store_fd(c->store)};
        int ready[2] = {0, 0};
        int nfds = fds[1] >= 0 ? 2 : 1;
        /* Wake at least once a second to expire sessions and retry the database. */
        if (link_wait(c->link, fds, ready, nfds, 1000, err) < 0)
            return -1;
        if (ready[0]) {
            struct signalfd_siginfo si;
            if (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                log_info("received signal %u: stopping", si.ssi_signo);
                c->stopping = 1;
            }
        }
        err_t zerr;
        if (link_serve_zap(c->link, authorize, c, &zerr) < 0)
            log_error("%s", zerr.msg);
        /* Not only when the socket is readable: a notification that arrived while another
         * query was running has already been read into libpq's queue, and would otherwise
         * wait there for the next unrelated traffic. */
        if (store_connected(c->store))
            db_changes(c);
        drain_agents(c);
        sessions_expire(c);
        merge_due(c);
    }
    log_info("stopped");
    return 0;
}
