/* Unit tests for agent_config: a good file with defaults, and that every kind of mistake
 * (missing key, bad value, unknown key, bad key, unusable state_dir) names file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_config.h"
#include "keys.h"

typedef struct fixture {
    char dir[64];
    keypair_t server;
    keypair_t agent;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/px-test-agent-config-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    err_t err = {{0}};
    if (keys_generate(&f->server, &err) < 0 || keys_generate(&f->agent, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/state", f->dir);
    rmdir(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A complete config; extra is appended as the last lines. */
static void make_config(const fixture_t *f, const char *extra, char *buf, size_t len)
{
    snprintf(buf, len,
             "# test agent\n"
             "name = vantage-gb\n"
             "coordinator = tcp://127.0.0.1:7000\n"
             "coordinator_key = %s\n"
             "secret_key = %s\n"
             "state_dir = %s/state\n"
             "%s",
             f->server.public_z85, f->agent.secret_z85, f->dir, extra);
}

static void test_good_config_with_defaults(void **state)
{
    fixture_t *f = *state;
    char text[1024];
    make_config(f, "", text, sizeof text);
    agent_config_t cfg;
    err_t err = {{0}};
    assert_int_equal(agent_config_parse("agent.conf", text, &cfg, &err), 0);
    assert_string_equal(cfg.name, "vantage-gb");
    assert_string_equal(cfg.coordinator, "tcp://127.0.0.1:7000");
    assert_string_equal(cfg.coordinator_key, f->server.public_z85);
    /* The public key is derived from the secret key. */
    assert_string_equal(cfg.public_key, f->agent.public_z85);
    assert_int_equal(cfg.batch_max, 100);
    assert_int_equal(cfg.batch_interval_ms, 1000);
    assert_int_equal(cfg.heartbeat_s, 10);
    assert_int_equal(cfg.max_pending, 100000);
    assert_int_equal(cfg.max_pending_given, 0);
    assert_int_equal(cfg.spool_max_bytes, 64 * 1024 * 1024);
    assert_int_equal(cfg.resend_ms, 5000);
    assert_int_equal(cfg.deny_own_networks, 0);
    /* state_dir was created, private. */
    char path[128];
    snprintf(path, sizeof path, "%s/state", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_good_config_with_tuning(void **state)
{
    fixture_t *f = *state;
    char text[1024];
    make_config(f,
                "batch_max = 1000\nbatch_interval_ms = 10\nheartbeat_s = 3600\n"
                "max_pending = 10000000\nresend_ms = 100\nspool_max_bytes = 1048576\n"
                "deny_own_networks = yes\n",
                text, sizeof text);
    agent_config_t cfg;
    err_t err = {{0}};
    assert_int_equal(agent_config_parse("agent.conf", text, &cfg, &err), 0);
    assert_int_equal(cfg.batch_max, 1000);
    assert_int_equal(cfg.batch_interval_ms, 10);
    assert_int_equal(cfg.heartbeat_s, 3600);
    assert_int_equal(cfg.max_pending, 10000000);
    assert_int_equal(cfg.max_pending_given, 1);
    assert_int_equal(cfg.spool_max_bytes, 1048576);
    assert_int_equal(cfg.deny_own_networks, 1);
    assert_int_equal(cfg.resend_ms, 100);
}

static void test_missing_key(void **state)
{
    fixture_t *f = *state;
    char text[1024];
    snprintf(text, sizeof text,
             "name = x\ncoordinator = tcp://127.0.0.1:7000\nsecret_key = %s\nstate_dir = %s\n",
             f->agent.secret_z85, f->dir);
    agent_config_t cfg;
    err_t err = {{0}};
    assert_int_equal(agent_config_parse("agent.conf", text, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "agent.conf"));
    assert_non_null(strstr(err.msg, "coordinator_key"));
}

/* Each case: an extra line (line 7 of the file) and what the message must contain. */
static void test_bad_values(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *extra;
        const char *expect;
    } cases[] = {
        {"batch_max = 0\n", "agent.conf:7"},
        {"batch_max = 1001\n", "agent.conf:7"},
        {"batch_interval_ms = 9\n", "agent.conf:7"},
        {"heartbeat_s = ten\n", "agent.conf:7"},
        {"max_pending = 99\n", "agent.conf:7"},
        {"resend_ms = -5\n", "agent.conf:7"},
        {"spool_max_bytes = 1048575\n", "agent.conf:7"},
        {"spool_max_bytes = 68719476737\n", "agent.conf:7"},
        {"spool_max_bytes = 64M\n", "agent.conf:7"},
        {"deny_own_networks = maybe\n", "agent.conf:7"},
        {"colour = blue\n", "agent.conf:7: unknown key 'colour'"},
        {"name = again\n", "agent.conf:7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        make_config(f, cases[i].extra, text, sizeof text);
        agent_config_t cfg;
        err_t err = {{0}};
        assert_int_equal(agent_config_parse("agent.conf", text, &cfg, &err), -1);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("case '%s': message '%s' lacks '%s'", cases[i].extra, err.msg,
                     cases[i].expect);
    }
}

static void test_bad_keys_and_endpoint(void **state)
{
    fixture_t *f = *state;
    char text[1024];
    agent_config_t cfg;
    err_t err = {{0}};
    snprintf(text, sizeof text,
             "name = x\ncoordinator = tcp://127.0.0.1:7000\ncoordinator_key = short\n"
             "secret_key = %s\nstate_dir = %s\n",
             f->agent.secret_z85, f->dir);
    assert_int_equal(agent_config_parse("a.conf", text, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "a.conf:3"));
    assert_non_null(strstr(err.msg, "coordinator_key"));

    snprintf(text, sizeof text,
             "name = x\ncoordinator = 127.0.0.1:7000\ncoordinator_key = %s\n"
             "secret_key = %s\nstate_dir = %s\n",
             f->server.public_z85, f->agent.secret_z85, f->dir);
    assert_int_equal(agent_config_parse("a.conf", text, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "a.conf:2"));

    /* 40 characters but not Z85 ('"' is outside the alphabet). */
    snprintf(text, sizeof text,
             "name = x\ncoordinator = tcp://127.0.0.1:7000\ncoordinator_key = %s\n"
             "secret_key = %.39s\"\nstate_dir = %s\n",
             f->server.public_z85, f->agent.secret_z85, f->dir);
    assert_int_equal(agent_config_parse("a.conf", text, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "a.conf:4"));
    assert_non_null(strstr(err.msg, "secret_key"));
}

static void test_unusable_state_dir(void **state)
{
    fixture_t *f = *state;
    char text[1024];
    snprintf(text, sizeof text,
             "name = x\ncoordinator = tcp://127.0.0.1:7000\ncoordinator_key = %s\n"
             "secret_key = %s\nstate_dir = /dev/null/state\n",
             f->server.public_z85, f->agent.secret_z85);
    agent_config_t cfg;
    err_t err = {{0}};
    assert_int_equal(agent_config_parse("a.conf", text, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "a.conf:5"));
    assert_non_null(strstr(err.msg, "state_dir"));
}

static void test_load_from_file(void **state)
{
    fixture_t *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/agent.conf", f->dir);
    char text[1024];
    make_config(f, "bogus = 1\n", text, sizeof text);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    agent_config_t cfg;
    err_t err = {{0}};
    /* It holds the secret key: readable by others, it is refused before it is read. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(agent_config_load(path, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "config file is readable by others (mode 644)"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(agent_config_load(path, &cfg, &err), -1);
    char expect[160];
    snprintf(expect, sizeof expect, "%s:7: unknown key 'bogus'", path);
    assert_non_null(strstr(err.msg, expect));
    unlink(path);

    assert_int_equal(agent_config_load("/nonexistent/agent.conf", &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/agent.conf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_config_with_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_config_with_tuning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys_and_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_state_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_from_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
