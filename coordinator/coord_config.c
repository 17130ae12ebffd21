/* coord_config: strict parsing of the coordinator's config file. */
#include "coord_config.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "conninfo.h"
#include "metrics_http.h"

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

int coord_config_load(const char *path, coord_config_t *out, err_t *err)
{
    static const char *const known[] = {"listen",
                                        "advertise",
                                        "database",
                                        "key_file",
                                        "session_timeout_s",
                                        "accept_past_s",
                                        "accept_ahead_s",
                                        "sslmode",
                                        "sslrootcert",
                                        "metrics_listen",
                                        NULL};
    memset(out, 0, sizeof *out);
    config_t *cfg = config_read(path, err);
    if (!cfg)
        return -1;
    int rc = -1;
    char where[COORD_CONFIG_TEXT_MAX];
    const char *listen, *advertise, *key_file;
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
        conninfo_from_config(cfg, out->database, sizeof out->database, err) < 0 ||
        copy_text(cfg, "key_file", key_file, out->key_file, err) < 0 ||
        config_get_uint(cfg, "session_timeout_s", 5, 86400, 60, &out->session_timeout_s, err) < 0 ||
        config_get_uint(cfg, "accept_past_s", COORD_ACCEPT_PAST_MIN_S, COORD_ACCEPT_PAST_MAX_S,
                        COORD_ACCEPT_PAST_DEFAULT_S, &out->accept_past_s, err) < 0 ||
        config_get_uint(cfg, "accept_ahead_s", COORD_ACCEPT_AHEAD_MIN_S, COORD_ACCEPT_AHEAD_MAX_S,
                        COORD_ACCEPT_AHEAD_DEFAULT_S, &out->accept_ahead_s, err) < 0)
        goto out;
    const char *metrics = config_get(cfg, "metrics_listen");
    if (!metrics)
        metrics = COORD_METRICS_LISTEN_DEFAULT;
    char host[COORD_CONFIG_TEXT_MAX];
    uint16_t port;
    err_t why = {{0}};
    if (strcmp(metrics, METRICS_HTTP_OFF) != 0 &&
        metrics_http_parse(metrics, host, sizeof host, &port, &why) < 0) {
        err_set(err, "%s: 'metrics_listen': %s (or 'none')",
                config_where(cfg, "metrics_listen", where, sizeof where), why.msg);
        goto out;
    }
    if (copy_text(cfg, "metrics_listen", metrics, out->metrics_listen, err) < 0)
        goto out;
    rc = 0;
out:
    config_destroy(&cfg);
    return rc;
}
