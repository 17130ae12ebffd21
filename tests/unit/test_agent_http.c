/* Unit tests for the http and https probe kinds: against a real nginx started by the test on
 * loopback (plain, a self-signed certificate, an expired one issued by a test CA), against
 * hostile servers run on the probe's own event loop (garbage, truncated, endless headers, a
 * huge body, a slow drip, silence, resets, HTTP on a TLS port) and against closed and
 * overloaded ports. Every loop is bounded in time; nginx is killed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_skip.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"
#include "probe_harness.h"
#include "probe_http.h"
#include "tls_check.h"

#define NGINX "/usr/sbin/nginx"
#define DAY (24L * 3600)

/* ---- running one probe ---- */

typedef harness_outcome_t outcome_t;

/* Tests write URLs; the spec is "KIND:URL" (anything else is passed on as it is). */

/* The run's http details; the test fails when there are none. */
static probe_http_detail_t http_of(const probe_result_t *r)
{
    probe_http_detail_t d = {0};
    harness_need_detail(probe_http_detail(r, &d), r, "http");
    return d;
}

static probe_target_t target(const char *spec, const char *addr, uint32_t timeout_ms)
{
    probe_kind_t kind = strncmp(spec, "https", 5) == 0 ? PROBE_KIND_HTTPS : PROBE_KIND_HTTP;
    return harness_target(kind, spec, addr, 0, timeout_ms);
}

/* Runs one probe on base (where test servers may live too) to completion, at most 5 s. */
static outcome_t run_on(struct event_base *base, const probe_target_t *t)
{
    char spec[512];
    probe_target_t with_kind = *t;
    if (t->spec && (strncmp(t->spec, "http://", 7) == 0 || strncmp(t->spec, "https://", 8) == 0)) {
        snprintf(spec, sizeof spec, "%s:%s", probespec_kind_name(t->kind), t->spec);
        with_kind.spec = spec;
    }
    return harness_run(base, &with_kind, 5000);
}

static outcome_t run_spec(const char *spec, uint32_t timeout_ms)
{
    struct event_base *base = event_base_new();
    probe_target_t t = target(spec, "127.0.0.1", timeout_ms);
    outcome_t o = run_on(base, &t);
    event_base_free(base);
    return o;
}

static void show(const char *what, const outcome_t *o)
{
    /* Zeros when the run has no details, which expect_status() then reports. */
    probe_http_detail_t d;
    memset(&d, 0, sizeof d);
    (void)probe_http_detail(&o->res, &d);
    print_message("%s: status %d app %d rtt %u \"%s\" phases %u/%u/%u/%u tls %d/%d/%d \"%s\"\n",
                  what, o->res.status, o->res.app_code, o->res.rtt_us, o->res.message, d.connect_us,
                  d.tls_us, d.first_byte_us, d.total_us, d.has_tls, d.tls.verified, d.tls.days_left,
                  d.tls.verify_error);
}

static void expect_status(const outcome_t *o, px_status_t status, const char *msg_part)
{
    show("result", o);
    assert_int_equal(o->done, 1);
    assert_int_equal(probe_http_detail(&o->res, NULL), 0);
    assert_int_equal(o->res.status, status);
    if (msg_part && !strstr(o->res.message, msg_part))
        fail_msg("message \"%s\" lacks \"%s\"", o->res.message, msg_part);
}

static uint16_t free_port(void)
{
    uint16_t port = 0;
    int fd = harness_tcp_socket(AF_INET, 0, 0, &port);
    assert_true(fd >= 0);
    close(fd);
    return port;
}

/* ---- certificates ---- */

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long from_s, long to_s, int serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", issuer ? "CA:FALSE" : "critical,CA:TRUE"},
        {"keyUsage", issuer ? "digitalSignature" : "critical,keyCertSign,cRLSign"},
        {"subjectAltName", issuer ? "DNS:localhost" : NULL},
    };
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        if (!exts[i][1])
            continue;
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert)
        assert_true(PEM_write_X509(f, cert));
    if (key)
        assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
}

/* A test CA (ca.pem) and a certificate for localhost it issued that expired 12 days and an
 * hour ago (expired.pem/.key). */
