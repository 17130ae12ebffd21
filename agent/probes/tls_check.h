/* tls_check: the TLS client side of one https run over a non-blocking socket the caller owns
 * and polls: handshake, read and write steps that say what to wait for, and the inspection of
 * the server's certificate (verified or not, days to expiry, why not). The only agent module
 * that includes OpenSSL.
 *
 * Cost: every run of an agent shares one tls_check_ctx_t (one SSL_CTX), made by the probe
 * environment at the first https run (an agent without any never loads OpenSSL's tables), so
 * the trust store is set up once. It uses the hashed CA
 * directory (X509_get_default_cert_dir(), or $SSL_CERT_DIR), which reads only the issuers a
 * verification looks up and keeps them, rather than SSL_CTX_set_default_verify_paths(), which
 * parses the whole CA bundle; $SSL_CERT_FILE, when set, is loaded too. Sharing the context
 * shares no session: client-side session caching is off (OpenSSL's default, never turned on
 * here), so every run makes a full handshake and sees the server's certificate. */
#ifndef PX_TLS_CHECK_H
#define PX_TLS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "probe.h"

typedef struct tls_check tls_check_t;
typedef struct tls_check_ctx tls_check_ctx_t;

/* The certificate a handshake received, as the wire's TlsInfo carries it. */
typedef struct tls_check_cert {
    uint8_t verified;                 /* chain and host name verified */
    int32_t days_left;                /* whole days until notAfter; negative once expired */
    char verify_error[PROBE_MSG_MAX]; /* why not verified, "" when verified */
} tls_check_cert_t;

/* What a step did. AGAIN_READ/AGAIN_WRITE: wait until the socket is readable/writable and
 * call the same step again. EOF: the peer closed (with or without close_notify). SYSCALL: a
 * socket error, its errno in *sys_errno. FAILED: a TLS protocol failure (bad record, alert,
 * no shared cipher), its reason in why. */
typedef enum tls_check_io {
    TLS_CHECK_OK,
    TLS_CHECK_AGAIN_READ,
    TLS_CHECK_AGAIN_WRITE,
    TLS_CHECK_EOF,
    TLS_CHECK_SYSCALL,
    TLS_CHECK_FAILED,
} tls_check_io_t;

/* The client setup every run shares: the SSL_CTX (verification that never aborts a
 * handshake, the trust store) and the socket BIO method. Returns NULL with err if OpenSSL
 * cannot make them (out of memory). The caller owns it (the probe environment, one per agent)
 * and must destroy it only after every tls_check_t made from it. */
tls_check_ctx_t *tls_check_ctx_new(err_t *err);

/* Frees the shared setup. NULLs *ctx; accepts NULL. */
void tls_check_ctx_destroy(tls_check_ctx_t **ctx);

/* Prepares a TLS client on the connected non-blocking socket fd (borrowed: the caller closes
 * it after tls_check_destroy()), from ctx (borrowed: it must outlive the result). host is
 * sent as SNI unless it is an IP literal, and the certificate is checked against it (as a DNS
 * name or an IP address). Verification failures never abort the handshake: tls_check_peer()
 * reports them afterwards. Returns NULL with err on failure (out of memory, OpenSSL refusing
 * the host name). Socket writes never raise SIGPIPE. Caller owns the result. */
tls_check_t *tls_check_new(tls_check_ctx_t *ctx, int fd, const char *host, err_t *err);

/* Frees everything; the socket stays open. NULLs *tc; accepts NULL. */
void tls_check_destroy(tls_check_t **tc);

/* One handshake step. */
tls_check_io_t tls_check_handshake(tls_check_t *tc, int *sys_errno, char *why, size_t why_len);

/* Reads up to len bytes; on OK *n > 0 bytes were read. */
tls_check_io_t tls_check_read(tls_check_t *tc, void *buf, size_t len, size_t *n, int *sys_errno,
                              char *why, size_t why_len);

/* Writes up to len bytes; on OK *n > 0 bytes were written (maybe fewer than len). */
tls_check_io_t tls_check_write(tls_check_t *tc, const void *buf, size_t len, size_t *n,
                               int *sys_errno, char *why, size_t why_len);

/* After a completed handshake: fills out (verified, days_left, verify_error) and writes a
 * short summary of a verification failure into summary ("certificate has expired (12 days
 * ago)", "self-signed certificate", "hostname mismatch"; "" when verified). days_left is the
 * number of whole days until notAfter, truncated towards zero, except that an expired
 * certificate always has a negative value (-1 during its first day past expiry). Returns 1 if
 * verified, else 0. */
int tls_check_peer(tls_check_t *tc, tls_check_cert_t *out, char *summary, size_t summary_len);

/* The days_left rule above, from the whole days and remaining seconds ASN1_TIME_diff() gives
 * (both of the same sign). Pure; exposed for tests. */
int tls_check_days_left(int days, int secs);

#endif
