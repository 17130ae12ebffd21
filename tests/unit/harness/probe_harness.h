/* probe_harness: what the probe kinds' unit tests share — a target for one probe, running it
 * to its end in a private event loop (bounded), TCP sockets on free loopback ports, and real
 * servers (nsd, OpenSMTPD) run beside a test in a temporary directory. Linked
 * into every test_agent_* program (tests/CMakeLists.txt). Uses cmocka's assertions: call it
 * from a test only. */
#ifndef PX_PROBE_HARNESS_H
#define PX_PROBE_HARNESS_H

#include <event2/event.h>
#include <stdint.h>
#include <sys/types.h>

#include "probe.h"

typedef struct harness_outcome {
    int done;           /* times the probe reported: 1 once it ended, 0 if cut off */
    probe_result_t res; /* its report */
    int64_t elapsed_us; /* from probe_start() until the loop stopped */
} harness_outcome_t;

/* A probe of kind at addr (IPv4 or IPv6 text) and port, with spec (NULL: none; a pointer the
 * caller keeps alive during the run) and a timeout. */
probe_target_t harness_target(probe_kind_t kind, const char *spec, const char *addr, uint16_t port,
                              uint32_t timeout_ms);

/* Starts t on base (NULL: a loop of its own; a test's fake servers may live on base) and
 * runs the loop until the probe reports or limit_ms has passed; a run still going then is
 * cancelled (done 0). Fails the test if probe_start() fails or reports from inside itself.
 * Prints the outcome as a cmocka message. */
harness_outcome_t harness_run(struct event_base *base, const probe_target_t *t, int64_t limit_ms);

/* Starts the n probes t[0..n) at once on one loop of their own and runs it until every one
 * has reported or limit_ms has passed (the rest are cancelled); out[i] is t[i]'s outcome.
 * Returns how many reported. */
size_t harness_run_many(const probe_target_t *t, size_t n, harness_outcome_t *out,
                        int64_t limit_ms);

/* Starts t on base (NULL: its own loop), runs the loop for run_ms (0: not at all), cancels the run
 * (twice: cancelling is idempotent), and runs the loop for after_ms more (past the run's own
 * timeout, so a timer left behind would fire). Returns how many times the probe reported: a
 * cancelled run must report never. */
int harness_cancel_after(struct event_base *base, const probe_target_t *t, int64_t run_ms,
                         int64_t after_ms);

/* Fails the test, naming kind and r's message, unless rc (a kind's detail accessor's return
 * for r) is 0: for the kinds' one-line "details of this result" helpers. */
void harness_need_detail(int rc, const probe_result_t *r, const char *kind);

/* A TCP socket bound to a free loopback port of family (AF_INET, AF_INET6), listening with
 * backlog when listening is set. Returns the fd (the caller closes it) with *port set, or -1
 * (errno set) when the family has no loopback here. */
int harness_tcp_socket(int family, int listening, int backlog, uint16_t *port);

/* A server program a test runs beside it: its process, the port the test chose for it, its
 * temporary directory (configuration, its stdout and stderr) and why it is not running. */
typedef struct harness_daemon {
    pid_t pid;     /* > 0 while it runs */
    uint16_t port; /* where the test told it to listen */
    char dir[64];  /* its temporary directory */
    char why[256]; /* why it is not running; "" when it is */
} harness_daemon_t;

/* Makes d's temporary directory, /tmp/px-test-NAME-XXXXXX. Returns 0, or -1 with d->why. */
int harness_daemon_dir(harness_daemon_t *d, const char *name);

/* Writes text into the file name in d's directory. Returns 0, or -1 with d->why. */
int harness_daemon_write(harness_daemon_t *d, const char *name, const char *text);

/* Runs argv (argv[0] a path) with stdout and stderr into the file "stderr" of d's directory,
 * killed when the test process dies, then asks ready(d), which polls for a few seconds and
 * says 1 once the server answers (and sets d->pid to 0 if it saw it exit). When it does not,
 * the server is killed and d->why names what (for the test to report) and the stderr file to
 * read. Returns 0 while it runs, -1 if not. */
int harness_daemon_start(harness_daemon_t *d, const char *what, char *const argv[],
                         int (*ready)(harness_daemon_t *d));

/* Stops the server (SIGTERM, then waits for it) and removes its directory, unless it failed:
 * then the directory stays, for the stderr file d->why names. */
void harness_daemon_stop(harness_daemon_t *d);

#endif
