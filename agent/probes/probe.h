/* probe: the one interface every probe kind implements (an ops table), the static registry
 * that maps kinds to ops, and the life of one run: probe_start() -> exactly one probe_done()
 * -> the caller's callback, or probe_cancel() and no callback at all. */
#ifndef PX_PROBE_H
#define PX_PROBE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"
#include "probespec.h"
#include "status.h"

struct event_base;
typedef struct icmp_mux icmp_mux_t;
typedef struct tls_check_ctx tls_check_ctx_t;

#define PROBE_MSG_MAX 256
#define PROBE_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

/* A socket address of either family, small enough to keep one per scheduled probe. */
typedef union probe_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} probe_addr_t;

/* What to measure (immutable for the run). */
typedef struct probe_target {
    probe_kind_t kind;
    /* The spec text the coordinator sent (e.g. "dns:example.org:SOA"); kinds that need more
     * than the port parse it with probespec_parse() in start(). Borrowed: valid during
     * start() only, so a kind keeps what it needs in its own state. */
    const char *spec;
    uint16_t port;     /* tcp, smtp, http(s): from the spec */
    probe_addr_t addr; /* destination; port filled in for tcp */
    socklen_t addrlen;
    uint32_t timeout_ms;
    /* If not NULL, the run does not measure anything: it yields LOCAL_ERROR with this text
     * (an unparseable spec or a kind this agent cannot run). Borrowed for probe_start() only. */
    const char *error;
} probe_target_t;

/* Room for one kind's details in a result; the trace kind's 64 hops need the most. */
#define PROBE_DETAIL_MAX 4096

/* The record a run produces; failures are results with a status, never error returns. */
typedef struct probe_result {
    px_status_t status;
    uint32_t rtt_us;
    uint8_t icmp_type; /* UNREACHABLE from an ICMP error: its type, code, sender */
    uint8_t icmp_code;
    char icmp_from[PROBE_ADDR_MAX];
    int32_t app_code; /* HTTP status, DNS rcode, SMTP reply code; 0 if none */
    char message[PROBE_MSG_MAX];
    /* The kind's details: a copy of the kind's own struct (declared in its header), put here
     * with probe_result_set_detail() and read back only by that kind, through its accessor and
     * its ops' encode(): nothing else knows their layout. detail_len 0: none. kind is the
     * run's, set by probe_done(). */
    probe_kind_t kind;
    uint16_t detail_len;
    unsigned char detail[PROBE_DETAIL_MAX];
} probe_result_t;

/* The wire form a result is encoded into (result_wire.h). */
typedef struct result_wire result_wire_t;

/* Shared resources probe kinds need, one set per agent: the event loop, the lazily opened
 * ICMP sockets and the TLS client context. */
typedef struct probe_env probe_env_t;
typedef struct probe_run probe_run_t;

/* Called once per run (unless cancelled), from the event loop, never from inside
 * probe_start(). res is valid during the call only. The run is freed after it returns. */
typedef void (*probe_done_fn)(const probe_result_t *res, void *arg);

/* What a probe kind implements. start() begins the measurement and must eventually lead to
 * exactly one probe_done() (it may call it at once). release() frees the kind's state (events
 * first); it is called exactly once, by probe_done() or probe_cancel(). */
typedef struct probe_ops {
    probe_kind_t kind;
    void (*start)(probe_run_t *run);
    void (*release)(probe_run_t *run);
    /* Packets one run may send at most, for the agent's max_pps ceiling; 0 means 1. */
    uint32_t max_packets;
    /* Puts the details of res (a result of this kind with detail_len > 0) into w->res, taking
     * room for the messages with result_wire_alloc(). Returns 0, or -1 if w had no room (the
     * result is then sent without them). NULL for a kind without details. */
    int (*encode)(const probe_result_t *res, result_wire_t *w);
} probe_ops_t;

