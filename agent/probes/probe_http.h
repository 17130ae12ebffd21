/* probe_http: the `http:URL` and `https:URL` probe kinds: one GET over a fresh connection to
 * the target's address (the URL's host is never resolved: it is only the Host header, the SNI
 * and the name the certificate must carry), with the phases measured and the response read up
 * to PROBE_HTTP_SCAN_MAX bytes.
 *
 * Statuses, first match wins:
 *   LOCAL_ERROR     the vantage could not even try (socket(), no local route, bad spec)
 *   REFUSED / UNREACHABLE / TIMEOUT   the connect failed (same errno map as the tcp kind);
 *                   TIMEOUT also for a server that goes silent later, the message naming
 *                   the phase ("waiting for the first byte", ...)
 *   TLS_ERROR       https handshake failed (alert, no shared cipher, a non-TLS answer)
 *   PROTOCOL_ERROR  the answer is not HTTP, or was cut (reset or closed) before it ended
 *   TLS_ERROR       https certificate not verified (expired, untrusted, wrong name). The
 *                   exchange is completed anyway: app_code holds the HTTP status and the
 *                   message the reason ("certificate has expired (12 days ago); HTTP 200 OK")
 *                   because a server answering behind a bad certificate is itself evidence.
 *   APP_ERROR       with expect=STATUS: any other status; without it: a status >= 500; or
 *                   the body (first PROBE_HTTP_SCAN_MAX bytes) lacks the |body= text
 *   OK              "HTTP 200 OK"
 * rtt_us is the time to the complete response; when the server answered with something else
 * (a reset on connect like the tcp kind, a TLS alert, non-HTTP bytes) the time to that answer;
 * 0 when nothing came back (timeouts, unreachable, local errors). The details
 * (probe_http_detail_t) are always set; their phases count from the start of the run, 0 = not
 * reached (first_byte_us is the first decrypted byte for https); has_tls is set once a
 * handshake completed. A response longer
 * than the scan cap is not read to its end: the run stops there and judges what it saw.
 *
 * Needs nothing from the process: writes use MSG_NOSIGNAL, so SIGPIPE need not be ignored. */
#ifndef PX_PROBE_HTTP_H
#define PX_PROBE_HTTP_H

#include "probe.h"
#include "tls_check.h"

/* Response bytes (headers and body) read at most; the rest is never read. */
#define PROBE_HTTP_SCAN_MAX 65536

/* The run's details: the phases (the wire's HttpTiming), microseconds from the start of the
 * run, 0 = not reached, and the certificate (TlsInfo) once a handshake completed. */
typedef struct probe_http_detail {
    uint32_t connect_us;
    uint32_t tls_us;
    uint32_t first_byte_us;
    uint32_t total_us;
    uint8_t has_tls;
    tls_check_cert_t tls;
} probe_http_detail_t;

extern const probe_ops_t probe_http_ops;
extern const probe_ops_t probe_https_ops;

/* Copies the details of an http or https result into out (NULL: only asks). Returns 0, or -1
 * when res is not such a result with details. */
int probe_http_detail(const probe_result_t *res, probe_http_detail_t *out);

#endif
