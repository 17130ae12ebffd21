/* log_limit: a bound on how often one kind of log line is written per key (a public key, an
 * agent), so that a peer that repeats what gets logged — an unregistered key reconnecting
 * in a loop, a disabled agent resending its spool — costs a line a period, with a count of
 * what was held back, instead of a line per attempt. The table is bounded: keys beyond it
 * share one entry (key NULL), so any number of distinct peers costs bounded memory and a
 * bounded number of lines. Pure: times are passed in. */
#ifndef PX_LOG_LIMIT_H
#define PX_LOG_LIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct log_limit log_limit_t;

/* A limiter for at most max_keys keys of up to 63 bytes (longer ones are cut), each allowed
 * one line per period_us. NULL on out of memory. Caller owns it: log_limit_destroy(). */
log_limit_t *log_limit_new(size_t max_keys, int64_t period_us);

/* Frees *l and NULLs it. Accepts NULL. */
void log_limit_destroy(log_limit_t **l);

/* Whether a line for key may be written at now_us (a monotonic clock): 1 for the first
 * occurrence and for the first after its period has passed, with *held set to how many
 * occurrences were held back before it (to say so in the line); else 0, and the occurrence
 * is counted. A key that finds the table full is counted under the shared entry, and
 * *shared is set to 1 (the line should not name it, since the others are not named). */
int log_limit_allow(log_limit_t *l, const char *key, int64_t now_us, unsigned long *held,
                    int *shared);

/* Calls report(arg, key, held) for each entry whose period has passed with occurrences held
 * back (key NULL: the shared entry), and forgets entries quiet for a whole period, making
 * room. Call it about once a second, so held-back counts are told without a next attempt. */
void log_limit_flush(log_limit_t *l, int64_t now_us,
                     void (*report)(void *arg, const char *key, unsigned long held), void *arg);

#endif
