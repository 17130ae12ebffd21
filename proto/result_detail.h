/* result_detail: a result's kind-specific details read without knowing any kind, by walking
 * the protobuf-c descriptors of the Result's message fields (http, tls, dns, trace, ...): their
 * validation, their JSON document (the results.detail column) and their key=value lines
 * (parallax-agent's one-off probe). How a detail message is read is written once, at the top
 * of parallax.proto; a probe kind that adds a detail changes its kind and the .proto only. */
#ifndef PX_RESULT_DETAIL_H
#define PX_RESULT_DETAIL_H

#include <stdio.h>

#include "err.h"
#include "json.h"
#include "parallax.pb-c.h"

/* Elements a repeated field of a detail may hold (trace hops, ...). */
#define RESULT_DETAIL_MAX_ITEMS 64

/* 1 if r carries any detail (any of its message fields is set, or a request id), else 0. */
int result_detail_present(const Parallax__Result *r);

/* Checks every detail of r: each string valid text (wire_text_valid()) of at most
 * PX_WIRE_MAX_TEXT bytes, each `address` empty or an IP address, each repeated field at most
 * RESULT_DETAIL_MAX_ITEMS long, no field of a type the conventions do not cover (bytes).
 * Returns 0, or -1 with err naming the field ("trace.hops[2].address is not an IP address"). */
int result_detail_validate(const Parallax__Result *r, err_t *err);

/* Writes the details of r (validated) to j as one JSON object, {} when there are none; a
 * request id (Result.request_id, a one-off run) as the key `request`. */
void result_detail_json(const Parallax__Result *r, json_t *j);

/* Writes the details of r (validated) to out as lines "DETAIL_KEY=VALUE" (http_connect_ms=1.500);
 * a repeated field as "DETAIL_KEY=COUNT" and then one line per element, under the singular
 * name, with the element's values separated by spaces and "*" for null or an empty string
 * (trace_hop=1 192.0.2.1 0.800). Returns 0, or -1 if a write failed. */
int result_detail_print(const Parallax__Result *r, FILE *out);

#endif
