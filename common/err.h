/* err: a small error record that library code fills and main.c (or the caller that handles
 * the failure) logs. Library code never prints or exits; it returns -1/NULL and fills err_t. */
#ifndef PX_ERR_H
#define PX_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

typedef struct err {
    char msg[ERR_MSG_MAX];
} err_t;

/* Sets the message. err may be NULL (the caller does not want detail). Never fails. */
void err_set(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (adds context on the way up). NULL-safe. */
void err_prefix(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the message. NULL-safe. */
void err_clear(err_t *err);

#endif
