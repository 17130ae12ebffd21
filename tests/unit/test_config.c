/* test_config: the strict key = value reader: what it accepts, every way a file is refused
 * (with FILE:LINE in the message), and the typed look-ups' ranges and forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static void assert_err_contains(const err_t *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("error '%s' does not contain '%s'", err->msg, needle);
}

static config_t *parse_ok(const char *text)
{
    err_t err = {{0}};
    config_t *cfg = config_parse("test.conf", text, &err);
    if (!cfg)
        fail_msg("config_parse: %s", err.msg);
    return cfg;
}

/* Writes len bytes to a new temporary file; returns its path (static buffer). */
static const char *temp_file(const char *data, size_t len)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/px-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    assert_int_equal(close(fd), 0);
    return path;
}

static void test_good_file(void **state)
{
    (void)state;
    config_t *cfg = parse_ok("# Parallax agent\n"
                             "\n"
                             "name = vantage-1\n"
                             "   # an indented comment\n"
                             "port=7100\n"
                             "\t spool.dir \t=\t /var/lib/parallax spool  \n"
                             "\n"
                             "coordinator = tcp://coord:7100   # where to connect\n"
                             "secret_key = #x#y=z # a Z85 key may hold and begin with '#'\n"
                             "page = http://x/#top\t# a '#' after a blank ends the value\n"
                             "url = http://x/?a=b\r\n"
                             "empty =\n"
                             "x-y_z.1 = ok");
    static const struct {
        const char *key, *value;
    } want[] = {
        {"name", "vantage-1"},
        {"port", "7100"},
        {"spool.dir", "/var/lib/parallax spool"},
        {"coordinator", "tcp://coord:7100"},
        {"secret_key", "#x#y=z"},
        {"page", "http://x/#top"},
        {"url", "http://x/?a=b"}, /* split at the first '=', CR trimmed */
        {"empty", ""},
        {"x-y_z.1", "ok"}, /* last line without a newline */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = config_get(cfg, want[i].key);
        if (!v || strcmp(v, want[i].value) != 0)
            fail_msg("key '%s': got '%s', want '%s'", want[i].key, v ? v : "(null)", want[i].value);
    }
    assert_null(config_get(cfg, "missing"));
    assert_null(config_get(cfg, "Name")); /* keys are case-sensitive */

    char where[64];
    assert_string_equal(config_where(cfg, "name", where, sizeof where), "test.conf:3");
    assert_string_equal(config_where(cfg, "x-y_z.1", where, sizeof where), "test.conf:13");
    assert_string_equal(config_where(cfg, "missing", where, sizeof where), "test.conf");

    static const char *const known[] = {"name", "port", "spool.dir", "coordinator", "secret_key",
                                        "page", "url",  "empty",     "x-y_z.1",     NULL};
    err_t err = {{0}};
    assert_int_equal(config_check_known(cfg, known, &err), 0);
    config_destroy(&cfg);
    assert_null(cfg);
    config_destroy(&cfg); /* idempotent */
    config_destroy(NULL);

    /* Nothing at all is a valid (empty) config. */
    cfg = parse_ok("");
    assert_null(config_get(cfg, "name"));
    config_destroy(&cfg);
    cfg = parse_ok("\n\n# only comments\n   \n");
    config_destroy(&cfg);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static char long_line[5000];
    memset(long_line, 'a', sizeof long_line - 1);
    memcpy(long_line, "#\nk = ", 6);
    static const struct {
        const char *name;
        const char *text;
        const char *expect[3]; /* substrings the message must contain */
    } cases[] = {
        {"missing '='",
         "name = a\nport 7100\n",
         {"test.conf:2:", "expected 'key = value'", "port 7100"}},
        {"word alone", "# c\n\nbogus", {"test.conf:3:", "expected 'key = value'", NULL}},
        {"duplicate key",
         "a = 1\nb = 2\n\n a=3\n",
         {"test.conf:4:", "'a' given twice", "first on line 1"}},
        {"empty key", "\n= value\n", {"test.conf:2:", "invalid key ''", NULL}},
        {"space in key", "spool dir = /x\n", {"test.conf:1:", "invalid key 'spool dir'", NULL}},
        {"'$' in key", "a = 1\nk$y = 1\n", {"test.conf:2:", "invalid key 'k$y'", NULL}},
        {"non-ASCII key", "cl\xc3\xa9 = 1\n", {"test.conf:1:", "invalid key", NULL}},
        {"section header", "[agent]\nname = a\n", {"test.conf:1:", "expected 'key = value'", NULL}},
        {"line too long", long_line, {"test.conf:2:", "line longer than 4096", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t err = {{0}};
        config_t *cfg = config_parse("test.conf", cases[i].text, &err);
        if (cfg)
            fail_msg("%s: accepted", cases[i].name);
        for (int j = 0; j < 3 && cases[i].expect[j]; j++)
            if (!strstr(err.msg, cases[i].expect[j]))
                fail_msg("%s: error '%s' lacks '%s'", cases[i].name, err.msg, cases[i].expect[j]);
    }
    /* A line of 4095 bytes is still fine. */
    static char max_line[4097];
    memset(max_line, 'v', 4095);
    memcpy(max_line, "k = ", 4);
    config_t *cfg = parse_ok(max_line);
    assert_int_equal(strlen(config_get(cfg, "k")), 4095 - 4);
    config_destroy(&cfg);
}

static void test_check_known(void **state)
{
    (void)state;
    config_t *cfg = parse_ok("name = a\n# comment\nnmae = typo\n");
    static const char *const known[] = {"name", "port", NULL};
    err_t err = {{0}};
    assert_int_equal(config_check_known(cfg, known, &err), -1);
    assert_err_contains(&err, "test.conf:3:");
    assert_err_contains(&err, "unknown key 'nmae'");
    static const char *const none[] = {NULL};
    assert_int_equal(config_check_known(cfg, none, &err), -1);
    assert_err_contains(&err, "test.conf:1: unknown key 'name'");
    config_destroy(&cfg);
}

static void test_require(void **state)
{
    (void)state;
    config_t *cfg = parse_ok("name = a\nsecret =\n");
    err_t err = {{0}};
    assert_string_equal(config_require(cfg, "name", &err), "a");
    assert_null(config_require(cfg, "coordinator", &err));
    assert_err_contains(&err, "test.conf");
    assert_err_contains(&err, "missing required key 'coordinator'");
    assert_null(config_require(cfg, "secret", &err));
    assert_err_contains(&err, "test.conf:2:");
    assert_err_contains(&err, "'secret' has an empty value");
    /* err may be NULL when the caller does not want detail. */
    assert_null(config_require(cfg, "coordinator", NULL));
    config_destroy(&cfg);
}

static void test_get_uint(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        uint64_t min, max;
        int ok;
        uint64_t want;
    } cases[] = {
        {"10", 1, 100, 1, 10},
        {"1", 1, 100, 1, 1},
        {"100", 1, 100, 1, 100},
        {"007", 1, 100, 1, 7},
        {"0", 0, 0, 1, 0},
        {"18446744073709551615", 0, UINT64_MAX, 1, UINT64_MAX},
        {"0", 1, 100, 0, 0},
        {"101", 1, 100, 0, 0},
        {"65536", 1, 65535, 0, 0},
        {"18446744073709551616", 0, UINT64_MAX, 0, 0}, /* overflow */
        {"99999999999999999999999", 0, UINT64_MAX, 0, 0},
        {"-1", 0, UINT64_MAX, 0, 0},
        {"-0", 0, 100, 0, 0},
        {"+5", 0, 100, 0, 0},
        {"5x", 0, 100, 0, 0},
        {"5 5", 0, 100, 0, 0},
        {"0x10", 0, 100, 0, 0},
        {"1e3", 0, 10000, 0, 0},
        {"abc", 0, 100, 0, 0},
        {"", 0, 100, 0, 0},
        {"5.0", 0, 100, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "# x\nn = %s\n", cases[i].value);
        config_t *cfg = parse_ok(text);
        uint64_t out = 12345;
        err_t err = {{0}};
        int rc = config_get_uint(cfg, "n", cases[i].min, cases[i].max, 9, &out, &err);
        if (cases[i].ok) {
            if (rc != 0 || out != cases[i].want)
                fail_msg("'%s': rc %d out %llu (%s)", cases[i].value, rc, (unsigned long long)out,
                         err.msg);
        } else {
            char range[96];
            snprintf(range, sizeof range, "from %llu to %llu", (unsigned long long)cases[i].min,
                     (unsigned long long)cases[i].max);
            if (rc != -1 || !strstr(err.msg, "test.conf:2:") || !strstr(err.msg, "'n'") ||
                !strstr(err.msg, range))
                fail_msg("'%s': rc %d, error '%s'", cases[i].value, rc, err.msg);
        }
        config_destroy(&cfg);
    }
    /* Absent: the default. */
    config_t *cfg = parse_ok("other = 1\n");
    uint64_t out = 0;
    assert_int_equal(config_get_uint(cfg, "n", 1, 10, 77, &out, NULL), 0);
    assert_int_equal(out, 77);
    config_destroy(&cfg);
}

static void test_get_bool(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int want; /* 0, 1, or -1 for an error */
    } cases[] = {
        {"true", 1}, {"yes", 1},    {"on", 1},    {"1", 1},    {"false", 0}, {"no", 0},
        {"off", 0},  {"0", 0},      {"TRUE", -1}, {"Yes", -1}, {"2", -1},    {"maybe", -1},
        {"", -1},    {"truex", -1}, {"t", -1},    {"y", -1},   {"00", -1},   {"enabled", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "\n\nflag = %s\n", cases[i].value);
        config_t *cfg = parse_ok(text);
        int out = 42;
        err_t err = {{0}};
        int rc = config_get_bool(cfg, "flag", 1, &out, &err);
        if (cases[i].want < 0) {
            if (rc != -1 || !strstr(err.msg, "test.conf:3:") || !strstr(err.msg, "'flag'"))
                fail_msg("'%s': rc %d, error '%s'", cases[i].value, rc, err.msg);
        } else if (rc != 0 || out != cases[i].want) {
            fail_msg("'%s': rc %d out %d", cases[i].value, rc, out);
        }
        config_destroy(&cfg);
    }
    config_t *cfg = parse_ok("");
    int out = -1;
    assert_int_equal(config_get_bool(cfg, "flag", 0, &out, NULL), 0);
    assert_int_equal(out, 0);
    assert_int_equal(config_get_bool(cfg, "flag", 1, &out, NULL), 0);
    assert_int_equal(out, 1);
    config_destroy(&cfg);
}

