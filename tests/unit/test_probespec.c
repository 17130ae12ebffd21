/* test_probespec: valid specs with their parsed fields and canonical text, invalid specs with
 * the problem their message must name, and the round trip parse(format(parse(x))). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probespec.h"

typedef struct valid_case {
    const char *text;
    const char *canonical;
    probe_kind_t kind;
    unsigned port;
    const char *host;  /* NULL: empty */
    const char *path;  /* NULL: empty */
    const char *qtype; /* NULL: empty */
} valid_case_t;

static char label63[80], name253[300], long_path[PROBESPEC_MAX + 16];
static char long_path_canon[PROBESPEC_MAX + 16];

static const valid_case_t valid_cases[] = {
    {"icmp", "icmp", PROBE_KIND_ICMP, 0, NULL, NULL, NULL},
    {"trace", "trace", PROBE_KIND_TRACE, 0, NULL, NULL, NULL},
    {"tcp:1", "tcp:1", PROBE_KIND_TCP, 1, NULL, NULL, NULL},
    {"tcp:443", "tcp:443", PROBE_KIND_TCP, 443, NULL, NULL, NULL},
    {"tcp:65535", "tcp:65535", PROBE_KIND_TCP, 65535, NULL, NULL, NULL},
    {"tcp:00080", "tcp:80", PROBE_KIND_TCP, 80, NULL, NULL, NULL},
    {"smtp", "smtp:25", PROBE_KIND_SMTP, 25, NULL, NULL, NULL},
    {"smtp:587", "smtp:587", PROBE_KIND_SMTP, 587, NULL, NULL, NULL},
    {"http:http://example.org/", "http:http://example.org:80/", PROBE_KIND_HTTP, 80, "example.org",
     "/", NULL},
    {"http:http://example.org", "http:http://example.org:80/", PROBE_KIND_HTTP, 80, "example.org",
     "/", NULL},
    {"http:http://example.org:8080/a?b=c", "http:http://example.org:8080/a?b=c", PROBE_KIND_HTTP,
     8080, "example.org", "/a?b=c", NULL},
    {"http:http://192.0.2.1/|expect=503", "http:http://192.0.2.1:80/|expect=503", PROBE_KIND_HTTP,
     80, "192.0.2.1", "/", NULL},
    {"https:https://www.example/|body=Welcome home|expect=200",
     "https:https://www.example:443/|expect=200|body=Welcome home", PROBE_KIND_HTTPS, 443,
     "www.example", "/", NULL},
    {"http:http://192.0.2.1/status", "http:http://192.0.2.1:80/status", PROBE_KIND_HTTP, 80,
     "192.0.2.1", "/status", NULL},
    {"http:http://Example.ORG./x/%20y", "http:http://Example.ORG.:80/x/%20y", PROBE_KIND_HTTP, 80,
     "Example.ORG.", "/x/%20y", NULL},
    {"https:https://example.org", "https:https://example.org:443/", PROBE_KIND_HTTPS, 443,
     "example.org", "/", NULL},
    {"https:https://[2001:db8::1]/", "https:https://[2001:db8::1]:443/", PROBE_KIND_HTTPS, 443,
     "2001:db8::1", "/", NULL},
    {"https:https://[::1]:8443", "https:https://[::1]:8443/", PROBE_KIND_HTTPS, 8443, "::1", "/",
     NULL},
    {"https:https://[::ffff:192.0.2.1]/h", "https:https://[::ffff:192.0.2.1]:443/h",
     PROBE_KIND_HTTPS, 443, "::ffff:192.0.2.1", "/h", NULL},
    {"dns:example.org", "dns:example.org:A", PROBE_KIND_DNS, 0, "example.org", NULL, "A"},
    {"dns:example.org:aaaa", "dns:example.org:AAAA", PROBE_KIND_DNS, 0, "example.org", NULL,
     "AAAA"},
    {"dns:example.org:TYPE65", "dns:example.org:TYPE65", PROBE_KIND_DNS, 0, "example.org", NULL,
     "TYPE65"},
    {"dns:example.org:type65535", "dns:example.org:TYPE65535", PROBE_KIND_DNS, 0, "example.org",
     NULL, "TYPE65535"},
    {"dns:_dmarc.example.org.:txt", "dns:_dmarc.example.org.:TXT", PROBE_KIND_DNS, 0,
     "_dmarc.example.org.", NULL, "TXT"},
    {"dns:.:NS", "dns:.:NS", PROBE_KIND_DNS, 0, ".", NULL, "NS"},
    {"dns:x:DNSKEY", "dns:x:DNSKEY", PROBE_KIND_DNS, 0, "x", NULL, "DNSKEY"},
    {"dns:1.2.0.192.in-addr.arpa:ptr", "dns:1.2.0.192.in-addr.arpa:PTR", PROBE_KIND_DNS, 0,
     "1.2.0.192.in-addr.arpa", NULL, "PTR"},
    /* Filled in by setup: a 63-byte label, a 253-byte name, the longest http spec. */
    {label63, NULL, PROBE_KIND_DNS, 0, NULL, NULL, "A"},
    {name253, NULL, PROBE_KIND_DNS, 0, NULL, NULL, "MX"},
    {long_path, long_path_canon, PROBE_KIND_HTTP, 80, "h", NULL, NULL},
};

