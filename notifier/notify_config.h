/* notify_config: the notifier's configuration file (/etc/parallax/notifier.conf), read into a
 * typed struct. Every key has a default that works untuned, so an empty file is a valid one. */
#ifndef PX_NOTIFY_CONFIG_H
#define PX_NOTIFY_CONFIG_H

#include <stdint.h>

#include "err.h"

#define NOTIFY_CONFIG_TEXT_MAX 1024
#define NOTIFY_CONFIG_DEFAULT_PATH "/etc/parallax/notifier.conf"

typedef struct notify_config {
    char database[NOTIFY_CONFIG_TEXT_MAX]; /* libpq connection string ("" = PG* environment),
                                            * with sslmode and sslrootcert appended if set */
    uint64_t timeout_s;                    /* one request to a receiver (connect, send, answer) */
    uint64_t resend_interval_s;            /* Alertmanager: open alerts are re-sent this often */
    uint64_t poll_s;                       /* the outbox is read this often without a NOTIFY */
    uint64_t retry_min_s;                  /* first delay after a failed delivery */
    uint64_t retry_max_s;                  /* the delay doubles up to this */
    uint64_t give_up_s;                    /* an event still undelivered this long after it was made
                                            * becomes dead at its next failure */
} notify_config_t;

/* Reads path into *out. Returns 0, or -1 with a "FILE:LINE: ..." message in err for an
 * unreadable file or an unknown or malformed key. */
int notify_config_load(const char *path, notify_config_t *out, err_t *err);

/* Like notify_config_load, from text named name (tests). */
int notify_config_parse(const char *name, const char *text, notify_config_t *out, err_t *err);

#endif
