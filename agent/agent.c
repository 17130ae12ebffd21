/* agent: the context and the protocol. Two small state machines: the session with the
 * coordinator (down -> hello sent -> scheduled) and the run of the process (running ->
 * draining -> done). Results flow scheduler -> outbox -> spool (disk) -> uplink; acks flow back
 * through the outbox into the spool. The last schedule is kept in state_dir, so probing
 * starts at once after a restart, coordinator or not. */
#include "agent.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_stats.h"
#include "uplink.h"
#include "log.h"
#include "outbox.h"
#include "privdrop.h"
#include "probe.h"
#include "result_wire.h"
#include "scheduler.h"
#include "schedule_file.h"
#include "timeutil.h"
#include "wire.h"
#include "timer.h"

#define AGENT_HELLO_RESEND_S 5
#define AGENT_DRAIN_WAIT_S 2
/* The stats file is rewritten at most this often (when something changed). */
#define AGENT_STATS_INTERVAL_S 1
/* Batches sent and not yet acked, at most: enough to keep the coordinator's ingest busy
 * over a slow link, few enough that a reconnect resends little. */
#define AGENT_SEND_WINDOW 8
/* Segment size: a sixteenth of the spool, within these bounds (a drop loses one segment). */
#define AGENT_SEGMENT_MIN (64 * 1024)
#define AGENT_SEGMENT_MAX (4 * 1024 * 1024)

#define SESSION_STATE_LIST(X)                                                                      \
    X(DOWN, "down")           /* no authenticated connection */                                    \
    X(HELLO, "hello-sent")    /* hello sent, resent every 5 s until a schedule arrives */          \
    X(SCHEDULED, "scheduled") /* a schedule arrived on this connection */

typedef enum session_state {
#define SESSION_ENUM(name, text) SESSION_##name,
    SESSION_STATE_LIST(SESSION_ENUM)
#undef SESSION_ENUM
} session_state_t;

static const char *const session_state_names[] = {
#define SESSION_NAME(name, text) text,
    SESSION_STATE_LIST(SESSION_NAME)
#undef SESSION_NAME
};

#define RUN_STATE_LIST(X)                                                                          \
    X(RUNNING, "running")   /* probing and sending */                                              \
    X(DRAINING, "draining") /* stopped probing; waiting up to 2 s for the last acks */             \
    X(DONE, "done")         /* the loop is exiting */

typedef enum run_state {
#define RUN_ENUM(name, text) RUN_##name,
    RUN_STATE_LIST(RUN_ENUM)
#undef RUN_ENUM
} run_state_t;

static const char *const run_state_names[] = {
#define RUN_NAME(name, text) text,
    RUN_STATE_LIST(RUN_NAME)
#undef RUN_NAME
};

struct agent {
    agent_config_t cfg;
    struct event_base *base;
    probe_env_t *env;
    scheduler_t *sched;
    spool_t *spool;
    outbox_t *outbox;
    uplink_t *link;
    /* Files in state_dir. */
    char spool_dir[PATH_MAX];
    char deadletter_path[PATH_MAX];
    char schedule_path[PATH_MAX];
    char stats_path[PATH_MAX];
    uint64_t saved_schedule_version; /* version in schedule_path (0: none) */
    agent_stats_t stats_written;     /* what the stats file says now */
    session_state_t session;
    run_state_t run;
    struct event *hello_timer;
    struct event *heartbeat_timer;
    /* The last answered heartbeat's four times (agent sent, coordinator received and sent,
     * agent received), echoed in the next one so the coordinator can work out the clock
     * offset and RTT as NTP does; all 0 until the first answer. */
    int64_t echo[4];
    struct event *drain_timer;
    struct event *stats_timer;
    struct event *sigterm_ev;
    struct event *sigint_ev;
    struct event *sigusr1_ev;
    /* Refused one-off requests: when the last was logged (monotonic; 0: never), how many since. */
    int64_t request_log_us;
    uint64_t requests_unlogged;
};

