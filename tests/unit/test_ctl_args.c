/* test_ctl_args: the parallaxctl option parser: values, flags, aliases, repeats, positionals
 * and every kind of refusal, each naming the offending argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_args.h"

static const ctl_opt_t opts[] = {
    {"country", 0, 1, 0}, {"probe", 0, 1, 1}, {"output", 'o', 1, 0},
    {"force", 0, 0, 0},   {NULL, 0, 0, 0},
};

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_values_flags_and_positionals(void **state)
{
    (void)state;
    char *argv[] = {"gb1",    "--country", "GB",     "--probe=icmp", "--probe",
                    "tcp:80", "-o",        "x.conf", "--force"};
    err_t err = {{0}};
    ctl_args_t *a = ctl_args_parse(ARGC(argv), argv, opts, 1, &err);
    assert_non_null(a);
    assert_int_equal(ctl_args_npos(a), 1);
    assert_string_equal(ctl_args_pos(a, 0), "gb1");
    assert_null(ctl_args_pos(a, 1));
    assert_string_equal(ctl_args_value(a, "country", 0), "GB");
    assert_int_equal(ctl_args_count(a, "probe"), 2);
    assert_string_equal(ctl_args_value(a, "probe", 0), "icmp");
    assert_string_equal(ctl_args_value(a, "probe", 1), "tcp:80");
    assert_null(ctl_args_value(a, "probe", 2));
    assert_string_equal(ctl_args_value(a, "output", 0), "x.conf");
    assert_int_equal(ctl_args_count(a, "force"), 1);
    assert_int_equal(ctl_args_count(a, "nonexistent"), 0);
    assert_int_equal(ctl_args_help(a), 0);
    ctl_args_destroy(&a);
    assert_null(a);
    ctl_args_destroy(&a);
}

static void test_help_and_double_dash(void **state)
{
    (void)state;
    char *argv[] = {"-h", "--", "--force"};
    err_t err = {{0}};
    ctl_args_t *a = ctl_args_parse(ARGC(argv), argv, opts, 1, &err);
    assert_non_null(a);
    assert_int_equal(ctl_args_help(a), 1);
    /* After "--" an option-looking word is a positional. */
    assert_string_equal(ctl_args_pos(a, 0), "--force");
    assert_int_equal(ctl_args_count(a, "force"), 0);
    ctl_args_destroy(&a);
}

static void test_value_may_be_given_with_equals(void **state)
{
    (void)state;
    char *argv[] = {"--country=--x", "--output=", "-"};
    err_t err = {{0}};
    ctl_args_t *a = ctl_args_parse(ARGC(argv), argv, opts, 1, &err);
    assert_non_null(a);
    assert_string_equal(ctl_args_value(a, "country", 0), "--x");
    assert_string_equal(ctl_args_value(a, "output", 0), "");
    /* A lone "-" is a positional (conventionally stdin), not an option. */
    assert_string_equal(ctl_args_pos(a, 0), "-");
    ctl_args_destroy(&a);
}

/* A refusal and the words its message must contain. */
typedef struct refusal {
    char *argv[4];
    int argc;
    const char *msg;
} refusal_t;

static void test_refusals(void **state)
{
    (void)state;
    static const refusal_t cases[] = {
        {{"--bogus"}, 1, "unknown option '--bogus'"},
        {{"--bogus=1"}, 1, "unknown option '--bogus'"},
        {{"-x"}, 1, "unknown option '-x'"},
        {{"-of"}, 1, "unknown option '-of'"},
        {{"--country"}, 1, "option --country needs a value"},
        {{"--country", "--force"}, 2, "option --country needs a value"},
        {{"-o"}, 1, "option -o needs a value"},
        {{"--country", "GB", "--country", "DE"}, 4, "--country given more than once"},
        {{"--force", "--force"}, 2, "--force given more than once"},
        {{"--force=yes"}, 1, "option --force takes no value"},
        {{"a", "b"}, 2, "unexpected argument 'b'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t err = {{0}};
        err_clear(&err);
        refusal_t c = cases[i];
        ctl_args_t *a = ctl_args_parse(c.argc, c.argv, opts, 1, &err);
        if (a || !strstr(err.msg, c.msg))
            fail_msg("case %zu: expected refusal '%s', got '%s'", i, c.msg, err.msg);
    }
}

static void test_no_positionals_allowed(void **state)
{
    (void)state;
    char *argv[] = {"extra"};
    err_t err = {{0}};
    assert_null(ctl_args_parse(1, argv, opts, 0, &err));
    assert_string_equal(err.msg, "unexpected argument 'extra'");
    ctl_args_t *a = ctl_args_parse(0, NULL, opts, 0, &err);
    assert_non_null(a);
    assert_int_equal(ctl_args_npos(a), 0);
    ctl_args_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_flags_and_positionals),
        cmocka_unit_test(test_help_and_double_dash),
        cmocka_unit_test(test_value_may_be_given_with_equals),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_no_positionals_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