static void make_expired(const char *dir)
{
    char path[512];
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(ca_key);
    assert_non_null(key);
    X509 *ca = make_cert(ca_key, "Parallax Test CA", NULL, NULL, -60 * DAY, 60 * DAY, 1);
    X509 *leaf = make_cert(key, "localhost", ca, ca_key, -40 * DAY, -12 * DAY - 3600, 2);
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    write_pem(path, ca, NULL);
    snprintf(path, sizeof path, "%s/expired.pem", dir);
    write_pem(path, leaf, NULL);
    snprintf(path, sizeof path, "%s/expired.key", dir);
    write_pem(path, NULL, key);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
}

/* ---- nginx ---- */

typedef struct nginx {
    char dir[64];
    pid_t pid;
    uint16_t http_port, self_port, expired_port;
    char skip_reason[128];
} nginx_t;

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int port_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int nginx_setup(void **state)
{
    nginx_t *n = calloc(1, sizeof *n);
    *state = n;
    if (access(NGINX, X_OK) != 0) {
        snprintf(n->skip_reason, sizeof n->skip_reason, "%s not installed", NGINX);
        return 0;
    }
    snprintf(n->dir, sizeof n->dir, "/tmp/px-http-test-XXXXXX");
    if (!mkdtemp(n->dir))
        return -1;
    chmod(n->dir, 0755);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 30 "
             "-keyout %s/self.key -out %s/self.pem 2>/dev/null",
             n->dir, n->dir);
    if (system(cmd) != 0) {
        snprintf(n->skip_reason, sizeof n->skip_reason, "openssl req failed");
        return 0;
    }
    make_expired(n->dir);
    /* 200 KB whose only "needle-at-the-end" is past the 64 KiB scan cap. */
    char *big = malloc(200001);
    memset(big, 'x', 200000);
    memcpy(big, "needle-at-the-start", 19);
    memcpy(big + 200000 - 17, "needle-at-the-end", 17);
    big[200000] = '\0';
    write_file(n->dir, "big.txt", big);
    free(big);
    n->http_port = free_port();
    n->self_port = free_port();
    n->expired_port = free_port();
    char conf[4096];
    const char *d = n->dir;
    snprintf(conf, sizeof conf,
             "master_process off;\n"
             "pid %s/nginx.pid;\n"
             "error_log %s/error.log;\n"
             "events { worker_connections 64; }\n"
             "http {\n"
             "  access_log off;\n"
             "  default_type text/plain;\n"
             "  client_body_temp_path %s/t1; proxy_temp_path %s/t2; fastcgi_temp_path %s/t3;\n"
             "  uwsgi_temp_path %s/t4; scgi_temp_path %s/t5;\n"
             "  server {\n"
             "    listen 127.0.0.1:%u; server_name localhost;\n"
             "    location = / { return 200 \"hello from parallax\\n\"; }\n"
             "    location = /down { return 503; }\n"
             "    location = /missing { return 404; }\n"
             "    location = /big { alias %s/big.txt; }\n"
             "  }\n"
             "  server {\n"
             "    listen 127.0.0.1:%u ssl; server_name localhost;\n"
             "    ssl_certificate %s/self.pem; ssl_certificate_key %s/self.key;\n"
             "    location / { return 200 \"secure hello\\n\"; }\n"
             "  }\n"
             "  server {\n"
             "    listen 127.0.0.1:%u ssl; server_name localhost;\n"
             "    ssl_certificate %s/expired.pem; ssl_certificate_key %s/expired.key;\n"
             "    location / { return 200 \"stale hello\\n\"; }\n"
             "  }\n"
             "}\n",
             d, d, d, d, d, d, d, (unsigned)n->http_port, d, (unsigned)n->self_port, d, d,
             (unsigned)n->expired_port, d, d);
    if (write_file(d, "nginx.conf", conf) < 0)
        return -1;
    char confpath[512], outpath[512];
    snprintf(confpath, sizeof confpath, "%s/nginx.conf", d);
    snprintf(outpath, sizeof outpath, "%s/nginx.out", d);
    n->pid = fork();
    if (n->pid == 0) {
        /* nginx dies with the test even if the test crashes before its teardown. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execl(NGINX, "nginx", "-p", d, "-c", confpath, "-g", "daemon off;", (char *)NULL);
        _exit(127);
    }
    /* Wait (at most 5 s) until all three ports accept or nginx has died. */
    for (int i = 0; i < 500; i++) {
        int status;
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            snprintf(cmd, sizeof cmd, "cat %s/nginx.out %s/error.log >&2", d, d);
            if (system(cmd) != 0)
                fprintf(stderr, "no nginx log\n");
            return -1;
        }
        if (port_open(n->http_port) && port_open(n->self_port) && port_open(n->expired_port))
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int nginx_teardown(void **state)
{
    nginx_t *n = *state;
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        waitpid(n->pid, NULL, 0);
    }
    if (n->dir[0] && strncmp(n->dir, "/tmp/px-http-test-", 18) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", n->dir);
    }
    free(n);
    return 0;
}

