/* result_detail: one walk over a result's detail messages, driven by their protobuf-c
 * descriptors, that applies the conventions parallax.proto states and hands each value to a
 * visitor: the validator, the JSON writer or the key=value printer. */
#include "result_detail.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

/* Detail messages nest two levels today (trace, its hops); the bound only stops a recursive
 * message type, should one ever be declared, from recursing without end. */
#define RD_MAX_DEPTH 8
#define RD_KEY_MAX 128
#define RD_PATH_MAX 256

typedef enum rd_type { RD_NULL, RD_BOOL, RD_INT, RD_UINT, RD_MS, RD_DOUBLE, RD_STRING } rd_type_t;

typedef struct rd_value {
    rd_type_t type;
    int64_t i;     /* RD_BOOL (0/1), RD_INT */
    uint64_t u;    /* RD_UINT, RD_MS (the microseconds) */
    double d;      /* RD_DOUBLE */
    const char *s; /* RD_STRING */
} rd_value_t;

/* What a walk calls. key is NULL for the elements of an array; f is the field the value comes
 * from. Each returns 0, or -1 to stop the walk (having set v->err when it is a verdict). */
typedef struct rd_visitor rd_visitor_t;
struct rd_visitor {
    int (*value)(rd_visitor_t *v, const char *key, const ProtobufCFieldDescriptor *f,
                 const rd_value_t *val);
    int (*object_begin)(rd_visitor_t *v, const char *key);
    int (*object_end)(rd_visitor_t *v);
    int (*array_begin)(rd_visitor_t *v, const char *key, size_t n);
    int (*array_end)(rd_visitor_t *v);
    err_t *err;
    char path[RD_PATH_MAX]; /* where the walk is ("trace.hops[2].address"), for errors */
};

static const void *field_at(const ProtobufCMessage *m, unsigned offset)
{
    return (const char *)m + offset;
}

/* Appends ".name" (just "name" at the start) or, for name NULL, "[index]" to the path; returns
 * the length to restore afterwards. */
static size_t path_push(rd_visitor_t *v, const char *name, size_t index)
{
    size_t len = strlen(v->path);
    if (name)
        snprintf(v->path + len, sizeof v->path - len, "%s%s", len ? "." : "", name);
    else
        snprintf(v->path + len, sizeof v->path - len, "[%zu]", index);
    return len;
}

static void path_pop(rd_visitor_t *v, size_t len)
{
    v->path[len] = '\0';
}

/* The field named prefix + name in d, or NULL. */
static const ProtobufCFieldDescriptor *field_named(const ProtobufCMessageDescriptor *d,
                                                   const char *prefix, const char *name)
{
    char full[RD_KEY_MAX];
    int n = snprintf(full, sizeof full, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return NULL;
    return protobuf_c_message_descriptor_get_field_by_name(d, full);
}

static int is_flag(const ProtobufCFieldDescriptor *f)
{
    return f && f->type == PROTOBUF_C_TYPE_BOOL && f->label != PROTOBUF_C_LABEL_REPEATED;
}

/* 1 if flag is a `bool has_X` and f is X or X_something: a field the flag governs. */
static int governs(const ProtobufCFieldDescriptor *flag, const ProtobufCFieldDescriptor *f)
{
    if (!is_flag(flag) || strncmp(flag->name, "has_", 4) != 0 || flag == f)
        return 0;
    const char *x = flag->name + 4;
    size_t len = strlen(x);
    return len && strncmp(f->name, x, len) == 0 && (f->name[len] == '\0' || f->name[len] == '_');
}

/* Convention: `bool has_X` says whether X (and X_...: has_soa, soa_serial) is set; it is not a
 * value of its own. */
static int is_presence_flag(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (governs(f, &d->fields[i]))
            return 1;
    return 0;
}

/* ... and what it governs is null while it is false. */
static int unset_by_flag(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (governs(&d->fields[i], f) &&
            !*(const protobuf_c_boolean *)field_at(m, d->fields[i].offset))
            return 1;
    return 0;
}

/* Convention: a field X_us is a duration in microseconds, given as X_ms in milliseconds.
 * Fills key with the name to show; returns 1 for a duration. */
static int key_of(const ProtobufCFieldDescriptor *f, char *key, size_t cap)
{
    size_t len = strlen(f->name);
    int us = len > 3 && strcmp(f->name + len - 3, "_us") == 0 &&
             (f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32 ||
              f->type == PROTOBUF_C_TYPE_UINT64 || f->type == PROTOBUF_C_TYPE_FIXED64);
    snprintf(key, cap, "%.*s%s", (int)(us ? len - 3 : len), f->name, us ? "_ms" : "");
    return us;
}

/* Convention: a message with an empty `address` describes an answer nobody gave, so its
 * address and its durations are null. */
static int is_silent(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *a = field_named(m->descriptor, "", "address");
    if (!a || a->type != PROTOBUF_C_TYPE_STRING || a->label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    const char *s = *(const char *const *)field_at(m, a->offset);
    return !s || !*s;
}

/* Bytes of one element of a repeated field of type t. */
static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* the 32-bit integers, enums, float and protobuf_c_boolean */
    }
}

