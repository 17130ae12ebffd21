/* test_ctl_target: `target` argument parsing: defaults, canonical probe specs and kinds,
 * duplicate probes, each refusal naming its argument (and repeating probespec's reason), and
 * the timeout rule: shorter than the interval, by default min(5000 ms, half the interval). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_target.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_add_defaults(void **state)
{
    (void)state;
    char *argv[] = {"web1", "--address", "192.0.2.10", "--probe", "icmp"};
    ctl_target_add_opts_t o;
    err_t err = {{0}};
    assert_int_equal(ctl_target_add_parse(ARGC(argv), argv, &o, &err), 0);
    assert_string_equal(o.name, "web1");
    assert_string_equal(o.address, "192.0.2.10");
    assert_null(o.group);
    assert_string_equal(o.role, "host");
    assert_int_equal(o.control, 0);
    assert_int_equal(o.interval_s, 60);
    assert_int_equal(o.timeout_ms, 5000);
    assert_int_equal(o.nprobes, 1);
    assert_string_equal(o.probes[0].kind, "icmp");
    assert_string_equal(o.probes[0].spec, "icmp");
    ctl_target_add_opts_clear(&o);
    assert_null(o.probes);
    ctl_target_add_opts_clear(&o);
}

static void test_add_everything(void **state)
{
    (void)state;
    char *argv[] = {
        "mx.ir",     "--address", "2001:DB8::25",      "--group",    "IR core",
        "--role",    "mail",      "--control",         "--interval", "86400",
        "--timeout", "600000",    "--probe",           "smtp",       "--probe",
        "tcp:25",    "--probe",   "dns:Example.IR:mx", "--probe",    "https:https://mx.ir/x?y",
        "--probe",   "trace"};
    ctl_target_add_opts_t o;
    err_t err = {{0}};
    err_clear(&err);
    if (ctl_target_add_parse(ARGC(argv), argv, &o, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_string_equal(o.address, "2001:db8::25");
    assert_string_equal(o.group, "IR core");
    assert_string_equal(o.role, "mail");
    assert_int_equal(o.control, 1);
    assert_int_equal(o.interval_s, 86400);
    assert_int_equal(o.timeout_ms, 600000);
    assert_int_equal(o.nprobes, 5);
    static const char *const want[][2] = {{"smtp", "smtp:25"},
                                          {"tcp", "tcp:25"},
                                          {"dns", "dns:Example.IR:MX"},
                                          {"https", "https:https://mx.ir:443/x?y"},
                                          {"trace", "trace"}};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(o.probes[i].kind, want[i][0]);
        assert_string_equal(o.probes[i].spec, want[i][1]);
    }
    ctl_target_add_opts_clear(&o);
}

/* Without --timeout, the timeout follows the interval; any --timeout shorter than the
 * interval is taken as given, and one that is not is refused naming both and the rule. */