static int send_envelope(agent_t *a, Parallax__Envelope *env)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    err_t err = {{0}};
    env->version = PX_PROTOCOL_VERSION;
    if (wire_pack(env, &buf, &len, &err) < 0) {
        log_error("agent: %s", err.msg);
        return -1;
    }
    int rc = uplink_send(a->link, buf, len);
    free(buf);
    return rc;
}

static void send_hello(agent_t *a)
{
    const char *kinds[16];
    Parallax__Hello hello = PARALLAX__HELLO__INIT;
    hello.agent_version = (char *)PX_VERSION;
    hello.name = a->cfg.name;
    hello.schedule_version = scheduler_version(a->sched);
    hello.n_kinds = probe_kinds(kinds, sizeof kinds / sizeof kinds[0]);
    hello.kinds = (char **)kinds;
    hello.sent_us = time_now_us();
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    if (send_envelope(a, &env) == 0)
        log_debug("agent: hello sent (schedule version %llu)",
                  (unsigned long long)hello.schedule_version);
}

static void session_set_state(agent_t *a, session_state_t next)
{
    if (a->session == next)
        return;
    log_debug("agent: session %s -> %s", session_state_names[a->session],
              session_state_names[next]);
    a->session = next;
    if (next == SESSION_HELLO) {
        if (timer_arm_ms(a->hello_timer, AGENT_HELLO_RESEND_S * 1000) < 0)
            log_error("agent: cannot arm the hello timer: a lost hello is not resent");
        send_hello(a);
    } else {
        evtimer_del(a->hello_timer);
    }
}

static void run_set_state(agent_t *a, run_state_t next)
{
    if (a->run == next)
        return;
    log_debug("agent: %s -> %s", run_state_names[a->run], run_state_names[next]);
    a->run = next;
    if (next == RUN_DONE)
        event_base_loopbreak(a->base);
}

/* While draining, the loop ends as soon as nothing is waiting for an ack. */
static void check_drained(agent_t *a)
{
    spool_counters_t c;
    spool_counters(a->spool, &c);
    if (a->run == RUN_DRAINING && c.pending == 0)
        run_set_state(a, RUN_DONE);
}

/* Writes the stats file if the numbers changed since the last write (or if forced). */
static void write_stats(agent_t *a, int force)
{
    agent_stats_t st;
    agent_stats(a, &st);
    agent_stats_t cmp = st;
    cmp.updated_us = a->stats_written.updated_us;
    if (!force && memcmp(&cmp, &a->stats_written, sizeof cmp) == 0)
        return;
    err_t err = {{0}};
    if (agent_stats_write(a->stats_path, &st, &err) < 0) {
        log_warn("agent: stats file not written: %s", err.msg);
        return;
    }
    a->stats_written = st;
}

static void stats_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    write_stats(arg, 0);
}

static void hello_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent_t *a = arg;
    if (a->session != SESSION_HELLO)
        return;
    send_hello(a);
    if (timer_arm_ms(a->hello_timer, AGENT_HELLO_RESEND_S * 1000) < 0)
        log_error("agent: cannot arm the hello timer: a lost hello is not resent");
}

/* Every heartbeat names the schedule in force: the one after a schedule is applied is how
 * the coordinator learns that it was. A heartbeat that cannot be sent is simply skipped. */
static void send_heartbeat(agent_t *a)
{
    if (!a->link || !uplink_is_up(a->link))
        return;
    Parallax__Heartbeat hb = PARALLAX__HEARTBEAT__INIT;
    hb.agent_sent_us = time_now_us();
    hb.schedule_version = scheduler_version(a->sched);
    if (a->echo[3] != 0) {
        hb.echo_agent_sent_us = a->echo[0];
        hb.echo_coord_recv_us = a->echo[1];
        hb.echo_coord_sent_us = a->echo[2];
        hb.echo_agent_recv_us = a->echo[3];
    }
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    if (send_envelope(a, &env) < 0)
        log_debug("agent: heartbeat not sent (link busy)");
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_heartbeat(arg);
}

