/* coord: the coordinator daemon's context and main loop: it authenticates agents, answers
 * hellos with schedules, stores result batches exactly once and acknowledges them only after
 * the commit, and follows configuration changes in the database. */
#ifndef PX_COORD_H
#define PX_COORD_H

#include "coord_config.h"
#include "err.h"

typedef struct coord coord_t;

/* Loads or creates the key pair, binds the socket (with its ZAP handler) and prepares the
 * database connection. Returns NULL with err set on failure. Caller owns the result. */
coord_t *coord_new(const coord_config_t *cfg, err_t *err);

/* Serves until SIGTERM or SIGINT (which it blocks and reads from a signalfd). Returns 0 after
 * a clean stop, -1 (err set) on a failure it cannot ride out. */
int coord_run(coord_t *coord, err_t *err);

/* Closes everything, frees *coord and NULLs it. Accepts NULL. */
void coord_destroy(coord_t **coord);

#endif