static nginx_t *need_nginx(void **state)
{
    nginx_t *n = *state;
    if (n->skip_reason[0]) {
        fail_msg("nginx: %s", n->skip_reason);
    }
    return n;
}

/* ---- tests against nginx ---- */

static void test_http_ok_phases(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128];
    snprintf(spec, sizeof spec, "http://localhost:%u/", (unsigned)n->http_port);
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_OK, NULL);
    assert_string_equal(o.res.message, "HTTP 200 OK");
    assert_int_equal(o.res.app_code, 200);
    const probe_http_detail_t hd = http_of(&o.res), *h = &hd;
    assert_true(h->connect_us > 0);
    assert_int_equal(h->tls_us, 0);
    assert_true(h->first_byte_us >= h->connect_us);
    assert_true(h->total_us >= h->first_byte_us);
    assert_int_equal(o.res.rtt_us, h->total_us);
    assert_int_equal(http_of(&o.res).has_tls, 0);
}

static void test_http_503_is_app_error(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128];
    snprintf(spec, sizeof spec, "http://localhost:%u/down", (unsigned)n->http_port);
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_APP_ERROR, "HTTP 503 ");
    assert_int_equal(o.res.app_code, 503);
    assert_true(http_of(&o.res).total_us > 0);

    /* Expected, a 503 is what the operator asked for. */
    snprintf(spec, sizeof spec, "http://localhost:%u/down|expect=503", (unsigned)n->http_port);
    o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_OK, "HTTP 503");
    assert_int_equal(o.res.app_code, 503);

    /* A 404 without expectation is below 500: the server works. */
    snprintf(spec, sizeof spec, "http://localhost:%u/missing", (unsigned)n->http_port);
    o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_OK, "HTTP 404 Not Found");
}

static void test_http_expect_status_mismatch(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128];
    snprintf(spec, sizeof spec, "http://localhost:%u/|expect=204", (unsigned)n->http_port);
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_APP_ERROR, "HTTP 200 OK (expected 204)");
    assert_int_equal(o.res.app_code, 200);
}

static void test_http_body_substring(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[160];
    snprintf(spec, sizeof spec, "http://localhost:%u/|body=from parallax", (unsigned)n->http_port);
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_OK, "HTTP 200 OK");

    snprintf(spec, sizeof spec, "http://localhost:%u/|body=from elsewhere", (unsigned)n->http_port);
    o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_APP_ERROR, "does not contain \"from elsewhere\"");
    assert_int_equal(o.res.app_code, 200);

    /* A 200 KB body: the start is scanned, the end is past the cap and never read. */
    snprintf(spec, sizeof spec, "http://localhost:%u/big|body=needle-at-the-start",
             (unsigned)n->http_port);
    o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_OK, "HTTP 200 OK");
    snprintf(spec, sizeof spec, "http://localhost:%u/big|body=needle-at-the-end",
             (unsigned)n->http_port);
    o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_APP_ERROR, "first 64 KiB");
}