static int setup(void **state)
{
    (void)state;
    /* dns:<63 a>.org */
    memcpy(label63, "dns:", 4);
    memset(label63 + 4, 'a', 63);
    memcpy(label63 + 67, ".org", 5);
    /* dns:<4 labels of 62 and one of 1 ... 253 bytes>:mx */
    char *p = name253;
    p += sprintf(p, "dns:");
    for (int i = 0; i < 4; i++) {
        memset(p, (char)('a' + i), 62);
        p += 62;
        *p++ = '.';
    }
    p += sprintf(p, "e:mx"); /* 4 * 63 + 1 = 253 bytes of name */
    /* The canonical form adds ":80", which must still fit in PROBESPEC_MAX - 1. */
    size_t fixed = strlen("http:http://h:80/");
    memcpy(long_path_canon, "http:http://h:80/", fixed);
    memset(long_path_canon + fixed, 'p', PROBESPEC_MAX - 1 - fixed);
    long_path_canon[PROBESPEC_MAX - 1] = '\0';
    snprintf(long_path, sizeof long_path, "http:http://h/%s", long_path_canon + fixed);
    return 0;
}

static void test_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const valid_case_t *c = &valid_cases[i];
        probespec_t s;
        err_t err = {{0}};
        if (probespec_parse(c->text, &s, &err) != 0)
            fail_msg("'%.60s' refused: %s", c->text, err.msg);
        if (s.kind != c->kind || s.port != c->port)
            fail_msg("'%.60s': kind %d port %u", c->text, (int)s.kind, (unsigned)s.port);
        if (c->host && strcmp(s.host, c->host) != 0)
            fail_msg("'%.60s': host '%s'", c->text, s.host);
        if (!c->host && c->kind != PROBE_KIND_DNS && s.host[0])
            fail_msg("'%.60s': unexpected host '%s'", c->text, s.host);
        if (c->path && strcmp(s.path, c->path) != 0)
            fail_msg("'%.60s': path '%s'", c->text, s.path);
        if (strcmp(s.qtype, c->qtype ? c->qtype : "") != 0)
            fail_msg("'%.60s': qtype '%s'", c->text, s.qtype);
        char buf[PROBESPEC_MAX];
        int n = probespec_format(&s, buf, sizeof buf);
        if (n < 0)
            fail_msg("'%.60s': cannot format", c->text);
        assert_int_equal((size_t)n, strlen(buf));
        /* Cases without a canonical text are covered by the round trip below. */
        if (c->canonical && strcmp(buf, c->canonical) != 0)
            fail_msg("'%.60s': canonical '%.60s', want '%.60s'", c->text, buf, c->canonical);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const char *text = valid_cases[i].text;
        probespec_t a, b;
        char fa[PROBESPEC_MAX], fb[PROBESPEC_MAX];
        err_t err = {{0}};
        assert_int_equal(probespec_parse(text, &a, &err), 0);
        assert_true(probespec_format(&a, fa, sizeof fa) >= 0);
        if (probespec_parse(fa, &b, &err) != 0)
            fail_msg("canonical '%.60s' of '%.60s' refused: %s", fa, text, err.msg);
        assert_true(probespec_format(&b, fb, sizeof fb) >= 0);
        assert_string_equal(fa, fb);
        assert_int_equal(a.kind, b.kind);
        assert_int_equal(a.port, b.port);
        assert_string_equal(a.host, b.host);
        assert_string_equal(a.path, b.path);
        assert_string_equal(a.qtype, b.qtype);
        /* A buffer one byte short is refused, never overrun. */
        char small[PROBESPEC_MAX];
        size_t need = strlen(fa) + 1;
        assert_int_equal(probespec_format(&a, small, need - 1), -1);
        assert_int_equal(probespec_format(&a, small, need), (int)need - 1);
    }
}

