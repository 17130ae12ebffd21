/* config: reads `key = value` files (one setting a line, `#` comments, no sections) and
 * answers typed look-ups with errors that name the file and line, so an operator can fix a
 * bad config from the message alone. */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct config config_t;

/* Reads and parses path. Returns NULL on failure (unreadable file, a line that is not
 * `key = value`, a key given twice) with "FILE:LINE: ..." in err. Caller owns the result. */
config_t *config_read(const char *path, err_t *err);

/* Parses text as if read from a file named name (for tests and embedded defaults). */
config_t *config_parse(const char *name, const char *text, err_t *err);

/* Frees *cfg and sets it to NULL. Accepts NULL and *cfg == NULL. */
void config_destroy(config_t **cfg);

/* Fails (-1, err names the key, file and line) if any key in cfg is not in known, a
 * NULL-terminated list. Catches typos that would otherwise silently fall back to defaults. */
int config_check_known(const config_t *cfg, const char *const *known, err_t *err);

/* String value of key, or NULL if absent. The string is owned by cfg. */
const char *config_get(const config_t *cfg, const char *key);

/* Like config_get, but a missing key is an error: returns NULL, err says which key. */
const char *config_require(const config_t *cfg, const char *key, err_t *err);

/* Unsigned integer in [min, max]; *out = dflt when absent. Returns -1 on a malformed or
 * out-of-range value (err names file, line and the accepted range). */
int config_get_uint(const config_t *cfg, const char *key, uint64_t min, uint64_t max, uint64_t dflt,
                    uint64_t *out, err_t *err);

/* Boolean (true/false, yes/no, on/off, 1/0); *out = dflt when absent. -1 on a bad value. */
int config_get_bool(const config_t *cfg, const char *key, int dflt, int *out, err_t *err);

/* 1 if key names a secret whose value must never be shown in a message or log: it ends in
 * "secret", "secret_key" or "password", or contains "password" (any case). */
int config_key_is_secret(const char *key);

/* text (a line or key from a config file) as an error message may show it: with a leading
 * word naming a secret key, only that word; a lone word of 24 bytes or more (a key pasted
 * alone, perhaps) or a first word of 128 or more, only its length; otherwise text. Returns a
 * pointer to text's copy in buf. */
const char *config_shown(const char *text, char *buf, size_t len);

/* "FILE:LINE" of key for messages about its value, or the file name if key is absent.
 * Returns a pointer into buf. */
const char *config_where(const config_t *cfg, const char *key, char *buf, unsigned len);

#endif