static void test_https_self_signed(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128];
    snprintf(spec, sizeof spec, "https://localhost:%u/", (unsigned)n->self_port);
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_TLS_ERROR, "self-signed certificate; HTTP 200 OK");
    assert_int_equal(o.res.app_code, 200);
    assert_int_equal(http_of(&o.res).has_tls, 1);
    assert_int_equal(http_of(&o.res).tls.verified, 0);
    assert_true(http_of(&o.res).tls.days_left == 29 || http_of(&o.res).tls.days_left == 30);
    assert_string_equal(http_of(&o.res).tls.verify_error, "self-signed certificate");
    const probe_http_detail_t hd = http_of(&o.res), *h = &hd;
    assert_true(h->connect_us > 0);
    assert_true(h->tls_us > h->connect_us);
    assert_true(h->first_byte_us >= h->tls_us);
    assert_true(h->total_us >= h->first_byte_us);
}

static void test_https_trusted_and_wrong_name(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128], trust[512];
    snprintf(trust, sizeof trust, "%s/self.pem", n->dir);
    setenv("SSL_CERT_FILE", trust, 1);
    snprintf(spec, sizeof spec, "https://localhost:%u/|body=secure", (unsigned)n->self_port);
    outcome_t o = run_spec(spec, 3000);
    snprintf(spec, sizeof spec, "https://wrong.example:%u/", (unsigned)n->self_port);
    outcome_t wrong = run_spec(spec, 3000);
    snprintf(spec, sizeof spec, "https://localhost.:%u/", (unsigned)n->self_port);
    outcome_t dot = run_spec(spec, 3000);
    unsetenv("SSL_CERT_FILE");

    expect_status(&o, PX_STATUS_OK, "HTTP 200 OK");
    assert_int_equal(http_of(&o.res).has_tls, 1);
    assert_int_equal(http_of(&o.res).tls.verified, 1);
    assert_string_equal(http_of(&o.res).tls.verify_error, "");

    /* A fully qualified name is checked without its final dot. */
    expect_status(&dot, PX_STATUS_OK, "HTTP 200 OK");
    assert_int_equal(http_of(&dot.res).tls.verified, 1);

    expect_status(&wrong, PX_STATUS_TLS_ERROR, "hostname mismatch; HTTP 200 OK");
    assert_int_equal(http_of(&wrong.res).tls.verified, 0);
    assert_int_equal(wrong.res.app_code, 200);
}

static void test_https_expired(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128], trust[512];
    snprintf(spec, sizeof spec, "https://localhost:%u/", (unsigned)n->expired_port);
    /* Issued by a CA the agent does not know: the first error is the unknown issuer, and the
     * expiry is added to the message. */
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_TLS_ERROR, "certificate expired 12 days ago; HTTP 200 OK");
    assert_int_equal(http_of(&o.res).tls.days_left, -12);
    assert_int_equal(http_of(&o.res).tls.verified, 0);

    /* With the CA trusted, the expiry itself is the verification error. */
    snprintf(trust, sizeof trust, "%s/ca.pem", n->dir);
    setenv("SSL_CERT_FILE", trust, 1);
    o = run_spec(spec, 3000);
    unsetenv("SSL_CERT_FILE");
    expect_status(&o, PX_STATUS_TLS_ERROR, "certificate has expired (12 days ago); HTTP 200 OK");
    assert_int_equal(o.res.app_code, 200);
    assert_int_equal(http_of(&o.res).has_tls, 1);
    assert_int_equal(http_of(&o.res).tls.verified, 0);
    assert_int_equal(http_of(&o.res).tls.days_left, -12);
    assert_string_equal(http_of(&o.res).tls.verify_error, "certificate has expired");
}

static void test_https_to_plain_http_port(void **state)
{
    nginx_t *n = need_nginx(state);
    char spec[128];
    snprintf(spec, sizeof spec, "https://localhost:%u/", (unsigned)n->http_port);
    outcome_t o = run_spec(spec, 3000);
    expect_status(&o, PX_STATUS_TLS_ERROR, "TLS handshake: ");
    assert_int_equal(http_of(&o.res).has_tls, 0);
    assert_true(http_of(&o.res).connect_us > 0);
    assert_int_equal(http_of(&o.res).tls_us, 0);
}

/* ---- without servers ---- */

