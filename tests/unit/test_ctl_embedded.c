/* test_ctl_embedded: the migrations compiled into parallaxctl are exactly schema/NNN_*.sql,
 * in order, byte for byte, so `db migrate` applies what is in the repository. */
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

static int is_migration(const char *name)
{
    size_t len = strlen(name);
    return len > 8 && name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' &&
           name[2] >= '0' && name[2] <= '9' && name[3] == '_' &&
           strcmp(name + len - 4, ".sql") == 0;
}

static void test_matches_schema_dir(void **state)
{
    (void)state;
    const char *src = getenv("PX_SOURCE_DIR");
    if (!src)
        skip();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/schema", src);
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    assert_true(n >= 0);
    size_t count;
    const ctl_embedded_t *m = ctl_embedded_migrations(&count);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (is_migration(name)) {
            if (k >= count)
                fail_msg("%s is not embedded", name);
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

static void test_order_and_checksums(void **state)
{
    (void)state;
    size_t count;
    const ctl_embedded_t *m = ctl_embedded_migrations(&count);
    assert_true(count >= 1);
    assert_string_equal(m[0].name, "001_core");
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            assert_true(m[i].version > m[i - 1].version);
        assert_int_equal(strlen(m[i].checksum), strlen("sha256:") + 64);
        assert_int_equal(strncmp(m[i].checksum, "sha256:", 7), 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(m[i].checksum, m[j].checksum);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_schema_dir),
        cmocka_unit_test(test_order_and_checksums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
