/* test_ctl_csv: table tests of parallaxctl's CSV line splitter (the reader behind `target
 * import`): plain and quoted fields, doubled quotes, empty fields, CRLF, the field limit, and
 * the exact message of every refusal, since that message is what the user sees for the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_csv.h"

/* More than any row below needs; a row's own max is what the splitter is told. */
#define FIELDS_MAX 8

/* Lines the splitter accepts, and the fields it must give. */
typedef struct csv_good {
    const char *name;
    const char *line;
    size_t max;
    size_t n;
    const char *fields[FIELDS_MAX];
} csv_good_t;

static const csv_good_t good[] = {
    {"plain fields", "a,b,c", 8, 3, {"a", "b", "c"}},
    {"one field", "gb-lon-1", 8, 1, {"gb-lon-1"}},
    {"empty line is one empty field", "", 8, 1, {""}},
    {"spaces are part of a plain field", " a , b ", 8, 2, {" a ", " b "}},
    {"quoted field with commas", "\"a,b\",c", 8, 2, {"a,b", "c"}},
    {"quoted field only commas", "\",,,\"", 8, 1, {",,,"}},
    {"doubled quotes", "\"say \"\"hi\"\"\",x", 8, 2, {"say \"hi\"", "x"}},
    {"a lone doubled quote", "\"\"\"\"", 8, 1, {"\""}},
    {"empty quoted field", "\"\",x", 8, 2, {"", "x"}},
    {"empty fields", ",,", 8, 3, {"", "", ""}},
    {"leading comma", ",a", 8, 2, {"", "a"}},
    {"trailing comma", "a,b,", 8, 3, {"a", "b", ""}},
    {"quoted then trailing comma", "\"a\",", 8, 2, {"a", ""}},
    {"CRLF line end", "a,b\r", 8, 2, {"a", "b"}},
    {"CRLF after a quoted field", "\"a\",\"b\"\r", 8, 2, {"a", "b"}},
    {"CRLF after a trailing comma", "a,\r", 8, 2, {"a", ""}},
    {"lone CR", "\r", 8, 1, {""}},
    {"only the last CR is dropped", "a\r\r", 8, 1, {"a\r"}},
    {"CR inside a field is text", "a\rb,c", 8, 2, {"a\rb", "c"}},
    {"CR inside quotes is text", "\"a\r\"", 8, 1, {"a\r"}},
    {"control bytes pass through", "\t\x01,\x7f", 8, 2, {"\t\x01", "\x7f"}},
    {"UTF-8 passes through", "\xc3\xa9,\"\xc3\xa8,\"", 8, 2, {"\xc3\xa9", "\xc3\xa8,"}},
    /* The API takes a C string, so a NUL byte ends the line. */
    {"NUL ends the line", "a,b\0,c", 8, 2, {"a", "b"}},
    {"exactly max fields", "a,b,c,d", 4, 4, {"a", "b", "c", "d"}},
    {"comma inside quotes is not a field", "\"a,b\"", 1, 1, {"a,b"}},
};

/* Lines the splitter refuses, and the whole message the user sees for each. */
#define QUOTE_INSIDE(column)                                                                       \
    "a quote inside the unquoted field at column " column                                          \
    " (quote the whole field and double the quote)"

typedef struct csv_bad {
    const char *name;
    const char *line;
    size_t max;
    const char *error;
} csv_bad_t;

static const csv_bad_t bad[] = {
    {"one field more than max", "a,b,c,d,e", 4, "more than 4 fields"},
    {"trailing comma past max", "a,b,c,d,", 4, "more than 4 fields"},
    {"max 0", "", 0, "more than 0 fields"},
    {"unterminated quote", "a,\"bc", 8, "the quoted field at column 3 does not end on its line"},
    {"lone quote", "\"", 8, "the quoted field at column 1 does not end on its line"},
    {"unterminated after a doubled quote", "\"a\"\"", 8,
     "the quoted field at column 1 does not end on its line"},
    /* The CR is dropped before parsing, so it cannot close the field either. */
    {"unterminated before CRLF", "\"a\r", 8,
     "the quoted field at column 1 does not end on its line"},
    {"quote in the middle of an unquoted field", "ab\"c\",d", 8, QUOTE_INSIDE("1")},
    {"quote in a later unquoted field", "x,ab\"c", 8, QUOTE_INSIDE("3")},
    {"quote at the end of an unquoted field", "abc\"", 8, QUOTE_INSIDE("1")},
    {"space before an opening quote", " \"a\"", 8, QUOTE_INSIDE("1")},
    {"text after the closing quote", "\"a\"b,c", 8,
     "text after the closing quote of the field at column 1"},
    {"space after the closing quote", "x,\"a\" ", 8,
     "text after the closing quote of the field at column 3"},
    {"CR before the final CR after a quote", "\"a\"\r\r", 8,
     "text after the closing quote of the field at column 1"},
};