/* Reads the scalar at p. Returns 0, or -1 for a type no convention covers (bytes). */
static int read_scalar(const ProtobufCFieldDescriptor *f, const void *p, int ms, rd_value_t *out)
{
    memset(out, 0, sizeof *out);
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        out->type = RD_INT;
        out->i = *(const int32_t *)p;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        out->type = RD_INT;
        out->i = *(const int64_t *)p;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        out->type = ms ? RD_MS : RD_UINT;
        out->u = *(const uint32_t *)p;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        out->type = ms ? RD_MS : RD_UINT;
        out->u = *(const uint64_t *)p;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        out->type = RD_BOOL;
        out->i = *(const protobuf_c_boolean *)p != 0;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        out->type = RD_DOUBLE;
        out->d = *(const float *)p;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        out->type = RD_DOUBLE;
        out->d = *(const double *)p;
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        /* An enum is its value's name; a value this build does not know, its number. */
        int n = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, n);
        out->type = ev ? RD_STRING : RD_INT;
        out->s = ev ? ev->name : NULL;
        out->i = n;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        out->type = RD_STRING;
        out->s = s ? s : "";
        return 0;
    }
    default:
        return -1;
    }
}

static int walk_message(rd_visitor_t *v, const ProtobufCMessage *m, int depth);

/* One value (a scalar or a message) under key, NULL for an array element. */
static int walk_one(rd_visitor_t *v, const char *key, const ProtobufCFieldDescriptor *f,
                    const void *p, int ms, int depth)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        if (!sub) {
            rd_value_t null = {.type = RD_NULL};
            return v->value(v, key, f, &null);
        }
        if (v->object_begin(v, key) < 0 || walk_message(v, sub, depth + 1) < 0)
            return -1;
        return v->object_end(v);
    }
    rd_value_t val;
    if (read_scalar(f, p, ms, &val) < 0) {
        err_set(v->err, "%s is of a type no detail convention covers", v->path);
        return -1;
    }
    return v->value(v, key, f, &val);
}

static int walk_repeated(rd_visitor_t *v, const char *key, const ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *f, int ms, int depth)
{
    size_t n = *(const size_t *)field_at(m, f->quantifier_offset);
    const char *elems = *(const char *const *)field_at(m, f->offset);
    if (v->array_begin(v, key, n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t at = path_push(v, NULL, i);
        int rc = walk_one(v, NULL, f, elems + i * elem_size(f->type), ms, depth);
        path_pop(v, at);
        if (rc < 0)
            return -1;
    }
    return v->array_end(v);
}

static int walk_message(rd_visitor_t *v, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (depth > RD_MAX_DEPTH) {
        err_set(v->err, "%s nests deeper than %d messages", v->path, RD_MAX_DEPTH);
        return -1;
    }
    int silent = is_silent(m);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (is_presence_flag(d, f))
            continue;
        char key[RD_KEY_MAX];
        int ms = key_of(f, key, sizeof key);
        size_t at = path_push(v, f->name, 0);
        int rc;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            rc = walk_repeated(v, key, m, f, ms, depth);
        } else if (unset_by_flag(m, f) || (silent && (ms || strcmp(f->name, "address") == 0))) {
            rd_value_t null = {.type = RD_NULL};
            rc = v->value(v, key, f, &null);
        } else {
            rc = walk_one(v, key, f, field_at(m, f->offset), ms, depth);
        }
        path_pop(v, at);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Every message field of the Result that is set is one kind's details, under its name. */
static int walk_result(rd_visitor_t *v, const Parallax__Result *r)
{
    const ProtobufCMessageDescriptor *d = r->base.descriptor;
    v->path[0] = '\0';
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        const ProtobufCMessage *sub =
            *(const ProtobufCMessage *const *)field_at(&r->base, f->offset);
        if (!sub)
            continue;
        size_t at = path_push(v, f->name, 0);
        int rc =
            v->object_begin(v, f->name) < 0 || walk_message(v, sub, 1) < 0 || v->object_end(v) < 0
                ? -1
                : 0;
        path_pop(v, at);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int result_detail_present(const Parallax__Result *r)
{
    if (r->request_id)
        return 1;
    const ProtobufCMessageDescriptor *d = r->base.descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
            *(const ProtobufCMessage *const *)field_at(&r->base, f->offset))
            return 1;
    }
    return 0;
}

/* ---- validation ---- */