static void test_closed_port_refused(void **state)
{
    (void)state;
    uint16_t port;
    int fd =
        harness_tcp_socket(AF_INET, 0, 0, &port); /* bound, not listening: answers with a reset */
    assert_true(fd >= 0);
    char spec[128];
    snprintf(spec, sizeof spec, "http://localhost:%u/", (unsigned)port);
    outcome_t o = run_spec(spec, 2000);
    expect_status(&o, PX_STATUS_REFUSED, "connect: Connection refused");
    assert_true(o.res.rtt_us > 0);
    assert_int_equal(http_of(&o.res).connect_us, 0);
    snprintf(spec, sizeof spec, "https://localhost:%u/", (unsigned)port);
    o = run_spec(spec, 2000);
    close(fd);
    expect_status(&o, PX_STATUS_REFUSED, NULL);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    /* A listener with a full accept queue drops further SYNs, so the connect never ends. */
    uint16_t port;
    int lfd = harness_tcp_socket(AF_INET, 1, 0, &port);
    assert_true(lfd >= 0);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof a), 0);
    char spec[128];
    snprintf(spec, sizeof spec, "http://localhost:%u/", (unsigned)port);
    outcome_t o = run_spec(spec, 300);
    close(filler);
    close(lfd);
    expect_status(&o, PX_STATUS_TIMEOUT, "no answer within 300 ms");
    assert_int_equal(http_of(&o.res).connect_us, 0);
    assert_true((o.elapsed_us / 1000) >= 250 && (o.elapsed_us / 1000) < 2000);
}

static void test_bad_specs(void **state)
{
    (void)state;
    outcome_t o = run_spec("http://bad host/", 1000);
    expect_status(&o, PX_STATUS_LOCAL_ERROR, "bad probe spec");
    probe_target_t t = target("https:https://localhost/", "127.0.0.1", 1000);
    t.kind = PROBE_KIND_HTTP;
    struct event_base *base = event_base_new();
    o = run_on(base, &t);
    expect_status(&o, PX_STATUS_LOCAL_ERROR, "is not of kind http");
    t.spec = NULL;
    o = run_on(base, &t);
    expect_status(&o, PX_STATUS_LOCAL_ERROR, "bad probe spec");
    event_base_free(base);
}

/* ---- hostile servers on the probe's own loop ---- */

typedef enum hostile_mode {
    H_GARBAGE,         /* answers the request with an SSH banner */
    H_TRUNCATED,       /* "HTTP/1.1 20" then close */
    H_ENDLESS_HEADERS, /* header lines forever (up to 4 MB) */
    H_BIG_BODY,        /* 200 OK with a 10 MB body */
    H_DRIP,            /* a valid response, one byte every 40 ms */
    H_SILENT,          /* accepts and never says anything */
    H_RESET,           /* reads the request, then resets the connection */
    H_HTTP_ON_TLS,     /* a plain HTTP error answering a TLS ClientHello */
    H_CHUNKED_BAD,     /* chunked with a bad chunk size */
    H_NO_REASON_V6,    /* a valid response without reason phrase; the test checks the request */
} hostile_mode_t;

typedef struct hostile {
    struct event_base *base;
    hostile_mode_t mode;
    int lfd, cfd;
    uint16_t port;
    struct event *lev, *cev, *tick;
    size_t sent, limit;
    const char *script; /* what to write, for scripted modes */
    size_t script_len;
    int answered;
    char req[2048];
    size_t req_len;
} hostile_t;

static void hostile_write_cb(evutil_socket_t fd, short what, void *arg);

static void hostile_send(hostile_t *h, const char *data, size_t len)
{
    ssize_t n = send(h->cfd, data, len, MSG_NOSIGNAL);
    (void)n; /* short writes do not matter for these tiny scripted answers */
}