static char overlong[PROBESPEC_MAX + 1], label64[80], name254[300], path_too_long[PROBESPEC_MAX];

static void fill_invalid(void)
{
    memcpy(overlong, "dns:", 4);
    memset(overlong + 4, 'a', PROBESPEC_MAX - 4);
    overlong[PROBESPEC_MAX] = '\0';
    memcpy(label64, "dns:", 4);
    memset(label64 + 4, 'a', 64);
    label64[68] = '\0';
    char *p = name254;
    p += sprintf(p, "dns:");
    for (int i = 0; i < 4; i++) {
        memset(p, 'b', 62);
        p += 62;
        *p++ = '.';
    }
    sprintf(p, "ee"); /* 254 bytes without a final dot */
    /* Fits PROBESPEC_MAX as written but not once ":80" is added. */
    memset(path_too_long, 'q', sizeof path_too_long - 1);
    memcpy(path_too_long, "http:http://h/", 14);
    path_too_long[sizeof path_too_long - 1] = '\0';
}

static void test_invalid(void **state)
{
    (void)state;
    fill_invalid();
    static const struct {
        const char *text;
        const char *expect; /* what the message must name */
    } cases[] = {
        {"", "empty probe spec"},
        {NULL, "empty probe spec"},
        {"foo", "unknown probe kind 'foo'"},
        {"ICMP", "unknown probe kind 'ICMP'"},
        {":80", "unknown probe kind ''"},
        {"averyveryverylongkind:1", "unknown probe kind"},
        {"icmp:1", "takes no argument"},
        {"icmp:", "takes no argument"},
        {"trace:x", "takes no argument"},
        {"tcp", "bad tcp spec 'tcp'"},
        {"tcp:", "bad tcp spec"},
        {"tcp:0", "PORT from 1 to 65535"},
        {"tcp:65536", "bad tcp spec 'tcp:65536'"},
        {"tcp:-1", "bad tcp spec"},
        {"tcp:+1", "bad tcp spec"},
        {"tcp:1x", "bad tcp spec"},
        {"tcp: 1", "bad tcp spec"},
        {"tcp:000080", "bad tcp spec"},
        {"tcp:99999999999999999999", "bad tcp spec"},
        {"smtp:0", "bad smtp spec"},
        {"smtp:", "bad smtp spec"},
        {"http", "needs a URL"},
        {"https", "needs a URL"},
        {"http:", "must start with http://"},
        {"http:ftp://x/", "must start with http://"},
        {"http:http://x/|", "empty option"},
        {"http:http://x/|expect=99", "expect= takes an HTTP status"},
        {"http:http://x/|expect=600", "expect= takes an HTTP status"},
        {"http:http://x/|expect=200|expect=201", "each once"},
        {"http:http://x/|body=", "1 to 128 characters"},
        {"http:http://x/|body=caf\xc3\xa9", "printable ASCII"},
        {"http:http://x/|colour=red", "bad option 'colour=red'"},
        {"https:http://x/", "must start with https://"},
        {"http:HTTP://x/", "must start with http://"},
        {"http:http:///", "has no valid host"},
        {"http:http://", "has no valid host"},
        {"http:http://host with space/", "invalid host 'host with space'"},
        {"http:http://a..b/", "invalid host"},
        {"http:http://./", "invalid host '.'"},
        {"http:http://user@host/", "invalid host"},
        {"http:http://example.org:0/", "invalid port '0'"},
        {"http:http://example.org:65536/", "invalid port"},
        {"http:http://example.org:/", "invalid port ''"},
        {"http:http://example.org:80x/", "invalid port"},
        {"http:http://example.org/a b", "not allowed in a path"},
        {"http:http://example.org/a#frag", "not allowed in a path"},
        {"http:http://example.org/caf\xc3\xa9", "not allowed in a path"},
        {"http:http://example.org/\t", "not allowed in a path"},
        {"http:http://[]/", "malformed IPv6 host"},
        {"http:http://[2001:db8::1/", "malformed IPv6 host"},
        {"http:http://[zz::1]/", "malformed IPv6 host"},
        {"http:http://[.]/", "malformed IPv6 host"},
        {"http:http://[192.0.2.4]/", "malformed IPv6 host"},
        {"http:http://[1:2:3:4:5:6:7:8:9]/", "malformed IPv6 host"},
        {"http:http://[::1]x/", "junk after the IPv6 host"},
        {"http:http://[::1]:0/", "invalid port"},
        {path_too_long, "once the port is spelled out"},
        {"dns", "needs a query name"},
        {"dns:", "bad DNS name ''"},
        {"dns::A", "bad DNS name ''"},
        {"dns:a..b", "bad DNS name 'a..b'"},
        {"dns:.example.org", "bad DNS name"},
        {"dns:..", "bad DNS name"},
        {"dns:ex ample.org", "bad DNS name"},
        {"dns:ex*ample.org", "bad DNS name"},
        {label64, "bad DNS name"},
        {name254, "bad DNS name"},
        {"dns:x:BOGUS", "unknown query type 'BOGUS'"},
        {"dns:x:", "bad query type ''"},
        {"dns:x:A:B", "unknown query type 'A:B'"},
        {"dns:x:TYPE", "unknown query type"},
        {"dns:x:TYPE0", "unknown query type"},
        {"dns:x:TYPE65536", "unknown query type"},
        {"dns:x:TYPE-1", "unknown query type"},
        {"dns:x:AAAAAAAAAAAAAAAAAAAA", "bad query type"},
        {overlong, "longer than 1023 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        probespec_t s;
        err_t err = {{0}};
        const char *t = cases[i].text;
        if (probespec_parse(t, &s, &err) != -1)
            fail_msg("'%.60s' accepted", t ? t : "(null)");
        if (!err.msg[0] || !strstr(err.msg, cases[i].expect))
            fail_msg("'%.60s': error '%s' lacks '%s'", t ? t : "(null)", err.msg, cases[i].expect);
    }
}

static void test_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"icmp", "tcp", "http", "https", "dns", "smtp", "trace"};
    assert_int_equal(PROBE_KIND_COUNT, sizeof names / sizeof names[0]);
    for (int i = 0; i < PROBE_KIND_COUNT; i++) {
        assert_string_equal(probespec_kind_name((probe_kind_t)i), names[i]);
        assert_int_equal(probespec_kind_from_name(names[i]), i);
    }
    assert_null(probespec_kind_name(PROBE_KIND_COUNT));
    assert_null(probespec_kind_name((probe_kind_t)-1));
    assert_int_equal(probespec_kind_from_name("ping"), -1);
    assert_int_equal(probespec_kind_from_name(""), -1);
    /* A spec of an out-of-range kind has no text. */
    probespec_t s = {.kind = PROBE_KIND_COUNT};
    char buf[64];
    assert_int_equal(probespec_format(&s, buf, sizeof buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
