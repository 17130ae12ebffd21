/* ctl_json: a tiny streaming JSON writer for `--json` output: arrays, objects, strings with
 * correct escaping (control characters, quotes, backslashes; invalid UTF-8 becomes U+FFFD so
 * the output always parses), numbers, booleans and null. Commas are placed automatically. */
#ifndef PX_CTL_JSON_H
#define PX_CTL_JSON_H

#include <stdint.h>
#include <stdio.h>

typedef struct ctl_json ctl_json_t;

/* A writer to out, which the caller keeps owning (and closes). Returns NULL if out of memory.
 * Caller owns the result (free with ctl_json_destroy). */
ctl_json_t *ctl_json_new(FILE *out);

/* Frees *json and sets it to NULL. Accepts NULL and *json == NULL. Does not close the stream. */
void ctl_json_destroy(ctl_json_t **json);

/* Structure. Nesting deeper than 32 levels or a mismatched end is a programmer error. */
void ctl_json_array_begin(ctl_json_t *json);
void ctl_json_array_end(ctl_json_t *json);
void ctl_json_object_begin(ctl_json_t *json);
void ctl_json_object_end(ctl_json_t *json);

/* Inside an object: the key of the next value. */
void ctl_json_key(ctl_json_t *json, const char *key);

/* Values. ctl_json_string writes null for NULL; ctl_json_raw_number writes text that the
 * caller guarantees is a JSON number (e.g. an integer column), or null for NULL. */
void ctl_json_string(ctl_json_t *json, const char *s);
void ctl_json_raw_number(ctl_json_t *json, const char *number);
void ctl_json_int(ctl_json_t *json, int64_t v);
void ctl_json_bool(ctl_json_t *json, int v);
void ctl_json_null(ctl_json_t *json);

/* Writes s as a quoted, escaped JSON string to out. Returns 0, or -1 on a write error. */
int ctl_json_write_string(FILE *out, const char *s);

/* 0 if every byte was written so far, -1 if a write failed. */
int ctl_json_error(const ctl_json_t *json);

#endif
