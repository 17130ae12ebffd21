/* test_ctl_embedded: the schema compiled into parallaxctl is exactly
 * schema/migrations/NNN_*.sql and schema/definitions/NN_*.sql, in order, byte for byte, so
 * `db migrate` applies what is in the repository. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_embedded.h"

/* Reads a whole file (caller frees), or fails the test. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* NAME is DIGITS digits, "_", something, ".sql". */
static int is_schema_file(const char *name, size_t digits)
{
    size_t len = strlen(name);
    if (len < digits + 6 || name[digits] != '_' || strcmp(name + len - 4, ".sql") != 0)
        return 0;
    for (size_t i = 0; i < digits; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return 1;
}

/* The table equals the files of schema/SUBDIR named with DIGITS digits, in name order. */
static void check_dir(const char *subdir, size_t digits, const ctl_embedded_t *m, size_t count)
{
    const char *src = getenv("PX_SOURCE_DIR");
    if (!src)
        fail_msg("PX_SOURCE_DIR is not set (CTest sets it)");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/schema/%s", src, subdir);
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        fail_msg("cannot read %s", dir);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (is_schema_file(name, digits)) {
            if (k >= count)
                fail_msg("%s/%s is not embedded", subdir, name);
            assert_int_equal(strncmp(m[k].name, name, strlen(name) - 4), 0);
            assert_int_equal(strlen(m[k].name), strlen(name) - 4);
            assert_int_equal(m[k].version, atoi(name));
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            char *text = slurp(path);
            assert_string_equal(m[k].sql, text);
            free(text);
            k++;
        }
        free(list[i]);
    }
    free(list);
    assert_int_equal(k, count);
}

static void test_matches_schema_dirs(void **state)
{
    (void)state;
    size_t count;
    const ctl_embedded_t *m = ctl_embedded_migrations(&count);
    check_dir("migrations", 3, m, count);
    m = ctl_embedded_definitions(&count);
    check_dir("definitions", 2, m, count);
}

/* Ascending, distinct versions and checksums of the form "sha256:<64 hex>". */
static void check_table(const ctl_embedded_t *m, size_t count)
{
    assert_true(count >= 1);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            assert_true(m[i].version > m[i - 1].version);
        assert_int_equal(strlen(m[i].checksum), strlen("sha256:") + 64);
        assert_int_equal(strncmp(m[i].checksum, "sha256:", 7), 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(m[i].checksum, m[j].checksum);
    }
}

static void test_order_and_checksums(void **state)
{
    (void)state;
    size_t count;
    const ctl_embedded_t *m = ctl_embedded_migrations(&count);
    check_table(m, count);
    /* Stable 1 is migration 1: db migrate records older databases' eleven as this one. */
    assert_string_equal(m[0].name, "001_stable");
    assert_int_equal(m[0].version, 1);
    m = ctl_embedded_definitions(&count);
    check_table(m, count);
    const char *all = ctl_embedded_definitions_checksum();
    assert_int_equal(strlen(all), strlen("sha256:") + 64);
    for (size_t i = 0; i < count; i++)
        assert_string_not_equal(all, m[i].checksum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_schema_dirs),
        cmocka_unit_test(test_order_and_checksums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