/* Creates the environment, the TLS client context included (made here, once per agent, and
 * not per run: setting one up costs more than a run's handshake). base is borrowed and must
 * outlive it. NULL when out of memory or when OpenSSL cannot make the context (logged). */
probe_env_t *probe_env_new(struct event_base *base);

/* Frees the environment, its ICMP sockets and its TLS context; every run must have ended or
 * been cancelled first. NULLs *env; accepts NULL. */
void probe_env_destroy(probe_env_t **env);

struct event_base *probe_env_base(probe_env_t *env);

/* The shared ICMP socket for family (AF_INET or AF_INET6), opened on first use. Returns NULL
 * with err if neither a raw nor a ping socket can be opened; the env keeps it. */
icmp_mux_t *probe_env_icmp(probe_env_t *env, int family, err_t *err);

/* The TLS client context every TLS run shares, made on first use. The env owns it; runs
 * borrow it. NULL with err if OpenSSL cannot make it (tried again at the next use). */
tls_check_ctx_t *probe_env_tls(probe_env_t *env, err_t *err);

/* The ops of kind, or NULL if this agent cannot run it. */
const probe_ops_t *probe_ops_find(probe_kind_t kind);

/* What a run of kind counts against the agent's packets-per-second ceiling: its ops'
 * max_packets, at least 1 (also for kinds this agent cannot run). */
uint32_t probe_max_packets(probe_kind_t kind);

/* Fills names with the kinds this agent can run ("icmp", ...); returns how many (<= max). */
size_t probe_kinds(const char **names, size_t max);

/* Starts a run. Returns the run, owned by the probe module until done() has been called or
 * probe_cancel() is called; NULL only when out of memory (no callback then). */
probe_run_t *probe_start(probe_env_t *env, const probe_target_t *target, probe_done_fn done,
                         void *arg);

/* Stops a run that has not reported yet; done() will not be called. NULLs *run. Must not be
 * called from inside that run's done(). Accepts NULL. */
void probe_cancel(probe_run_t **run);

/* For probe kinds: ends the run with res (copied). Calls the kind's release() at once and
 * delivers res to the caller from the event loop. The kind must not touch its state after. */
void probe_done(probe_run_t *run, const probe_result_t *res);

/* For probe kinds: copies the kind's detail struct (len bytes) into res. Returns 0, or -1 when
 * len is over PROBE_DETAIL_MAX (a kind's bug, which its compile-time check prevents). */
int probe_result_set_detail(probe_result_t *res, const void *detail, size_t len);

/* For probe kinds' accessors: copies res's details into out (len bytes, the kind's struct; out
 * may be NULL to ask only whether they are there). Returns 0, or -1 when res holds no details
 * of that size. The kind checks res->kind itself. */
int probe_result_get_detail(const probe_result_t *res, void *out, size_t len);

/* For probe kinds: fills a result with status and a printf-style message, everything else
 * zero, and ends the run with it. */
void probe_done_status(probe_run_t *run, px_status_t status, uint32_t rtt_us, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Accessors for probe kinds. The target and env are owned by the run / caller. */
const probe_target_t *probe_run_target(const probe_run_t *run);
probe_env_t *probe_run_env(probe_run_t *run);
void *probe_run_state(const probe_run_t *run);
void probe_run_set_state(probe_run_t *run, void *state);

/* Fills *t for a run of spec against address with the given timeout. When the address or the
 * spec is unusable, or this agent cannot run the kind, t->error is set to a text (in errbuf,
 * which must outlive t, PROBE_MSG_MAX bytes) so that every run reports it as LOCAL_ERROR.
 * spec is borrowed by t (t->spec) and must outlive its runs' start(). */
void probe_target_prepare(probe_target_t *t, const char *address, const char *spec,
                          uint32_t timeout_ms, char *errbuf);

/* Formats the address (no port) into buf of at least PROBE_ADDR_MAX bytes; returns buf. */
const char *probe_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
