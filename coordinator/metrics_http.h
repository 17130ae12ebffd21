/* metrics_http: the coordinator's /metrics endpoint: libevent's evhttp on an event loop and a
 * thread of its own, rendering a metrics registry on each GET. It never touches the database
 * or the agents' loop: a slow or stuck scraper costs only this thread. */
#ifndef PX_METRICS_HTTP_H
#define PX_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "metrics.h"

/* The value of the config key metrics_listen that turns the endpoint off. */
#define METRICS_HTTP_OFF "none"

typedef struct metrics_http metrics_http_t;

/* Splits listen ("HOST:PORT", "[IPV6]:PORT"; PORT 1..65535) into host (len bytes) and *port.
 * Returns 0, or -1 with err saying what is wrong. */
int metrics_http_parse(const char *listen, char *host, size_t len, uint16_t *port, err_t *err);

/* Binds listen and serves GET /metrics from metrics (borrowed: it must outlive the
 * endpoint) on a new thread, which inherits the caller's signal mask. Returns NULL with err
 * set if the address is malformed or cannot be bound, or the thread cannot start. Caller
 * owns the result. */
metrics_http_t *metrics_http_start(const char *listen, metrics_t *metrics, err_t *err);

/* Stops serving (a reply under way is cut), waits for the thread, frees *h and NULLs it.
 * Accepts NULL. */
void metrics_http_stop(metrics_http_t **h);

#endif
