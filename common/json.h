/* json: a tiny streaming JSON writer (parallaxctl --json output, result details): arrays, objects,
 * strings with correct escaping (control characters, quotes, backslashes; invalid UTF-8 becomes
 * U+FFFD so the output always parses), numbers, booleans and null. Commas are placed automatically.
 */
#ifndef PX_JSON_H
#define PX_JSON_H

#include <stdint.h>
#include <stdio.h>

typedef struct json json_t;

/* A writer to out, which the caller keeps owning (and closes). Returns NULL if out of memory.
 * Caller owns the result (free with json_destroy). */
json_t *json_new(FILE *out);

/* Frees *json and sets it to NULL. Accepts NULL and *json == NULL. Does not close the stream. */
void json_destroy(json_t **json);

/* Structure. Nesting deeper than 32 levels or a mismatched end is a programmer error. */
void json_array_begin(json_t *json);
void json_array_end(json_t *json);
void json_object_begin(json_t *json);
void json_object_end(json_t *json);

/* Inside an object: the key of the next value. */
void json_key(json_t *json, const char *key);

/* Values. json_string writes null for NULL; json_raw_number writes text that the
 * caller guarantees is a JSON number (e.g. an integer column), or null for NULL. */
void json_string(json_t *json, const char *s);
void json_raw_number(json_t *json, const char *number);
void json_int(json_t *json, int64_t v);
/* A JSON value the caller guarantees well-formed (a jsonb column's text), or null for NULL. */
void json_raw(json_t *json, const char *value);
void json_bool(json_t *json, int v);
void json_null(json_t *json);

/* Writes s as a quoted, escaped JSON string to out. Returns 0, or -1 on a write error. */
int json_write_string(FILE *out, const char *s);

/* 0 if every byte was written so far, -1 if a write failed. */
int json_error(const json_t *json);

#endif
