/* test_notifier_config: an empty file is a working config (every default), values are
 * range-checked, unknown keys and bad sslmode are errors naming the file and line, and the
 * HTTP and SMTP answers are classified as the docs say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "notify_config.h"
#include "notify_http.h"

static void test_defaults(void **state)
{
    (void)state;
    notify_config_t c;
    err_t err = {{0}};
    assert_int_equal(notify_config_parse("n.conf", "# nothing set\n", &c, &err), 0);
    assert_string_equal(c.database, "");
    assert_int_equal(c.timeout_s, 10);
    assert_int_equal(c.resend_interval_s, 60);
    assert_int_equal(c.poll_s, 5);
    assert_int_equal(c.retry_min_s, 5);
    assert_int_equal(c.retry_max_s, 300);
    assert_int_equal(c.give_up_s, 86400);
}

static void test_values_and_ssl(void **state)
{
    (void)state;
    notify_config_t c;
    err_t err = {{0}};
    assert_int_equal(notify_config_parse("n.conf",
                                         "database = dbname=parallax\nsslmode = verify-full\n"
                                         "sslrootcert = /etc/ssl/ca.pem\ntimeout_s = 3\n"
                                         "resend_interval_s = 30\n",
                                         &c, &err),
                     0);
    assert_string_equal(c.database,
                        "dbname=parallax sslmode='verify-full' sslrootcert='/etc/ssl/ca.pem'");
    assert_int_equal(c.timeout_s, 3);
    assert_int_equal(c.resend_interval_s, 30);
}

static void expect_error(const char *text, const char *want)
{
    notify_config_t c;
    err_t err = {{0}};
    assert_int_equal(notify_config_parse("n.conf", text, &c, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("timeout = 5\n", "n.conf:1");
    expect_error("timeout = 5\n", "timeout");
    expect_error("\ntimeout_s = 0\n", "n.conf:2");
    expect_error("timeout_s = ten\n", "timeout_s");
    expect_error("resend_interval_s = 5\n", "resend_interval_s");
    expect_error("sslmode = maybe\n", "sslmode");
    expect_error("sslrootcert = /x\n", "needs sslmode");
    expect_error("retry_min_s = 60\nretry_max_s = 30\n", "below 'retry_min_s'");
    expect_error("poll_s = 1\npoll_s = 2\n", "n.conf:2");
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(notify_http_classify(200), NOTIFY_SENT);
    assert_int_equal(notify_http_classify(204), NOTIFY_SENT);
    assert_int_equal(notify_http_classify(400), NOTIFY_DEAD);
    assert_int_equal(notify_http_classify(401), NOTIFY_DEAD);
    assert_int_equal(notify_http_classify(404), NOTIFY_DEAD);
    assert_int_equal(notify_http_classify(408), NOTIFY_RETRY);
    assert_int_equal(notify_http_classify(429), NOTIFY_RETRY);
    assert_int_equal(notify_http_classify(500), NOTIFY_RETRY);
    assert_int_equal(notify_http_classify(503), NOTIFY_RETRY);
    assert_int_equal(notify_http_classify(301), NOTIFY_DEAD);
    assert_int_equal(notify_http_classify_smtp(550), NOTIFY_DEAD);
    assert_int_equal(notify_http_classify_smtp(451), NOTIFY_RETRY);
    assert_int_equal(notify_http_classify_smtp(0), NOTIFY_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values_and_ssl),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
