/* test_ctl_discover: the pure parts of `parallaxctl discover`: target names from DNS names
 * (valid for the schema, stable, distinct when long), hosts merged by address with the role
 * they are proposed under, border candidates chosen from tables of trace hops, the CSV (the
 * exact text, and every line accepted by target add's own parser) and the arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_csv.h"
#include "ctl_discover.h"
#include "ctl_parse.h"
#include "ctl_target.h"

typedef struct name_case {
    const char *text;
    const char *name; /* NULL: only checked for validity and length */
} name_case_t;

static const name_case_t names[] = {
    {"www.xx.test", "www.xx.test"},
    {"NS1.Example.ORG", "ns1.example.org"},
    {"_dmarc.xx.test", "dmarc.xx.test"},
    {"a b\\032c.xx.test", "a-b-032c.xx.test"},
    {"xx.test-router-2001:db8::1", "xx.test-router-2001-db8--1"},
    {"...", "host"},
    {"", "host"},
    {"a23456789.123456789.123456789.123456789.123456789.123456789.123", NULL},
    {"a23456789.123456789.123456789.123456789.123456789.123456789.1234", NULL},
};

static void test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char out[CTL_DISCOVER_NAME_MAX], again[CTL_DISCOVER_NAME_MAX];
        print_message("case: '%s'\n", names[i].text);
        ctl_discover_name(names[i].text, out);
        ctl_discover_name(names[i].text, again);
        assert_string_equal(out, again);
        if (ctl_parse_name("name", out, NULL) != 0)
            fail_msg("'%s' gave the invalid name '%s'", names[i].text, out);
        if (names[i].name)
            assert_string_equal(out, names[i].name);
    }
    /* 63 bytes stay as they are; 64 and more are cut and end in a hash of the whole. */
    char a[CTL_DISCOVER_NAME_MAX], b[CTL_DISCOVER_NAME_MAX];
    ctl_discover_name(names[7].text, a);
    assert_string_equal(a, names[7].text);
    ctl_discover_name(names[8].text, a);
    assert_int_equal(strlen(a), 63);
    assert_memory_equal(a, names[8].text, 54);
    ctl_discover_name("a23456789.123456789.123456789.123456789.123456789.123456789.1235", b);
    assert_int_equal(strlen(b), 63);
    assert_string_not_equal(a, b);
}

static void test_merge(void **state)
{
    (void)state;
    ctl_discover_set_t *set = calloc(1, sizeof *set);
    assert_non_null(set);
    err_t err = {{0}};
    /* Found in an order that must not matter: the mail role first, then dns. */
    assert_int_equal(ctl_discover_add(set, "mx.xx.test", "203.0.113.53", CTL_DISCOVER_MAIL, &err),
                     0);
    assert_int_equal(ctl_discover_add(set, "ns2.xx.test", "203.0.113.53", CTL_DISCOVER_DNS, &err),
                     0);
    assert_int_equal(ctl_discover_add(set, "ns1.xx.test", "203.0.113.53", CTL_DISCOVER_DNS, &err),
                     0);
    assert_int_equal(ctl_discover_add(set, "xx.test", "203.0.113.10", CTL_DISCOVER_WEB, &err), 0);
    assert_int_equal(ctl_discover_add(set, "www.xx.test", "203.0.113.10", CTL_DISCOVER_WEB, &err),
                     0);
    assert_int_equal(set->n, 2);
    assert_string_equal(set->hosts[0].dns_name, "ns1.xx.test");
    assert_int_equal(set->hosts[0].roles, CTL_DISCOVER_DNS | CTL_DISCOVER_MAIL);
    assert_string_equal(set->hosts[1].dns_name, "www.xx.test");
    assert_string_equal(set->hosts[1].web_name, "www.xx.test");
    /* Addresses are compared in canonical form. */
    assert_int_equal(ctl_discover_add(set, "ns1.xx.test", "2001:DB8:0::53", CTL_DISCOVER_DNS, &err),
                     0);
    assert_int_equal(ctl_discover_add(set, "ns1.xx.test", "2001:db8::53", CTL_DISCOVER_DNS, &err),
                     0);
    assert_int_equal(set->n, 3);
    assert_int_equal(ctl_discover_add(set, "bad.xx.test", "203.0.113.300", CTL_DISCOVER_WEB, &err),
                     -1);
    free(set);
}

