/* notifier: the daemon's loop: wait for a NOTIFY, a due retry or the poll interval; fan new
 * events out; deliver what is due, one claim at a time; re-send Alertmanager's open alerts
 * each interval; reconnect to the database with back-off when the session is lost. */
#ifndef PX_NOTIFIER_H
#define PX_NOTIFIER_H

#include "err.h"
#include "notify_config.h"

typedef struct notifier notifier_t;

/* A notifier with cfg (copied). stop_fd becomes readable when it should stop (a signalfd);
 * the caller keeps owning it. NULL on failure with err set. Caller owns the result:
 * notifier_destroy(). */
notifier_t *notifier_new(const notify_config_t *cfg, int stop_fd, err_t *err);

/* Runs until stop_fd is readable; a delivery in flight is abandoned and stays pending.
 * Database failures are logged and retried, never returned. Returns 0. */
int notifier_run(notifier_t *n);

/* Frees *n and NULLs it. Accepts NULL. */
void notifier_destroy(notifier_t **n);

#endif