static void on_heartbeat(agent_t *a, const Parallax__Heartbeat *hb)
{
    if (hb->coord_recv_us == 0 || hb->coord_sent_us == 0 || hb->agent_sent_us == 0)
        return;
    int64_t now = time_now_us();
    a->echo[0] = hb->agent_sent_us;
    a->echo[1] = hb->coord_recv_us;
    a->echo[2] = hb->coord_sent_us;
    a->echo[3] = now;
    /* NTP-style: offset of the coordinator's clock relative to ours, and the network RTT
     * without the coordinator's processing time. */
    int64_t offset = ((hb->coord_recv_us - hb->agent_sent_us) + (hb->coord_sent_us - now)) / 2;
    int64_t rtt = (now - hb->agent_sent_us) - (hb->coord_sent_us - hb->coord_recv_us);
    log_debug("agent: heartbeat: coordinator clock offset %lld us, rtt %lld us", (long long)offset,
              (long long)rtt);
}

static void on_schedule(agent_t *a, const Parallax__Schedule *s)
{
    if (a->run != RUN_RUNNING)
        return;
    scheduler_apply_stats_t st;
    err_t err = {{0}};
    if (scheduler_apply(a->sched, s, &st, &err) < 0) {
        log_error("agent: schedule %llu not applied: %s", (unsigned long long)s->version, err.msg);
        return;
    }
    log_info("agent: schedule version %llu: %zu probes (%zu kept, %zu added, %zu removed%s; %zu "
             "denied)",
             (unsigned long long)s->version, scheduler_count(a->sched), st.kept, st.added,
             st.removed, st.ignored ? ", some duplicates ignored" : "", st.denied);
    if (s->version != a->saved_schedule_version) {
        if (schedule_file_save(a->schedule_path, s, &err) < 0)
            log_error("agent: schedule version %llu not saved (a restart without the "
                      "coordinator would run an older one): %s",
                      (unsigned long long)s->version, err.msg);
        else
            a->saved_schedule_version = s->version;
    }
    session_set_state(a, SESSION_SCHEDULED);
    send_heartbeat(a);
}

/* A one-off probe: run once at once (within max_pps); its result goes out with the rest. A
 * refused one answers nothing (the coordinator's request expires): the log says why, at most
 * once a minute, since a flood of them is exactly what the bound is for. */
static void on_request(agent_t *a, const Parallax__ProbeRequest *q)
{
    err_t err = {{0}};
    if (scheduler_request(a->sched, q->request_id, q->probe, &err) == 0) {
        log_debug("agent: request %llu: running probe %llu (%s at %s) once",
                  (unsigned long long)q->request_id, (unsigned long long)q->probe->probe_id,
                  q->probe->spec, q->probe->address);
        return;
    }
    int64_t now = time_mono_us();
    a->requests_unlogged++;
    if (a->request_log_us == 0 || now - a->request_log_us >= 60 * 1000000LL) {
        log_warn("agent: refusing the coordinator's request %llu (probe %llu, target %s): %s "
                 "(%llu refused since the last such line)",
                 (unsigned long long)q->request_id, (unsigned long long)q->probe->probe_id,
                 q->probe->target, err.msg, (unsigned long long)a->requests_unlogged - 1);
        a->request_log_us = now;
        a->requests_unlogged = 0;
    }
}

