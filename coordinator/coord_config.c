/* coord_config: strict parsing of the coordinator's config file. */
#include "coord_config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static int copy_text(const config_t *cfg, const char *key, const char *value, char *dst, err_t *err)
{
    char where[COORD_CONFIG_TEXT_MAX];
    if (strlen(value) >= COORD_CONFIG_TEXT_MAX) {
        err_set(err, "%s: value of '%s' is too long", config_where(cfg, key, where, sizeof where),
                key);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* A ZeroMQ TCP endpoint: tcp://HOST:PORT. Checked here so a typo is reported with its line,
 * not as a bind failure later. */
static int endpoint_ok(const char *s)
{
    if (strncmp(s, "tcp://", 6) != 0)
        return 0;
    const char *colon = strrchr(s + 6, ':');
    if (!colon || colon == s + 6 || !colon[1])
        return 0;
    for (const char *p = colon + 1; *p; p++)
        if ((*p < '0' || *p > '9') && !(*p == '*' && p == colon + 1 && !p[1]))
            return 0;
    return 1;
}

/* libpq's sslmode values, weakest first. */
static int sslmode_ok(const char *s)
{
    static const char *const modes[] = {"disable",   "allow",       "prefer", "require",
                                        "verify-ca", "verify-full", NULL};
    for (size_t i = 0; modes[i]; i++)
        if (strcmp(s, modes[i]) == 0)
            return 1;
    return 0;
}

/* Appends "key=value" to the conninfo in dst (of size COORD_CONFIG_TEXT_MAX), in its own
 * syntax: a URI gets a query parameter, percent-encoded; a key/value string a quoted value.
 * Appended last, it wins over the same key in the operator's string. */
static int conninfo_append(char *dst, const char *key, const char *value)
{
    size_t len = strlen(dst);
    int uri = strncmp(dst, "postgresql://", 13) == 0 || strncmp(dst, "postgres://", 11) == 0;
    char enc[3 * COORD_CONFIG_TEXT_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        int plain = uri ? (isalnum(*p) || strchr("-._~/", *p)) : (*p != '\\' && *p != '\'');
        if (plain)
            enc[n++] = (char)*p;
        else if (uri)
            n += (size_t)snprintf(enc + n, 4, "%%%02X", *p);
        else {
            enc[n++] = '\\';
            enc[n++] = (char)*p;
        }
    }
    enc[n] = '\0';
    int w = uri ? snprintf(dst + len, COORD_CONFIG_TEXT_MAX - len, "%c%s=%s",
                           strchr(dst, '?') ? '&' : '?', key, enc)
                : snprintf(dst + len, COORD_CONFIG_TEXT_MAX - len, "%s%s='%s'", len ? " " : "", key,
                           enc);
    return w < 0 || (size_t)w >= COORD_CONFIG_TEXT_MAX - len ? -1 : 0;
}

/* sslmode and sslrootcert go into the database conninfo, so every session the coordinator
 * opens (ingest and merge) uses them. */
static int add_ssl(const config_t *cfg, coord_config_t *out, err_t *err)
{
    char where[COORD_CONFIG_TEXT_MAX];
    const char *mode = config_get(cfg, "sslmode"), *root = config_get(cfg, "sslrootcert");
    if (mode && !sslmode_ok(mode)) {
        err_set(err,
                "%s: bad value '%s' for 'sslmode': expected disable, allow, prefer, require, "
                "verify-ca or verify-full",
                config_where(cfg, "sslmode", where, sizeof where), mode);
        return -1;
    }
    if (root && (!mode || strncmp(mode, "verify-", 7) != 0)) {
        err_set(err, "%s: 'sslrootcert' needs sslmode = verify-ca or verify-full",
                config_where(cfg, "sslrootcert", where, sizeof where));
        return -1;
    }
    if ((mode && conninfo_append(out->database, "sslmode", mode) < 0) ||
        (root && conninfo_append(out->database, "sslrootcert", root) < 0)) {
        err_set(err, "%s: 'database' with sslmode and sslrootcert is too long",
                config_where(cfg, "database", where, sizeof where));
        return -1;
    }
    return 0;
}

int coord_config_load(const char *path, coord_config_t *out, err_t *err)
{
    static const char *const known[] = {
        "listen",        "advertise",      "database", "key_file",    "session_timeout_s",
        "accept_past_s", "accept_ahead_s", "sslmode",  "sslrootcert", NULL};
    memset(out, 0, sizeof *out);
    config_t *cfg = config_read(path, err);
    if (!cfg)
        return -1;
    int rc = -1;
    char where[COORD_CONFIG_TEXT_MAX];
    const char *listen, *advertise, *key_file;
    const char *database = config_get(cfg, "database");
    if (config_check_known(cfg, known, err) < 0 || !(listen = config_require(cfg, "listen", err)) ||
        !(key_file = config_require(cfg, "key_file", err)))
        goto out;
    if (!endpoint_ok(listen)) {
        err_set(err, "%s: bad value '%s' for 'listen': expected tcp://HOST:PORT",
                config_where(cfg, "listen", where, sizeof where), listen);
        goto out;
    }
    advertise = config_get(cfg, "advertise");
    if (!advertise) {
        /* Agents cannot connect to a wildcard address, so one must be named. */
        if (strstr(listen, "://*") || strstr(listen, "://0.0.0.0") || strstr(listen, "://[::]")) {
            err_set(err,
                    "%s: missing key 'advertise' (required when 'listen' binds a wildcard "
                    "address: the endpoint agents should connect to)",
                    path);
            goto out;
        }
        advertise = listen;
    }
    if (!endpoint_ok(advertise) || strchr(advertise, '*')) {
        err_set(err, "%s: bad value '%s' for 'advertise': expected tcp://HOST:PORT",
                config_where(cfg, "advertise", where, sizeof where), advertise);
        goto out;
    }
    if (copy_text(cfg, "listen", listen, out->listen, err) < 0 ||
        copy_text(cfg, "advertise", advertise, out->advertise, err) < 0 ||
        copy_text(cfg, "database", database ? database : "", out->database, err) < 0 ||
        copy_text(cfg, "key_file", key_file, out->key_file, err) < 0 ||
        config_get_uint(cfg, "session_timeout_s", 5, 86400, 60, &out->session_timeout_s, err) < 0 ||
        config_get_uint(cfg, "accept_past_s", COORD_ACCEPT_PAST_MIN_S, COORD_ACCEPT_PAST_MAX_S,
                        COORD_ACCEPT_PAST_DEFAULT_S, &out->accept_past_s, err) < 0 ||
        config_get_uint(cfg, "accept_ahead_s", COORD_ACCEPT_AHEAD_MIN_S, COORD_ACCEPT_AHEAD_MAX_S,
                        COORD_ACCEPT_AHEAD_DEFAULT_S, &out->accept_ahead_s, err) < 0 ||
        add_ssl(cfg, out, err) < 0)
        goto out;
    rc = 0;
out:
    config_destroy(&cfg);
    return rc;
}