static int check_value(rd_visitor_t *v, const char *key, const ProtobufCFieldDescriptor *f,
                       const rd_value_t *val)
{
    (void)key;
    if (val->type != RD_STRING || f->type != PROTOBUF_C_TYPE_STRING)
        return 0;
    if (strlen(val->s) > PX_WIRE_MAX_TEXT) {
        err_set(v->err, "%s is longer than %d bytes", v->path, PX_WIRE_MAX_TEXT);
        return -1;
    }
    if (!wire_text_valid(val->s)) {
        err_set(v->err, "%s is not valid UTF-8 text", v->path);
        return -1;
    }
    if (strcmp(f->name, "address") == 0 && *val->s && !wire_address_valid(val->s)) {
        err_set(v->err, "%s is not an IP address", v->path);
        return -1;
    }
    return 0;
}

static int check_array(rd_visitor_t *v, const char *key, size_t n)
{
    (void)key;
    if (n > RESULT_DETAIL_MAX_ITEMS) {
        err_set(v->err, "%s has %zu elements (at most %d)", v->path, n, RESULT_DETAIL_MAX_ITEMS);
        return -1;
    }
    return 0;
}

static int check_nothing(rd_visitor_t *v)
{
    (void)v;
    return 0;
}

static int check_object(rd_visitor_t *v, const char *key)
{
    (void)v;
    (void)key;
    return 0;
}

int result_detail_validate(const Parallax__Result *r, err_t *err)
{
    rd_visitor_t v = {.value = check_value,
                      .object_begin = check_object,
                      .object_end = check_nothing,
                      .array_begin = check_array,
                      .array_end = check_nothing,
                      .err = err};
    return walk_result(&v, r);
}

/* ---- JSON ---- */

typedef struct json_visitor {
    rd_visitor_t base; /* first: the walk hands out &base */
    json_t *j;
} json_visitor_t;

static int json_value(rd_visitor_t *v, const char *key, const ProtobufCFieldDescriptor *f,
                      const rd_value_t *val)
{
    (void)f;
    json_t *j = ((json_visitor_t *)v)->j;
    char num[48];
    if (key)
        json_key(j, key);
    switch (val->type) {
    case RD_NULL:
        json_null(j);
        break;
    case RD_BOOL:
        json_bool(j, (int)val->i);
        break;
    case RD_INT:
        json_int(j, val->i);
        break;
    case RD_UINT:
        snprintf(num, sizeof num, "%" PRIu64, val->u);
        json_raw_number(j, num);
        break;
    case RD_MS:
        snprintf(num, sizeof num, "%.3f", (double)val->u / 1000.0);
        json_raw_number(j, num);
        break;
    case RD_DOUBLE:
        /* JSON has no NaN or infinity. */
        if (isfinite(val->d)) {
            snprintf(num, sizeof num, "%.17g", val->d);
            json_raw_number(j, num);
        } else {
            json_null(j);
        }
        break;
    case RD_STRING:
        json_string(j, val->s);
        break;
    }
    return 0;
}

static int json_obj_begin(rd_visitor_t *v, const char *key)
{
    json_t *j = ((json_visitor_t *)v)->j;
    if (key)
        json_key(j, key);
    json_object_begin(j);
    return 0;
}

static int json_obj_end(rd_visitor_t *v)
{
    json_object_end(((json_visitor_t *)v)->j);
    return 0;
}

static int json_arr_begin(rd_visitor_t *v, const char *key, size_t n)
{
    (void)n;
    json_t *j = ((json_visitor_t *)v)->j;
    if (key)
        json_key(j, key);
    json_array_begin(j);
    return 0;
}

static int json_arr_end(rd_visitor_t *v)
{
    json_array_end(((json_visitor_t *)v)->j);
    return 0;
}

void result_detail_json(const Parallax__Result *r, json_t *j)
{
    json_visitor_t v = {.base = {.value = json_value,
                                 .object_begin = json_obj_begin,
                                 .object_end = json_obj_end,
                                 .array_begin = json_arr_begin,
                                 .array_end = json_arr_end},
                        .j = j};
    json_object_begin(j);
    /* The JSON visitor never stops a walk, and a validated result has no field it cannot
     * read: the walk runs to its end. */
    (void)walk_result(&v.base, r);
    /* Not a kind's detail but where the run came from: a one-off request, not the schedule.
     * Validation keeps it within a bigint. */
    if (r->request_id) {
        json_key(j, "request");
        json_int(j, (int64_t)r->request_id);
    }
    json_object_end(j);
}

/* ---- key=value lines ---- */

/* Print frames: an object whose scalars are lines (its key joins the prefix), an array (its
 * elements are lines under the singular name), or an element being written on one line. */
typedef enum print_frame { PF_OBJECT, PF_ARRAY, PF_ELEMENT } print_frame_t;

