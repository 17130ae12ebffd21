/* ctl_settings: `parallaxctl settings`: the merge's settings (hysteresis, thresholds, bin
 * widths) read and changed by name through parallax.merge_setting_list and
 * parallax.merge_setting_set() (schema/009), optionally queueing recent history to be merged
 * again under the new values. */
#ifndef PX_CTL_SETTINGS_H
#define PX_CTL_SETTINGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_db.h"
#include "err.h"

/* Settings one `settings set` may change at once. */
#define CTL_SETTINGS_MAX 32

/* Parses the arguments after "settings": --json and --describe (not both). Returns 0, or -1
 * with err naming the bad argument (a usage error). */
int ctl_settings_show_parse(int argc, char **argv, int *json, int *describe, err_t *err);

/* Writes every setting to out: a NAME VALUE DEFAULT table (changed ones marked), with
 * describe each one's meaning under it, or with json one array of {name, type, value,
 * default, description}. Returns 0 or -1 (err set). */
int ctl_settings_show(ctl_db_t *db, int json, int describe, FILE *out, err_t *err);

/* Longest setting name accepted (the schema's are far shorter). */
#define CTL_SETTINGS_NAME_MAX 63

/* What `settings set` does: names[i] = values[i] for i < count (values point into argv),
 * then, with remerge_s > 0, the bins of the last remerge_s seconds queued to merge again. */
typedef struct ctl_settings_change {
    char names[CTL_SETTINGS_MAX][CTL_SETTINGS_NAME_MAX + 1];
    const char *values[CTL_SETTINGS_MAX];
    size_t count;
    uint64_t remerge_s;
} ctl_settings_change_t;

/* Parses the arguments after "settings set": NAME=VALUE... and --remerge-since DURATION.
 * argv must outlive change. Returns 0, or -1 with err naming the bad argument (no pair, a
 * pair without "=", with an empty or overlong name, a name given twice, too many). */
int ctl_settings_set_parse(int argc, char **argv, ctl_settings_change_t *change, err_t *err);

/* Applies change in one transaction: all of it or, if any value is refused, none (err says
 * which setting and why). Writes "NAME: OLD -> NEW" for each and the number of bins queued.
 * Returns 0 or -1 (err set). */
int ctl_settings_set(ctl_db_t *db, const ctl_settings_change_t *change, FILE *out, err_t *err);

/* The module's parallaxctl commands (group, name, usage, run), for main.c's dispatch. */
extern const ctl_command_t ctl_settings_commands[];
extern const size_t ctl_settings_command_count;

#endif
