/* config: a strict `key = value` reader. Strict because a daemon that guesses at a typo runs
 * with settings nobody chose. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_LINE 4096
/* A lone word this long may be a key (Z85 keys are 40 characters): not shown in errors. */
#define CONFIG_SHOWN_WORD_MAX 24

typedef struct config_entry {
    char *key;
    char *value;
    unsigned line;
} config_entry_t;

struct config {
    char *name;
    config_entry_t *entries;
    size_t count;
};

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int key_valid(const char *k)
{
    if (!*k)
        return 0;
    for (; *k; k++)
        if (!(isalnum((unsigned char)*k) || *k == '_' || *k == '.' || *k == '-'))
            return 0;
    return 1;
}

int config_key_is_secret(const char *key)
{
    size_t n = strlen(key);
    static const char *const ends[] = {"secret", "secret_key", "password"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t m = strlen(ends[i]);
        if (n >= m && strcasecmp(key + n - m, ends[i]) == 0)
            return 1;
    }
    return strcasestr(key, "password") != NULL;
}

const char *config_shown(const char *text, char *buf, size_t len)
{
    /* The first word: up to a blank, ':' or '='. */
    size_t w = strcspn(text, " \t:=");
    char word[128];
    if (w >= sizeof word) {
        snprintf(buf, len, "(%zu bytes, not shown: they may hold a secret)", strlen(text));
        return buf;
    }
    memcpy(word, text, w);
    word[w] = '\0';
    if (key_valid(word) && config_key_is_secret(word))
        snprintf(buf, len, "%s (the rest not shown: it is secret)", word);
    else if (!text[w] && w >= CONFIG_SHOWN_WORD_MAX)
        /* One long word and nothing else: a key pasted alone, perhaps. */
        snprintf(buf, len, "(%zu bytes, not shown: they may hold a secret)", w);
    else
        snprintf(buf, len, "%s", text);
    return buf;
}

static const config_entry_t *find(const config_t *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->count; i++)
        if (strcmp(cfg->entries[i].key, key) == 0)
            return &cfg->entries[i];
    return NULL;
}

static int add_entry(config_t *cfg, const char *key, const char *value, unsigned line, err_t *err)
{
    const config_entry_t *dup = find(cfg, key);
    if (dup) {
        err_set(err, "%s:%u: key '%s' given twice (first on line %u)", cfg->name, line, key,
                dup->line);
        return -1;
    }
    config_entry_t *grown = realloc(cfg->entries, (cfg->count + 1) * sizeof *grown);
    if (!grown) {
        err_set(err, "%s: out of memory", cfg->name);
        return -1;
    }
    cfg->entries = grown;
    config_entry_t *e = &cfg->entries[cfg->count];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        err_set(err, "%s: out of memory", cfg->name);
        return -1;
    }
    cfg->count++;
    return 0;
}

/* Cuts value at its comment: a '#' after a blank, once the value has begun. A value may
 * itself begin with '#' (a Z85 key can) and holds no blank before a '#' of its own. */
static char *strip_comment(char *value)
{
    while (isspace((unsigned char)*value))
        value++;
    for (char *c = value; *c; c++) {
        if (c > value && *c == '#' && isspace((unsigned char)c[-1])) {
            *c = '\0';
            break;
        }
    }
    return value;
}

config_t *config_parse(const char *name, const char *text, err_t *err)
{
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->name = strdup(name))) {
        free(cfg);
        err_set(err, "%s: out of memory", name);
        return NULL;
    }
    unsigned lineno = 0;
    const char *p = text;
    char buf[CONFIG_MAX_LINE]; /* one line at a time; wiped at the end, it may hold a key */
    while (*p) {
        lineno++;
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= CONFIG_MAX_LINE) {
            err_set(err, "%s:%u: line longer than %d bytes", name, lineno, CONFIG_MAX_LINE);
            goto fail;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        p += len + (nl ? 1 : 0);
        if (memchr(buf, '\0', len)) {
            err_set(err, "%s:%u: NUL byte in line", name, lineno);
            goto fail;
        }
        char *line = trim(buf);
        if (*line == '\0' || *line == '#')
            continue;
        char *eq = strchr(line, '=');
        char shown[CONFIG_MAX_LINE + 64];
        if (!eq) {
            err_set(err, "%s:%u: expected 'key = value', got '%s'", name, lineno,
                    config_shown(line, shown, sizeof shown));
            goto fail;
        }
        *eq = '\0';
        char *key = trim(line);
        char *value = trim(strip_comment(eq + 1));
        if (!key_valid(key)) {
            err_set(err, "%s:%u: invalid key '%s'", name, lineno,
                    config_shown(key, shown, sizeof shown));
            goto fail;
        }
        if (add_entry(cfg, key, value, lineno, err) < 0)
            goto fail;
    }
    explicit_bzero(buf, sizeof buf);
    return cfg;
