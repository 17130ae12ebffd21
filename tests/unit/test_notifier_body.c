/* test_notifier_body: the webhook body v1 byte for byte (field order, nulls, escaping, the
 * detail embedded as JSON), Alertmanager's alert list, and the e-mail's headers: subject,
 * a Message-ID made from the key, no header injection from names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify_body.h"

static notify_event_t group_event(void)
{
    notify_event_t ev = {0};
    ev.id = 7;
    ev.outage_id = 12;
    ev.key = "12:opened:servers_offline";
    ev.event = "opened";
    ev.scope = "group";
    ev.subject = "XX";
    ev.group = "XX";
    ev.stage = "servers_offline";
    ev.started_at = "2026-12-05T00:10:00.000Z";
    ev.detail = "{\"down_targets\": [\"xx-web\"]}";
    return ev;
}

static void test_time(void **state)
{
    (void)state;
    char buf[NOTIFY_BODY_TIME_MAX];
    assert_string_equal(notify_body_time(1700000000123456, buf), "2023-11-14T22:13:20.123Z");
    assert_string_equal(notify_body_time(0, buf), "1970-01-01T00:00:00.000Z");
}

static void test_webhook_v1(void **state)
{
    (void)state;
    notify_event_t ev = group_event();
    size_t len;
    char *body = notify_body_webhook(&ev, "2026-12-05T00:10:01.500Z", &len);
    assert_non_null(body);
    assert_string_equal(body,
                        "{\"version\":1,\"key\":\"12:opened:servers_offline\",\"event\":\"opened\","
                        "\"late\":false,\"maintenance\":false,\"outage\":{\"id\":12,"
                        "\"scope\":\"group\",\"subject\":\"XX\",\"group\":\"XX\",\"role\":null,"
                        "\"stage\":\"servers_offline\",\"started_at\":\"2026-12-05T00:10:00.000Z\","
                        "\"ended_at\":null,\"detail\":{\"down_targets\": [\"xx-web\"]}},"
                        "\"sent_at\":\"2026-12-05T00:10:01.500Z\"}");
    assert_int_equal(len, strlen(body));
    free(body);
    /* Names are escaped; a closed target outage carries its end and role. */
    ev.scope = "target";
    ev.subject = "we\"ird\n";
    ev.role = "web";
    ev.ended_at = "2026-12-05T00:20:00.000Z";
    ev.late = 1;
    ev.detail = NULL;
    body = notify_body_webhook(&ev, "x", &len);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"subject\":\"we\\\"ird\\n\""));
    assert_non_null(strstr(body, "\"role\":\"web\""));
    assert_non_null(strstr(body, "\"ended_at\":\"2026-12-05T00:20:00.000Z\",\"detail\":{}"));
    assert_non_null(strstr(body, "\"late\":true"));
    free(body);
}

static void test_alerts(void **state)
{
    (void)state;
    notify_event_t ev = group_event();
    notify_body_alert_t a[2] = {
        {.ev = &ev, .ends_at = "2026-12-05T00:14:00.000Z"},
        {.ev = &ev, .stage = "degraded", .ends_at = "2026-12-05T00:10:01.000Z"}};
    size_t len;
    char *body = notify_body_alerts(a, 2, &len);
    assert_non_null(body);
    assert_string_equal(
        body,
        "[{\"labels\":{\"alertname\":\"ParallaxOutage\",\"scope\":\"group\",\"subject\":\"XX\","
        "\"stage\":\"servers_offline\",\"group\":\"XX\",\"severity\":\"critical\"},"
        "\"annotations\":{\"summary\":\"group XX: servers_offline since "
        "2026-12-05T00:10:00.000Z\",\"key\":\"12:opened:servers_offline\"},"
        "\"startsAt\":\"2026-12-05T00:10:00.000Z\",\"endsAt\":\"2026-12-05T00:14:00.000Z\"},"
        "{\"labels\":{\"alertname\":\"ParallaxOutage\",\"scope\":\"group\",\"subject\":\"XX\","
        "\"stage\":\"degraded\",\"group\":\"XX\",\"severity\":\"critical\"},"
        "\"annotations\":{\"summary\":\"group XX: degraded since "
        "2026-12-05T00:10:00.000Z\",\"key\":\"12:opened:servers_offline\"},"
        "\"startsAt\":\"2026-12-05T00:10:00.000Z\",\"endsAt\":\"2026-12-05T00:10:01.000Z\"}]");
    free(body);
    body = notify_body_alerts(NULL, 0, &len);
    assert_string_equal(body, "[]");
    free(body);
}

static void test_severity(void **state)
{
    (void)state;
    notify_event_t ev = group_event();
    assert_string_equal(notify_body_severity(&ev), "critical");
    ev.stage = "degraded";
    assert_string_equal(notify_body_severity(&ev), "warning");
    ev.scope = "vantage";
    ev.stage = "offline";
    assert_string_equal(notify_body_severity(&ev), "warning");
    ev.scope = "test";
    assert_string_equal(notify_body_severity(&ev), "info");
}

static void test_mail(void **state)
{
    (void)state;
    notify_event_t ev = group_event();
    char buf[300];
    assert_string_equal(notify_body_subject(&ev, buf, sizeof buf),
                        "[parallax] group XX servers_offline opened");
    assert_string_equal(notify_body_message_id(&ev, buf, sizeof buf),
                        "<12.opened.servers_offline@parallax>");
    size_t len;
    char *msg = notify_body_mail(&ev, "px@example.org", "a@example.org\nb@example.org",
                                 "Sat, 05 Dec 2026 00:10:01 +0000", &len);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "From: <px@example.org>\r\nTo: <a@example.org>,\r\n "
                                "<b@example.org>\r\nSubject: [parallax] group XX servers_offline "
                                "opened\r\n"));
    assert_non_null(strstr(msg, "\r\nMessage-ID: <12.opened.servers_offline@parallax>\r\n"));
    assert_non_null(strstr(msg, "\r\nX-Parallax-Key: 12:opened:servers_offline\r\n\r\n"));
    assert_non_null(strstr(msg, "stage    servers_offline\r\n"));
    free(msg);
    /* A name with CR LF cannot start a header of its own. */
    ev.subject = "XX\r\nBcc: victim@example.org";
    msg = notify_body_mail(&ev, "px@example.org", "a@example.org", "d", &len);
    assert_non_null(msg);
    assert_null(strstr(msg, "\r\nBcc:"));
    free(msg);
    assert_null(notify_body_mail(&ev, "px@example.org\r\nBcc: x", "a@example.org", "d", &len));
    assert_null(notify_body_mail(&ev, "px@example.org", "a@example.org>\r", "d", &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),   cmocka_unit_test(test_webhook_v1),
        cmocka_unit_test(test_alerts), cmocka_unit_test(test_severity),
        cmocka_unit_test(test_mail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