static void test_read_file(void **state)
{
    (void)state;
    static const char good[] = "# file\nname = from-file\nport = 9\n";
    const char *path = temp_file(good, sizeof good - 1);
    err_t err = {{0}};
    config_t *cfg = config_read(path, &err);
    assert_non_null(cfg);
    assert_string_equal(config_get(cfg, "name"), "from-file");
    /* Messages name the file by the path it was read from. */
    uint64_t port;
    assert_int_equal(config_get_uint(cfg, "port", 10, 20, 15, &port, &err), -1);
    char want[128];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_err_contains(&err, want);
    config_destroy(&cfg);
    unlink(path);

    /* A NUL byte (a binary file, or a corrupted one) is refused outright. */
    static const char nul[] = "name = a\nport\0 = 9\n";
    path = temp_file(nul, sizeof nul - 1);
    assert_null(config_read(path, &err));
    assert_err_contains(&err, path);
    assert_err_contains(&err, "NUL byte");
    unlink(path);

    /* Errors from the parser carry the path and line. */
    static const char dup[] = "a = 1\na = 2\n";
    path = temp_file(dup, sizeof dup - 1);
    assert_null(config_read(path, &err));
    snprintf(want, sizeof want, "%s:2: key 'a' given twice", path);
    assert_err_contains(&err, want);
    unlink(path);

    /* Over 1 MiB. */
    size_t big = 1024 * 1024 + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '\n', big);
    path = temp_file(text, big);
    free(text);
    assert_null(config_read(path, &err));
    assert_err_contains(&err, "larger than");
    unlink(path);

    assert_null(config_read("/nonexistent/parallax/agent.conf", &err));
    assert_err_contains(&err, "/nonexistent/parallax/agent.conf");
    assert_err_contains(&err, "cannot open");
    assert_err_contains(&err, "No such file");
}