static void hostile_answer(hostile_t *h)
{
    static const char drip[] = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
                               "0123456789012345678901234567890123456789";
    h->answered = 1;
    switch (h->mode) {
    case H_GARBAGE:
        hostile_send(h, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 32);
        shutdown(h->cfd, SHUT_WR);
        break;
    case H_TRUNCATED:
        hostile_send(h, "HTTP/1.1 20", 11);
        shutdown(h->cfd, SHUT_WR);
        break;
    case H_CHUNKED_BAD: {
        const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        hostile_send(h, r, strlen(r));
        break;
    }
    case H_NO_REASON_V6: {
        const char *r = "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok";
        hostile_send(h, r, strlen(r));
        shutdown(h->cfd, SHUT_WR);
        break;
    }
    case H_ENDLESS_HEADERS:
        hostile_send(h, "HTTP/1.1 200 OK\r\n", 17);
        h->limit = 4u << 20;
        event_free(h->cev);
        h->cev = event_new(h->base, h->cfd, EV_WRITE | EV_PERSIST, hostile_write_cb, h);
        event_add(h->cev, NULL);
        break;
    case H_BIG_BODY: {
        const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n";
        hostile_send(h, r, strlen(r));
        h->limit = 10000000;
        event_free(h->cev);
        h->cev = event_new(h->base, h->cfd, EV_WRITE | EV_PERSIST, hostile_write_cb, h);
        event_add(h->cev, NULL);
        break;
    }
    case H_DRIP: {
        h->script = drip;
        h->script_len = sizeof drip - 1;
        struct timeval tv = {0, 40000};
        event_add(h->tick, &tv);
        break;
    }
    case H_RESET: {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(h->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        event_free(h->cev);
        h->cev = NULL;
        close(h->cfd); /* with linger 0: a reset */
        h->cfd = -1;
        break;
    }
    case H_HTTP_ON_TLS: {
        const char *r = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        hostile_send(h, r, strlen(r));
        shutdown(h->cfd, SHUT_WR);
        break;
    }
    case H_SILENT:
        break;
    }
}

/* Endless headers or body: writes while the socket takes it, up to the limit. */
static void hostile_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hostile_t *h = arg;
    char buf[8192];
    size_t len = sizeof buf;
    if (h->mode == H_ENDLESS_HEADERS) {
        /* Whole lines only (a short write may cut one, which only makes it longer). */
        len = 0;
        while (len + 64 < sizeof buf)
            len += (size_t)snprintf(buf + len, sizeof buf - len,
                                    "X-Filler-%08zu: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
                                    h->sent + len);
    } else {
        memset(buf, 'x', sizeof buf);
    }
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0)
        h->sent += (size_t)n;
    if ((n < 0 && errno != EAGAIN) || h->sent >= h->limit)
        event_del(h->cev); /* the client went away, or the limit: stop */
}

static void hostile_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hostile_t *h = arg;
    if (h->sent < h->script_len && h->cfd >= 0) {
        ssize_t n = send(h->cfd, h->script + h->sent, 1, MSG_NOSIGNAL);
        if (n == 1)
            h->sent++;
        struct timeval tv = {0, 40000};
        event_add(h->tick, &tv);
    }
}

/* Reads the request (or the ClientHello) and answers once it is complete. */
static void hostile_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hostile_t *h = arg;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
        event_del(h->cev);
        return;
    }
    size_t keep =
        (size_t)n < sizeof h->req - 1 - h->req_len ? (size_t)n : sizeof h->req - 1 - h->req_len;
    memcpy(h->req + h->req_len, buf, keep);
    h->req_len += keep;
    h->req[h->req_len] = '\0';
    if (h->answered || h->mode == H_SILENT)
        return;
    if (h->mode == H_HTTP_ON_TLS || strstr(h->req, "\r\n\r\n"))
        hostile_answer(h);
}

static void hostile_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hostile_t *h = arg;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0 || h->cfd >= 0) {
        if (c >= 0)
            close(c);
        return;
    }
    h->cfd = c;
    h->cev = event_new(h->base, c, EV_READ | EV_PERSIST, hostile_read_cb, h);
    event_add(h->cev, NULL);
}

static hostile_t *hostile_new(struct event_base *base, hostile_mode_t mode, int family)
{
    hostile_t *h = calloc(1, sizeof *h);
    h->base = base;
    h->mode = mode;
    h->cfd = -1;
    h->lfd = harness_tcp_socket(family, 1, 8, &h->port);
    if (h->lfd < 0 || fcntl(h->lfd, F_SETFL, fcntl(h->lfd, F_GETFL) | O_NONBLOCK) < 0) {
        if (h->lfd >= 0)
            close(h->lfd);
        free(h);
        return NULL;
    }
    h->lev = event_new(base, h->lfd, EV_READ | EV_PERSIST, hostile_accept_cb, h);
    h->tick = evtimer_new(base, hostile_tick_cb, h);
    event_add(h->lev, NULL);
    return h;
}

