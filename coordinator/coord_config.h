/* coord_config: the coordinator's configuration file, read into a typed struct. */
#ifndef PX_COORD_CONFIG_H
#define PX_COORD_CONFIG_H

#include <stdint.h>

#include "err.h"

#define COORD_CONFIG_TEXT_MAX 1024

/* The window of time around its receipt in which a result or gap is stored (door.h). The
 * past reaches as far as an agent's spool usually does (a week offline); ahead covers a clock
 * that jumped before the coordinator noticed (its known offset is corrected first). */
#define COORD_ACCEPT_PAST_DEFAULT_S (7 * 86400)
#define COORD_ACCEPT_PAST_MIN_S 3600
#define COORD_ACCEPT_PAST_MAX_S (90 * 86400)
#define COORD_ACCEPT_AHEAD_DEFAULT_S 3600
#define COORD_ACCEPT_AHEAD_MIN_S 60
#define COORD_ACCEPT_AHEAD_MAX_S 86400

/* The /metrics endpoint (metrics_http.h): loopback by default, so it works out of the box on
 * the coordinator's host and exposes nothing; "none" turns it off. */
#define COORD_METRICS_LISTEN_DEFAULT "127.0.0.1:9467"

typedef struct coord_config {
    char listen[COORD_CONFIG_TEXT_MAX]; /* ZeroMQ endpoint to bind, e.g. tcp://0.0.0.0:7000 */
    char
        advertise[COORD_CONFIG_TEXT_MAX]; /* endpoint agents connect to, recorded in the database */
    char database[COORD_CONFIG_TEXT_MAX]; /* libpq connection string ("" = PG* environment),
                                           * with sslmode and sslrootcert appended if set */
    char key_file[COORD_CONFIG_TEXT_MAX]; /* CURVE key pair, created 0600 on first start */
    uint64_t session_timeout_s;           /* an agent silent this long is expired */
    uint64_t accept_past_s;  /* results and gaps stamped longer ago than this are refused */
    uint64_t accept_ahead_s; /* ... and those stamped further ahead than this */
    char metrics_listen[COORD_CONFIG_TEXT_MAX]; /* HOST:PORT of /metrics, or "none" */
    int new_key; /* --new-key: a missing key_file may be made anew though the database has a
                  * key registered (not from the file: a command-line decision) */
} coord_config_t;

/* Reads path into *out. Returns 0, or -1 with a "FILE:LINE: ..." message in err for a
 * missing, unknown or malformed key. */
int coord_config_load(const char *path, coord_config_t *out, err_t *err);

#endif