static void test_timeout_rule(void **state)
{
    (void)state;
    static const struct {
        const char *interval; /* NULL: the default, 60 */
        const char *timeout;  /* NULL: none given */
        uint64_t want_ms;     /* 0: refused */
    } cases[] = {
        {NULL, NULL, 5000},  {"60", NULL, 5000},     {"10", NULL, 5000}, {"9", NULL, 4500},
        {"5", NULL, 2500},   {"2", NULL, 1000},      {"1", NULL, 500},   {"86400", NULL, 5000},
        {"5", "4999", 4999}, {"5", "5000", 0},       {"5", "9000", 0},   {"1", "999", 999},
        {"1", "1000", 0},    {NULL, "59999", 59999}, {NULL, "60000", 0}, {"601", "600000", 600000},
        {"2", "1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[9] = {"t", "--address", "192.0.2.4", "--probe", "icmp"};
        int argc = 5;
        if (cases[i].interval) {
            argv[argc++] = "--interval";
            argv[argc++] = (char *)cases[i].interval;
        }
        if (cases[i].timeout) {
            argv[argc++] = "--timeout";
            argv[argc++] = (char *)cases[i].timeout;
        }
        ctl_target_add_opts_t o;
        err_t err = {{0}};
        err_clear(&err);
        int rc = ctl_target_add_parse(argc, argv, &o, &err);
        if (cases[i].want_ms == 0) {
            char want[128];
            snprintf(want, sizeof want,
                     "bad --timeout '%s': must be shorter than the interval (%s s); without "
                     "--timeout it is min(5000, interval x 500) ms",
                     cases[i].timeout, cases[i].interval ? cases[i].interval : "60");
            if (rc == 0 || strcmp(err.msg, want) != 0)
                fail_msg("case %zu: expected '%s', got rc %d '%s'", i, want, rc, err.msg);
            assert_null(o.probes);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu: refused: %s", i, err.msg);
        if (o.timeout_ms != cases[i].want_ms)
            fail_msg("case %zu: timeout %llu ms, expected %llu", i,
                     (unsigned long long)o.timeout_ms, (unsigned long long)cases[i].want_ms);
        assert_true(o.timeout_ms < o.interval_s * 1000);
        ctl_target_add_opts_clear(&o);
    }
    /* The default never reaches the interval, at any interval allowed. */
    for (uint64_t iv = 1; iv <= 86400; iv++) {
        uint64_t t = ctl_target_timeout_default(iv);
        assert_true(t >= 1 && t < iv * 1000 && t <= 5000);
    }
}

typedef struct refusal {
    char *argv[8];
    int argc;
    const char *msg; /* a part the message must contain */
} refusal_t;

static void test_add_refusals(void **state)
{
    (void)state;
    static const refusal_t cases[] = {
        {{"--address", "192.0.2.4", "--probe", "icmp"}, 4, "missing target NAME"},
        {{"t", "--probe", "icmp"}, 3, "missing --address"},
        {{"t", "--address", "1.2.3", "--probe", "icmp"},
         5,
         "bad --address '1.2.3': not an IPv4 or IPv6 address"},
        {{"t", "--address", "198.51.100.0/24", "--probe", "icmp"},
         5,
         "bad --address '198.51.100.0/24'"},
        {{"t!", "--address", "192.0.2.4", "--probe", "icmp"}, 5, "bad target name 't!'"},
        {{"t", "--address", "192.0.2.4"}, 3, "missing --probe"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--role", "server"},
         7,
         "bad --role 'server'"},
        {{"t", "--address", "192.0.2.4", "--probe", "tcp:0"},
         5,
         "bad --probe 'tcp:0': bad tcp spec"},
        {{"t", "--address", "192.0.2.4", "--probe", "tcp:99999"}, 5, "bad --probe 'tcp:99999'"},
        {{"t", "--address", "192.0.2.4", "--probe", "dns:bad..name"},
         5,
         "bad --probe 'dns:bad..name': bad DNS name"},
        {{"t", "--address", "192.0.2.4", "--probe", "foo:1"},
         5,
         "bad --probe 'foo:1': unknown probe kind 'foo'"},
        {{"t", "--address", "192.0.2.4", "--probe", ""}, 5, "bad --probe ''"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--probe", "icmp"},
         7,
         "--probe 'icmp' given twice"},
        {{"t", "--address", "192.0.2.4", "--probe", "smtp", "--probe", "smtp:25"},
         7,
         "bad --probe 'smtp:25': the same probe as --probe 'smtp'"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--interval", "0"},
         7,
         "bad --interval '0'"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--interval", "86401"},
         7,
         "bad --interval '86401'"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--timeout", "600001"},
         7,
         "bad --timeout '600001'"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--group", ""}, 7, "bad --group ''"},
        {{"t", "--address", "192.0.2.4", "--probe", "icmp", "--control=1"},
         6,
         "option --control takes no value"},
        {{"t", "--address", "192.0.2.4", "--address", "192.0.2.5", "--probe", "icmp"},
         7,
         "--address given more than once"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        refusal_t c = cases[i];
        ctl_target_add_opts_t o;
        err_t err = {{0}};
        err_clear(&err);
        if (ctl_target_add_parse(c.argc, c.argv, &o, &err) == 0 || !strstr(err.msg, c.msg))
            fail_msg("case %zu: expected refusal with '%s', got '%s'", i, c.msg, err.msg);
        /* A refusal leaves nothing to free. */
        assert_null(o.probes);
    }
}

static void test_list_parse(void **state)
{
    (void)state;
    err_t err = {{0}};
    int json = -1;
    char *a1[] = {"--json"};
    assert_int_equal(ctl_target_list_parse(1, a1, &json, &err), 0);
    assert_int_equal(json, 1);
    char *a2[] = {"--json", "--json"};
    assert_int_equal(ctl_target_list_parse(2, a2, &json, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_defaults), cmocka_unit_test(test_add_everything),
        cmocka_unit_test(test_add_refusals), cmocka_unit_test(test_timeout_rule),
        cmocka_unit_test(test_list_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