static void hostile_destroy(hostile_t **hp)
{
    hostile_t *h = *hp;
    if (h->cev)
        event_free(h->cev);
    event_free(h->lev);
    event_free(h->tick);
    if (h->cfd >= 0)
        close(h->cfd);
    close(h->lfd);
    free(h);
    *hp = NULL;
}

/* Runs spec (PORT replaced by the hostile server's port) against a server in mode. */
static outcome_t run_hostile(hostile_mode_t mode, const char *scheme, const char *suffix,
                             uint32_t timeout_ms, size_t *server_sent)
{
    struct event_base *base = event_base_new();
    hostile_t *h = hostile_new(base, mode, AF_INET);
    assert_non_null(h);
    char spec[256];
    snprintf(spec, sizeof spec, "%s://localhost:%u/%s", scheme, (unsigned)h->port, suffix);
    probe_target_t t = target(spec, "127.0.0.1", timeout_ms);
    outcome_t o = run_on(base, &t);
    if (server_sent)
        *server_sent = h->sent;
    hostile_destroy(&h);
    event_base_free(base);
    return o;
}

static void test_hostile_garbage(void **state)
{
    (void)state;
    outcome_t o = run_hostile(H_GARBAGE, "http", "", 2000, NULL);
    expect_status(&o, PX_STATUS_PROTOCOL_ERROR, "not an HTTP response");
    assert_true(http_of(&o.res).first_byte_us > 0);
    assert_int_equal(o.res.app_code, 0);
}

static void test_hostile_truncated_status(void **state)
{
    (void)state;
    outcome_t o = run_hostile(H_TRUNCATED, "http", "", 2000, NULL);
    expect_status(&o, PX_STATUS_PROTOCOL_ERROR, "connection closed inside the status line");
}

static void test_hostile_endless_headers(void **state)
{
    (void)state;
    size_t sent = 0;
    outcome_t o = run_hostile(H_ENDLESS_HEADERS, "http", "", 3000, &sent);
    expect_status(&o, PX_STATUS_PROTOCOL_ERROR, "header section larger than");
    assert_true((o.elapsed_us / 1000) < 2000);
}

static void test_hostile_big_body(void **state)
{
    (void)state;
    size_t sent = 0;
    outcome_t o = run_hostile(H_BIG_BODY, "http", "", 3000, &sent);
    expect_status(&o, PX_STATUS_OK, "HTTP 200 OK");
    /* The probe stopped at the cap instead of taking 10 MB. */
    assert_true(sent < 10000000);
    assert_true((o.elapsed_us / 1000) < 2000);
    o = run_hostile(H_BIG_BODY, "http", "|body=never-there", 3000, NULL);
    expect_status(&o, PX_STATUS_APP_ERROR, "first 64 KiB does not contain \"never-there\"");
}

static void test_hostile_slow_drip(void **state)
{
    (void)state;
    size_t sent = 0;
    outcome_t o = run_hostile(H_DRIP, "http", "", 600, &sent);
    expect_status(&o, PX_STATUS_TIMEOUT, "timed out after 600 ms reading the response");
    assert_true(sent > 3); /* bytes kept coming, each well inside the timeout */
    assert_true(http_of(&o.res).first_byte_us > 0);
    assert_int_equal(http_of(&o.res).total_us, 0);
    assert_true((o.elapsed_us / 1000) >= 550 && (o.elapsed_us / 1000) < 2000);
}

static void test_hostile_silent(void **state)
{
    (void)state;
    outcome_t o = run_hostile(H_SILENT, "http", "", 300, NULL);
    expect_status(&o, PX_STATUS_TIMEOUT, "timed out after 300 ms waiting for the first byte");
    assert_true(http_of(&o.res).connect_us > 0);
    o = run_hostile(H_SILENT, "https", "", 300, NULL);
    expect_status(&o, PX_STATUS_TIMEOUT, "timed out after 300 ms in the TLS handshake");
}

static void test_hostile_reset(void **state)
{
    (void)state;
    outcome_t o = run_hostile(H_RESET, "http", "", 2000, NULL);
    expect_status(&o, PX_STATUS_PROTOCOL_ERROR, "reset");
}

