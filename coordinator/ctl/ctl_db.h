/* ctl_db: parallaxctl's one door to PostgreSQL (the only file that includes libpq-fe.h):
 * connecting, parameterised statements, transactions, and query results read as strings.
 * Every failure fills err_t with the server's own message and remembers its SQLSTATE so a
 * command can turn, say, a unique violation into a sentence about the user's input. */
#ifndef PX_CTL_DB_H
#define PX_CTL_DB_H

#include <stddef.h>

#include "err.h"

/* SQLSTATE of a unique violation. */
#define CTL_DB_UNIQUE_VIOLATION "23505"

typedef struct ctl_db ctl_db_t;
typedef struct ctl_rows ctl_rows_t;

/* Connects with conninfo (NULL or "" means libpq's PG* environment variables and defaults)
 * and sets client_encoding to UTF8 and TimeZone to UTC (every time shown is UTC). Returns NULL on
 * failure (err holds libpq's message). Caller owns the result (free with ctl_db_destroy). */
ctl_db_t *ctl_db_connect(const char *conninfo, err_t *err);

/* Closes the connection, frees *db and sets it to NULL. Accepts NULL and *db == NULL. */
void ctl_db_destroy(ctl_db_t **db);

/* Runs one statement with nparams text parameters ($1...; a NULL entry is SQL NULL) and
 * discards any rows. Returns the number of rows affected (0 for statements without a count),
 * or -1 (err set, SQLSTATE remembered). */
long ctl_db_exec(ctl_db_t *db, const char *sql, int nparams, const char *const *params, err_t *err);

/* Runs a trusted script of several statements without parameters (an embedded migration;
 * multi-statement text cannot go through the parameterised protocol). Never use it with
 * text from the user. Returns 0 or -1 (err set). */
int ctl_db_exec_script(ctl_db_t *db, const char *sql, err_t *err);

/* Runs one query with parameters like ctl_db_exec and keeps its rows. Returns NULL on failure
 * (err set). Caller owns the result (free with ctl_rows_destroy). */
ctl_rows_t *ctl_db_query(ctl_db_t *db, const char *sql, int nparams, const char *const *params,
                         err_t *err);

/* BEGIN, COMMIT and ROLLBACK. Return 0 or -1 (err set). ctl_db_rollback is safe to call when
 * no transaction is open, so cleanup paths may call it unconditionally. */
int ctl_db_begin(ctl_db_t *db, err_t *err);
int ctl_db_commit(ctl_db_t *db, err_t *err);
int ctl_db_rollback(ctl_db_t *db, err_t *err);

/* SQLSTATE of the last failed statement ("" if the last statement succeeded or the failure
 * was not the server's) and, for constraint violations, the constraint's name (else ""). The
 * strings are owned by db and valid until its next statement. */
const char *ctl_db_sqlstate(const ctl_db_t *db);
const char *ctl_db_constraint(const ctl_db_t *db);

/* Runs a query returning one text value (a JSON document built in SQL, a count) and returns
 * a copy of it, or NULL on failure (err set; SQL NULL is reported as a failure too). Caller
 * owns the result (free()). */
char *ctl_db_query_text(ctl_db_t *db, const char *sql, int nparams, const char *const *params,
                        err_t *err);

/* Waits up to timeout_ms for a notification on a channel this session LISTENs to (run
 * "LISTEN channel" with ctl_db_exec first) and consumes every one that arrived. Returns 1 if
 * one came, 0 if the time passed without one, -1 if the connection failed (err set). */
int ctl_db_wait(ctl_db_t *db, int timeout_ms, err_t *err);

/* Frees *rows and sets it to NULL. Accepts NULL and *rows == NULL. */
void ctl_rows_destroy(ctl_rows_t **rows);

/* Number of rows. */
size_t ctl_rows_count(const ctl_rows_t *rows);

/* Value at row r, column c as text, or NULL for SQL NULL or out-of-range r/c. Owned by rows. */
const char *ctl_rows_get(const ctl_rows_t *rows, size_t r, size_t c);

#endif