static void uplink_message_cb(const uint8_t *buf, size_t len, void *arg)
{
    agent_t *a = arg;
    err_t err = {{0}};
    Parallax__Envelope *env = wire_unpack(buf, len, PX_WIRE_MAX_TO_AGENT, &err);
    if (!env) {
        log_warn("agent: dropping a message from the coordinator: %s", err.msg);
        return;
    }
    switch (env->body_case) {
    case PARALLAX__ENVELOPE__BODY_SCHEDULE:
        on_schedule(a, env->schedule);
        break;
    case PARALLAX__ENVELOPE__BODY_ACK:
        outbox_on_ack(a->outbox, env->ack);
        check_drained(a);
        break;
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        on_heartbeat(a, env->heartbeat);
        break;
    case PARALLAX__ENVELOPE__BODY_REQUEST:
        on_request(a, env->request);
        break;
    default:
        log_warn("agent: ignoring an unexpected %s message from the coordinator",
                 wire_body_name(env));
        break;
    }
    wire_free(&env);
}

static void uplink_up_cb(void *arg)
{
    agent_t *a = arg;
    if (a->run == RUN_RUNNING)
        session_set_state(a, SESSION_HELLO);
    /* Hello first, then everything not yet acked: the coordinator may have stored some of it
     * already, which it acks without storing twice. */
    outbox_resend_all(a->outbox);
}

static void uplink_down_cb(void *arg)
{
    session_set_state(arg, SESSION_DOWN);
}

static void scheduler_result_cb(const scheduler_result_t *r, void *arg)
{
    agent_t *a = arg;
    const probe_result_t *pr = r->result;
    result_wire_t w;
    result_wire_fill(&w, pr, r->probe_id, r->ts_us, r->control);
    w.res.request_id = r->request_id;
    log_debug("agent: probe %llu: %s %u us %s", (unsigned long long)r->probe_id,
              status_name(pr->status), pr->rtt_us, pr->message);
    /* A result the spool cannot take is logged and counted there; nothing more to do. */
    (void)outbox_add(a->outbox, &w.res);
}

/* Runs the schedule could not start on time become a gap record of that probe over their
 * slots, sent like results, so the merge reads them as no data rather than finding nothing. */
static void scheduler_skip_cb(const scheduler_skip_t *k, void *arg)
{
    agent_t *a = arg;
    Parallax__Gap g = PARALLAX__GAP__INIT;
    g.probe_id = k->probe_id;
    g.from_us = k->from_us;
    g.to_us = k->to_us;
    g.count = k->late + k->busy;
    g.reason = PARALLAX__GAP_REASON__GAP_RUN_SKIPPED;
    /* A gap the spool cannot take is logged there; the skip is still counted in the stats. */
    (void)outbox_add_gap(a->outbox, &g);
}

/* The outbox's way out; the outbox exists before the link, hence the check. */
static int outbox_send_cb(const uint8_t *buf, size_t len, void *arg)
{
    agent_t *a = arg;
    return a->link ? uplink_send(a->link, buf, len) : -1;
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent_t *a = arg;
    spool_counters_t c;
    spool_counters(a->spool, &c);
    log_warn("agent: %llu results still unacknowledged after %d s; they stay in the spool "
             "for the next start",
             (unsigned long long)c.pending, AGENT_DRAIN_WAIT_S);
    run_set_state(a, RUN_DONE);
}

static void sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    agent_t *a = arg;
    write_stats(a, 1);
    char line[1024];
    agent_stats_format(&a->stats_written, " ", line, sizeof line);
    log_info("agent: counters: %s", line);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    agent_t *a = arg;
    if (a->run != RUN_RUNNING) {
        log_warn("agent: second signal; exiting now");
        run_set_state(a, RUN_DONE);
        return;
    }
    log_info("agent: %s received; stopping probes and flushing results",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    run_set_state(a, RUN_DRAINING);
    scheduler_stop(a->sched);
    session_set_state(a, SESSION_DOWN);
    evtimer_del(a->heartbeat_timer);
    outbox_flush(a->outbox);
    write_stats(a, 0);
    /* Without the drain deadline, a coordinator that never acks would keep us forever. */
    if (timer_arm_ms(a->drain_timer, AGENT_DRAIN_WAIT_S * 1000) < 0) {
        log_error("agent: cannot arm the drain deadline: stopping without waiting for acks");
        run_set_state(a, RUN_DONE);
        return;
    }
    check_drained(a);
}