static void test_hostile_http_on_tls_port(void **state)
{
    (void)state;
    outcome_t o = run_hostile(H_HTTP_ON_TLS, "https", "", 2000, NULL);
    expect_status(&o, PX_STATUS_TLS_ERROR, "TLS handshake: ");
    assert_int_equal(http_of(&o.res).has_tls, 0);
}

static void test_hostile_bad_chunk(void **state)
{
    (void)state;
    outcome_t o = run_hostile(H_CHUNKED_BAD, "http", "", 2000, NULL);
    expect_status(&o, PX_STATUS_PROTOCOL_ERROR, "bad chunk size");
    assert_int_equal(o.res.app_code, 200);
}

/* The request on the wire, over IPv6 with a non-default port and an IPv6 literal host. */
static void test_request_ipv6(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    hostile_t *h = hostile_new(base, H_NO_REASON_V6, AF_INET6);
    if (!h) {
        event_base_free(base);
        PX_SKIP_WITHOUT_IPV6();
        fail_msg("cannot start a server on the IPv6 loopback");
    }
    char spec[128], host[64];
    snprintf(spec, sizeof spec, "http://[::1]:%u/a/b?c=d", (unsigned)h->port);
    probe_target_t t = target(spec, "::1", 2000);
    outcome_t o = run_on(base, &t);
    expect_status(&o, PX_STATUS_OK, NULL);
    assert_string_equal(o.res.message, "HTTP 200");
    assert_non_null(strstr(h->req, "GET /a/b?c=d HTTP/1.1\r\n"));
    snprintf(host, sizeof host, "\r\nHost: [::1]:%u\r\n", (unsigned)h->port);
    assert_non_null(strstr(h->req, host));
    assert_non_null(strstr(h->req, "\r\nUser-Agent: parallax-agent/" PX_VERSION "\r\n"));
    assert_non_null(strstr(h->req, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(h->req, "\r\nAccept: */*\r\n"));
    hostile_destroy(&h);
    event_base_free(base);
}

static void test_cancel_in_flight(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    hostile_t *h = hostile_new(base, H_SILENT, AF_INET);
    char spec[128];
    snprintf(spec, sizeof spec, "https://localhost:%u/", (unsigned)h->port);
    char full[160];
    snprintf(full, sizeof full, "https:%s", spec);
    probe_target_t t = target(full, "127.0.0.1", 2000);
    /* After 100 ms: connected, handshake pending. */
    assert_int_equal(harness_cancel_after(base, &t, 100, 100), 0);
    hostile_destroy(&h);
    event_base_free(base);
}

static void test_days_left_rule(void **state)
{
    (void)state;
    assert_int_equal(tls_check_days_left(30, 0), 30);
    assert_int_equal(tls_check_days_left(29, 86000), 29);
    assert_int_equal(tls_check_days_left(0, 5), 0);
    assert_int_equal(tls_check_days_left(0, -5), -1); /* expired: always negative */
    assert_int_equal(tls_check_days_left(-12, -3600), -12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_ok_phases),
        cmocka_unit_test(test_http_503_is_app_error),
        cmocka_unit_test(test_http_expect_status_mismatch),
        cmocka_unit_test(test_http_body_substring),
        cmocka_unit_test(test_https_self_signed),
        cmocka_unit_test(test_https_trusted_and_wrong_name),
        cmocka_unit_test(test_https_expired),
        cmocka_unit_test(test_https_to_plain_http_port),
        cmocka_unit_test(test_closed_port_refused),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_hostile_garbage),
        cmocka_unit_test(test_hostile_truncated_status),
        cmocka_unit_test(test_hostile_endless_headers),
        cmocka_unit_test(test_hostile_big_body),
        cmocka_unit_test(test_hostile_slow_drip),
        cmocka_unit_test(test_hostile_silent),
        cmocka_unit_test(test_hostile_reset),
        cmocka_unit_test(test_hostile_http_on_tls_port),
        cmocka_unit_test(test_hostile_bad_chunk),
        cmocka_unit_test(test_request_ipv6),
        cmocka_unit_test(test_cancel_in_flight),
        cmocka_unit_test(test_days_left_rule),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
