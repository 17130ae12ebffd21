/* Unit tests for smtp_parse: a table of replies (single and multi-line, CRLF and bare LF, bad
 * codes and separators, mixed codes, over-long lines, too many lines) each fed whole and then
 * split at every byte, which must give the same outcome; plus what is left unconsumed after
 * a complete reply, and sanitising. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_parse.h"

typedef struct row {
    const char *name;
    const char *input;
    smtp_parse_status_t status;
    int code;
    const char *first_line; /* for DONE */
    unsigned lines;
    const char *why; /* substring of why, for ERROR */
} row_t;

static const row_t rows[] = {
    {"greeting", "220 mx.parallax.test ESMTP\r\n", SMTP_PARSE_DONE, 220,
     "220 mx.parallax.test ESMTP", 1, NULL},
    {"bare LF", "220 hello\n", SMTP_PARSE_DONE, 220, "220 hello", 1, NULL},
    {"code only", "220\r\n", SMTP_PARSE_DONE, 220, "220", 1, NULL},
    {"multi-line", "220-first\r\n220-second\r\n220 last\r\n", SMTP_PARSE_DONE, 220, "220-first", 3,
     NULL},
    {"multi-line, mixed endings", "250-a\n250-b\r\n250 c\n", SMTP_PARSE_DONE, 250, "250-a", 3,
     NULL},
    {"refusal", "554 5.3.2 no service here\r\n", SMTP_PARSE_DONE, 554, "554 5.3.2 no service here",
     1, NULL},
    {"CR inside a line is text", "220 a\rb\r\n", SMTP_PARSE_DONE, 220, "220 a\rb", 1, NULL},
    {"incomplete line", "220 hello", SMTP_PARSE_MORE, 0, NULL, 0, NULL},
    {"continuation without an end", "220-hello\r\n220-more\r\n", SMTP_PARSE_MORE, 220, NULL, 2,
     NULL},
    {"empty", "", SMTP_PARSE_MORE, 0, NULL, 0, NULL},
    {"empty line", "\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "shorter"},
    {"HTTP", "HTTP/1.1 400 Bad Request\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "reply code"},
    {"SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "reply code"},
    {"two digits", "22 hi\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "reply code"},
    {"first digit 1", "120 hi\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "reply code"},
    {"first digit 6", "620 hi\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "reply code"},
    {"second digit 6", "260 hi\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "reply code"},
    {"four digits", "2200 hi\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "followed by"},
    {"bad separator", "220_hi\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "followed by"},
    {"mixed codes", "220-a\r\n250 b\r\n", SMTP_PARSE_ERROR, 220, NULL, 1, "different codes"},
    {"garbage after first line", "220-a\r\nxyz\r\n", SMTP_PARSE_ERROR, 220, NULL, 1, "reply code"},
    {"NUL byte", "220 a\0b\r\n", SMTP_PARSE_ERROR, 0, NULL, 0, "NUL"},
};

/* Lengths include the embedded NUL of the one row that has one. */
static size_t row_len(const row_t *r)
{
    return strcmp(r->name, "NUL byte") == 0 ? 9 : strlen(r->input);
}

static void check(const row_t *r, const smtp_parse_t *p)
{
    assert_int_equal(p->status, r->status);
    if (r->status == SMTP_PARSE_DONE) {
        assert_int_equal(p->code, r->code);
        assert_string_equal(p->first_line, r->first_line);
        assert_int_equal(p->lines, r->lines);
    } else if (r->status == SMTP_PARSE_ERROR) {
        assert_non_null(strstr(p->why, r->why));
    } else {
        assert_int_equal(p->lines, r->lines);
    }
}

static void test_table_whole_and_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *r = &rows[i];
        size_t len = row_len(r);
        print_message("row: %s\n", r->name);
        smtp_parse_t p;
        smtp_parse_init(&p);
        size_t used = 99;
        smtp_parse_feed(&p, r->input, len, &used);
        check(r, &p);
        if (r->status != SMTP_PARSE_ERROR)
            assert_int_equal(used, len);
        /* Split at every byte: two pieces, then byte by byte. */
        for (size_t cut = 0; cut <= len; cut++) {
            smtp_parse_init(&p);
            smtp_parse_feed(&p, r->input, cut, NULL);
            smtp_parse_feed(&p, r->input + cut, len - cut, NULL);
            check(r, &p);
        }
        smtp_parse_init(&p);
        for (size_t k = 0; k < len; k++)
            smtp_parse_feed(&p, r->input + k, 1, NULL);
        check(r, &p);
    }
}

static void test_leftover_after_reply(void **state)
{
    (void)state;
    smtp_parse_t p;
    smtp_parse_init(&p);
    const char *in = "220 hi\r\n250 out of turn\r\n";
    size_t used = 0;
    assert_int_equal(smtp_parse_feed(&p, in, strlen(in), &used), SMTP_PARSE_DONE);
    assert_int_equal(used, 8);
    /* Once done, nothing more is consumed. */
    assert_int_equal(smtp_parse_feed(&p, in + used, strlen(in + used), &used), SMTP_PARSE_DONE);
    assert_int_equal(used, 0);
    assert_int_equal(p.code, 220);
}

static void test_line_length_limit(void **state)
{
    (void)state;
    /* 512 bytes with the CRLF is the longest legal line; one more is not SMTP. */
    char line[1024];
    for (int extra = 0; extra <= 1; extra++) {
        size_t text = 510 + (size_t)extra;
        memcpy(line, "220 ", 4);
        memset(line + 4, 'x', text - 4);
        memcpy(line + text, "\r\n", 3);
        smtp_parse_t p;
        smtp_parse_init(&p);
        smtp_parse_feed(&p, line, text + 2, NULL);
        if (extra == 0) {
            assert_int_equal(p.status, SMTP_PARSE_DONE);
            assert_int_equal(strlen(p.first_line), 510);
        } else {
            assert_int_equal(p.status, SMTP_PARSE_ERROR);
            assert_non_null(strstr(p.why, "longer than 512"));
        }
    }
    /* An endless line without LF fails once it passes the limit, not at the timeout. */
    smtp_parse_t p;
    smtp_parse_init(&p);
    memset(line, 'a', sizeof line);
    size_t used = 0;
    assert_int_equal(smtp_parse_feed(&p, line, sizeof line, &used), SMTP_PARSE_ERROR);
    assert_true(used <= SMTP_PARSE_LINE_MAX);
}

static void test_too_many_lines(void **state)
{
    (void)state;
    smtp_parse_t p;
    smtp_parse_init(&p);
    unsigned i;
    for (i = 0; i < 1000 && p.status == SMTP_PARSE_MORE; i++)
        smtp_parse_feed(&p, "220-again\r\n", 11, NULL);
    assert_int_equal(p.status, SMTP_PARSE_ERROR);
    assert_int_equal(i, SMTP_PARSE_LINES_MAX);
    assert_non_null(strstr(p.why, "too many lines"));
    /* A 64-line reply whose last line ends it in time is fine. */
    smtp_parse_init(&p);
    for (i = 0; i + 1 < SMTP_PARSE_LINES_MAX; i++)
        smtp_parse_feed(&p, "250-x\r\n", 7, NULL);
    smtp_parse_feed(&p, "250 y\r\n", 7, NULL);
    assert_int_equal(p.status, SMTP_PARSE_DONE);
    assert_int_equal(p.lines, SMTP_PARSE_LINES_MAX);
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[8];
    assert_string_equal(smtp_parse_sanitize(out, sizeof out, "220 ok"), "220 ok");
    assert_string_equal(smtp_parse_sanitize(out, sizeof out, "a\tb\x1b\xff"), "a?b??");
    assert_string_equal(smtp_parse_sanitize(out, sizeof out, "0123456789"), "0123456");
    assert_string_equal(smtp_parse_sanitize(out, 1, "abc"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_whole_and_split),
        cmocka_unit_test(test_leftover_after_reply),
        cmocka_unit_test(test_line_length_limit),
        cmocka_unit_test(test_too_many_lines),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
