/* test_status: keeps the three definitions of the status list in agreement: the C X-macro
 * (proto/status.h), the protobuf enum parallax.Status and the SQL enum parallax.status in
 * schema/migrations/001_stable.sql (found through $PX_SOURCE_DIR, which CTest sets). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "parallax.pb-c.h"
#include "status.h"

#define MAX_NAMES 64
#define MAX_NAME 64

static void test_c_list(void **state)
{
    (void)state;
    assert_true(status_count() >= 1);
    for (unsigned i = 0; i < status_count(); i++) {
        int v = (int)status_at(i);
        const char *name = status_name(v);
        assert_non_null(name);
        assert_true(v >= 1); /* 0 is "unspecified" on the wire */
        assert_int_equal(status_from_name(name), v);
        for (unsigned j = 0; j < i; j++) {
            assert_int_not_equal((int)status_at(j), v);
            assert_string_not_equal(status_name((int)status_at(j)), name);
        }
        /* Names are SQL enum labels and log words: lower case, digits and '_'. */
        for (const char *p = name; *p; p++)
            assert_true(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_');
    }
    assert_int_equal(PX_STATUS_OK, 1);
    assert_string_equal(status_name(PX_STATUS_OK), "ok");
    assert_string_equal(status_name(PX_STATUS_TLS_ERROR), "tls_error");
    assert_null(status_name(0));
    assert_null(status_name(-1));
    assert_null(status_name((int)status_count() + 1));
    assert_int_equal(status_from_name("OK"), -1);
    assert_int_equal(status_from_name(""), -1);
    assert_int_equal(status_from_name("unspecified"), -1);
}

static void test_matches_proto(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &parallax__status__descriptor;
    /* Every C status is in the proto, as STATUS_<UPPER NAME> with the same number. */
    for (unsigned i = 0; i < status_count(); i++) {
        int v = (int)status_at(i);
        char want[MAX_NAME + 8] = "STATUS_";
        const char *name = status_name(v);
        size_t n = strlen(want);
        for (const char *p = name; *p && n < sizeof want - 1; p++)
            want[n++] = (char)toupper((unsigned char)*p);
        want[n] = '\0';
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(d, want);
        if (!ev)
            fail_msg("C status '%s' has no %s in parallax.proto", name, want);
        if (ev->value != v)
            fail_msg("%s is %d in parallax.proto but %d in status.h", want, ev->value, v);
        const ProtobufCEnumValue *byval = protobuf_c_enum_descriptor_get_value(d, v);
        assert_non_null(byval);
        assert_string_equal(byval->name, want);
    }
    /* ... and the proto has nothing else but STATUS_UNSPECIFIED = 0. */
    for (unsigned i = 0; i < d->n_values; i++) {
        const ProtobufCEnumValue *ev = &d->values[i];
        if (ev->value == 0) {
            assert_string_equal(ev->name, "STATUS_UNSPECIFIED");
            continue;
        }
        const char *name = status_name(ev->value);
        if (!name)
            fail_msg("parallax.proto has %s = %d, which status.h lacks", ev->name, ev->value);
        assert_true(strncmp(ev->name, "STATUS_", 7) == 0);
        assert_true(strcasecmp(ev->name + 7, name) == 0);
    }
    assert_int_equal(d->n_values, status_count() + 1);
}

/* Reads the labels of `CREATE TYPE parallax.status AS ENUM (...)` from sql into names.
 * Returns the number of labels, or -1 with a reason in why if the statement is missing or
 * holds anything but quoted labels, commas, blanks and -- comments. */
static int sql_enum_labels(const char *sql, char names[][MAX_NAME], char *why, size_t why_len)
{
    static const char head[] = "CREATE TYPE parallax.status AS ENUM";
    const char *p = strstr(sql, head);
    if (!p) {
        snprintf(why, why_len, "no '%s'", head);
        return -1;
    }
    p += sizeof head - 1;
    while (isspace((unsigned char)*p))
        p++;
    if (*p++ != '(') {
        snprintf(why, why_len, "no '(' after the ENUM keyword");
        return -1;
    }
    int n = 0;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p = strchr(p, '\n');
            if (!p)
                break;
            continue;
        }
        if (*p == ')')
            return n;
        if (*p != '\'') {
            snprintf(why, why_len, "unexpected '%c' in the label list", *p ? *p : '?');
            return -1;
        }
        const char *end = strchr(++p, '\'');
        if (!end || end - p >= MAX_NAME || n == MAX_NAMES) {
            snprintf(why, why_len, "bad label near '%.20s'", p);
            return -1;
        }
        memcpy(names[n], p, (size_t)(end - p));
        names[n][end - p] = '\0';
        n++;
        p = end + 1;
    }
    snprintf(why, why_len, "label list not closed");
    return -1;
}