/* Opens what needs privilege, then gives it all up for good: as root the agent becomes
 * cfg->user (PRIVDROP_DEFAULT_USER when none is set) and hands it state_dir; as anyone else it
 * keeps its user and drops its capabilities (systemd's AmbientCapabilities=, setcap). It never
 * stays root and never keeps a capability. The raw ICMP sockets are otherwise opened on first
 * use, which would be too late: both families are opened now, and one failing (a host without
 * IPv6) only makes that family's icmp and trace runs fail. The process works inside state_dir
 * from here on, so a parent directory the new user may not search does not matter. */
static int drop_privileges(agent_t *a, err_t *err)
{
    static const int families[] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        err_t ierr = {{0}};
        if (!probe_env_icmp(a->env, families[i], &ierr))
            log_warn("agent: %s; icmp and trace probes over IPv%d will fail", ierr.msg,
                     families[i] == AF_INET6 ? 6 : 4);
    }
    const char *user = privdrop_user_for(a->cfg.user);
    if (chdir(a->cfg.state_dir) < 0) {
        err_set(err, "cannot enter state_dir '%s': %s", a->cfg.state_dir, strerror(errno));
        return -1;
    }
    if (!user) {
        if (privdrop_caps(err) < 0)
            return -1;
        log_info("agent: no privileges left: running as uid %u without capabilities in %s",
                 (unsigned)getuid(), a->cfg.state_dir);
        return 0;
    }
    if (geteuid() == 0) {
        /* A CA file named by $SSL_CERT_FILE is read now, while it can be: the new user may
         * not be allowed to. Without it, TLS is set up at the first https run. */
        err_t terr = {{0}};
        if (getenv("SSL_CERT_FILE") && !probe_env_tls(a->env, &terr))
            log_warn("agent: %s; https probes will fail", terr.msg);
        if (privdrop_give_dir(".", user, err) < 0) {
            err_prefix(err, "cannot hand state_dir '%s' to user '%s'", a->cfg.state_dir, user);
            return -1;
        }
    }
    if (privdrop_to_user(user, err) < 0)
        return -1;
    /* state_dir is checked as the new user: the config loader checked it as the old one. */
    if (access(".", W_OK) < 0) {
        err_set(err, "user '%s' cannot use state_dir '%s' (%s); make it belong to that user", user,
                a->cfg.state_dir, strerror(errno));
        return -1;
    }
    log_info("agent: privileges dropped: running as user '%s' (uid %u, gid %u) without "
             "capabilities in %s%s",
             user, (unsigned)getuid(), (unsigned)getgid(), a->cfg.state_dir,
             a->cfg.user[0] ? "" : " (no user set: the default for an agent started as root)");
    return 0;
}

/* The agent's files. After the drop of privileges the process runs inside state_dir, so a
 * relative state_dir must not be applied twice. */
