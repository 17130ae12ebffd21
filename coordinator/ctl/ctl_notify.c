/* ctl_notify: `parallaxctl notify ...`; routing and delivery are the schema's and the
 * notifier's (schema/definitions/55_notify.sql, notifier/). */
#include "ctl_notify.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_args.h"
#include "ctl_parse.h"
#include "ctl_table.h"
#include "secret_file.h"

/* How often `notify test` looks at its delivery while it waits. */
#define TEST_POLL_MS 200
/* Most rows `notify log` prints. */
#define LOG_LIMIT_MAX 10000

/* The stages a route's min-stage may name, and the scopes that have each (as
 * parallax.notify_stage_scopes says). */
static const struct {
    const char *stage;
    const char *scopes;
} stages[] = {
    {"impaired", "vantage"}, {"offline", "vantage"}, {"degraded", "target,group"},
    {"partial", "target"},   {"down", "target"},     {"servers_offline", "group"},
    {"dns_down", "group"},   {"blackout", "group"},
};

static const char *const scope_names[] = {"vantage", "target", "group"};

/* Whether the comma-separated list has word. */
static int list_has(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* Checks a comma-separated list of scopes. Returns 0 or -1 (err set). */
static int check_scopes(const char *s, err_t *err)
{
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int known = 0;
        for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
            known |= strlen(scope_names[i]) == len && strncmp(p, scope_names[i], len) == 0;
        if (!known) {
            err_set(err,
                    "bad --scope '%s': expected vantage, target, group or a list such as "
                    "target,group",
                    s);
            return -1;
        }
        if (!end)
            return 0;
        p = end + 1;
    }
}

/* The scopes stage belongs to ("target,group"), or NULL for no stage of that name. */
static const char *stage_scopes(const char *stage)
{
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
        if (strcmp(stages[i].stage, stage) == 0)
            return stages[i].scopes;
    return NULL;
}

/* Checks that s starts with one of the two schemes, has something after it and holds no
 * space or control character. Returns 0 or -1 (err set). */
static int check_url(const char *s, const char *kind, const char *a, const char *b, err_t *err)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t skip = strncmp(s, a, la) == 0 ? la : strncmp(s, b, lb) == 0 ? lb : 0;
    int ok = skip > 0 && s[skip] != '\0' && strlen(s) <= CTL_NOTIFY_URL_MAX;
    for (const char *p = s; ok && *p; p++)
        ok = !isspace((unsigned char)*p) && !iscntrl((unsigned char)*p);
    if (!ok) {
        err_set(err, "bad --url for %s: expected %s... or %s... without spaces, at most %d bytes",
                kind, a, b, CTL_NOTIFY_URL_MAX);
        return -1;
    }
    return 0;
}

/* Checks an e-mail address: local@domain, printable, no space or delimiter. */
static int check_address(const char *label, const char *s, size_t len, err_t *err)
{
    const char *at = memchr(s, '@', len);
    int ok = len > 0 && at && at != s && at != s + len - 1;
    for (size_t i = 0; ok && i < len; i++)
        ok = isgraph((unsigned char)s[i]) && !strchr("<>,;\"\\", s[i]);
    if (!ok) {
        err_set(err, "bad %s '%.*s': expected an address such as noc@example.net", label, (int)len,
                s);
        return -1;
    }
    return 0;
}

/* Checks the e-mail options: both for email, neither otherwise. */
static int check_mail(const ctl_notify_receiver_t *r, int email, err_t *err)
{
    if (!email) {
        if (r->mail_from || r->mail_to) {
            err_set(err, "--from and --to are for --kind email");
            return -1;
        }
        return 0;
    }
    if (!r->mail_from || !r->mail_to) {
        err_set(err, "--kind email needs --from ADDRESS and --to ADDRESS[,ADDRESS...]");
        return -1;
    }
    if (check_address("--from", r->mail_from, strlen(r->mail_from), err) < 0)
        return -1;
    if (strlen(r->mail_to) > CTL_NOTIFY_TO_MAX) {
        err_set(err, "--to is longer than %d bytes", CTL_NOTIFY_TO_MAX);
        return -1;
    }
    for (const char *p = r->mail_to;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (check_address("--to", p, len, err) < 0)
            return -1;
        if (!end)
            return 0;
        p = end + 1;
    }
}

