/* notify_body: JSON through common/json on a memory stream; the e-mail by hand (its header
 * rules are few and strict). */
#include "notify_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

char *notify_body_time(int64_t unix_us, char *buf)
{
    time_t s = (time_t)(unix_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, NOTIFY_BODY_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, NOTIFY_BODY_TIME_MAX - n, ".%03dZ", (int)(unix_us % 1000000 / 1000));
    return buf;
}

/* A memory stream and a JSON writer on it; finish() closes both and hands over the text. */
typedef struct mem {
    char *buf;
    size_t len;
    FILE *f;
    json_t *json;
} mem_t;

static int mem_open(mem_t *m)
{
    memset(m, 0, sizeof *m);
    if (!(m->f = open_memstream(&m->buf, &m->len)))
        return -1;
    if (!(m->json = json_new(m->f))) {
        fclose(m->f);
        free(m->buf);
        return -1;
    }
    return 0;
}

static char *mem_finish(mem_t *m, size_t *len)
{
    int bad = json_error(m->json) < 0;
    json_destroy(&m->json);
    bad |= fclose(m->f) != 0;
    if (bad) {
        free(m->buf);
        return NULL;
    }
    /* json ends a top-level value with a newline; the body is the value alone. */
    if (m->len && m->buf[m->len - 1] == '\n')
        m->buf[--m->len] = '\0';
    *len = m->len;
    return m->buf;
}

char *notify_body_webhook(const notify_event_t *ev, const char *sent_at, size_t *len)
{
    mem_t m;
    if (mem_open(&m) < 0)
        return NULL;
    json_t *j = m.json;
    json_object_begin(j);
    json_key(j, "version");
    json_int(j, NOTIFY_BODY_VERSION);
    json_key(j, "key");
    json_string(j, ev->key);
    json_key(j, "event");
    json_string(j, ev->event);
    json_key(j, "late");
    json_bool(j, ev->late);
    json_key(j, "maintenance");
    json_bool(j, ev->maintenance);
    json_key(j, "outage");
    json_object_begin(j);
    json_key(j, "id");
    json_int(j, ev->outage_id);
    json_key(j, "scope");
    json_string(j, ev->scope);
    json_key(j, "subject");
    json_string(j, ev->subject);
    json_key(j, "group");
    json_string(j, ev->group);
    json_key(j, "role");
    json_string(j, ev->role);
    json_key(j, "stage");
    json_string(j, ev->stage);
    json_key(j, "started_at");
    json_string(j, ev->started_at);
    json_key(j, "ended_at");
    json_string(j, ev->ended_at);
    json_key(j, "detail");
    json_raw(j, ev->detail ? ev->detail : "{}");
    json_object_end(j);
    json_key(j, "sent_at");
    json_string(j, sent_at);
    json_object_end(j);
    return mem_finish(&m, len);
}

const char *notify_body_severity(const notify_event_t *ev)
{
    if (ev->scope && strcmp(ev->scope, "test") == 0)
        return "info";
    if (ev->scope && strcmp(ev->scope, "vantage") == 0)
        return "warning";
    if (ev->stage && (strcmp(ev->stage, "degraded") == 0 || strcmp(ev->stage, "partial") == 0))
        return "warning";
    return "critical";
}

static void label(json_t *j, const char *name, const char *value)
{
    if (!value)
        return;
    json_key(j, name);
    json_string(j, value);
}

char *notify_body_alerts(const notify_body_alert_t *alerts, size_t n, size_t *len)
{
    mem_t m;
    if (mem_open(&m) < 0)
        return NULL;
    json_t *j = m.json;
    json_array_begin(j);
    for (size_t i = 0; i < n; i++) {
        const notify_event_t *ev = alerts[i].ev;
        const char *stage = alerts[i].stage ? alerts[i].stage : ev->stage;
        json_object_begin(j);
        json_key(j, "labels");
        json_object_begin(j);
        label(j, "alertname", "ParallaxOutage");
        label(j, "scope", ev->scope);
        label(j, "subject", ev->subject);
        label(j, "stage", stage);
        label(j, "group", ev->group);
        label(j, "role", ev->role);
        label(j, "severity", notify_body_severity(ev));
        json_object_end(j);
        json_key(j, "annotations");
        json_object_begin(j);
        char summary[256];
        snprintf(summary, sizeof summary, "%s %s: %s since %s", ev->scope ? ev->scope : "",
                 ev->subject ? ev->subject : "", stage ? stage : "",
                 ev->started_at ? ev->started_at : "");
        label(j, "summary", summary);
        label(j, "key", ev->key);
        json_object_end(j);
        label(j, "startsAt", alerts[i].starts_at ? alerts[i].starts_at : ev->started_at);
        label(j, "endsAt", alerts[i].ends_at);
        json_object_end(j);
    }
    json_array_end(j);
    return mem_finish(&m, len);
}

