/* test_ctl_table: the people-facing tables line up: columns padded to the widest cell, no
 * trailing blanks, NULL cells shown as "-". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ctl_table.h"

/* What ctl_table_print() writes for t (caller frees). */
static char *printed(const ctl_table_t *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(ctl_table_print(t, f), 0);
    fclose(f);
    return buf;
}

static void test_alignment(void **state)
{
    (void)state;
    static const char *const headers[] = {"NAME", "ASN", "KEY"};
    ctl_table_t *t = ctl_table_new(3, headers);
    assert_non_null(t);
    const char *r1[] = {"a-long-name", NULL, "k1"};
    const char *r2[] = {"b", "4294967295", "k2"};
    assert_int_equal(ctl_table_add(t, r1), 0);
    assert_int_equal(ctl_table_add(t, r2), 0);
    char *buf = printed(t);
    assert_string_equal(buf, "NAME         ASN         KEY\n"
                             "a-long-name  -           k1\n"
                             "b            4294967295  k2\n");
    free(buf);
    ctl_table_destroy(&t);
    assert_null(t);
    ctl_table_destroy(&t);
}

/* Empty cells at the end of a row (a mark most rows lack) leave no trailing blanks. */
static void test_empty_last_cells(void **state)
{
    (void)state;
    static const char *const headers[] = {"NAME", "VALUE", ""};
    ctl_table_t *t = ctl_table_new(3, headers);
    assert_non_null(t);
    const char *r1[] = {"open_after", "3", "changed"};
    const char *r2[] = {"close_after", "", ""};
    assert_int_equal(ctl_table_add(t, r1), 0);
    assert_int_equal(ctl_table_add(t, r2), 0);
    char *buf = printed(t);
    assert_string_equal(buf, "NAME         VALUE\n"
                             "open_after   3      changed\n"
                             "close_after\n");
    free(buf);
    ctl_table_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alignment),
                                       cmocka_unit_test(test_empty_last_cells)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