static void test_networks(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(ctl_discover_cover("203.0.113.77", out, sizeof out), 0);
    assert_string_equal(out, "203.0.113.0/24");
    assert_int_equal(ctl_discover_cover("2001:db8:1:2::5", out, sizeof out), 0);
    assert_string_equal(out, "2001:db8:1::/48");
    assert_int_equal(ctl_discover_cover("nope", out, sizeof out), -1);
    assert_int_equal(ctl_discover_in_net("203.0.113.0/24", "203.0.113.1"), 1);
    assert_int_equal(ctl_discover_in_net("203.0.113.0/24", "203.0.114.1"), 0);
    assert_int_equal(ctl_discover_in_net("203.0.113.0/25", "203.0.113.200"), 0);
    assert_int_equal(ctl_discover_in_net("0.0.0.0/0", "198.18.1.1"), 1);
    assert_int_equal(ctl_discover_in_net("2001:db8::/32", "2001:db8:ffff::1"), 1);
    assert_int_equal(ctl_discover_in_net("2001:db8::/32", "203.0.113.1"), 0);
    assert_int_equal(ctl_discover_in_net("203.0.113.0/33", "203.0.113.1"), -1);
    assert_int_equal(ctl_discover_in_net("203.0.113.0/x", "203.0.113.1"), -1);
}

/* Border cases: a table of hops and the candidates (address and agents) it must give. */
typedef struct border_case {
    const char *name;
    ctl_discover_hop_t hops[16];
    size_t nhops;
    const char *want[3]; /* candidate addresses in the order found; NULL-terminated */
} border_case_t;

#define H(agent, dest, address)                                                                    \
    {                                                                                              \
        agent, dest, address                                                                       \
    }
#define WEB "203.0.113.10"
#define DNS "203.0.113.53"

static const border_case_t borders[] = {
    {"three agents enter at the in-zone border",
     {H("v1", WEB, "198.18.1.1"), H("v1", WEB, "203.0.113.1"), H("v1", WEB, WEB),
      H("v2", WEB, "198.18.2.1"), H("v2", WEB, "203.0.113.1"), H("v2", WEB, WEB),
      H("v3", DNS, "198.18.3.1"), H("v3", DNS, "203.0.113.1"), H("v3", DNS, DNS)},
     9,
     {"203.0.113.1"}},
    {"one agent is not enough, whatever it traced",
     {H("v1", WEB, "198.18.1.1"), H("v1", WEB, "203.0.113.1"), H("v1", WEB, WEB),
      H("v1", DNS, "198.18.1.1"), H("v1", DNS, "203.0.113.1"), H("v1", DNS, DNS)},
     6,
     {NULL}},
    {"the first in-zone hop, not a deeper one",
     {H("v1", WEB, "198.18.1.1"), H("v1", WEB, "203.0.113.1"), H("v1", WEB, "203.0.113.2"),
      H("v1", WEB, WEB), H("v2", WEB, "198.18.2.1"), H("v2", WEB, "203.0.113.1"),
      H("v2", WEB, "203.0.113.2"), H("v2", WEB, WEB)},
     8,
     {"203.0.113.1"}},
    {"no in-zone hop: the hop before the destination",
     {H("v1", WEB, "198.18.1.1"), H("v1", WEB, "198.18.9.2"), H("v1", WEB, WEB),
      H("v2", WEB, "198.18.2.1"), H("v2", WEB, "198.18.9.2"), H("v2", WEB, WEB)},
     6,
     {"198.18.9.2"}},
    {"two borders, each shared by two agents",
     {H("v1", WEB, "203.0.113.1"), H("v1", WEB, WEB), H("v2", WEB, "203.0.113.1"),
      H("v2", WEB, WEB), H("v3", WEB, "203.0.113.2"), H("v3", WEB, WEB),
      H("v4", WEB, "203.0.113.2"), H("v4", WEB, WEB)},
     8,
     {"203.0.113.1", "203.0.113.2"}},
    {"a server on the path is no router",
     {H("v1", WEB, DNS), H("v1", WEB, WEB), H("v2", WEB, DNS), H("v2", WEB, WEB)},
     4,
     {NULL}},
    {"a trace that went nowhere near the zone",
     {H("v1", WEB, "198.18.1.1"), H("v2", WEB, "198.18.1.1")},
     2,
     {NULL}},
    {"no traces", {{0}}, 0, {NULL}},
};

