/* tls_check: OpenSSL behind a small step interface. The socket is reached through a BIO of
 * our own that uses send(MSG_NOSIGNAL)/recv, because OpenSSL's socket BIO writes with write()
 * and a peer that resets the connection would kill the agent with SIGPIPE. */
#include "tls_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct tls_check_ctx {
    SSL_CTX *ctx;
    BIO_METHOD *method;
};

struct tls_check {
    SSL *ssl; /* owns its BIO, whose method belongs to the shared context */
};

static int fd_of(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static int would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send(fd_of(b), buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && would_block(errno))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv(fd_of(b), buf, (size_t)len, 0);
    if (n < 0 && would_block(errno))
        BIO_set_retry_read(b);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* Writes go straight to the socket, so there is never anything to flush; every other
     * control (kTLS, peeking at pending bytes) is answered "not supported". */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The reason of the newest queued OpenSSL error, then an empty queue: the queue is per thread
 * and would otherwise leak into whatever uses OpenSSL next. */
static void take_reason(char *why, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (why && len)
        snprintf(why, len, "%s", r ? r : fallback);
    ERR_clear_error();
}

static void load_trust(SSL_CTX *ctx)
{
    const char *dir = secure_getenv(X509_get_default_cert_dir_env());
    const char *file = secure_getenv(X509_get_default_cert_file_env());
    /* A missing directory or file only means fewer trusted roots: every certificate then
     * shows up as unverified, which the results make visible. */
    SSL_CTX_load_verify_dir(ctx, dir && *dir ? dir : X509_get_default_cert_dir());
    if (file && *file)
        SSL_CTX_load_verify_file(ctx, file);
    ERR_clear_error();
}

tls_check_ctx_t *tls_check_ctx_new(err_t *err)
{
    tls_check_ctx_t *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(err, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    c->ctx = SSL_CTX_new(TLS_client_method());
    /* One method for the agent's life: BIO_get_new_index() would run out after 255 types, so
     * the type is the plain class. */
    c->method = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "parallax socket");
    if (!c->ctx || !c->method || !BIO_meth_set_write(c->method, bio_write) ||
        !BIO_meth_set_read(c->method, bio_read) || !BIO_meth_set_ctrl(c->method, bio_ctrl) ||
        !BIO_meth_set_create(c->method, bio_create)) {
        take_reason(err ? err->msg : NULL, err ? sizeof err->msg : 0, "out of memory");
        tls_check_ctx_destroy(&c);
        return NULL;
    }
    /* Verify, but never abort on a bad certificate: the exchange completes and the verdict is
     * read with SSL_get_verify_result(), so an expired certificate still yields the HTTP
     * status as evidence that the server is up. */
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    /* Servers that close without close_notify are common; they end the body, not the run. */
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    load_trust(c->ctx);
    return c;
}

void tls_check_ctx_destroy(tls_check_ctx_t **ctx)
{
    if (!ctx || !*ctx)
        return;
    SSL_CTX_free((*ctx)->ctx);
    BIO_meth_free((*ctx)->method);
    free(*ctx);
    *ctx = NULL;
}

tls_check_t *tls_check_new(tls_check_ctx_t *ctx, int fd, const char *host, err_t *err)
{
    tls_check_t *tc = calloc(1, sizeof *tc);
    if (!tc) {
        err_set(err, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    tc->ssl = SSL_new(ctx->ctx);
    if (!tc->ssl)
        goto fail;
    BIO *bio = BIO_new(ctx->method);
    if (!bio)
        goto fail;
    BIO_set_data(bio, (void *)(intptr_t)fd);
    SSL_set_bio(tc->ssl, bio, bio); /* the SSL owns the BIO now */
    SSL_set_mode(tc->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
    /* A fully qualified "example.org." is sent and checked without its dot (RFC 6066). */
    char name[256];
    snprintf(name, sizeof name, "%s", host);
    size_t len = strlen(name);
    if (len > 1 && name[len - 1] == '.')
        name[len - 1] = '\0';
    host = name;
    if (is_ip_literal(host)) {
        /* RFC 6066: no SNI for addresses; the certificate must name the address instead. */
        if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tc->ssl), host))
            goto fail;
    } else if (!SSL_set_tlsext_host_name(tc->ssl, host) || !SSL_set1_host(tc->ssl, host)) {
        goto fail;
    }
    SSL_set_connect_state(tc->ssl);
    return tc;
fail:
    take_reason(err ? err->msg : NULL, err ? sizeof err->msg : 0, "out of memory");
    tls_check_destroy(&tc);
    return NULL;
}

void tls_check_destroy(tls_check_t **tc)
{
    if (!tc || !*tc)
        return;
    SSL_free((*tc)->ssl); /* frees the BIO; the method stays with the shared context */
    free(*tc);
    *tc = NULL;
}

/* Maps an SSL_* return value to a step result. errno is read first, before anything else can
 * change it. */
static tls_check_io_t classify(tls_check_t *tc, int r, int *sys_errno, char *why, size_t why_len)
{
    int saved = errno;
    *sys_errno = 0;
    switch (SSL_get_error(tc->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return TLS_CHECK_AGAIN_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_CHECK_AGAIN_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return TLS_CHECK_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            /* Nothing queued: a socket error, or EOF when errno says nothing. */
            if (saved == 0)
                return TLS_CHECK_EOF;
            *sys_errno = saved;
            return TLS_CHECK_SYSCALL;
        }
        take_reason(why, why_len, "TLS failure");
        return TLS_CHECK_FAILED;
    default:
        take_reason(why, why_len, "TLS failure");
        return TLS_CHECK_FAILED;
    }
}

tls_check_io_t tls_check_handshake(tls_check_t *tc, int *sys_errno, char *why, size_t why_len)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(tc->ssl);
    if (r == 1) {
        *sys_errno = 0;
        return TLS_CHECK_OK;
    }
    return classify(tc, r, sys_errno, why, why_len);
}

