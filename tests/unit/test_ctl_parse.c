/* test_ctl_parse: table tests of parallaxctl's argument validators: what they accept, what
 * they normalise, and that every refusal names the argument and the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_parse.h"

/* Checks that a refusal reads "bad LABEL 'VALUE': ..." */
static void assert_refusal(const err_t *err, const char *label, const char *value)
{
    char want[600];
    snprintf(want, sizeof want, "bad %s '%s': ", label, value);
    if (strncmp(err->msg, want, strlen(want)) != 0)
        fail_msg("expected a message starting with \"%s\", got \"%s\"", want, err->msg);
}

static void test_name(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "gb1", "GB-1.lon_2", "9", NULL};
    static const char *const bad[] = {"", "-a", ".a", "_a", "a b", "a/b", "é", "a\n", NULL};
    err_t err = {{0}};
    for (const char *const *s = good; *s; s++)
        if (ctl_parse_name("agent name", *s, &err) != 0)
            fail_msg("'%s' refused: %s", *s, err.msg);
    for (const char *const *s = bad; *s; s++) {
        if (ctl_parse_name("agent name", *s, &err) == 0)
            fail_msg("'%s' accepted", *s);
        assert_refusal(&err, "agent name", *s);
    }
    char longest[64], too_long[65];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    assert_int_equal(ctl_parse_name("n", longest, &err), 0);
    assert_int_equal(ctl_parse_name("n", too_long, &err), -1);
}

static void test_country(void **state)
{
    (void)state;
    char cc[3];
    err_t err = {{0}};
    assert_int_equal(ctl_parse_country("--country", "gb", cc, &err), 0);
    assert_string_equal(cc, "GB");
    assert_int_equal(ctl_parse_country("--country", "De", cc, &err), 0);
    assert_string_equal(cc, "DE");
    static const char *const bad[] = {"", "G", "GBR", "G1", "12", "g ", NULL};
    for (const char *const *s = bad; *s; s++) {
        if (ctl_parse_country("--country", *s, cc, &err) == 0)
            fail_msg("'%s' accepted", *s);
        assert_refusal(&err, "--country", *s);
    }
}

static void test_uint(void **state)
{
    (void)state;
    uint64_t v;
    err_t err = {{0}};
    assert_int_equal(ctl_parse_uint("--asn", "0", 0, 4294967295u, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ctl_parse_uint("--asn", "4294967295", 0, 4294967295u, &v, &err), 0);
    assert_int_equal(v, 4294967295u);
    assert_int_equal(ctl_parse_uint("--asn", "007", 0, 10, &v, &err), 0);
    assert_int_equal(v, 7);
    static const char *const bad[] = {
        "",    "-1", "+1", "1.5", " 1", "1 ", "0x10", "4294967296", "99999999999999999999999",
        "abc", NULL};
    for (const char *const *s = bad; *s; s++) {
        if (ctl_parse_uint("--asn", *s, 0, 4294967295u, &v, &err) == 0)
            fail_msg("'%s' accepted", *s);
        assert_refusal(&err, "--asn", *s);
        assert_non_null(strstr(err.msg, "from 0 to 4294967295"));
    }
    assert_int_equal(ctl_parse_uint("--interval", "0", 1, 86400, &v, &err), -1);
    assert_int_equal(ctl_parse_uint("--interval", "86401", 1, 86400, &v, &err), -1);
    assert_int_equal(ctl_parse_uint("--interval", "86400", 1, 86400, &v, &err), 0);
}

static void test_endpoint(void **state)
{
    (void)state;
    static const char *const good[] = {"tcp://coord.example.net:7070", "tcp://192.0.2.1:1",
                                       "tcp://[2001:db8::1]:65535", "tcp://localhost:5555", NULL};
    static const char *const bad[] = {"",
                                      "coord:7070",
                                      "udp://coord:7070",
                                      "tcp://coord",
                                      "tcp://coord:",
                                      "tcp://coord:0",
                                      "tcp://coord:65536",
                                      "tcp://:7070",
                                      "tcp://*:7070",
                                      "tcp://a..b:7070",
                                      "tcp://-a:7070",
                                      "tcp://2001:db8::1:7070",
                                      "tcp://[nothex]:7070",
                                      "tcp://co ord:7070",
                                      NULL};
    err_t err = {{0}};
    for (const char *const *s = good; *s; s++)
        if (ctl_parse_endpoint("--endpoint", *s, &err) != 0)
            fail_msg("'%s' refused: %s", *s, err.msg);
    for (const char *const *s = bad; *s; s++) {
        if (ctl_parse_endpoint("--endpoint", *s, &err) == 0)
            fail_msg("'%s' accepted", *s);
        assert_refusal(&err, "--endpoint", *s);
    }
}

static void test_address(void **state)
{
    (void)state;
    static const char *const in_out[][2] = {{"192.0.2.10", "192.0.2.10"},
                                            {"2001:DB8:0::1", "2001:db8::1"},
                                            {"::1", "::1"},
                                            {"::ffff:192.0.2.1", "::ffff:192.0.2.1"}};
    char out[CTL_PARSE_ADDR_MAX];
    err_t err = {{0}};
    for (size_t i = 0; i < sizeof in_out / sizeof in_out[0]; i++) {
        assert_int_equal(ctl_parse_address("--address", in_out[i][0], out, &err), 0);
        assert_string_equal(out, in_out[i][1]);
    }
    static const char *const bad[] = {"",
                                      "1.2.3",
                                      "192.0.2.4.5",
                                      "256.1.1.1",
                                      "192.0.2.4/32",
                                      "2001:db8::/64",
                                      "fe80::1%eth0",
                                      "example.com",
                                      " 192.0.2.4",
                                      NULL};
    for (const char *const *s = bad; *s; s++) {
        if (ctl_parse_address("--address", *s, out, &err) == 0)
            fail_msg("'%s' accepted", *s);
        assert_refusal(&err, "--address", *s);
        assert_non_null(strstr(err.msg, "not an IPv4 or IPv6 address"));
    }
}

static void test_role_and_path(void **state)
{
    (void)state;
    err_t err = {{0}};
    static const char *const roles[] = {"web", "mail", "dns", "router", "host", NULL};
    for (const char *const *r = roles; *r; r++)
        assert_int_equal(ctl_parse_role("--role", *r, &err), 0);
    assert_int_equal(ctl_parse_role("--role", "Web", &err), -1);
    assert_refusal(&err, "--role", "Web");
    assert_int_equal(ctl_parse_role("--role", "", &err), -1);
    assert_int_equal(ctl_parse_abs_path("--state-dir", "/var/lib/x", &err), 0);
    assert_int_equal(ctl_parse_abs_path("--state-dir", "var/lib/x", &err), -1);
    assert_refusal(&err, "--state-dir", "var/lib/x");
    assert_int_equal(ctl_parse_abs_path("--state-dir", "/a\nb", &err), -1);
    assert_int_equal(ctl_parse_abs_path("--state-dir", "", &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),    cmocka_unit_test(test_country),
        cmocka_unit_test(test_uint),    cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_address), cmocka_unit_test(test_role_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