static void test_borders(void **state)
{
    (void)state;
    static const char *const nets[] = {"203.0.113.0/24"};
    ctl_discover_set_t *set = calloc(1, sizeof *set);
    assert_non_null(set);
    for (size_t c = 0; c < sizeof borders / sizeof borders[0]; c++) {
        const border_case_t *bc = &borders[c];
        print_message("case: %s\n", bc->name);
        memset(set, 0, sizeof *set);
        err_t err = {{0}};
        assert_int_equal(ctl_discover_add(set, "www.xx.test", WEB, CTL_DISCOVER_WEB, &err), 0);
        assert_int_equal(ctl_discover_add(set, "ns1.xx.test", DNS, CTL_DISCOVER_DNS, &err), 0);
        size_t found = 99;
        if (ctl_discover_borders(bc->hops, bc->nhops, nets, 1, set, &found, &err) != 0)
            fail_msg("case '%s': %s", bc->name, err.msg);
        size_t want = 0;
        while (want < 3 && bc->want[want])
            want++;
        assert_int_equal(found, want);
        assert_int_equal(set->n, 2 + want);
        for (size_t k = 0; k < want; k++) {
            assert_string_equal(set->hosts[2 + k].address, bc->want[k]);
            assert_int_equal(set->hosts[2 + k].roles, CTL_DISCOVER_ROUTER);
            assert_true(set->hosts[2 + k].agents >= 2);
        }
    }
    static const char *const bad_nets[] = {"203.0.113.0/99"};
    size_t found;
    err_t err = {{0}};
    assert_int_equal(
        ctl_discover_borders(borders[0].hops, borders[0].nhops, bad_nets, 1, set, &found, &err),
        -1);
    free(set);
}

static const char want_csv[] = "name,address,group,role,probes\n"
                               "mx.xx.test,203.0.113.25,XX,mail,icmp smtp\n"
                               "ns1.xx.test,203.0.113.53,XX,dns,icmp dns:xx.test:SOA smtp\n"
                               "ns2.xx.test-2001-db8--53,2001:db8::53,XX,dns,icmp dns:xx.test:SOA\n"
                               "ns2.xx.test-203.0.113.54,203.0.113.54,XX,dns,icmp dns:xx.test:SOA\n"
                               "www.xx.test,203.0.113.10,XX,web,icmp http:http://www.xx.test/\n"
                               "xx.test-router-203.0.113.1,203.0.113.1,XX,router,icmp\n";

/* Fills set as a zone's lookups could, in the given order. */
static void fill(ctl_discover_set_t *set, int reverse)
{
    static const struct {
        const char *name, *address;
        unsigned role;
    } found[] = {
        {"ns1.xx.test", "203.0.113.53", CTL_DISCOVER_DNS},
        {"ns2.xx.test", "203.0.113.54", CTL_DISCOVER_DNS},
        {"ns2.xx.test", "2001:db8::53", CTL_DISCOVER_DNS},
        {"ns1.xx.test", "203.0.113.53", CTL_DISCOVER_MAIL},
        {"mx.xx.test", "203.0.113.25", CTL_DISCOVER_MAIL},
        {"www.xx.test", "203.0.113.10", CTL_DISCOVER_WEB},
        {"xx.test", "203.0.113.10", CTL_DISCOVER_WEB},
        {"router 203.0.113.1", "203.0.113.1", CTL_DISCOVER_ROUTER},
    };
    size_t n = sizeof found / sizeof found[0];
    memset(set, 0, sizeof *set);
    for (size_t i = 0; i < n; i++) {
        size_t k = reverse ? n - 1 - i : i;
        err_t err = {{0}};
        assert_int_equal(
            ctl_discover_add(set, found[k].name, found[k].address, found[k].role, &err), 0);
    }
}

