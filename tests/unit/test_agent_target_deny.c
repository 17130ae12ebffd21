/* test_agent_target_deny: the addresses an agent will not probe without the operator's leave
 * (loopback, unspecified, link-local, multicast, broadcast, cloud metadata services, and
 * IPv4-mapped forms of them), and the ones it will: public addresses, the documentation and
 * benchmarking ranges the tests use, private ranges (not on the list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "target_deny.h"

static void expect(const char *address, const char *why)
{
    const char *got = target_deny_reason(address);
    const char *shown = address ? address : "(null)";
    if (!why) {
        if (got)
            fail_msg("%s denied (%s), expected allowed", shown, got);
        return;
    }
    if (!got)
        fail_msg("%s allowed, expected denied (%s)", shown, why);
    assert_string_equal(got, why);
}

static void test_denied(void **state)
{
    (void)state;
    expect("127.0.0.1", "loopback");
    expect("127.255.0.9", "loopback");
    expect("::1", "loopback");
    expect("0.0.0.0", "unspecified or this network");
    expect("::", "unspecified or this network");
    expect("169.254.1.1", "link-local");
    expect("fe80::1", "link-local");
    expect("224.0.0.1", "multicast");
    expect("ff02::1", "multicast");
    expect("255.255.255.255", "broadcast");
    expect("169.254.169.254", "cloud metadata service");
    expect("100.100.100.200", "cloud metadata service");
    expect("168.63.129.16", "cloud metadata service");
    expect("fd00:ec2::254", "cloud metadata service");
    expect("::ffff:127.0.0.1", "loopback");
    expect("::ffff:169.254.169.254", "cloud metadata service");
}

static void test_allowed(void **state)
{
    (void)state;
    expect("192.0.2.10", NULL);
    expect("198.18.0.1", NULL);
    expect("203.0.113.5", NULL);
    expect("8.8.8.8", NULL);
    expect("10.1.2.3", NULL);
    expect("100.100.100.201", NULL);
    expect("168.63.129.17", NULL);
    expect("169.253.255.255", NULL);
    expect("2001:db8::1", NULL);
    expect("fd00:ec2::253", NULL);
    expect("::ffff:192.0.2.1", NULL);
    /* Not an address: the probe itself says so, as a local error. */
    expect("not-an-address", NULL);
    expect(NULL, NULL);
}

static void add(target_nets_t *nets, const char *addr, int bits)
{
    uint8_t a[16];
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(family, addr, a), 1);
    assert_int_equal(target_nets_add(nets, family, a, bits), 0);
}

/* deny_own_networks: addresses inside the host's subnets, whatever their host bits. */
static void test_own_networks(void **state)
{
    (void)state;
    target_nets_t nets = {0};
    add(&nets, "198.51.100.7", 24);
    add(&nets, "203.0.113.77", 29);
    add(&nets, "2001:db8:5::9", 64);
    assert_true(target_nets_contain(&nets, "198.51.100.1"));
    assert_true(target_nets_contain(&nets, "198.51.100.255"));
    assert_false(target_nets_contain(&nets, "198.51.101.1"));
    assert_true(target_nets_contain(&nets, "203.0.113.72"));
    assert_true(target_nets_contain(&nets, "203.0.113.79"));
    assert_false(target_nets_contain(&nets, "203.0.113.80"));
    assert_false(target_nets_contain(&nets, "203.0.113.71"));
    assert_true(target_nets_contain(&nets, "2001:db8:5::1"));
    assert_false(target_nets_contain(&nets, "2001:db8:6::1"));
    assert_false(target_nets_contain(&nets, "not-an-address"));
    assert_false(target_nets_contain(&nets, NULL));
    /* Full: refused, not overflowed. */
    while (nets.n < TARGET_NETS_MAX)
        add(&nets, "192.0.2.1", 32);
    uint8_t a[4] = {192, 0, 2, 2};
    assert_int_equal(target_nets_add(&nets, AF_INET, a, 32), -1);
}

/* This host's own: the loopback interface is up wherever the tests run. */
static void test_local_networks(void **state)
{
    (void)state;
    target_nets_t nets;
    err_t err = {{0}};
    assert_int_equal(target_nets_local(&nets, &err), 0);
    assert_true(nets.n >= 1);
    assert_true(target_nets_contain(&nets, "127.0.0.1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denied), cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_own_networks), cmocka_unit_test(test_local_networks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