tls_check_io_t tls_check_read(tls_check_t *tc, void *buf, size_t len, size_t *n, int *sys_errno,
                              char *why, size_t why_len)
{
    ERR_clear_error();
    errno = 0;
    *n = 0;
    if (SSL_read_ex(tc->ssl, buf, len, n) == 1) {
        *sys_errno = 0;
        return TLS_CHECK_OK;
    }
    return classify(tc, 0, sys_errno, why, why_len);
}

tls_check_io_t tls_check_write(tls_check_t *tc, const void *buf, size_t len, size_t *n,
                               int *sys_errno, char *why, size_t why_len)
{
    ERR_clear_error();
    errno = 0;
    *n = 0;
    if (SSL_write_ex(tc->ssl, buf, len, n) == 1) {
        *sys_errno = 0;
        return TLS_CHECK_OK;
    }
    return classify(tc, 0, sys_errno, why, why_len);
}

int tls_check_days_left(int days, int secs)
{
    if (days == 0 && secs < 0)
        return -1;
    return days;
}

int tls_check_peer(tls_check_t *tc, tls_check_cert_t *out, char *summary, size_t summary_len)
{
    memset(out, 0, sizeof *out);
    if (summary_len)
        summary[0] = '\0';
    X509 *cert = SSL_get0_peer_certificate(tc->ssl);
    if (!cert) {
        snprintf(out->verify_error, sizeof out->verify_error, "no certificate");
        snprintf(summary, summary_len, "the server sent no certificate");
        return 0;
    }
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
        out->days_left = tls_check_days_left(days, secs);
    long vr = SSL_get_verify_result(tc->ssl);
    ERR_clear_error();
    if (vr == X509_V_OK) {
        out->verified = 1;
        return 1;
    }
    const char *text = X509_verify_cert_error_string(vr);
    snprintf(out->verify_error, sizeof out->verify_error, "%s", text);
    if (out->days_left < 0) {
        /* Verification stops at its first error, so an expired certificate that is also
         * self-signed says only "self-signed": the expiry is added here. */
        int ago = -out->days_left;
        if (vr == X509_V_ERR_CERT_HAS_EXPIRED)
            snprintf(summary, summary_len, "%s (%d day%s ago)", text, ago, ago == 1 ? "" : "s");
        else
            snprintf(summary, summary_len, "%s; certificate expired %d day%s ago", text, ago,
                     ago == 1 ? "" : "s");
    } else {
        snprintf(summary, summary_len, "%s", text);
    }
    return 0;
}