static char *csv_of(const ctl_discover_set_t *set, const char *group)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    err_t err = {{0}};
    assert_int_equal(ctl_discover_csv(set, "xx.test", group, f, &err), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_csv(void **state)
{
    (void)state;
    ctl_discover_set_t *set = calloc(1, sizeof *set);
    assert_non_null(set);
    fill(set, 0);
    char *a = csv_of(set, "XX");
    assert_string_equal(a, want_csv);
    /* The order answers came in does not change a byte. */
    fill(set, 1);
    char *b = csv_of(set, "XX");
    assert_string_equal(a, b);
    /* Every record is one target add accepts, as target import would hand it over. */
    char *save = NULL;
    size_t line = 0;
    for (char *l = strtok_r(a, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        char *f[8];
        size_t n;
        err_t err = {{0}};
        assert_int_equal(ctl_csv_split(l, f, 8, &n, &err), 0);
        assert_int_equal(n, 5);
        if (line == 0)
            continue;
        char *argv[16] = {f[0], "--address", f[1], "--group", f[2], "--role", f[3]};
        int argc = 7;
        char *psave = NULL;
        for (char *p = strtok_r(f[4], " ", &psave); p; p = strtok_r(NULL, " ", &psave)) {
            argv[argc++] = "--probe";
            argv[argc++] = p;
        }
        ctl_target_add_opts_t opts;
        if (ctl_target_add_parse(argc, argv, &opts, &err) != 0)
            fail_msg("line %zu refused: %s", line, err.msg);
        ctl_target_add_opts_clear(&opts);
    }
    assert_int_equal(line, 7);
    /* A web name no URL can carry gets no http probe, and the line still imports. */
    memset(set, 0, sizeof *set);
    err_t err = {{0}};
    assert_int_equal(
        ctl_discover_add(set, "odd\\032name.xx.test", "203.0.113.10", CTL_DISCOVER_WEB, &err), 0);
    char *d = csv_of(set, "XX");
    assert_string_equal(d, "name,address,group,role,probes\n"
                           "odd-032name.xx.test,203.0.113.10,XX,web,icmp\n");
    free(d);
    fill(set, 0);
    /* A group with a comma is quoted. */
    char *c = csv_of(set, "XX, the country");
    assert_non_null(strstr(c, "mx.xx.test,203.0.113.25,\"XX, the country\",mail,icmp smtp\n"));
    free(a);
    free(b);
    free(c);
    free(set);
}

static void test_parse(void **state)
{
    (void)state;
    ctl_discover_opts_t o;
    err_t err = {{0}};
    char *a1[] = {"--zone", "XX.Test."};
    assert_int_equal(ctl_discover_parse(2, a1, &o, &err), 0);
    assert_string_equal(o.zone, "xx.test");
    assert_string_equal(o.group, "XX");
    assert_string_equal(o.server, "");
    char *a2[] = {"--zone", "example.org", "--server", "203.0.113.53:5353", "--group", "Org"};
    assert_int_equal(ctl_discover_parse(6, a2, &o, &err), 0);
    assert_string_equal(o.server, "203.0.113.53");
    assert_int_equal(o.port, 5353);
    assert_string_equal(o.group, "Org");
    char *a3[] = {"--zone", "example.org", "--server", "[2001:db8::53]:53"};
    assert_int_equal(ctl_discover_parse(4, a3, &o, &err), 0);
    assert_string_equal(o.server, "2001:db8::53");
    char *a4[] = {"--zone", "example.org", "--server", "2001:db8::53"};
    assert_int_equal(ctl_discover_parse(4, a4, &o, &err), 0);
    assert_int_equal(o.port, 53);
    static const char *const bad_zones[] = {"", ".", "a..b", "a b", "a.", "-", "a/b", "x.."};
    for (size_t i = 0; i < sizeof bad_zones / sizeof bad_zones[0]; i++) {
        char *av[] = {"--zone", (char *)bad_zones[i]};
        int rc = ctl_discover_parse(2, av, &o, &err);
        if (strcmp(bad_zones[i], "a.") == 0 || strcmp(bad_zones[i], "-") == 0)
            assert_int_equal(rc, 0); /* "a." is the zone a; "-" is a (strange) label */
        else if (rc != -1)
            fail_msg("zone '%s' accepted", bad_zones[i]);
    }
    char *b1[] = {"--zone", "x.test", "--server", "203.0.113.53:0"};
    assert_int_equal(ctl_discover_parse(4, b1, &o, &err), -1);
    char *b2[] = {"--zone", "x.test", "--server", "ns1.x.test"};
    assert_int_equal(ctl_discover_parse(4, b2, &o, &err), -1);
    char *b3[] = {"--server", "203.0.113.53"};
    assert_int_equal(ctl_discover_parse(2, b3, &o, &err), -1);
    assert_string_equal(err.msg, "missing --zone ZONE");
    char *b4[] = {"--zone", "x.test", "--via", "v1"};
    assert_int_equal(ctl_discover_parse(4, b4, &o, &err), -1);
    assert_non_null(strstr(err.msg, "--via AGENT needs --server ADDR"));
    char *b5[] = {"--zone", "x.test", "--via", "v1", "--server", "203.0.113.53:5353"};
    assert_int_equal(ctl_discover_parse(6, b5, &o, &err), -1);
    assert_non_null(strstr(err.msg, "port 53 only"));
    char *b6[] = {"--zone", "x.test", "--via", "v 1", "--server", "203.0.113.53"};
    assert_int_equal(ctl_discover_parse(6, b6, &o, &err), -1);
    assert_non_null(strstr(err.msg, "--via"));
    char *g1[] = {"--zone", "x.test", "--via", "vp-2", "--server", "203.0.113.53:53"};
    assert_int_equal(ctl_discover_parse(6, g1, &o, &err), 0);
    assert_string_equal(o.via, "vp-2");
    assert_string_equal(o.server, "203.0.113.53");
    assert_int_equal(o.port, 53);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),    cmocka_unit_test(test_merge),
        cmocka_unit_test(test_networks), cmocka_unit_test(test_borders),
        cmocka_unit_test(test_csv),      cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
