/* test_ctl_notify: `notify add` arguments (kind, URL scheme per kind, a webhook's secret
 * file, e-mail addresses, the route's scopes, group and min-stage) and the secret file's
 * reading: bad input refused in one sentence naming it, the secret never in a message. */
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

#include "ctl_notify.h"

static int parse(int argc, char **argv, ctl_notify_receiver_t *r, err_t *err)
{
    return ctl_notify_parse_add(argc, argv, r, err);
}

static void test_add(void **state)
{
    (void)state;
    ctl_notify_receiver_t r;
    err_t err = {{0}};
    char *am[] = {"am", "--kind", "alertmanager", "--url", "http://127.0.0.1:9093"};
    assert_int_equal(parse(5, am, &r, &err), 0);
    assert_string_equal(r.name, "am");
    assert_null(r.scopes);
    assert_int_equal(r.with_group_targets, 0);

    char *hook[] = {"chat",
                    "--kind",
                    "webhook",
                    "--url",
                    "https://h.example/x",
                    "--secret-file",
                    "/etc/s",
                    "--scope",
                    "target,group",
                    "--group",
                    "XX",
                    "--min-stage",
                    "servers_offline",
                    "--with-group-targets",
                    "--disabled"};
    assert_int_equal(parse(15, hook, &r, &err), 0);
    assert_string_equal(r.scopes, "target,group");
    assert_string_equal(r.min_stage, "servers_offline");
    assert_int_equal(r.with_group_targets, 1);
    assert_int_equal(r.disabled, 1);

    char *mail[] = {"noc",
                    "--kind",
                    "email",
                    "--url",
                    "smtp://127.0.0.1:25",
                    "--from",
                    "px@example.net",
                    "--to",
                    "a@example.net,b@example.org",
                    "--min-stage",
                    "down"};
    assert_int_equal(parse(11, mail, &r, &err), 0);
    assert_string_equal(r.mail_to, "a@example.net,b@example.org");
}

/* argv is refused as a usage error whose message contains want. */
static void refused(int argc, char **argv, const char *want)
{
    ctl_notify_receiver_t r;
    err_t err = {{0}};
    assert_int_equal(parse(argc, argv, &r, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("'%s' lacks '%s'", err.msg, want);
    assert_null(strchr(err.msg, '\n'));
}

static void test_refusals(void **state)
{
    (void)state;
    refused(0, (char *[]){NULL}, "missing receiver NAME");
    refused(3, (char *[]){"x", "--url", "http://a"}, "missing --kind");
    refused(3, (char *[]){"x", "--kind", "webhook"}, "missing --url");
    refused(5, (char *[]){"x", "--kind", "sms", "--url", "http://a"}, "bad --kind 'sms'");
    refused(5, (char *[]){"bad name!", "--kind", "alertmanager", "--url", "http://a"}, "NAME");
    refused(5, (char *[]){"x", "--kind", "alertmanager", "--url", "ftp://a"}, "bad --url");
    refused(5, (char *[]){"x", "--kind", "alertmanager", "--url", "http://"}, "bad --url");
    refused(5, (char *[]){"x", "--kind", "alertmanager", "--url", "http://a b"}, "bad --url");
    refused(5, (char *[]){"x", "--kind", "email", "--url", "http://a"}, "smtp://");
    refused(5, (char *[]){"x", "--kind", "webhook", "--url", "http://a"}, "needs --secret-file");
    refused(7,
            (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--secret-file", "/s"},
            "--secret-file is for --kind webhook");
    refused(7, (char *[]){"x", "--kind", "email", "--url", "smtp://a", "--from", "p@e.net"},
            "needs --from ADDRESS and --to");
    refused(9,
            (char *[]){"x", "--kind", "email", "--url", "smtp://a", "--from", "nobody", "--to",
                       "a@b.c"},
            "bad --from 'nobody'");
    refused(9,
            (char *[]){"x", "--kind", "email", "--url", "smtp://a", "--from", "p@e.net", "--to",
                       "a@b.c,,d@e.f"},
            "bad --to ''");
    refused(9,
            (char *[]){"x", "--kind", "email", "--url", "smtp://a", "--from", "p@e.net", "--to",
                       "a@b.c,<d@e.f>"},
            "bad --to '<d@e.f>'");
    refused(7, (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--to", "a@b.c"},
            "--from and --to are for --kind email");
    refused(7, (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--scope", "targets"},
            "bad --scope 'targets'");
    refused(7,
            (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--min-stage", "dark"},
            "bad --min-stage 'dark'");
    refused(9,
            (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--scope", "target",
                       "--min-stage", "blackout"},
            "--min-stage blackout is a stage of group events");
    refused(8,
            (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--scope", "group",
                       "--with-group-targets"},
            "--with-group-targets is about target events");
    refused(7, (char *[]){"x", "--kind", "alertmanager", "--url", "http://a", "--group", "X\tY"},
            "--group");
}

/* Writes text to a new file of the given mode; returns its path (static buffer). */
static const char *secret_path(const char *text, mode_t mode)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_ctl_notify.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_secret(void **state)
{
    (void)state;
    char out[CTL_NOTIFY_SECRET_MAX + 1];
    err_t err = {{0}};
    const char *p = secret_path("s3cret-key\nignored\n", 0600);
    assert_int_equal(ctl_notify_read_secret(p, out, sizeof out, &err), 0);
    assert_string_equal(out, "s3cret-key");
    unlink(p);

    p = secret_path("s3cret-key\n", 0644);
    assert_int_equal(ctl_notify_read_secret(p, out, sizeof out, &err), -1);
    assert_null(strstr(err.msg, "s3cret"));
    unlink(p);

    p = secret_path("\n", 0600);
    assert_int_equal(ctl_notify_read_secret(p, out, sizeof out, &err), -1);
    assert_non_null(strstr(err.msg, "not empty"));
    unlink(p);

    p = secret_path("bad\tkey\n", 0600);
    assert_int_equal(ctl_notify_read_secret(p, out, sizeof out, &err), -1);
    assert_null(strstr(err.msg, "bad\tkey"));
    unlink(p);

    char *big = malloc(CTL_NOTIFY_SECRET_MAX + 10);
    assert_non_null(big);
    memset(big, 'k', CTL_NOTIFY_SECRET_MAX + 8);
    big[CTL_NOTIFY_SECRET_MAX + 8] = '\n';
    big[CTL_NOTIFY_SECRET_MAX + 9] = '\0';
    p = secret_path(big, 0600);
    free(big);
    assert_int_equal(ctl_notify_read_secret(p, out, sizeof out, &err), -1);
    assert_non_null(strstr(err.msg, "longer than"));
    unlink(p);

    assert_int_equal(ctl_notify_read_secret("/nonexistent/secret", out, sizeof out, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_add), cmocka_unit_test(test_refusals),
                                       cmocka_unit_test(test_secret)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
