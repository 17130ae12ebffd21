/* notify_http: one curl easy handle reused for every request, so connections to a receiver
 * are kept alive between deliveries; its options are reset before each use. */
#include "notify_http.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notify_http {
    CURL *curl;
    long timeout_ms;
    int stop_fd;
    int stopped;
};

notify_http_t *notify_http_new(uint64_t timeout_s, int stop_fd, err_t *err)
{
    notify_http_t *h = calloc(1, sizeof *h);
    if (!h || !(h->curl = curl_easy_init())) {
        free(h);
        err_set(err, "cannot make an HTTP client: out of memory");
        return NULL;
    }
    h->timeout_ms = (long)timeout_s * 1000;
    h->stop_fd = stop_fd;
    return h;
}

void notify_http_destroy(notify_http_t **h)
{
    if (!h || !*h)
        return;
    curl_easy_cleanup((*h)->curl);
    free(*h);
    *h = NULL;
}

notify_outcome_t notify_http_classify(long status)
{
    if (status >= 200 && status <= 299)
        return NOTIFY_SENT;
    if (status == 408 || status == 429 || (status >= 500 && status <= 599))
        return NOTIFY_RETRY;
    return NOTIFY_DEAD;
}

notify_outcome_t notify_http_classify_smtp(long code)
{
    return code >= 500 && code <= 599 ? NOTIFY_DEAD : NOTIFY_RETRY;
}

/* The answer's body is not needed: only its status says whether the receiver took it. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

/* Called by curl about once a second and on progress: a readable stop descriptor (a pending
 * SIGTERM) abandons the request, so a stop never waits for a slow receiver. */
static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    notify_http_t *h = arg;
    if (h->stop_fd < 0)
        return 0;
    struct pollfd p = {.fd = h->stop_fd, .events = POLLIN};
    if (poll(&p, 1, 0) > 0) {
        h->stopped = 1;
        return 1;
    }
    return 0;
}

static int setup(notify_http_t *h, const char *url, const char *protocols)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    h->stopped = 0;
    return curl_easy_setopt(c, CURLOPT_URL, url) || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
                   curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols) ||
                   curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms) ||
                   curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms) ||
                   curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) ||
                   curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress) ||
                   curl_easy_setopt(c, CURLOPT_XFERINFODATA, h) ||
                   curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) ||
                   curl_easy_setopt(c, CURLOPT_USERAGENT, "parallax-notifier/" PX_VERSION)
               ? -1
               : 0;
}

/* The outcome of a transfer curl could not finish. */
static void transport_failed(notify_http_t *h, CURLcode rc, notify_result_t *res)
{
    if (h->stopped || rc == CURLE_ABORTED_BY_CALLBACK) {
        res->outcome = NOTIFY_STOPPED;
        snprintf(res->error, sizeof res->error, "stopped");
        return;
    }
    res->outcome = NOTIFY_RETRY;
    res->unreachable = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
                       rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_GOT_NOTHING ||
                       rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR;
    snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(rc));
    /* A malformed or unsupported URL is not going to work later either. */
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        res->outcome = NOTIFY_DEAD;
        res->unreachable = 0;
    }
}

void notify_http_post(notify_http_t *h, const char *url, const char *const *headers,
                      const char *body, size_t len, notify_result_t *res)
{
    memset(res, 0, sizeof *res);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            res->outcome = NOTIFY_RETRY;
            snprintf(res->error, sizeof res->error, "out of memory");
            return;
        }
        list = next;
    }
    CURL *c = h->curl;
    if (setup(h, url, "http,https") < 0 || curl_easy_setopt(c, CURLOPT_HTTPHEADER, list) ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body)) {
        curl_slist_free_all(list);
        res->outcome = NOTIFY_RETRY;
        snprintf(res->error, sizeof res->error, "cannot set up the request");
        return;
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
        transport_failed(h, rc, res);
        return;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    res->outcome = notify_http_classify(status);
    if (res->outcome != NOTIFY_SENT)
        snprintf(res->error, sizeof res->error, "HTTP %ld", status);
}

typedef struct upload {
    const char *p;
    size_t left;
} upload_t;

static size_t read_message(char *buf, size_t size, size_t nitems, void *arg)
{
    upload_t *u = arg;
    size_t n = size * nitems < u->left ? size * nitems : u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

void notify_http_mail(notify_http_t *h, const char *url, const char *from, const char *to,
                      const char *message, size_t len, notify_result_t *res)
{
    memset(res, 0, sizeof *res);
    struct curl_slist *rcpt = NULL;
    char addr[512];
    for (const char *p = to; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (n && n + 3 <= sizeof addr) {
            snprintf(addr, sizeof addr, "<%.*s>", (int)n, p);
            struct curl_slist *next = curl_slist_append(rcpt, addr);
            if (!next) {
                curl_slist_free_all(rcpt);
                res->outcome = NOTIFY_RETRY;
                snprintf(res->error, sizeof res->error, "out of memory");
                return;
            }
            rcpt = next;
        }
        p += n;
        if (*p)
            p++;
    }
    if (!rcpt) {
        res->outcome = NOTIFY_DEAD;
        snprintf(res->error, sizeof res->error, "no recipient");
        return;
    }
    char sender[512];
    snprintf(sender, sizeof sender, "<%s>", from);
    upload_t u = {message, len};
    CURL *c = h->curl;
    if (setup(h, url, "smtp,smtps") < 0 || curl_easy_setopt(c, CURLOPT_MAIL_FROM, sender) ||
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt) || curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) ||
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message) ||
        curl_easy_setopt(c, CURLOPT_READDATA, &u) ||
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len)) {
        curl_slist_free_all(rcpt);
        res->outcome = NOTIFY_RETRY;
        snprintf(res->error, sizeof res->error, "cannot set up the submission");
        return;
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(rcpt);
    if (rc == CURLE_OK) {
        res->outcome = NOTIFY_SENT;
        return;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (h->stopped || rc == CURLE_ABORTED_BY_CALLBACK || code == 0) {
        transport_failed(h, rc, res);
        return;
    }
    res->outcome = notify_http_classify_smtp(code);
    snprintf(res->error, sizeof res->error, "SMTP %ld: %s", code, curl_easy_strerror(rc));
}
