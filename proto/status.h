/* status: the one list of probe outcomes. The .proto enum Status and the SQL type
 * parallax.status mirror it; tests/unit/test_status.c and the status integration test check
 * that they agree. Add an outcome here first, then in both mirrors. */
#ifndef PX_STATUS_H
#define PX_STATUS_H

/* X(C name, wire value, SQL/text name) */
#define PX_STATUS_LIST(X)                                                                          \
    X(OK, 1, "ok")                                                                                 \
    X(TIMEOUT, 2, "timeout")                                                                       \
    X(REFUSED, 3, "refused")                                                                       \
    X(UNREACHABLE, 4, "unreachable")                                                               \
    X(LOCAL_ERROR, 5, "local_error")                                                               \
    X(PROTOCOL_ERROR, 6, "protocol_error")                                                         \
    X(APP_ERROR, 7, "app_error")                                                                   \
    X(TLS_ERROR, 8, "tls_error")

typedef enum px_status {
#define PX_STATUS_ENUM(name, value, text) PX_STATUS_##name = value,
    PX_STATUS_LIST(PX_STATUS_ENUM)
#undef PX_STATUS_ENUM
} px_status_t;

/* Number of statuses in the list. */
unsigned status_count(void);

/* Text name ("ok", "timeout", ...) of a status, or NULL if value is not in the list. */
const char *status_name(int value);

/* Wire value of a text name, or -1 if unknown. */
int status_from_name(const char *name);

/* The i-th status in list order (0 <= i < status_count()). */
px_status_t status_at(unsigned i);

#endif
