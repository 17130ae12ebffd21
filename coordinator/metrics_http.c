/* metrics_http: evhttp serving the registry. The thread's loop is stopped through a pipe
 * watched by the loop itself, so no libevent locking (evthread) is needed: only the thread
 * touches the event base while it runs. */
#include "metrics_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* A scraper that stalls mid-request is cut after this; Prometheus's own timeout is 10 s. */
#define METRICS_HTTP_TIMEOUT_S 10
/* Requests are a GET line and a few headers: anything bigger is not a scraper. */
#define METRICS_HTTP_MAX_HEADERS 8192
#define METRICS_HTTP_MAX_BODY 0

struct metrics_http {
    metrics_t *metrics; /* borrowed */
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_ev;
    int stop_pipe[2];
    pthread_t thread;
    int started;
};

int metrics_http_parse(const char *listen, char *host, size_t len, uint16_t *port, err_t *err)
{
    const char *h = listen, *colon;
    size_t hlen;
    if (*listen == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            err_set(err, "bad address '%s': expected HOST:PORT or [IPV6]:PORT", listen);
            return -1;
        }
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon) {
            err_set(err, "bad address '%s': expected HOST:PORT or [IPV6]:PORT", listen);
            return -1;
        }
        hlen = (size_t)(colon - listen);
    }
    if (hlen == 0 || hlen >= len) {
        err_set(err, "bad address '%s': %s host", listen, hlen ? "too long a" : "missing the");
        return -1;
    }
    unsigned long p = 0;
    const char *d = colon + 1;
    if (!*d) {
        err_set(err, "bad address '%s': missing the port", listen);
        return -1;
    }
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || (p = p * 10 + (unsigned long)(*d - '0')) > 65535) {
            err_set(err, "bad address '%s': the port is a number from 1 to 65535", listen);
            return -1;
        }
    }
    if (p == 0) {
        err_set(err, "bad address '%s': the port is a number from 1 to 65535", listen);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static void serve_metrics(struct evhttp_request *req, void *arg)
{
    metrics_http_t *h = arg;
    size_t len = 0;
    char *text = metrics_render(h->metrics, &len);
    struct evbuffer *body = evbuffer_new();
    if (!text || !body || evbuffer_add(body, text, len) != 0) {
        free(text);
        if (body)
            evbuffer_free(body);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    free(text);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    evhttp_add_header(headers, "Cache-Control", "no-store");
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

static void serve_other(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, HTTP_NOTFOUND, "the metrics are at /metrics");
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    metrics_http_t *h = arg;
    event_base_loopbreak(h->base);
}

static void *metrics_http_main(void *arg)
{
    metrics_http_t *h = arg;
    if (event_base_dispatch(h->base) < 0)
        log_warn("metrics endpoint: its event loop failed; /metrics is no longer served");
    return NULL;
}

static void metrics_http_free(metrics_http_t *h)
{
    if (h->stop_ev)
        event_free(h->stop_ev);
    if (h->http)
        evhttp_free(h->http);
    if (h->base)
        event_base_free(h->base);
    for (int i = 0; i < 2; i++)
        if (h->stop_pipe[i] >= 0)
            close(h->stop_pipe[i]);
    free(h);
}

metrics_http_t *metrics_http_start(const char *listen, metrics_t *metrics, err_t *err)
{
    char host[256];
    uint16_t port;
    if (metrics_http_parse(listen, host, sizeof host, &port, err) < 0)
        return NULL;
    metrics_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        err_set(err, "out of memory");
        return NULL;
    }
    h->metrics = metrics;
    h->stop_pipe[0] = h->stop_pipe[1] = -1;
    if (!(h->base = event_base_new()) || !(h->http = evhttp_new(h->base))) {
        err_set(err, "metrics endpoint: cannot make its event loop");
        goto fail;
    }
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(h->http, METRICS_HTTP_TIMEOUT_S);
    evhttp_set_max_headers_size(h->http, METRICS_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(h->http, METRICS_HTTP_MAX_BODY);
    if (evhttp_set_cb(h->http, "/metrics", serve_metrics, h) != 0) {
        err_set(err, "metrics endpoint: cannot register /metrics");
        goto fail;
    }
    evhttp_set_gencb(h->http, serve_other, h);
    errno = 0;
    if (!evhttp_bind_socket_with_handle(h->http, host, port)) {
        err_set(err, "cannot listen on %s for /metrics: %s", listen,
                errno ? strerror(errno) : "bad address");
        goto fail;
    }
    if (pipe2(h->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        err_set(err, "metrics endpoint: pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(h->stop_ev = event_new(h->base, h->stop_pipe[0], EV_READ, on_stop, h)) ||
        event_add(h->stop_ev, NULL) != 0) {
        err_set(err, "metrics endpoint: cannot watch its stop pipe");
        goto fail;
    }
    int rc = pthread_create(&h->thread, NULL, metrics_http_main, h);
    if (rc != 0) {
        err_set(err, "metrics endpoint: cannot start its thread: %s", strerror(rc));
        goto fail;
    }
    h->started = 1;
    return h;
fail:
    metrics_http_free(h);
    return NULL;
}

void metrics_http_stop(metrics_http_t **hp)
{
    if (!hp || !*hp)
        return;
    metrics_http_t *h = *hp;
    if (h->started) {
        /* The pipe is never full (one byte per stop): the loop wakes and breaks. */
        if (write(h->stop_pipe[1], "x", 1) < 0) {
            /* Left running rather than freed under its thread: the process is ending. */
            log_warn("metrics endpoint: stop not written: %s", strerror(errno));
            *hp = NULL;
            return;
        }
        pthread_join(h->thread, NULL);
    }
    metrics_http_free(h);
    *hp = NULL;
}