/* No error shows a secret: a secret key's line without '=', its name mangled, a key pasted
 * alone, a secret value given to a typed look-up. */
static void test_secrets_not_shown(void **state)
{
    (void)state;
    static const char *const secret = "ZoNPbRh#-*mw#?&Bum22LDLe]kG-#TzqE$@e8jq]";
    /* Each line: before the key, after it. */
    static const char *const lines[][2] = {
        {"secret_key ", "\n"},     {"secret_key: ", "\n"},
        {"secret_key\t", "\n"},    {"", "\n"},
        {"SECRET_KEY ", "\n"},     {"db_password ", "\n"},
        {"secret_key ", " = x\n"}, {"secret_key: ", " = x\n"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char text[256], line[128];
        snprintf(line, sizeof line, "%s%s%s", lines[i][0], secret, lines[i][1]);
        snprintf(text, sizeof text, "name = a\n%s", line);
        err_t err = {{0}};
        config_t *cfg = config_parse("test.conf", text, &err);
        if (cfg)
            fail_msg("'%s': accepted", line);
        assert_err_contains(&err, "test.conf:2:");
        /* Not the key, nor any 8 bytes of it. */
        for (size_t k = 0; k + 8 <= strlen(secret); k++)
            if (memmem(err.msg, strlen(err.msg), secret + k, 8))
                fail_msg("'%s': the error shows the secret: %s", line, err.msg);
    }
    /* What is not secret is still shown, so a typo can be found from the message. */
    char buf[128];
    assert_string_equal(config_shown("port 7100", buf, sizeof buf), "port 7100");
    assert_string_equal(config_shown("k$y", buf, sizeof buf), "k$y");
    assert_string_equal(config_shown("secret_key abc", buf, sizeof buf),
                        "secret_key (the rest not shown: it is secret)");
    assert_string_equal(config_shown("abcdefghijklmnopqrstuvwxyz", buf, sizeof buf),
                        "(26 bytes, not shown: they may hold a secret)");
    assert_true(config_key_is_secret("secret"));
    assert_true(config_key_is_secret("secret_key"));
    assert_true(config_key_is_secret("sslpassword"));
    assert_true(config_key_is_secret("Password_file"));
    assert_false(config_key_is_secret("coordinator_key"));
    assert_false(config_key_is_secret("key_file"));
    assert_false(config_key_is_secret("public"));

    config_t *cfg = parse_ok("secret_key = 12x\nsecret = maybe\nport = 12x\n");
    uint64_t v;
    int b;
    err_t err = {{0}};
    assert_int_equal(config_get_uint(cfg, "secret_key", 0, 100, 0, &v, &err), -1);
    assert_err_contains(&err, "test.conf:1:");
    assert_null(strstr(err.msg, "12x"));
    assert_int_equal(config_get_bool(cfg, "secret", 0, &b, &err), -1);
    assert_null(strstr(err.msg, "maybe"));
    assert_int_equal(config_get_uint(cfg, "port", 0, 100, 0, &v, &err), -1);
    assert_err_contains(&err, "'12x'");
    config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),   cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_check_known), cmocka_unit_test(test_require),
        cmocka_unit_test(test_get_uint),    cmocka_unit_test(test_get_bool),
        cmocka_unit_test(test_read_file),   cmocka_unit_test(test_secrets_not_shown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