/* Each field must point into the line itself: the splitter works in place. */
static void assert_in_line(const char *field, const char *line, size_t size)
{
    if (field < line || field >= line + size)
        fail_msg("field %p is outside the line [%p, +%zu)", (const void *)field, (const void *)line,
                 size);
}

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const csv_good_t *c = &good[i];
        print_message("case: %s\n", c->name);
        char line[128];
        size_t size = strlen(c->line) + 1;
        assert_true(size <= sizeof line);
        memcpy(line, c->line, size);
        char *fields[FIELDS_MAX];
        size_t n = 99;
        err_t err = {{0}};
        if (ctl_csv_split(line, fields, c->max, &n, &err) != 0)
            fail_msg("case '%s' refused: %s", c->name, err.msg);
        assert_int_equal(n, c->n);
        for (size_t f = 0; f < n; f++) {
            assert_in_line(fields[f], line, size);
            assert_string_equal(fields[f], c->fields[f]);
        }
    }
}

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const csv_bad_t *c = &bad[i];
        print_message("case: %s\n", c->name);
        char line[128];
        size_t size = strlen(c->line) + 1;
        assert_true(size <= sizeof line);
        memcpy(line, c->line, size);
        char *fields[FIELDS_MAX];
        size_t n;
        err_t err = {{0}};
        if (ctl_csv_split(line, fields, c->max, &n, &err) != -1)
            fail_msg("case '%s' accepted", c->name);
        assert_string_equal(err.msg, c->error);
    }
}

/* A refusal without an err_t must still be a refusal (the caller may not want detail). */
static void test_null_err(void **state)
{
    (void)state;
    char line[] = "a,\"b";
    char *fields[4];
    size_t n;
    assert_int_equal(ctl_csv_split(line, fields, 4, &n, NULL), -1);
    char ok[] = "a,b";
    assert_int_equal(ctl_csv_split(ok, fields, 4, &n, NULL), 0);
    assert_int_equal(n, 2);
}

/* Lines far longer than any real import row: no length limit applies, and unescaping in
 * place over a long run of doubled quotes keeps every byte. */
static void test_long_lines(void **state)
{
    (void)state;
    enum { LEN = 65536 };
    char *line = malloc(LEN + 3);
    assert_non_null(line);
    char *fields[4];
    size_t n;
    err_t err = {{0}};

    memset(line, 'x', LEN);
    line[LEN] = '\0';
    assert_int_equal(ctl_csv_split(line, fields, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(fields[0]), LEN);

    /* "" repeated LEN/2 times inside quotes is LEN/2 quote characters. */
    line[0] = '"';
    memset(line + 1, '"', LEN);
    line[LEN + 1] = '"';
    line[LEN + 2] = '\0';
    assert_int_equal(ctl_csv_split(line, fields, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(fields[0]), LEN / 2);
    assert_int_equal(strspn(fields[0], "\""), LEN / 2);

    /* An odd quote count leaves the field open; the column is that of the field's start.
     * (The split above rewrote the line, so it is written again.) */
    memset(line, '"', LEN + 1);
    line[LEN + 1] = '\0';
    assert_int_equal(ctl_csv_split(line, fields, 4, &n, &err), -1);
    assert_string_equal(err.msg, "the quoted field at column 1 does not end on its line");
    free(line);
}

/* Many fields: the limit is counted exactly, however many commas follow it. */
static void test_many_fields(void **state)
{
    (void)state;
    enum { FIELDS = 1000 };
    char line[2 * FIELDS];
    for (size_t i = 0; i < FIELDS; i++) {
        line[2 * i] = (char)('a' + i % 26);
        line[2 * i + 1] = ',';
    }
    line[2 * FIELDS - 1] = '\0';
    char *fields[FIELDS];
    size_t n;
    err_t err = {{0}};
    char copy[sizeof line];
    memcpy(copy, line, sizeof line);
    assert_int_equal(ctl_csv_split(copy, fields, FIELDS, &n, &err), 0);
    assert_int_equal(n, FIELDS);
    assert_string_equal(fields[FIELDS - 1], "l"); /* 999 % 26 = 11 */
    memcpy(copy, line, sizeof line);
    assert_int_equal(ctl_csv_split(copy, fields, FIELDS - 1, &n, &err), -1);
    assert_string_equal(err.msg, "more than 999 fields");
    /* The import's own limit. */
    memcpy(copy, line, sizeof line);
    assert_int_equal(ctl_csv_split(copy, fields, 16, &n, &err), -1);
    assert_string_equal(err.msg, "more than 16 fields");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_null_err),    cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_many_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
