/* test_ctl_agent: `agent` argument parsing (defaults, normalisation, each refusal naming its
 * argument) and the agent config file text, read back with the agent's own config reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "ctl_agent.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_add_defaults(void **state)
{
    (void)state;
    char *argv[] = {"gb1", "--country", "gb"};
    ctl_agent_add_opts_t o;
    err_t err = {{0}};
    assert_int_equal(ctl_agent_add_parse(ARGC(argv), argv, &o, &err), 0);
    assert_string_equal(o.name, "gb1");
    assert_string_equal(o.country, "GB");
    assert_int_equal(o.has_asn, 0);
    assert_null(o.endpoint);
    assert_null(o.coordinator_key);
    assert_string_equal(o.state_dir, CTL_AGENT_STATE_DIR);
    assert_string_equal(o.output, "./gb1.conf");
    assert_int_equal(o.force, 0);
}

static void test_add_everything(void **state)
{
    (void)state;
    char *argv[] = {"--asn",
                    "4294967295",
                    "de-fra.1",
                    "--country",
                    "DE",
                    "--endpoint",
                    "tcp://[2001:db8::1]:7070",
                    "--coordinator-key",
                    "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                    "--state-dir",
                    "/srv/px",
                    "-o",
                    "/tmp/a.conf",
                    "--force"};
    ctl_agent_add_opts_t o;
    err_t err = {{0}};
    err_clear(&err);
    if (ctl_agent_add_parse(ARGC(argv), argv, &o, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_string_equal(o.name, "de-fra.1");
    assert_int_equal(o.has_asn, 1);
    assert_int_equal(o.asn, 4294967295u);
    assert_string_equal(o.endpoint, "tcp://[2001:db8::1]:7070");
    assert_string_equal(o.coordinator_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    assert_string_equal(o.state_dir, "/srv/px");
    assert_string_equal(o.output, "/tmp/a.conf");
    assert_int_equal(o.force, 1);
}

typedef struct refusal {
    char *argv[5];
    int argc;
    const char *msg; /* a part the message must contain */
} refusal_t;

static void test_add_refusals(void **state)
{
    (void)state;
    static const refusal_t cases[] = {
        {{"--country", "GB"}, 2, "missing agent NAME"},
        {{"gb1"}, 1, "missing --country"},
        {{"-gb1", "--country", "GB"}, 3, "unknown option '-gb1'"},
        {{"g b", "--country", "GB"}, 3, "bad agent name 'g b'"},
        {{"gb1", "--country", "GBR"}, 3, "bad --country 'GBR'"},
        {{"gb1", "--country", "1B"}, 3, "bad --country '1B'"},
        {{"gb1", "--country", "GB", "--asn", "4294967296"}, 5, "bad --asn '4294967296'"},
        {{"gb1", "--country", "GB", "--asn", "-1"}, 5, "bad --asn '-1'"},
        {{"gb1", "--country", "GB", "--asn", "AS1"}, 5, "bad --asn 'AS1'"},
        {{"gb1", "--country", "GB", "--endpoint", "coord:1"}, 5, "bad --endpoint 'coord:1'"},
        {{"gb1", "--country", "GB", "--coordinator-key", "short"},
         5,
         "bad --coordinator-key 'short'"},
        {{"gb1", "--country", "GB", "--state-dir", "rel"}, 5, "bad --state-dir 'rel'"},
        {{"gb1", "--country", "GB", "-o", "dir/"}, 5, "bad -o 'dir/'"},
        {{"gb1", "--country", "GB", "--country", "DE"}, 5, "--country given more than once"},
        {{"gb1", "gb2", "--country", "GB"}, 4, "unexpected argument 'gb2'"},
        {{"gb1", "--country", "GB", "--asn"}, 4, "option --asn needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        refusal_t c = cases[i];
        ctl_agent_add_opts_t o;
        err_t err = {{0}};
        err_clear(&err);
        if (ctl_agent_add_parse(c.argc, c.argv, &o, &err) == 0 || !strstr(err.msg, c.msg))
            fail_msg("case %zu: expected refusal with '%s', got '%s'", i, c.msg, err.msg);
    }
}

static void test_list_and_name_parse(void **state)
{
    (void)state;
    err_t err = {{0}};
    int json = -1;
    char *a1[] = {"--json"};
    assert_int_equal(ctl_agent_list_parse(1, a1, &json, &err), 0);
    assert_int_equal(json, 1);
    assert_int_equal(ctl_agent_list_parse(0, NULL, &json, &err), 0);
    assert_int_equal(json, 0);
    char *a2[] = {"--yaml"};
    assert_int_equal(ctl_agent_list_parse(1, a2, &json, &err), -1);
    char *a3[] = {"x"};
    assert_int_equal(ctl_agent_list_parse(1, a3, &json, &err), -1);

    const char *name = NULL;
    char *b1[] = {"gb1"};
    assert_int_equal(ctl_agent_name_parse(1, b1, &name, &err), 0);
    assert_string_equal(name, "gb1");
    assert_int_equal(ctl_agent_name_parse(0, NULL, &name, &err), -1);
    assert_string_equal(err.msg, "missing agent NAME");
    char *b2[] = {"a/b"};
    assert_int_equal(ctl_agent_name_parse(1, b2, &name, &err), -1);
    assert_non_null(strstr(err.msg, "bad agent name 'a/b'"));
}

static void test_conf_format_reads_back(void **state)
{
    (void)state;
    ctl_agent_conf_t conf = {"gb1",
                             "GB",
                             "tcp://coord.example.net:7070",
                             "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                             "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
                             "/var/lib/parallax-agent"};
    char text[2048];
    /* 2024-05-01 12:00:00 UTC */
    int n = ctl_agent_conf_format(&conf, 1714564800, text, sizeof text);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(text));
    assert_non_null(strstr(text, "# Parallax agent gb1 (country GB), written by parallaxctl on "
                                 "2024-05-01 12:00:00 UTC.\n"));
    assert_non_null(strstr(text, "# Keep this file secret"));
    err_t err = {{0}};
    config_t *cfg = config_parse("gb1.conf", text, &err);
    assert_non_null(cfg);
    static const char *const known[] = {"name",       "coordinator", "coordinator_key",
                                        "secret_key", "state_dir",   NULL};
    assert_int_equal(config_check_known(cfg, known, &err), 0);
    assert_string_equal(config_get(cfg, "name"), "gb1");
    assert_string_equal(config_get(cfg, "coordinator"), conf.endpoint);
    assert_string_equal(config_get(cfg, "coordinator_key"), conf.coordinator_key);
    assert_string_equal(config_get(cfg, "secret_key"), conf.secret_key);
    assert_string_equal(config_get(cfg, "state_dir"), conf.state_dir);
    config_destroy(&cfg);

    char small[64];
    assert_int_equal(ctl_agent_conf_format(&conf, 0, small, sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_defaults),           cmocka_unit_test(test_add_everything),
        cmocka_unit_test(test_add_refusals),           cmocka_unit_test(test_list_and_name_parse),
        cmocka_unit_test(test_conf_format_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
