/* Unit tests for ctl_routes' pure parts: the default collector name of a file, and the lines
 * of a prefix-to-AS file (CAIDA pfx2as: multi-origin and set ASNs, comments, bad fields). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_routes.h"

static void test_default_collector(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"/var/lib/bird/collector.mrt", "collector"},
        {"updates.20261205.0800.gz", "updates.20261205.0800"},
        {"rrc00", "rrc00"},
        {"dir.d/.hidden", ".hidden"},
        {"./a.b.c", "a.b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[80];
        ctl_routes_default_collector(cases[i][0], buf, sizeof buf);
        assert_string_equal(buf, cases[i][1]);
    }
}

static void test_parse_origin(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
        const char *prefix;
        unsigned long long asn;
        const char *why;
    } cases[] = {
        {"192.0.2.0\t24\t64496\n", 1, "192.0.2.0/24", 64496, NULL},
        {"198.51.100.0\t24\t64497_64498\r\n", 1, "198.51.100.0/24", 64497, NULL},
        {"2001:db8::\t32\t64499,64500", 1, "2001:db8::/32", 64499, NULL},
        {"0.0.0.0\t0\t4294967295\n", 1, "0.0.0.0/0", 4294967295ull, NULL},
        {"# comment\n", 0, NULL, 0, NULL},
        {"   \n", 0, NULL, 0, NULL},
        {"192.0.2.0 24 64496\n", -1, NULL, 0, "PREFIX<TAB>LENGTH<TAB>ASN"},
        {"192.0.2.0\t33\t64496\n", -1, NULL, 0, "'33' is not a prefix length"},
        {"2001:db8::\t129\t1\n", -1, NULL, 0, "'129' is not a prefix length"},
        {"192.0.2\t24\t64496\n", -1, NULL, 0, "'192.0.2' is not an IP address"},
        {"192.0.2.0\t24\t4294967296\n", -1, NULL, 0, "is not an AS number"},
        {"192.0.2.0\t24\t-1\n", -1, NULL, 0, "is not an AS number"},
        {"192.0.2.0\t24\t\n", -1, NULL, 0, "PREFIX<TAB>LENGTH<TAB>ASN"},
        {"192.0.2.0\t24\tAS1\n", -1, NULL, 0, "'AS1' is not an AS number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[80] = "";
        unsigned long long asn = 0;
        err_t err = {{0}};
        int rc = ctl_routes_parse_origin(cases[i].line, buf, sizeof buf, &asn, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, wanted %d (%s)", i, rc, cases[i].rc, err.msg);
        if (rc == 1) {
            assert_string_equal(buf, cases[i].prefix);
            assert_true(asn == cases[i].asn);
        }
        if (cases[i].why && !strstr(err.msg, cases[i].why))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_collector),
        cmocka_unit_test(test_parse_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