static int state_paths(agent_t *a, err_t *err)
{
    const char *dir = ".";
    struct {
        char *buf;
        const char *name;
    } files[] = {{a->spool_dir, "spool"},
                 {a->deadletter_path, "deadletter"},
                 {a->schedule_path, "schedule"},
                 {a->stats_path, "stats"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (snprintf(files[i].buf, PATH_MAX, "%s/%s", dir, files[i].name) >= PATH_MAX) {
            err_set(err, "state_dir '%s' is too long", a->cfg.state_dir);
            return -1;
        }
    }
    return 0;
}

/* Runs the schedule saved by an earlier run until the coordinator sends one. A damaged file
 * is reported and ignored: the agent then waits for the coordinator, as on a first start. */
static void load_saved_schedule(agent_t *a)
{
    Parallax__Envelope *env = NULL;
    err_t err = {{0}};
    int rc = schedule_file_load(a->schedule_path, &env, &err);
    if (rc > 0)
        return;
    if (rc < 0) {
        log_error("agent: ignoring the saved schedule: %s; waiting for the coordinator's", err.msg);
        return;
    }
    scheduler_apply_stats_t st;
    if (scheduler_apply(a->sched, env->schedule, &st, &err) < 0) {
        log_error("agent: saved schedule version %llu not applied: %s",
                  (unsigned long long)env->schedule->version, err.msg);
    } else {
        a->saved_schedule_version = env->schedule->version;
        log_info("agent: running the saved schedule version %llu (%zu probes) until the "
                 "coordinator sends one",
                 (unsigned long long)env->schedule->version, scheduler_count(a->sched));
    }
    wire_free(&env);
}

agent_t *agent_new(const agent_config_t *cfg, err_t *err)
{
    agent_t *a = calloc(1, sizeof *a);
    if (!a) {
        err_set(err, "out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    a->session = SESSION_DOWN;
    a->run = RUN_RUNNING;
    /* Precise timers: schedule slots are meant to be hit to the millisecond or better. */
    struct event_config *ec = event_config_new();
    if (ec) {
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
        a->base = event_base_new_with_config(ec);
        event_config_free(ec);
    }
    if (!a->base) {
        err_set(err, "cannot create the event loop");
        goto fail;
    }
    if (!(a->env = probe_env_new(a->base))) {
        err_set(err, "out of memory");
        goto fail;
    }
    if (drop_privileges(a, err) < 0)
        goto fail;
    /* Everything in state_dir is created from here on, as the user the agent runs as. */
    if (state_paths(a, err) < 0)
        goto fail;
    if (cfg->max_pending_given)
        log_warn("agent: max_pending has no effect any more; the on-disk spool is bounded by "
                 "spool_max_bytes (%llu)",
                 (unsigned long long)cfg->spool_max_bytes);
    uint64_t seg = cfg->spool_max_bytes / 16;
    seg = seg < AGENT_SEGMENT_MIN   ? AGENT_SEGMENT_MIN
          : seg > AGENT_SEGMENT_MAX ? AGENT_SEGMENT_MAX
                                    : seg;
    spool_config_t scfg = {.dir = a->spool_dir,
                           .deadletter = a->deadletter_path,
                           .max_bytes = cfg->spool_max_bytes,
                           .segment_bytes = seg,
                           .batch_max = cfg->batch_max,
                           .stream = 0};
    if (!(a->spool = spool_open(&scfg, err)))
        goto fail;
    outbox_config_t ocfg = {.batch_interval_ms = cfg->batch_interval_ms,
                            .resend_ms = cfg->resend_ms,
                            .window = AGENT_SEND_WINDOW};
    if (!(a->outbox = outbox_new(a->base, &ocfg, a->spool, outbox_send_cb, a, err)))
        goto fail;
    if (!(a->sched = scheduler_new(a->base, a->env, scheduler_result_cb, a, err)))
        goto fail;
    scheduler_set_max_pps(a->sched, cfg->max_pps);
    scheduler_set_deny_own_networks(a->sched, cfg->deny_own_networks);
    scheduler_set_skip_fn(a->sched, scheduler_skip_cb, a);
    load_saved_schedule(a);
    a->hello_timer = evtimer_new(a->base, hello_cb, a);
    a->heartbeat_timer = event_new(a->base, -1, EV_PERSIST, heartbeat_cb, a);
    a->drain_timer = evtimer_new(a->base, drain_timeout_cb, a);
    a->stats_timer = event_new(a->base, -1, EV_PERSIST, stats_cb, a);
    a->sigterm_ev = evsignal_new(a->base, SIGTERM, signal_cb, a);
    a->sigint_ev = evsignal_new(a->base, SIGINT, signal_cb, a);
    a->sigusr1_ev = evsignal_new(a->base, SIGUSR1, sigusr1_cb, a);
    struct timeval hb = {.tv_sec = cfg->heartbeat_s, .tv_usec = 0};
    struct timeval stv = {.tv_sec = AGENT_STATS_INTERVAL_S, .tv_usec = 0};
    if (!a->hello_timer || !a->heartbeat_timer || !a->drain_timer || !a->stats_timer ||
        !a->sigterm_ev || !a->sigint_ev || !a->sigusr1_ev || event_add(a->sigterm_ev, NULL) < 0 ||
        event_add(a->sigint_ev, NULL) < 0 || event_add(a->sigusr1_ev, NULL) < 0 ||
        event_add(a->heartbeat_timer, &hb) < 0 || event_add(a->stats_timer, &stv) < 0) {
        err_set(err, "cannot set up timers and signal handlers");
        goto fail;
    }
    uplink_config_t lcfg = {.endpoint = cfg->coordinator,
                            .server_key = cfg->coordinator_key,
                            .public_key = cfg->public_key,
                            .secret_key = cfg->secret_key};
    uplink_callbacks_t cbs = {
        .up = uplink_up_cb, .down = uplink_down_cb, .message = uplink_message_cb};
    if (!(a->link = uplink_new(a->base, &lcfg, &cbs, a, err)))
        goto fail;
    spool_counters_t sc;
    spool_counters(a->spool, &sc);
    log_info("agent: '%s' (key %s) starting; coordinator %s; result stream %llu; spool %s: "
             "%llu unacknowledged results recovered, %llu bytes in %llu segments (bound %llu)",
             cfg->name, cfg->public_key, cfg->coordinator,
             (unsigned long long)spool_stream(a->spool), a->spool_dir,
             (unsigned long long)sc.recovered, (unsigned long long)sc.bytes,
             (unsigned long long)sc.segments, (unsigned long long)cfg->spool_max_bytes);
    write_stats(a, 1);
    return a;
fail:
    agent_destroy(&a);
    return NULL;
}

int agent_run(agent_t *a, err_t *err)
{
    int rc = event_base_dispatch(a->base);
    /* The final numbers, for whoever compares them with the database after the agent ends. */
    write_stats(a, 1);
    if (rc < 0) {
        err_set(err, "event loop failed");
        return -1;
    }
    return 0;
}

void agent_stats(const agent_t *a, agent_stats_t *out)
{
    memset(out, 0, sizeof *out);
    spool_counters(a->spool, &out->spool);
    out->stream = spool_stream(a->spool);
    out->schedule_version = a->sched ? scheduler_version(a->sched) : 0;
    if (a->sched)
        scheduler_counters(a->sched, &out->sched);
    if (a->link)
        uplink_counters(a->link, &out->link);
    if (a->outbox)
        outbox_counters(a->outbox, &out->door);
    out->pid = (long)getpid();
    out->updated_us = time_now_us();
}

void agent_destroy(agent_t **agent)
{
    if (!agent || !*agent)
        return;
    agent_t *a = *agent;
    /* Order matters: runs reference the probe env and deliver into the outbox; the link's
     * events and the rest live on the base, which goes last. */
    scheduler_destroy(&a->sched);
    probe_env_destroy(&a->env);
    uplink_destroy(&a->link);
    outbox_destroy(&a->outbox);
    spool_close(&a->spool);
    if (a->hello_timer)
        event_free(a->hello_timer);
    if (a->heartbeat_timer)
        event_free(a->heartbeat_timer);
    if (a->drain_timer)
        event_free(a->drain_timer);
    if (a->stats_timer)
        event_free(a->stats_timer);
    if (a->sigusr1_ev)
        event_free(a->sigusr1_ev);
    if (a->sigterm_ev)
        event_free(a->sigterm_ev);
    if (a->sigint_ev)
        event_free(a->sigint_ev);
    if (a->base)
        event_base_free(a->base);
    explicit_bzero(a->cfg.secret_key, sizeof a->cfg.secret_key);
    free(a);
    *agent = NULL;
}