/* Checks the route: scopes, group and a min-stage one of the scopes has. */
static int check_route(const ctl_notify_receiver_t *r, err_t *err)
{
    if (r->scopes && check_scopes(r->scopes, err) < 0)
        return -1;
    if (r->group && ctl_parse_line("--group", r->group, CTL_PARSE_GROUP_MAX, err) < 0)
        return -1;
    if (r->min_stage) {
        const char *has = stage_scopes(r->min_stage);
        if (!has) {
            err_set(err,
                    "bad --min-stage '%s': expected a stage: impaired, offline (vantages); "
                    "degraded, partial, down (targets); degraded, servers_offline, dns_down, "
                    "blackout (groups)",
                    r->min_stage);
            return -1;
        }
        int any = !r->scopes;
        for (size_t i = 0; !any && i < sizeof scope_names / sizeof scope_names[0]; i++)
            any = list_has(r->scopes, scope_names[i]) && list_has(has, scope_names[i]);
        if (!any) {
            err_set(err, "--min-stage %s is a stage of %s events, which --scope %s leaves out",
                    r->min_stage, has, r->scopes);
            return -1;
        }
    }
    if (r->with_group_targets && r->scopes && !list_has(r->scopes, "target")) {
        err_set(err, "--with-group-targets is about target events, which --scope %s leaves out",
                r->scopes);
        return -1;
    }
    return 0;
}

int ctl_notify_parse_add(int argc, char **argv, ctl_notify_receiver_t *r, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"kind", 0, 1, 0},     {"url", 0, 1, 0},       {"secret-file", 0, 1, 0},
        {"from", 0, 1, 0},     {"to", 0, 1, 0},        {"scope", 0, 1, 0},
        {"group", 0, 1, 0},    {"min-stage", 0, 1, 0}, {"with-group-targets", 0, 0, 0},
        {"disabled", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    memset(r, 0, sizeof *r);
    r->name = ctl_args_pos(args, 0);
    r->kind = ctl_args_value(args, "kind", 0);
    r->url = ctl_args_value(args, "url", 0);
    r->secret_file = ctl_args_value(args, "secret-file", 0);
    r->mail_from = ctl_args_value(args, "from", 0);
    r->mail_to = ctl_args_value(args, "to", 0);
    r->scopes = ctl_args_value(args, "scope", 0);
    r->group = ctl_args_value(args, "group", 0);
    r->min_stage = ctl_args_value(args, "min-stage", 0);
    r->with_group_targets = ctl_args_count(args, "with-group-targets") > 0;
    r->disabled = ctl_args_count(args, "disabled") > 0;
    ctl_args_destroy(&args);

    if (!r->name) {
        err_set(err, "missing receiver NAME");
        return -1;
    }
    if (ctl_parse_name("receiver NAME", r->name, err) < 0)
        return -1;
    if (!r->kind || !r->url) {
        err_set(err, "missing %s", r->kind ? "--url" : "--kind alertmanager|webhook|email");
        return -1;
    }
    int webhook = strcmp(r->kind, "webhook") == 0, email = strcmp(r->kind, "email") == 0;
    if (!webhook && !email && strcmp(r->kind, "alertmanager") != 0) {
        err_set(err, "bad --kind '%s': expected alertmanager, webhook or email", r->kind);
        return -1;
    }
    if (email ? check_url(r->url, r->kind, "smtp://", "smtps://", err)
              : check_url(r->url, r->kind, "http://", "https://", err))
        return -1;
    if (webhook != (r->secret_file != NULL)) {
        err_set(err, "%s",
                webhook ? "--kind webhook needs --secret-file FILE (its HMAC key)"
                        : "--secret-file is for --kind webhook");
        return -1;
    }
    if (r->secret_file && r->secret_file[0] == '\0') {
        err_set(err, "bad --secret-file: empty");
        return -1;
    }
    if (check_mail(r, email, err) < 0)
        return -1;
    return check_route(r, err);
}

