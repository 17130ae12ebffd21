/* ctl_notify: `parallaxctl notify add|list|remove|test|log|retry`: the receivers of outage
 * notifications and their routes (parallax.notify_receivers, migration 010), and what was
 * delivered to them (notify_deliveries). The events are written by the merge's trigger and
 * delivered by parallax-notifier (docs/notifications.md); this module only manages receivers
 * and reads the outbox. */
#ifndef PX_CTL_NOTIFY_H
#define PX_CTL_NOTIFY_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* Longest URL and e-mail address list, in bytes (the table's CHECK allows 2048 for URLs). */
#define CTL_NOTIFY_URL_MAX 2048
#define CTL_NOTIFY_TO_MAX 1024
/* Longest webhook secret, in bytes; it is the first line of its file. */
#define CTL_NOTIFY_SECRET_MAX 1024
/* Longest wait of `notify test`, in seconds. */
#define CTL_NOTIFY_WAIT_MAX 600

/* A receiver to add, as `notify add` parsed it; strings are borrowed from argv. */
typedef struct ctl_notify_receiver {
    const char *name;
    const char *kind;        /* alertmanager | webhook | email */
    const char *url;         /* http(s):// for alertmanager and webhook, smtp(s):// for email */
    const char *secret_file; /* webhook: the file holding its HMAC key (required) */
    const char *mail_from;   /* email: sender address (required) */
    const char *mail_to;     /* email: recipients, comma-separated (required) */
    const char *scopes;      /* NULL: every scope; else comma-separated vantage,target,group */
    const char *group;       /* NULL: every group */
    const char *min_stage;   /* NULL: any stage */
    int with_group_targets;  /* target events also while their group has an outage */
    int disabled;            /* added switched off */
} ctl_notify_receiver_t;

/* Parses the words after "notify add" into *r and checks them: the kind, the URL's scheme
 * for the kind, a secret file for a webhook and none otherwise, sender and recipients for
 * e-mail and for nothing else, known scopes and stages, and a min-stage that some chosen
 * scope has. Returns 0, or -1 with err set (a usage error). */
int ctl_notify_parse_add(int argc, char **argv, ctl_notify_receiver_t *r, err_t *err);

/* Reads a webhook secret from path into out (cap bytes): its first line, which must be
 * non-empty, printable and at most CTL_NOTIFY_SECRET_MAX bytes; the file must be private to
 * its owner (secret_file_check). The secret never appears in err. Returns 0 or -1. */
int ctl_notify_read_secret(const char *path, char *out, size_t cap, err_t *err);

/* Adds receiver r (secret: NULL unless a webhook) and says so on out. Returns 0, or -1 with
 * err set ("a receiver named 'x' exists", "no target has group 'G'", the database's error). */
int ctl_notify_add(ctl_db_t *db, const ctl_notify_receiver_t *r, const char *secret, FILE *out,
                   err_t *err);

/* Writes every receiver, its route and its deliveries by state to out (a table, or a JSON
 * array when json is set); never a secret. Returns 0 or -1 (err set). */
int ctl_notify_list(ctl_db_t *db, int json, FILE *out, err_t *err);

/* Removes receiver name and its deliveries. Returns 0, or -1 with err set. */
int ctl_notify_remove(ctl_db_t *db, const char *name, FILE *out, err_t *err);

/* Puts a test event in the outbox for receiver name alone and waits up to wait_s seconds for
 * parallax-notifier to deliver it. Returns 0 once the receiver accepted it, or -1 with err
 * saying what happened (refused for good with its answer, still failing with the last error,
 * or never tried: no sender running). */
int ctl_notify_test(ctl_db_t *db, const char *name, unsigned wait_s, FILE *out, err_t *err);

/* Writes the newest deliveries (to receiver name, or to all when NULL; only dead ones when
 * dead is set; at most limit) to out, as a table or JSON. Returns 0 or -1 (err set). */
int ctl_notify_log(ctl_db_t *db, const char *name, int dead, unsigned limit, int json, FILE *out,
                   err_t *err);

/* Puts the dead deliveries of receiver name (all receivers when NULL) back in the queue, to
 * be tried now. Returns how many (>= 0), or -1 with err set. */
long ctl_notify_retry(ctl_db_t *db, const char *name, FILE *out, err_t *err);

/* For `status`: one line on the notifications waiting and those that failed for good in the
 * last day, or nothing without receivers. Returns 0 or -1 (err set). */
int ctl_notify_status(ctl_db_t *db, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_notify_commands[];
extern const size_t ctl_notify_command_count;

#endif
