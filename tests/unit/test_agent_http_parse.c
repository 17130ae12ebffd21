/* Unit tests for http_parse: a table of responses (valid, odd but legal, broken, hostile), each
 * fed whole, split in two at every byte boundary and one byte at a time, which must all give
 * the same verdict; plus the caps (header section, line length, needle) and the KMP search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

typedef struct parse_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in); set it for inputs with NUL bytes */
    const char *needle;
    int eof; /* call http_parse_eof() if the feed wants more */
    http_parse_rc_t rc;
    int status;
    const char *reason;
    http_framing_t framing;
    uint64_t body_bytes;
    int found;
    const char *error; /* substring of the error when FAILED */
} parse_case_t;

#define OK_CASE(name, in, needle, eof, status, reason, framing, body, found)                       \
    {                                                                                              \
        name, in, 0, needle, eof, HTTP_PARSE_COMPLETE, status, reason, framing, body, found, NULL  \
    }
#define BAD_CASE(name, in, eof, error)                                                             \
    {                                                                                              \
        name, in, 0, NULL, eof, HTTP_PARSE_FAILED, -1, NULL, 0, 0, 0, error                        \
    }

static const parse_case_t cases[] = {
    OK_CASE("200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "ell",
            0, 200, "OK", HTTP_FRAMING_LENGTH, 5, 1),
    OK_CASE("301 empty body",
            "HTTP/1.1 301 Moved Permanently\r\nLocation: https://x/\r\nContent-Length: 0\r\n\r\n",
            NULL, 0, 301, "Moved Permanently", HTTP_FRAMING_LENGTH, 0, 1),
    OK_CASE("503 chunked, needle across chunks",
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            "lo wo", 0, 503, "Service Unavailable", HTTP_FRAMING_CHUNKED, 11, 1),
    OK_CASE("HTTP/1.0 until close", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nthe body", "body", 1,
            200, "OK", HTTP_FRAMING_CLOSE, 8, 1),
    OK_CASE("missing reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", NULL, 0, 200, "",
            HTTP_FRAMING_LENGTH, 0, 1),
    OK_CASE("empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", NULL, 0, 404, "",
            HTTP_FRAMING_LENGTH, 0, 1),
    OK_CASE("lowercase headers",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\ncontent-length: 99\r\n\r\n"
            "3\r\nabc\r\n0\r\n\r\n",
            "abc", 0, 200, "OK", HTTP_FRAMING_CHUNKED, 3, 1),
    OK_CASE("bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "ok", 0, 200, "OK",
            HTTP_FRAMING_LENGTH, 2, 1),
    OK_CASE("100 Continue first",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL, 0,
            200, "OK", HTTP_FRAMING_LENGTH, 2, 1),
    OK_CASE("103 Early Hints first",
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            NULL, 0, 204, "No Content", HTTP_FRAMING_NONE, 0, 1),
    OK_CASE("304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", NULL, 0,
            304, "Not Modified", HTTP_FRAMING_NONE, 0, 1),
    OK_CASE("same Content-Length twice",
            "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok", NULL, 0, 200,
            "OK", HTTP_FRAMING_LENGTH, 2, 1),
    OK_CASE("gzip without chunked: until close",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz", NULL, 1, 200, "OK",
            HTTP_FRAMING_CLOSE, 3, 1),
    OK_CASE("needle absent", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "world", 0, 200,
            "OK", HTTP_FRAMING_LENGTH, 5, 0),
    OK_CASE("KMP restart", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nababac", "abac", 0, 200,
            "OK", HTTP_FRAMING_LENGTH, 6, 1),
    OK_CASE("KMP overlap", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\naaab", "aab", 0, 200, "OK",
            HTTP_FRAMING_LENGTH, 4, 1),
    OK_CASE("needle in headers only is not found",
            "HTTP/1.1 200 OK\r\nX-Secret: needle\r\nContent-Length: 3\r\n\r\nabc", "needle", 0, 200,
            "OK", HTTP_FRAMING_LENGTH, 3, 0),
    OK_CASE("chunk size with spaces and uppercase hex",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA  \r\n0123456789\r\n0\r\n\r\n",
            "9", 0, 200, "OK", HTTP_FRAMING_CHUNKED, 10, 1),
    OK_CASE("obs-text in the reason",
            "HTTP/1.1 200 \xc3\xa7"
            "a va\r\nContent-Length: 0\r\n\r\n",
            NULL, 0, 200,
            "\xc3\xa7"
            "a va",
            HTTP_FRAMING_LENGTH, 0, 1),

    BAD_CASE("garbage", "SSH-2.0-OpenSSH_9.2p1\r\n", 0, "not an HTTP response"),
    BAD_CASE("HTML without status line", "<html><body>hi</body></html>", 0, "not an HTTP response"),
    BAD_CASE("lowercase protocol name", "http/1.1 200 OK\r\n\r\n", 0, "not an HTTP response"),
    BAD_CASE("empty line first", "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, "not an HTTP response"),
    BAD_CASE("HTTP/2 status line", "HTTP/2 200\r\n\r\n", 0, "malformed status line"),
    BAD_CASE("HTTP/2.0 version", "HTTP/2.0 200 OK\r\n\r\n", 0, "unsupported version"),
    BAD_CASE("non-digit status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, "three digits"),
    BAD_CASE("status 99", "HTTP/1.1 99 OK\r\n\r\n", 0, "three digits"),
    BAD_CASE("status 099", "HTTP/1.1 099 OK\r\n\r\n", 0, "out of range"),
    BAD_CASE("status 1000", "HTTP/1.1 1000 OK\r\n\r\n", 0, "three digits"),
    BAD_CASE("status 600", "HTTP/1.1 600 OK\r\n\r\n", 0, "out of range"),
    BAD_CASE("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", 0, "three digits"),
    BAD_CASE("truncated status line", "HTTP/1.1 20", 1, "inside the status line"),
    BAD_CASE("nothing at all", "", 1, "without a response"),
    BAD_CASE("closed inside headers", "HTTP/1.1 200 OK\r\nContent-Le", 1, "inside the headers"),
    BAD_CASE("closed after interim", "HTTP/1.1 100 Continue\r\n\r\n", 1, "interim 100"),
    BAD_CASE("folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n\r\n", 0,
             "obsolete line folding"),
    BAD_CASE("header without colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0,
             "malformed header line"),
    BAD_CASE("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", 0,
             "malformed header line"),
    BAD_CASE("empty header name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", 0, "malformed header line"),
    BAD_CASE("bare CR in a header", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", 0, "bare CR"),
    BAD_CASE("control character in a header", "HTTP/1.1 200 OK\r\nX-A: a\x01z\r\n\r\n", 0,
             "control character in header X-A"),
    BAD_CASE("control character in the reason", "HTTP/1.1 200 O\x7fK\r\n\r\n", 0,
             "control character in the reason"),
    BAD_CASE("negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0,
             "invalid Content-Length"),
    BAD_CASE("overflowing Content-Length",
             "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
             "Content-Length too large"),
    BAD_CASE("Content-Length with a sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", 0,
             "invalid Content-Length"),
    BAD_CASE("empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", 0,
             "invalid Content-Length"),
    BAD_CASE("Content-Length list with a hole", "HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n", 0,
             "invalid Content-Length"),
    BAD_CASE("conflicting Content-Length list",
             "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", 0, "conflicting"),
    BAD_CASE("conflicting Content-Length headers",
             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 0,
             "conflicting"),
    BAD_CASE("body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1,
             "after 3 of 10 body bytes"),
    BAD_CASE("non-hex chunk size",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 0,
             "bad chunk size"),
    BAD_CASE("empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0,
             "bad chunk size"),
    BAD_CASE("negative chunk size",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n", 0,
             "bad chunk size"),
    BAD_CASE("0x-prefixed chunk size",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", 0,
             "bad chunk size"),
    BAD_CASE("huge chunk size",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", 0,
             "chunk size too large"),
    BAD_CASE("chunk longer than its size",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 0,
             "not followed by CRLF"),
    BAD_CASE("chunked body cut short",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1,
             "inside the chunked body"),
    BAD_CASE("folded trailer",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n", 0,
             "obsolete line folding in the trailers"),
};

/* Inputs with NUL bytes (explicit lengths). */
#define NUL_CASE(name, lit, needle, rc, status, reason, framing, body, found, error)               \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, needle, 0, rc, status, reason, framing, body, found, error     \
    }
static const parse_case_t nul_cases[] = {
    NUL_CASE("NUL in a header value", "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", NULL,
             HTTP_PARSE_FAILED, -1, NULL, 0, 0, 0, "control character"),
    NUL_CASE("NUL in a header name", "HTTP/1.1 200 OK\r\nX\0A: ab\r\n\r\n", NULL, HTTP_PARSE_FAILED,
             -1, NULL, 0, 0, 0, "malformed header line"),
    NUL_CASE("NUL in the status code", "HTTP/1.1 2\0\0 OK\r\n\r\n", NULL, HTTP_PARSE_FAILED, -1,
             NULL, 0, 0, 0, "three digits"),
    NUL_CASE("NUL first", "\0HTTP/1.1 200 OK\r\n\r\n", NULL, HTTP_PARSE_FAILED, -1, NULL, 0, 0, 0,
             "not an HTTP response"),
    NUL_CASE("NUL in the body is data", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\0b", "b",
             HTTP_PARSE_COMPLETE, 200, "OK", HTTP_FRAMING_LENGTH, 3, 1, NULL),
};

/* Feeds in[0..len) in pieces of at most step bytes (0: split once at split). */
static http_parse_rc_t feed(http_parse_t *p, const parse_case_t *c, const char *in, size_t len,
                            size_t split, size_t step)
{
    assert_int_equal(http_parse_init(p, c->needle), 0);
    http_parse_rc_t rc = HTTP_PARSE_MORE;
    if (step == 0) {
        rc = http_parse_feed(p, in, split, NULL);
        if (rc == HTTP_PARSE_MORE)
            rc = http_parse_feed(p, in + split, len - split, NULL);
    } else {
        for (size_t i = 0; i < len && rc == HTTP_PARSE_MORE; i += step)
            rc = http_parse_feed(p, in + i, len - i < step ? len - i : step, NULL);
    }
    if (rc == HTTP_PARSE_MORE && c->eof)
        rc = http_parse_eof(p);
    return rc;
}

static void check(const parse_case_t *c, const http_parse_t *p, http_parse_rc_t rc, const char *how)
{
    if (rc != c->rc)
        fail_msg("%s (%s): rc %d, expected %d; error '%s'", c->name, how, rc, c->rc, p->error);
    if (rc == HTTP_PARSE_FAILED) {
        if (!strstr(p->error, c->error))
            fail_msg("%s (%s): error '%s' lacks '%s'", c->name, how, p->error, c->error);
        return;
    }
    if (p->status != c->status || strcmp(p->reason, c->reason) != 0)
        fail_msg("%s (%s): status %d '%s'", c->name, how, p->status, p->reason);
    if (!p->headers_complete || p->framing != c->framing)
        fail_msg("%s (%s): framing %d", c->name, how, p->framing);
    if (p->body_bytes != c->body_bytes || p->body_found != c->found)
        fail_msg("%s (%s): body %llu found %d", c->name, how, (unsigned long long)p->body_bytes,
                 p->body_found);
    if (p->error[0])
        fail_msg("%s (%s): error '%s' on success", c->name, how, p->error);
}

static void run_table(const parse_case_t *table, size_t n)
{
    http_parse_t *p = malloc(sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        const parse_case_t *c = &table[i];
        size_t len = c->len ? c->len : strlen(c->in);
        /* A private copy of exactly len bytes, so ASan sees any read past the end. */
        char *in = malloc(len ? len : 1);
        memcpy(in, c->in, len);
        check(c, p, feed(p, c, in, len, len, 0), "whole");
        check(c, p, feed(p, c, in, len, 0, 1), "byte by byte");
        for (size_t split = 0; split <= len; split++) {
            char how[32];
            snprintf(how, sizeof how, "split at %zu", split);
            check(c, p, feed(p, c, in, len, split, 0), how);
        }
        free(in);
    }
    free(p);
}

static void test_table(void **state)
{
    (void)state;
    run_table(cases, sizeof cases / sizeof cases[0]);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    run_table(nul_cases, sizeof nul_cases / sizeof nul_cases[0]);
}

static void test_used_and_final_states(void **state)
{
    (void)state;
    http_parse_t p;
    const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    size_t used = 0;
    assert_int_equal(http_parse_init(&p, NULL), 0);
    assert_int_equal(http_parse_feed(&p, in, strlen(in), &used), HTTP_PARSE_COMPLETE);
    assert_int_equal(used, strlen(in) - 5); /* the bytes after the response are not taken */
    assert_int_equal(http_parse_feed(&p, "more", 4, &used), HTTP_PARSE_COMPLETE);
    assert_int_equal(used, 0);
    assert_int_equal(http_parse_eof(&p), HTTP_PARSE_COMPLETE);
    assert_string_equal(http_parse_state_name(p.state), "done");

    assert_int_equal(http_parse_init(&p, NULL), 0);
    assert_int_equal(http_parse_feed(&p, "XYZ", 3, &used), HTTP_PARSE_FAILED);
    assert_int_equal(used, 1); /* refused at the first byte */
    assert_int_equal(http_parse_feed(&p, "HTTP/1.1 200 OK\r\n", 17, &used), HTTP_PARSE_FAILED);
    assert_int_equal(used, 0);
    assert_int_equal(http_parse_eof(&p), HTTP_PARSE_FAILED);
    assert_string_equal(http_parse_state_name((http_parse_state_t)99), "?");
}

static void test_head_caps(void **state)
{
    (void)state;
    http_parse_t *p = malloc(sizeof *p);
    assert_non_null(p);
    /* An endless header stream: refused once the section passes the cap, not at its end. */
    assert_int_equal(http_parse_init(p, NULL), 0);
    assert_int_equal(http_parse_feed(p, "HTTP/1.1 200 OK\r\n", 17, NULL), HTTP_PARSE_MORE);
    const char *h = "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    http_parse_rc_t rc = HTTP_PARSE_MORE;
    size_t fed = 17;
    for (int i = 0; i < 10000 && rc == HTTP_PARSE_MORE; i++) {
        rc = http_parse_feed(p, h, strlen(h), NULL);
        fed += strlen(h);
    }
    assert_int_equal(rc, HTTP_PARSE_FAILED);
    assert_non_null(strstr(p->error, "header section larger than"));
    assert_true(fed <= HTTP_PARSE_HEAD_MAX + strlen(h));

    /* One endless line: refused at the line cap. */
    assert_int_equal(http_parse_init(p, NULL), 0);
    char *line = malloc(HTTP_PARSE_LINE_MAX + 100);
    memcpy(line, "HTTP/1.1 200 OK\r\nX-Long: ", 26);
    memset(line + 26, 'b', HTTP_PARSE_LINE_MAX + 74);
    assert_int_equal(http_parse_feed(p, line, HTTP_PARSE_LINE_MAX + 100, NULL), HTTP_PARSE_FAILED);
    assert_non_null(strstr(p->error, "longer than"));
    free(line);

    /* Headers just under the cap pass. */
    assert_int_equal(http_parse_init(p, NULL), 0);
    size_t total = 17;
    assert_int_equal(http_parse_feed(p, "HTTP/1.1 200 OK\r\n", 17, NULL), HTTP_PARSE_MORE);
    while (total + strlen(h) + 21 <= HTTP_PARSE_HEAD_MAX) {
        assert_int_equal(http_parse_feed(p, h, strlen(h), NULL), HTTP_PARSE_MORE);
        total += strlen(h);
    }
    assert_int_equal(http_parse_feed(p, "Content-Length: 0\r\n\r\n", 21, NULL),
                     HTTP_PARSE_COMPLETE);
    free(p);
}

static void test_needle_limits(void **state)
{
    (void)state;
    http_parse_t p;
    char needle[HTTP_PARSE_NEEDLE_MAX + 2];
    memset(needle, 'n', sizeof needle - 1);
    needle[sizeof needle - 1] = '\0';
    assert_int_equal(http_parse_init(&p, needle), -1);
    needle[HTTP_PARSE_NEEDLE_MAX] = '\0';
    assert_int_equal(http_parse_init(&p, needle), 0);
    assert_int_equal(http_parse_feed(&p, "HTTP/1.0 200 OK\r\n\r\n", 19, NULL), HTTP_PARSE_MORE);
    assert_int_equal(p.body_found, 0);
    /* The needle split over many feeds of a body that almost matches first. */
    assert_int_equal(http_parse_feed(&p, needle, 100, NULL), HTTP_PARSE_MORE);
    assert_int_equal(http_parse_feed(&p, "x", 1, NULL), HTTP_PARSE_MORE);
    for (size_t i = 0; i < HTTP_PARSE_NEEDLE_MAX; i++)
        assert_int_equal(http_parse_feed(&p, "n", 1, NULL), HTTP_PARSE_MORE);
    assert_int_equal(p.body_found, 1);
    assert_int_equal(http_parse_eof(&p), HTTP_PARSE_COMPLETE);
    assert_int_equal(p.body_bytes, 100 + 1 + HTTP_PARSE_NEEDLE_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_used_and_final_states),
        cmocka_unit_test(test_head_caps),
        cmocka_unit_test(test_needle_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