int ctl_notify_read_secret(const char *path, char *out, size_t cap, err_t *err)
{
    if (secret_file_check(path, "secret file", err) < 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[CTL_NOTIFY_SECRET_MAX + 2];
    int rc = -1;
    if (!fgets(line, sizeof line, f)) {
        err_set(err, "%s: empty: write the webhook's key on its first line", path);
    } else {
        size_t n = strcspn(line, "\r\n");
        int printable = n > 0;
        for (size_t i = 0; printable && i < n; i++)
            printable = isprint((unsigned char)line[i]);
        if (n == strlen(line) && !feof(f))
            err_set(err, "%s: the key is longer than %d bytes", path, CTL_NOTIFY_SECRET_MAX);
        else if (!printable)
            err_set(err, "%s: the first line must be the key: not empty, printable characters",
                    path);
        else if (n + 1 > cap)
            err_set(err, "%s: the key is too long", path);
        else {
            memcpy(out, line, n);
            out[n] = '\0';
            rc = 0;
        }
    }
    /* The key stays in out only. */
    explicit_bzero(line, sizeof line);
    fclose(f);
    return rc;
}

/* One statement: nothing is inserted when the route names a group no target has. */
static const char add_sql[] =
    "INSERT INTO parallax.notify_receivers (name, kind, url, secret, mail_from, mail_to, scopes, "
    "group_name, min_stage, with_group_targets, enabled) "
    "SELECT $1, $2::parallax.notify_kind, $3, $4, $5, string_to_array($6, ','), "
    "string_to_array($7, ','), $8, $9, $10::boolean, NOT $11::boolean "
    "WHERE $8::text IS NULL OR EXISTS (SELECT 1 FROM parallax.targets WHERE group_name = $8)";

int ctl_notify_add(ctl_db_t *db, const ctl_notify_receiver_t *r, const char *secret, FILE *out,
                   err_t *err)
{
    const char *params[] = {r->name,
                            r->kind,
                            r->url,
                            secret,
                            r->mail_from,
                            r->mail_to,
                            r->scopes,
                            r->group,
                            r->min_stage,
                            r->with_group_targets ? "true" : "false",
                            r->disabled ? "true" : "false"};
    long n = ctl_db_exec(db, add_sql, 11, params, err);
    if (n < 0) {
        const char *state = ctl_db_sqlstate(db);
        if (state && strcmp(state, "23505") == 0)
            err_set(err, "a receiver named '%s' exists (notify remove it first)", r->name);
        return -1;
    }
    if (n == 0) {
        err_set(err, "no target has group '%s'", r->group);
        return -1;
    }
    if (fprintf(out, "added receiver %s (%s %s)%s\n", r->name, r->kind, r->url,
                r->disabled ? ", disabled" : "") < 0) {
        err_set(err, "receiver added, but the report could not be written: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Per receiver: its route in words and its deliveries by state. */
#define RECEIVER_ROWS                                                                              \
    "SELECT r.name, r.kind::text AS kind, r.url, "                                                 \
    "coalesce(array_to_string(r.scopes, ','), 'all') AS scopes, "                                  \
    "coalesce(r.group_name, 'all') AS group_name, coalesce(r.min_stage, 'any') AS min_stage, "     \
    "r.with_group_targets, r.enabled, "                                                            \
    "count(*) FILTER (WHERE d.state = 'pending') AS pending, "                                     \
    "count(*) FILTER (WHERE d.state = 'sent') AS sent, "                                           \
    "count(*) FILTER (WHERE d.state = 'dead') AS dead, "                                           \
    "count(*) FILTER (WHERE d.state = 'suppressed') AS suppressed "                                \
    "FROM parallax.notify_receivers r "                                                            \
    "LEFT JOIN parallax.notify_deliveries d ON d.receiver_id = r.id "                              \
    "GROUP BY r.id ORDER BY r.name"

/* Writes what json_sql returns (one JSON text) when json is set, else the rows of table_sql
 * as a table under headers. Returns 0 or -1 (err set). */
static int print_query(ctl_db_t *db, int json, const char *json_sql, const char *table_sql,
                       int nparams, const char *const *params, size_t ncols,
                       const char *const *headers, FILE *out, err_t *err)
{
    int rc;
    if (json) {
        char *doc = ctl_db_query_text(db, json_sql, nparams, params, err);
        if (!doc)
            return -1;
        rc = fprintf(out, "%s\n", doc) < 0 ? -1 : 0;
        free(doc);
    } else {
        ctl_rows_t *rows = ctl_db_query(db, table_sql, nparams, params, err);
        if (!rows)
            return -1;
        rc = ctl_table_print_rows(rows, ncols, headers, out);
        ctl_rows_destroy(&rows);
    }
    if (rc < 0)
        err_set(err, "cannot write: %s", errno ? strerror(errno) : "out of memory");
    return rc;
}

/* 0 if a receiver is named name, else -1 with err set. */
static int receiver_known(ctl_db_t *db, const char *name, err_t *err)
{
    const char *params[] = {name};
    ctl_rows_t *rows =
        ctl_db_query(db, "SELECT 1 FROM parallax.notify_receivers WHERE name = $1", 1, params, err);
    if (!rows)
        return -1;
    size_t n = ctl_rows_count(rows);
    ctl_rows_destroy(&rows);
    if (n == 0) {
        err_set(err, "no receiver named '%s'", name);
        return -1;
    }
    return 0;
}

int ctl_notify_list(ctl_db_t *db, int json, FILE *out, err_t *err)
{
    static const char *const headers[] = {"NAME",    "KIND",      "URL",           "SCOPES",
                                          "GROUP",   "MIN_STAGE", "GROUP_TARGETS", "ENABLED",
                                          "PENDING", "SENT",      "DEAD",          "SUPPRESSED"};
    return print_query(
        db, json,
        "SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.name), '[]')::text FROM (" RECEIVER_ROWS
        ") x",
        "SELECT name, kind, url, scopes, group_name, min_stage, "
        "CASE WHEN with_group_targets THEN 'yes' ELSE 'no' END, "
        "CASE WHEN enabled THEN 'yes' ELSE 'no' END, pending::text, sent::text, dead::text, "
        "suppressed::text FROM (" RECEIVER_ROWS ") x",
        0, NULL, 12, headers, out, err);
}

int ctl_notify_remove(ctl_db_t *db, const char *name, FILE *out, err_t *err)
{
    const char *params[] = {name};
    long n =
        ctl_db_exec(db, "DELETE FROM parallax.notify_receivers WHERE name = $1", 1, params, err);
    if (n < 0)
        return -1;
    if (n == 0) {
        err_set(err, "no receiver named '%s'", name);
        return -1;
    }
    if (fprintf(out, "removed receiver %s and its deliveries\n", name) < 0) {
        err_set(err, "receiver removed, but the report could not be written: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The test event and its one delivery, routed already so that no other receiver gets it.
 * Its key is unique per call: "test:NAME:MICROSECONDS". */
static const char test_sql[] =
    "WITH r AS (SELECT id, name FROM parallax.notify_receivers WHERE name = $1), "
    "e AS (INSERT INTO parallax.notify_events (key, outage_id, event, scope, subject_id, "
    "subject, stage, started_at, late, maintenance, detail, routed_at) "
    "SELECT format('test:%s:%s', r.name, (extract(epoch FROM clock_timestamp()) * "
    "1000000)::bigint), "
    "0, 'test', 'test', 0, r.name, 'test', now(), false, false, "
    "jsonb_build_object('note', 'a test from parallaxctl notify test'), now() FROM r "
    "RETURNING id, key), "
    "d AS (INSERT INTO parallax.notify_deliveries (event_id, receiver_id) "
    "SELECT e.id, r.id FROM e, r RETURNING event_id) "
    "SELECT d.event_id::text, e.key, pg_notify('parallax_notify', '')::text FROM d, e";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int ctl_notify_test(ctl_db_t *db, const char *name, unsigned wait_s, FILE *out, err_t *err)
{
    const char *params[] = {name};
    ctl_rows_t *rows = ctl_db_query(db, test_sql, 1, params, err);
    if (!rows)
        return -1;
    if (ctl_rows_count(rows) == 0) {
        ctl_rows_destroy(&rows);
        err_set(err, "no receiver named '%s'", name);
        return -1;
    }
    char event[32], key[128];
    snprintf(event, sizeof event, "%s", ctl_rows_get(rows, 0, 0));
    snprintf(key, sizeof key, "%s", ctl_rows_get(rows, 0, 1));
    ctl_rows_destroy(&rows);

    /* The sender is another process: its progress shows only in the row, which is looked at
     * every TEST_POLL_MS, for wait_s seconds at most. */
    const char *ev[] = {event};
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        rows = ctl_db_query(db,
                            "SELECT state, attempts::text, coalesce(last_error, reason, '') "
                            "FROM parallax.notify_deliveries WHERE event_id = $1::bigint",
                            1, ev, err);
        if (!rows)
            return -1;
        const char *state = ctl_rows_count(rows) ? ctl_rows_get(rows, 0, 0) : "gone";
        clock_gettime(CLOCK_MONOTONIC, &t);
        double took = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
        int rc = 1;
        if (strcmp(state, "sent") == 0) {
            rc = fprintf(out, "%s accepted the test message %s after %.1f s (%s attempt(s))\n",
                         name, key, took, ctl_rows_get(rows, 0, 1)) < 0
                     ? -1
                     : 0;
            if (rc < 0)
                err_set(err, "sent, but the report could not be written: %s", strerror(errno));
        } else if (strcmp(state, "pending") != 0) {
            err_set(err, "%s refused the test message %s for good: %s", name, key,
                    ctl_rows_count(rows) ? ctl_rows_get(rows, 0, 2) : "its delivery is gone");
            rc = -1;
        } else if (took >= wait_s) {
            const char *attempts = ctl_rows_get(rows, 0, 1);
            if (strcmp(attempts, "0") == 0)
                err_set(err,
                        "the test message %s was not tried within %u s: is parallax-notifier "
                        "running on this database?",
                        key, wait_s);
            else
                err_set(err,
                        "the test message %s is not delivered after %s attempt(s) in %u s: "
                        "%s (it will be tried again)",
                        key, attempts, wait_s, ctl_rows_get(rows, 0, 2));
            rc = -1;
        }
        ctl_rows_destroy(&rows);
        if (rc <= 0)
            return rc;
        sleep_ms(TEST_POLL_MS);
    }
}

#define LOG_ROWS                                                                                   \
    "SELECT e.created_at, r.name AS receiver, e.key, e.event, e.scope, e.subject, e.stage, "       \
    "d.state, d.attempts, d.sent_at, coalesce(d.last_error, '') AS last_error, "                   \
    "coalesce(d.reason, '') AS reason "                                                            \
    "FROM parallax.notify_deliveries d "                                                           \
    "JOIN parallax.notify_events e ON e.id = d.event_id "                                          \
    "JOIN parallax.notify_receivers r ON r.id = d.receiver_id "                                    \
    "WHERE ($1::text IS NULL OR r.name = $1) AND (NOT $2::boolean OR d.state = 'dead') "           \
    "ORDER BY e.id DESC, r.name LIMIT $3::integer"

int ctl_notify_log(ctl_db_t *db, const char *name, int dead, unsigned limit, int json, FILE *out,
                   err_t *err)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%u", limit);
    const char *params[] = {name, dead ? "true" : "false", lim};
    if (name && receiver_known(db, name, err) < 0)
        return -1;
    static const char *const headers[] = {"EVENT_UTC", "RECEIVER", "KEY",
                                          "STATE",     "ATTEMPTS", "LAST_ERROR"};
    return print_query(
        db, json, "SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]')::text FROM (" LOG_ROWS ") x",
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), receiver, "
        "key, state, attempts::text, CASE WHEN state = 'suppressed' THEN reason "
        "ELSE last_error END FROM (" LOG_ROWS ") x",
        3, params, 6, headers, out, err);
}

long ctl_notify_retry(ctl_db_t *db, const char *name, FILE *out, err_t *err)
{
    const char *params[] = {name};
    if (name && receiver_known(db, name, err) < 0)
        return -1;
    ctl_rows_t *rows = ctl_db_query(
        db,
        "WITH w AS (UPDATE parallax.notify_deliveries d SET state = 'pending', next_at = now(), "
        "attempts = 0, reason = NULL FROM parallax.notify_receivers r "
        "WHERE r.id = d.receiver_id AND d.state = 'dead' AND ($1::text IS NULL OR r.name = $1) "
        "RETURNING 1) SELECT count(*)::text FROM w",
        1, params, err);
    if (!rows)
        return -1;
    long queued = atol(ctl_rows_get(rows, 0, 0));
    ctl_rows_destroy(&rows);
    /* Wakes the sender now rather than at its next poll. */
    if (queued > 0 && ctl_db_exec(db, "NOTIFY parallax_notify", 0, NULL, err) < 0)
        return -1;
    if (fprintf(out, "%ld dead deliveries queued again\n", queued) < 0) {
        err_set(err, "queued, but the report could not be written: %s", strerror(errno));
        return -1;
    }
    return queued;
}

int ctl_notify_status(ctl_db_t *db, FILE *out, err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(
        db,
        "SELECT count(*) FILTER (WHERE d.state = 'pending')::text, "
        "count(*) FILTER (WHERE d.state = 'dead' AND e.created_at > now() - interval '1 "
        "day')::text "
        "FROM parallax.notify_receivers r LEFT JOIN parallax.notify_deliveries d "
        "ON d.receiver_id = r.id LEFT JOIN parallax.notify_events e ON e.id = d.event_id "
        "HAVING count(DISTINCT r.id) > 0",
        0, NULL, err);
    if (!rows)
        return -1;
    int rc = 0;
    if (ctl_rows_count(rows) > 0 &&
        fprintf(out, "\nnotifications: %s pending, %s failed for good in the last day%s\n",
                ctl_rows_get(rows, 0, 0), ctl_rows_get(rows, 0, 1),
                strcmp(ctl_rows_get(rows, 0, 1), "0") ? " (parallaxctl notify log --dead)" : "") <
            0) {
        err_set(err, "cannot write the status: %s", strerror(errno));
        rc = -1;
    }
    ctl_rows_destroy(&rows);
    return rc;
}

static const char usage_notify[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify add|list|remove|test|log|retry ...\n"
    "\n"
    "Receivers of outage notifications and what was delivered to them. Every outage event\n"
    "(opened, a worse stage, closed, reopened, withdrawn) is written to parallax.notify_events\n"
    "with the verdict; parallax-notifier delivers it to each receiver whose route takes it.\n"
    "  notify add NAME --kind K --url URL ...   a receiver and its route\n"
    "  notify list                              receivers, routes, deliveries by state\n"
    "  notify remove NAME                       a receiver and its deliveries\n"
    "  notify test NAME                         a test message through the real sender\n"
    "  notify log [NAME] [--dead]               the newest deliveries, the dead-letter\n"
    "  notify retry NAME | --all                dead deliveries queued again\n"
    "See docs/notifications.md.\n";

static const char usage_notify_add[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify add NAME --kind alertmanager|webhook|email\n"
    "       --url URL [--secret-file FILE] [--from ADDRESS --to ADDRESS[,ADDRESS...]]\n"
    "       [--scope SCOPE[,SCOPE...]] [--group G] [--min-stage STAGE] [--with-group-targets]\n"
    "       [--disabled]\n"
    "\n"
    "Adds a receiver. Each receiver is one route: which events go where.\n"
    "  --kind alertmanager  --url http(s)://HOST:9093: alerts through its API v2\n"
    "  --kind webhook       --url http(s)://...: a signed JSON POST; needs --secret-file\n"
    "  --kind email         --url smtp(s)://HOST[:PORT]: needs --from and --to\n"
    "  --secret-file FILE   the webhook's HMAC-SHA256 key, the file's first line; the file\n"
    "                       must be private to its owner (mode 0600)\n"
    "  --from ADDRESS       the e-mail sender\n"
    "  --to ADDRESS,...     the e-mail recipients\n"
    "  --scope LIST         events of these scopes only: vantage, target, group (default all)\n"
    "  --group G            events of group G and its targets only\n"
    "  --min-stage STAGE    events of the stage's scope that reached it or worse (vantage:\n"
    "                       impaired, offline; target: degraded, partial, down; group:\n"
    "                       degraded, servers_offline, dns_down, blackout)\n"
    "  --with-group-targets target events also while their group has an outage (by default\n"
    "                       a group's outage stands for its targets': one alert, not one per\n"
    "                       server)\n"
    "  --disabled           added switched off\n";

static const char usage_notify_list[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify list [--json]\n"
    "\n"
    "Lists the receivers: kind, URL, route (scopes, group, min-stage, group targets), whether\n"
    "enabled, and their deliveries by state (pending, sent, dead, suppressed). Never a secret.\n"
    "  --json   a JSON array of the same\n";

static const char usage_notify_remove[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify remove NAME\n"
    "\n"
    "Removes a receiver and its deliveries (the events stay in parallax.notify_events).\n";

static const char usage_notify_test[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify test NAME [--wait SECONDS]\n"
    "\n"
    "Puts a test message for receiver NAME alone in the outbox (event \"test\") and waits for\n"
    "parallax-notifier to deliver it. Exit 0 once the receiver accepted it; 1 if it refused\n"
    "it for good (its answer is printed), or it is still failing, or no sender tried it.\n"
    "  --wait SECONDS   how long to wait (1 to 600, default 30)\n";

static const char usage_notify_log[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify log [NAME] [--dead] [--limit N] [--json]\n"
    "\n"
    "The newest deliveries, of receiver NAME or of all: the event's time and idempotency key,\n"
    "state (pending, sent, dead, suppressed), attempts, the last error (or why suppressed).\n"
    "  --dead      only those that failed for good (a 4xx answer, or given up): the\n"
    "              dead-letter; 'notify retry' queues them again\n"
    "  --limit N   at most N rows (default 50)\n"
    "  --json      a JSON array\n";

static const char usage_notify_retry[] =
    "usage: " CTL_PROG " [--db CONNINFO] notify retry NAME | --all\n"
    "\n"
    "Queues the dead deliveries of receiver NAME (or of every receiver) again, to be tried\n"
    "now: after the receiver was fixed.\n";

/* The NAME positional of remove and test: given, and a name. */
static const char *receiver_name(const ctl_args_t *args, err_t *err)
{
    const char *name = ctl_args_pos(args, 0);
    if (!name) {
        err_set(err, "missing receiver NAME (see 'notify list')");
        return NULL;
    }
    return ctl_parse_name("receiver NAME", name, err) < 0 ? NULL : name;
}

static int cmd_notify_add(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_notify_receiver_t r;
    if (ctl_notify_parse_add(argc, argv, &r, err) < 0)
        return CTL_EXIT_USAGE;
    char secret[CTL_NOTIFY_SECRET_MAX + 1];
    if (r.secret_file && ctl_notify_read_secret(r.secret_file, secret, sizeof secret, err) < 0)
        return CTL_EXIT_FAIL;
    ctl_db_t *db = ctl_session_db(s, err);
    int rc = db && ctl_notify_add(db, &r, r.secret_file ? secret : NULL, stdout, err) == 0
                 ? CTL_EXIT_OK
                 : CTL_EXIT_FAIL;
    explicit_bzero(secret, sizeof secret);
    return rc;
}

static int cmd_notify_list(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return CTL_EXIT_USAGE;
    int json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_notify_list(db, json, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_notify_remove(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    const char *name = receiver_name(args, err);
    ctl_args_destroy(&args);
    if (!name)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_notify_remove(db, name, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_notify_test(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{"wait", 0, 1, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    const char *name = receiver_name(args, err);
    const char *wait = ctl_args_value(args, "wait", 0);
    uint64_t wait_s = 30;
    int bad =
        !name || (wait && ctl_parse_uint("--wait", wait, 1, CTL_NOTIFY_WAIT_MAX, &wait_s, err) < 0);
    ctl_args_destroy(&args);
    if (bad)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_notify_test(db, name, (unsigned)wait_s, stdout, err))
              : CTL_EXIT_FAIL;
}

static int cmd_notify_log(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"dead", 0, 0, 0}, {"limit", 0, 1, 0}, {"json", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    const char *name = ctl_args_pos(args, 0);
    const char *limit = ctl_args_value(args, "limit", 0);
    uint64_t n = 50;
    int bad = (name && ctl_parse_name("receiver NAME", name, err) < 0) ||
              (limit && ctl_parse_uint("--limit", limit, 1, LOG_LIMIT_MAX, &n, err) < 0);
    int dead = ctl_args_count(args, "dead") > 0, json = ctl_args_count(args, "json") > 0;
    ctl_args_destroy(&args);
    if (bad)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_notify_log(db, name, dead, (unsigned)n, json, stdout, err))
              : CTL_EXIT_FAIL;
}

static int cmd_notify_retry(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    static const ctl_opt_t opts[] = {{"all", 0, 0, 0}, {NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return CTL_EXIT_USAGE;
    const char *name = ctl_args_pos(args, 0);
    int all = ctl_args_count(args, "all") > 0;
    int bad = 0;
    if ((name != NULL) == all) {
        err_set(err, "%s", all ? "give NAME or --all, not both" : "missing receiver NAME or --all");
        bad = 1;
    } else if (name && ctl_parse_name("receiver NAME", name, err) < 0) {
        bad = 1;
    }
    ctl_args_destroy(&args);
    if (bad)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_notify_retry(db, name, stdout, err) < 0 ? -1 : 0) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_notify_commands[] = {
    {"notify", NULL, usage_notify, NULL},
    {"notify", "add", usage_notify_add, cmd_notify_add},
    {"notify", "list", usage_notify_list, cmd_notify_list},
    {"notify", "remove", usage_notify_remove, cmd_notify_remove},
    {"notify", "test", usage_notify_test, cmd_notify_test},
    {"notify", "log", usage_notify_log, cmd_notify_log},
    {"notify", "retry", usage_notify_retry, cmd_notify_retry},
};
const size_t ctl_notify_command_count = sizeof ctl_notify_commands / sizeof ctl_notify_commands[0];