typedef struct print_visitor {
    rd_visitor_t base; /* first: the walk hands out &base */
    FILE *out;
    char prefix[RD_PATH_MAX];
    print_frame_t frame[RD_MAX_DEPTH * 2 + 2];
    size_t restore[RD_MAX_DEPTH * 2 + 2]; /* prefix length to restore when the frame ends */
    int depth;
    int in_element; /* > 0 while one element's values go on one line */
    int first;      /* no value on the element's line yet */
} print_visitor_t;

static void print_scalar(print_visitor_t *p, const rd_value_t *val)
{
    switch (val->type) {
    case RD_NULL:
        fputs("*", p->out);
        break;
    case RD_BOOL:
    case RD_INT:
        fprintf(p->out, "%" PRId64, val->i);
        break;
    case RD_UINT:
        fprintf(p->out, "%" PRIu64, val->u);
        break;
    case RD_MS:
        fprintf(p->out, "%.3f", (double)val->u / 1000.0);
        break;
    case RD_DOUBLE:
        fprintf(p->out, "%g", val->d);
        break;
    case RD_STRING:
        fputs(val->s, p->out);
        break;
    }
}

/* Pushes a frame, extending the prefix with "_" name (none for NULL). */
static int print_push(print_visitor_t *p, print_frame_t frame, const char *name)
{
    if (p->depth >= (int)(sizeof p->frame / sizeof p->frame[0]))
        return -1;
    size_t len = strlen(p->prefix);
    p->frame[p->depth] = frame;
    p->restore[p->depth] = len;
    p->depth++;
    if (name)
        snprintf(p->prefix + len, sizeof p->prefix - len, "%s%s", len ? "_" : "", name);
    return 0;
}

static void print_pop(print_visitor_t *p)
{
    p->depth--;
    p->prefix[p->restore[p->depth]] = '\0';
}

/* An array's elements are named in the singular: hops -> hop. */
static void singular(char *name)
{
    size_t len = strlen(name);
    if (len > 1 && name[len - 1] == 's')
        name[len - 1] = '\0';
}

static int print_value(rd_visitor_t *v, const char *key, const ProtobufCFieldDescriptor *f,
                       const rd_value_t *val)
{
    (void)f;
    print_visitor_t *p = (print_visitor_t *)v;
    if (p->in_element) {
        fputs(p->first ? "" : " ", p->out);
        p->first = 0;
        /* Values are separated by spaces, so an empty string would vanish and shift the
         * values after it (dns_record=A NAME ADDRESS * 0, with no host): it shows as null. */
        if (val->type == RD_STRING && !val->s[0])
            fputs("*", p->out);
        else
            print_scalar(p, val);
        return 0;
    }
    if (val->type == RD_NULL)
        return 0; /* a line per value that is there, as today's readers grep for them */
    if (key)
        fprintf(p->out, "%s_%s=", p->prefix, key);
    else
        fprintf(p->out, "%s=", p->prefix); /* an element of an array of scalars */
    print_scalar(p, val);
    fputc('\n', p->out);
    return 0;
}

static int print_obj_begin(rd_visitor_t *v, const char *key)
{
    print_visitor_t *p = (print_visitor_t *)v;
    if (p->in_element || (!key && p->depth && p->frame[p->depth - 1] == PF_ARRAY)) {
        /* An array element (or an object inside one): its values go on one line. */
        if (!p->in_element++) {
            fprintf(p->out, "%s=", p->prefix);
            p->first = 1;
        }
        return print_push(p, PF_ELEMENT, NULL);
    }
    return print_push(p, PF_OBJECT, key);
}

static int print_obj_end(rd_visitor_t *v)
{
    print_visitor_t *p = (print_visitor_t *)v;
    if (p->frame[p->depth - 1] == PF_ELEMENT && --p->in_element == 0)
        fputc('\n', p->out);
    print_pop(p);
    return 0;
}

static int print_arr_begin(rd_visitor_t *v, const char *key, size_t n)
{
    print_visitor_t *p = (print_visitor_t *)v;
    if (p->in_element)
        return print_push(p, PF_ELEMENT, NULL);
    fprintf(p->out, "%s_%s=%zu\n", p->prefix, key ? key : "", n);
    char one[RD_KEY_MAX];
    snprintf(one, sizeof one, "%s", key ? key : "");
    singular(one);
    return print_push(p, PF_ARRAY, one);
}

static int print_arr_end(rd_visitor_t *v)
{
    print_pop((print_visitor_t *)v);
    return 0;
}

int result_detail_print(const Parallax__Result *r, FILE *out)
{
    print_visitor_t p = {.base = {.value = print_value,
                                  .object_begin = print_obj_begin,
                                  .object_end = print_obj_end,
                                  .array_begin = print_arr_begin,
                                  .array_end = print_arr_end},
                         .out = out};
    if (walk_result(&p.base, r) < 0)
        return -1;
    return ferror(out) ? -1 : 0;
}