fail:
    explicit_bzero(buf, sizeof buf);
    config_destroy(&cfg);
    return NULL;
}

config_t *config_read(const char *path, err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    config_t *cfg = NULL;
    if (failed)
        err_set(err, "%s: read error", path);
    else if (n > CONFIG_MAX_BYTES)
        err_set(err, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
    else if (memchr(text, '\0', n))
        err_set(err, "%s: contains a NUL byte (not a text file?)", path);
    else {
        text[n] = '\0';
        cfg = config_parse(path, text, err);
    }
    explicit_bzero(text, n < CONFIG_MAX_BYTES ? n : CONFIG_MAX_BYTES); /* it may hold a key */
    free(text);
    return cfg;
}

void config_destroy(config_t **cfg)
{
    if (!cfg || !*cfg)
        return;
    for (size_t i = 0; i < (*cfg)->count; i++) {
        free((*cfg)->entries[i].key);
        /* Values may be secret keys: wiped before the heap can hand their bytes out again. */
        explicit_bzero((*cfg)->entries[i].value, strlen((*cfg)->entries[i].value));
        free((*cfg)->entries[i].value);
    }
    free((*cfg)->entries);
    free((*cfg)->name);
    free(*cfg);
    *cfg = NULL;
}

int config_check_known(const config_t *cfg, const char *const *known, err_t *err)
{
    for (size_t i = 0; i < cfg->count; i++) {
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            if (strcmp(*k, cfg->entries[i].key) == 0)
                ok = 1;
        if (!ok) {
            err_set(err, "%s:%u: unknown key '%s'", cfg->name, cfg->entries[i].line,
                    cfg->entries[i].key);
            return -1;
        }
    }
    return 0;
}

const char *config_get(const config_t *cfg, const char *key)
{
    const config_entry_t *e = find(cfg, key);
    return e ? e->value : NULL;
}

const char *config_require(const config_t *cfg, const char *key, err_t *err)
{
    const config_entry_t *e = find(cfg, key);
    if (!e) {
        err_set(err, "%s: missing required key '%s'", cfg->name, key);
        return NULL;
    }
    if (!*e->value) {
        err_set(err, "%s:%u: key '%s' has an empty value", cfg->name, e->line, key);
        return NULL;
    }
    return e->value;
}

int config_get_uint(const config_t *cfg, const char *key, uint64_t min, uint64_t max, uint64_t dflt,
                    uint64_t *out, err_t *err)
{
    const config_entry_t *e = find(cfg, key);
    if (!e) {
        *out = dflt;
        return 0;
    }
    const char *v = e->value;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)*v) || *end || errno == ERANGE || n < min || n > max) {
        err_set(err, "%s:%u: bad value '%s' for '%s': expected an integer from %llu to %llu",
                cfg->name, e->line, config_key_is_secret(key) ? "(secret, not shown)" : v, key,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

int config_get_bool(const config_t *cfg, const char *key, int dflt, int *out, err_t *err)
{
    const config_entry_t *e = find(cfg, key);
    if (!e) {
        *out = dflt;
        return 0;
    }
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(e->value, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(e->value, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    err_set(err, "%s:%u: bad value '%s' for '%s': expected true or false", cfg->name, e->line,
            config_key_is_secret(key) ? "(secret, not shown)" : e->value, key);
    return -1;
}

const char *config_where(const config_t *cfg, const char *key, char *buf, unsigned len)
{
    const config_entry_t *e = find(cfg, key);
    if (e)
        snprintf(buf, len, "%s:%u", cfg->name, e->line);
    else
        snprintf(buf, len, "%s", cfg->name);
    return buf;
}
