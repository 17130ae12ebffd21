/* test_ctl_json: the JSON writer: string escaping (quotes, backslashes, control characters,
 * UTF-8 kept, invalid UTF-8 replaced) and commas and nesting of arrays and objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

/* Escapes s with json_write_string and returns the text (caller frees). */
static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(json_write_string(f, s), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_escaping(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"a\"b", "\"a\\\"b\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"line\nfeed\r\t", "\"line\\nfeed\\r\\t\""},
        {"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
        {"\b\f", "\"\\u0008\\u000c\""},
        {"/<>'", "\"/<>'\""},
        /* Well-formed UTF-8 passes through unchanged: é, €, U+1F600. */
        {"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        /* Stray continuation byte, truncated sequence, overlong '/', a surrogate, > U+10FFFF. */
        {"a\x80z", "\"a\\ufffdz\""},
        {"\xc3", "\"\\ufffd\""},
        {"\xe2\x82", "\"\\ufffd\\ufffd\""},
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = escaped(cases[i][0]);
        if (strcmp(got, cases[i][1]) != 0)
            fail_msg("case %zu: expected %s, got %s", i, cases[i][1], got);
        free(got);
    }
}

static void test_structure(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    json_t *js = json_new(f);
    assert_non_null(js);
    json_array_begin(js);
    json_object_begin(js);
    json_key(js, "name");
    json_string(js, "gb\"1");
    json_key(js, "asn");
    json_raw_number(js, "64500");
    json_key(js, "missing");
    json_string(js, NULL);
    json_key(js, "n");
    json_int(js, -5);
    json_key(js, "on");
    json_bool(js, 1);
    json_key(js, "list");
    json_array_begin(js);
    json_null(js);
    json_bool(js, 0);
    json_raw_number(js, NULL);
    json_array_end(js);
    json_key(js, "empty");
    json_object_begin(js);
    json_object_end(js);
    json_object_end(js);
    json_object_begin(js);
    json_object_end(js);
    json_array_end(js);
    assert_int_equal(json_error(js), 0);
    json_destroy(&js);
    assert_null(js);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, "[{\"name\":\"gb\\\"1\",\"asn\":64500,\"missing\":null,\"n\":-5,"
                             "\"on\":true,\"list\":[null,false,null],\"empty\":{}},{}]\n");
    free(buf);
}

static void test_empty_array(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t *js = json_new(f);
    json_array_begin(js);
    json_array_end(js);
    json_destroy(&js);
    fclose(f);
    assert_string_equal(buf, "[]\n");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_empty_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
