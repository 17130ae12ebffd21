/* ctl_db: libpq behind a small interface; every PGresult is freed by result_free(), so a
 * leak or a double clear has one place to look. */
#include "ctl_db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctl_db {
    PGconn *conn;
    char sqlstate[6];
    char constraint[64];
};

struct ctl_rows {
    PGresult *res;
};

/* Clears *res and sets it to NULL; the only caller of PQclear. */
static void result_free(PGresult **res)
{
    PQclear(*res);
    *res = NULL;
}

/* Copies the server's primary message (without libpq's "ERROR:" prefix and trailing newline)
 * into err, and the SQLSTATE and constraint name into db. */
static void record_error(ctl_db_t *db, const PGresult *res, err_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
    snprintf(db->constraint, sizeof db->constraint, "%s", constraint ? constraint : "");
    if (!msg || !*msg)
        msg = PQerrorMessage(db->conn);
    size_t len = strcspn(msg, "\n");
    err_set(err, "%.*s", (int)len, msg);
}

/* Runs sql and returns its result if it succeeded, or NULL after recording the error. */
static PGresult *run(ctl_db_t *db, const char *sql, int nparams, const char *const *params,
                     int script, err_t *err)
{
    db->sqlstate[0] = '\0';
    db->constraint[0] = '\0';
    PGresult *res = script ? PQexec(db->conn, sql)
                           : PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    record_error(db, res, err);
    result_free(&res);
    return NULL;
}

/* Drops the server's notices ("schema already exists, skipping"): libpq would print them to
 * stderr, and parallaxctl's stderr carries exactly one line per error. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

ctl_db_t *ctl_db_connect(const char *conninfo, err_t *err)
{
    ctl_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        err_set(err, "out of memory");
        return NULL;
    }
    db->conn = PQconnectdb(conninfo ? conninfo : "");
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        const char *msg = db->conn ? PQerrorMessage(db->conn) : "out of memory";
        /* libpq's message may span lines (one per address tried); the first says enough. */
        err_set(err, "cannot connect to the database: %.*s", (int)strcspn(msg, "\n"), msg);
        ctl_db_destroy(&db);
        return NULL;
    }
    PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
    /* Names and other text are written as JSON and into files: have the server send UTF-8
     * whatever the client's locale says. */
    if (PQsetClientEncoding(db->conn, "UTF8") != 0) {
        err_set(err, "cannot set client_encoding to UTF8: %.*s",
                (int)strcspn(PQerrorMessage(db->conn), "\n"), PQerrorMessage(db->conn));
        ctl_db_destroy(&db);
        return NULL;
    }
    /* Every time parallaxctl shows or writes (tables, JSON) is UTC, whatever the server's
     * or the user's TimeZone: output must not depend on where it was run. */
    PGresult *res = PQexec(db->conn, "SET TimeZone = 'UTC'");
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        record_error(db, res, err);
    result_free(&res);
    if (!ok) {
        err_prefix(err, "cannot set TimeZone to UTC");
        ctl_db_destroy(&db);
        return NULL;
    }
    return db;
}

void ctl_db_destroy(ctl_db_t **db)
{
    if (!db || !*db)
        return;
    PQfinish((*db)->conn);
    free(*db);
    *db = NULL;
}

long ctl_db_exec(ctl_db_t *db, const char *sql, int nparams, const char *const *params, err_t *err)
{
    PGresult *res = run(db, sql, nparams, params, 0, err);
    if (!res)
        return -1;
    long n = atol(PQcmdTuples(res));
    result_free(&res);
    return n;
}

int ctl_db_exec_script(ctl_db_t *db, const char *sql, err_t *err)
{
    PGresult *res = run(db, sql, 0, NULL, 1, err);
    if (!res)
        return -1;
    result_free(&res);
    return 0;
}

ctl_rows_t *ctl_db_query(ctl_db_t *db, const char *sql, int nparams, const char *const *params,
                         err_t *err)
{
    ctl_rows_t *rows = calloc(1, sizeof *rows);
    if (!rows) {
        err_set(err, "out of memory");
        return NULL;
    }
    rows->res = run(db, sql, nparams, params, 0, err);
    if (!rows->res)
        ctl_rows_destroy(&rows);
    return rows;
}

char *ctl_db_query_text(ctl_db_t *db, const char *sql, int nparams, const char *const *params,
                        err_t *err)
{
    PGresult *res = run(db, sql, nparams, params, 0, err);
    if (!res)
        return NULL;
    char *text = NULL;
    if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0))
        err_set(err, "the query returned no value");
    else if (!(text = strdup(PQgetvalue(res, 0, 0))))
        err_set(err, "out of memory");
    result_free(&res);
    return text;
}

int ctl_db_begin(ctl_db_t *db, err_t *err)
{
    return ctl_db_exec(db, "BEGIN", 0, NULL, err) < 0 ? -1 : 0;
}

int ctl_db_commit(ctl_db_t *db, err_t *err)
{
    return ctl_db_exec(db, "COMMIT", 0, NULL, err) < 0 ? -1 : 0;
}

int ctl_db_rollback(ctl_db_t *db, err_t *err)
{
    /* Outside a transaction ROLLBACK only warns, which is what cleanup paths want. */
    if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
        return 0;
    return ctl_db_exec(db, "ROLLBACK", 0, NULL, err) < 0 ? -1 : 0;
}

const char *ctl_db_sqlstate(const ctl_db_t *db)
{
    return db->sqlstate;
}

const char *ctl_db_constraint(const ctl_db_t *db)
{
    return db->constraint;
}

/* Takes every notification libpq has read; 1 if there was one. */
static int take_notifies(ctl_db_t *db)
{
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(db->conn)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

int ctl_db_wait(ctl_db_t *db, int timeout_ms, err_t *err)
{
    if (take_notifies(db))
        return 1;
    struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLIN};
    if (p.fd < 0) {
        err_set(err, "the database connection is closed");
        return -1;
    }
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0 && errno != EINTR) {
        err_set(err, "waiting for the database: %s", strerror(errno));
        return -1;
    }
    if (rc > 0 && !PQconsumeInput(db->conn)) {
        size_t len = strcspn(PQerrorMessage(db->conn), "\n");
        err_set(err, "%.*s", (int)len, PQerrorMessage(db->conn));
        return -1;
    }
    return take_notifies(db);
}

void ctl_rows_destroy(ctl_rows_t **rows)
{
    if (!rows || !*rows)
        return;
    result_free(&(*rows)->res);
    free(*rows);
    *rows = NULL;
}

size_t ctl_rows_count(const ctl_rows_t *rows)
{
    return (size_t)PQntuples(rows->res);
}

const char *ctl_rows_get(const ctl_rows_t *rows, size_t r, size_t c)
{
    if (r >= (size_t)PQntuples(rows->res) || c >= (size_t)PQnfields(rows->res) ||
        PQgetisnull(rows->res, (int)r, (int)c))
        return NULL;
    return PQgetvalue(rows->res, (int)r, (int)c);
}