/* Copies s into a header, control characters (CR, LF among them) as spaces. */
static void header_text(char *dst, size_t len, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < len; s++)
        dst[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    dst[n] = '\0';
}

char *notify_body_subject(const notify_event_t *ev, char *buf, size_t len)
{
    char raw[512];
    if (ev->event && strcmp(ev->event, "test") == 0)
        snprintf(raw, sizeof raw, "[parallax] test notification (%s)", ev->key ? ev->key : "");
    else
        snprintf(raw, sizeof raw, "[parallax] %s %s %s %s", ev->scope ? ev->scope : "",
                 ev->subject ? ev->subject : "", ev->stage ? ev->stage : "",
                 ev->event ? ev->event : "");
    header_text(buf, len, raw);
    return buf;
}

char *notify_body_message_id(const notify_event_t *ev, char *buf, size_t len)
{
    /* RFC 5322 dot-atom text: letters, digits and a few symbols; everything else becomes '.'. */
    static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
    size_t n = 0;
    if (len < 12) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    buf[n++] = '<';
    for (const char *p = ev->key ? ev->key : ""; *p && n + 11 < len; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c && strchr(atext, c));
        buf[n++] = ok ? (char)c : '.';
    }
    memcpy(buf + n, "@parallax>", 11);
    return buf;
}

static int address_ok(const char *s)
{
    return s && *s && !strpbrk(s, "\r\n<>");
}

char *notify_body_mail(const notify_event_t *ev, const char *from, const char *to, const char *date,
                       size_t *len)
{
    if (!address_ok(from) || !to || strpbrk(to, "\r<>"))
        return NULL;
    char subject[512], msgid[300];
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return NULL;
    fprintf(f, "From: <%s>\r\nTo: ", from);
    int first = 1;
    for (const char *p = to; *p;) {
        size_t n = strcspn(p, "\n");
        if (n) {
            fprintf(f, "%s<%.*s>", first ? "" : ",\r\n ", (int)n, p);
            first = 0;
        }
        p += n;
        if (*p)
            p++;
    }
    fprintf(f,
            "\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "Auto-Submitted: auto-generated\r\nX-Parallax-Key: ",
            notify_body_subject(ev, subject, sizeof subject), date,
            notify_body_message_id(ev, msgid, sizeof msgid));
    char key[256];
    header_text(key, sizeof key, ev->key);
    fprintf(f, "%s\r\n\r\n", key);
    /* The text: one fact a line, so a reader (or a filter) finds each at a glance. Lines that
     * begin with '.' are doubled by curl's SMTP upload, not here. */
    const struct {
        const char *name, *value;
    } lines[] = {{"event", ev->event},        {"scope", ev->scope},    {"subject", ev->subject},
                 {"group", ev->group},        {"role", ev->role},      {"stage", ev->stage},
                 {"started", ev->started_at}, {"ended", ev->ended_at}, {"key", ev->key}};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i].value)
            continue;
        char v[512];
        header_text(v, sizeof v, lines[i].value);
        fprintf(f, "%-8s %s\r\n", lines[i].name, v);
    }
    if (ev->late)
        fputs("late     yes (re-judged from results that arrived late)\r\n", f);
    if (ev->maintenance)
        fputs("note     the subject was in a maintenance window\r\n", f);
    if (ev->detail)
        fprintf(f, "\r\ndetail:\r\n%s\r\n", ev->detail);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = blen;
    return buf;
}
