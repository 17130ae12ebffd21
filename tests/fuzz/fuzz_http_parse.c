/* fuzz_http_parse: fuzz target for http_parse. Input: one byte N, then a needle of N % 16
 * bytes (cut at a NUL), then the response. The response is parsed whole and again in pieces
 * whose sizes come from the first byte; both must reach the same verdict, every failure must
 * have a reason and every success a final status and framing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const http_parse_t *p)
{
    fprintf(stderr, "fuzz_http_parse: %s (state %s, status %d, error '%s')\n", what,
            http_parse_state_name(p->state), p->status, p->error);
    abort();
}

/* Parses resp in pieces of at most step bytes (0: whole), then the end of input. */
static http_parse_rc_t parse(http_parse_t *p, const char *needle, const uint8_t *resp, size_t len,
                             size_t step)
{
    if (http_parse_init(p, needle) < 0)
        fuzz_fail("a short needle was refused", p);
    http_parse_rc_t rc = HTTP_PARSE_MORE;
    size_t off = 0;
    while (off < len && rc == HTTP_PARSE_MORE) {
        size_t n = step && len - off > step ? step : len - off;
        size_t used = 0;
        rc = http_parse_feed(p, resp + off, n, &used);
        if (used > n || (rc == HTTP_PARSE_MORE && used != n))
            fuzz_fail("bytes used do not add up", p);
        off += n;
    }
    if (rc == HTTP_PARSE_MORE)
        rc = http_parse_eof(p);
    return rc;
}

static void check(const http_parse_t *p, http_parse_rc_t rc, size_t len)
{
    if (rc == HTTP_PARSE_MORE)
        fuzz_fail("still wants more after the end of input", p);
    if (rc == HTTP_PARSE_FAILED) {
        if (!p->error[0] || p->state != HTTP_PARSE_ERROR)
            fuzz_fail("failed without a reason", p);
        return;
    }
    if (p->state != HTTP_PARSE_DONE || !p->headers_complete || p->error[0])
        fuzz_fail("complete but not done", p);
    if (p->status < 100 || p->status > 599 || (p->status < 200 && p->status != 101))
        fuzz_fail("complete with an impossible status", p);
    if (p->framing == HTTP_FRAMING_UNKNOWN || p->body_bytes > len)
        fuzz_fail("complete without framing or with more body than input", p);
    if (p->framing == HTTP_FRAMING_LENGTH && p->body_bytes != p->content_length)
        fuzz_fail("Content-Length body of the wrong size", p);
    if (strlen(p->reason) >= HTTP_PARSE_REASON_MAX)
        fuzz_fail("reason overflow", p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nlen = data[0] % 16u;
    if (nlen > size - 1)
        nlen = size - 1;
    char needle[16];
    memcpy(needle, data + 1, nlen);
    needle[nlen] = '\0';
    const uint8_t *resp = data + 1 + nlen;
    size_t len = size - 1 - nlen;

    http_parse_t *a = malloc(sizeof *a);
    http_parse_t *b = malloc(sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return 0;
    }
    http_parse_rc_t ra = parse(a, needle, resp, len, 0);
    check(a, ra, len);
    http_parse_rc_t rb = parse(b, needle, resp, len, (size_t)(data[0] >> 4) + 1);
    check(b, rb, len);
    if (ra != rb || a->status != b->status || a->body_bytes != b->body_bytes ||
        a->body_found != b->body_found || a->framing != b->framing ||
        strcmp(a->error, b->error) != 0 || strcmp(a->reason, b->reason) != 0)
        fuzz_fail("the verdict depends on how the input was split", b);
    free(a);
    free(b);
    return 0;
}