/* 0 if the labels are exactly the C list in order, else -1 with the first difference. */
static int compare_with_c(char names[][MAX_NAME], int n, char *why, size_t why_len)
{
    for (unsigned i = 0; i < status_count() || i < (unsigned)n; i++) {
        const char *c = i < status_count() ? status_name((int)status_at(i)) : "(none)";
        const char *s = i < (unsigned)n ? names[i] : "(none)";
        if (strcmp(c, s) != 0) {
            snprintf(why, why_len, "position %u: status.h has '%s', SQL has '%s'", i + 1, c, s);
            return -1;
        }
    }
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1024 * 1024 + 1);
    size_t n = buf ? fread(buf, 1, 1024 * 1024, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void test_matches_sql(void **state)
{
    (void)state;
    const char *src = getenv("PX_SOURCE_DIR");
    if (!src || !*src)
        fail_msg("PX_SOURCE_DIR is not set (run this test through ctest)");
    char path[4096];
    snprintf(path, sizeof path, "%s/schema/migrations/001_stable.sql", src);
    char *sql = read_file(path);
    if (!sql)
        fail_msg("cannot read %s", path);
    char names[MAX_NAMES][MAX_NAME];
    char why[256];
    int n = sql_enum_labels(sql, names, why, sizeof why);
    free(sql);
    if (n < 0)
        fail_msg("%s: %s", path, why);
    if (compare_with_c(names, n, why, sizeof why) < 0)
        fail_msg("%s disagrees with proto/status.h: %s", path, why);
}

/* The checker itself must notice a difference, or the test above proves nothing. */
static void test_sql_checker(void **state)
{
    (void)state;
    char names[MAX_NAMES][MAX_NAME];
    char why[256];
    /* The C list written out in SQL, with a comment in it, passes. */
    char sql[2048] = "-- x\nCREATE TYPE parallax.status AS ENUM (\n  -- the list\n";
    for (unsigned i = 0; i < status_count(); i++) {
        strcat(sql, i ? ", '" : "'");
        strcat(sql, status_name((int)status_at(i)));
        strcat(sql, "'");
    }
    strcat(sql, ");\nCREATE TYPE parallax.other AS ENUM ('a');\n");
    int n = sql_enum_labels(sql, names, why, sizeof why);
    assert_int_equal(n, (int)status_count());
    assert_int_equal(compare_with_c(names, n, why, sizeof why), 0);

    /* Reordered, missing and extra labels are caught. */
    n = sql_enum_labels("CREATE TYPE parallax.status AS ENUM ('timeout', 'ok');", names, why,
                        sizeof why);
    assert_int_equal(n, 2);
    assert_int_equal(compare_with_c(names, n, why, sizeof why), -1);
    assert_non_null(strstr(why, "position 1"));
    memcpy(names[n], "bogus", 6);
    n = sql_enum_labels(sql, names, why, sizeof why);
    memcpy(names[n], "bogus", 6);
    assert_int_equal(compare_with_c(names, n + 1, why, sizeof why), -1);
    assert_non_null(strstr(why, "'bogus'"));
    assert_int_equal(compare_with_c(names, n - 1, why, sizeof why), -1);
    assert_int_equal(
        sql_enum_labels("CREATE TYPE parallax.status AS ENUM (ok);", names, why, sizeof why), -1);
    assert_int_equal(sql_enum_labels("CREATE TYPE x AS ENUM ('ok');", names, why, sizeof why), -1);
    assert_int_equal(
        sql_enum_labels("CREATE TYPE parallax.status AS ENUM ('ok'", names, why, sizeof why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_list),
        cmocka_unit_test(test_matches_proto),
        cmocka_unit_test(test_matches_sql),
        cmocka_unit_test(test_sql_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
