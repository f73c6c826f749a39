/*
 * server_db.c - the server role's persistence (server_db.h): STATE/server.db, SQLite in
 * WAL mode, one table each for URL groups, URLs and port certificate bindings. A failed
 * write is logged here once; the change it records is already in effect.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "access.h"
#include "ferry/log.h"
#include "server_db.h"
#include "urlgroup.h"

static const char server_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS groups("
    "  prefix TEXT PRIMARY KEY,"
    "  connection_limit INTEGER NOT NULL DEFAULT 0,"
    "  bandwidth_limit INTEGER NOT NULL DEFAULT 0,"
    "  auth_negotiate INTEGER NOT NULL DEFAULT 0,"
    "  auth_ntlm INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS urls("
    "  prefix TEXT NOT NULL,"
    "  suffix TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  rule TEXT,"
    "  certs TEXT,"
    "  PRIMARY KEY(prefix, suffix));"
    "CREATE TABLE IF NOT EXISTS certs("
    "  port INTEGER PRIMARY KEY,"
    "  store TEXT NOT NULL,"
    "  sha1 TEXT NOT NULL);";

/* Migration step "uploads" (issue #15), separate from the base schema so steps of other
 * changes can be ordered around it: a group's UploadEnabled and MaxUploadSize, one row per
 * group that ever set them. Idempotent. */
static const char server_schema_uploads[] =
    "CREATE TABLE IF NOT EXISTS group_uploads("
    "  prefix TEXT PRIMARY KEY,"
    "  upload_enabled INTEGER NOT NULL DEFAULT 0,"
    "  max_upload_size INTEGER NOT NULL DEFAULT 0);";

/* Run one statement with text/int parameters: 's' text (NULL ok), 'i' int64. A no-op
 * while paused; a failure is logged and returns -EIO. */
static int
server_db_run(struct server_db *db, const char *sql, const char *types, ...)
{
    sqlite3_stmt *stmt = NULL;
    va_list ap;
    int rc;

    if (db->paused || !db->db)
        return 0;
    rc = sqlite3_prepare_v2(db->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        goto error;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 's') {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(stmt, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(stmt, i + 1);
        } else {
            rc = sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
        }
        if (rc != SQLITE_OK)
            break;
    }
    va_end(ap);
    if (rc != SQLITE_OK)
        goto error;
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        goto error;
    sqlite3_finalize(stmt);
    return 0;
error:
    /* The change is in effect; only its persistence failed. Say so once, here. */
    ferry_log_error("server store: '%.60s...' failed: %s", sql, sqlite3_errmsg(db->db));
    sqlite3_finalize(stmt);
    return -EIO;
}

/* Insert or update a group's row (server_db.h). */
void
server_db_save_group(struct server_db *db, const struct urlgroup *g)
{
    server_db_run(db,
                  "INSERT INTO groups(prefix, connection_limit, bandwidth_limit, "
                  "auth_negotiate, auth_ntlm) VALUES(?,?,?,?,?) ON CONFLICT(prefix) DO UPDATE "
                  "SET connection_limit=excluded.connection_limit, "
                  "bandwidth_limit=excluded.bandwidth_limit, "
                  "auth_negotiate=excluded.auth_negotiate, auth_ntlm=excluded.auth_ntlm",
                  "siiii", g->p.canonical, (int64_t)g->connection_limit,
                  (int64_t)g->bandwidth_limit, (int64_t)g->auth_negotiate,
                  (int64_t)g->auth_ntlm);
}

/* Insert or update a group's upload row, and its group row (server_db.h). */
void
server_db_save_group_upload(struct server_db *db, const struct urlgroup *g)
{
    server_db_save_group(db, g);
    server_db_run(db,
                  "INSERT INTO group_uploads(prefix, upload_enabled, max_upload_size) "
                  "VALUES(?,?,?) ON CONFLICT(prefix) DO UPDATE "
                  "SET upload_enabled=excluded.upload_enabled, "
                  "max_upload_size=excluded.max_upload_size",
                  "sii", g->p.canonical, (int64_t)g->upload_enabled,
                  (int64_t)g->max_upload_size);
}

/* Clear stored Negotiate/NTLM flags (server_db.h); runs also while paused. */
int
server_db_clear_group_auth(struct server_db *db)
{
    char *msg = NULL;
    int rc;

    if (!db->db)
        return 0;
    rc = sqlite3_exec(db->db, "UPDATE groups SET auth_negotiate = 0, auth_ntlm = 0"
                              " WHERE auth_negotiate <> 0 OR auth_ntlm <> 0", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        ferry_log_error("server.db: the stored Negotiate/NTLM flags could not be cleared: %s",
                        msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static char *
server_db_join_certs(const struct urlgroup_url *u)
{
    size_t len = 1;
    char *s;

    if (u->ncerts == 0)
        return NULL;
    for (size_t i = 0; i < u->ncerts; i++)
        len += strlen(u->certs[i]) + 1;
    s = calloc(1, len);
    if (!s)
        return NULL;
    for (size_t i = 0, l = 0; i < u->ncerts; i++)
        l += (size_t)snprintf(s + l, len - l, "%s%s", i > 0 ? "," : "", u->certs[i]);
    return s;
}

/* Insert or replace a URL's row, and its group's (server_db.h). */
void
server_db_save_url(struct server_db *db, const struct urlgroup_url *u)
{
    char *certs = server_db_join_certs(u);

    server_db_save_group(db, u->group);
    server_db_run(db,
                  "INSERT OR REPLACE INTO urls(prefix, suffix, source, rule, certs) "
                  "VALUES(?,?,?,?,?)",
                  "sssss", u->group->p.canonical, u->suffix, u->source, u->rule_text, certs);
    free(certs);
}

/* Open (creating, mode 0600) STATE/server.db and its schema (server_db.h). */
int
server_db_open(struct server_db *db, const char *state_dir)
{
    char *path = NULL, *msg = NULL;
    int r = 0;

    if (asprintf(&path, "%s/server.db", state_dir) < 0)
        return -ENOMEM;
    /* Create the file ourselves so it is 0600 whatever the umask; SQLite gives the -wal
     * and -shm files the database's mode. */
    {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            r = -errno;
            ferry_log_error("open('%s') failed: %s", path, strerror(errno));
            goto cleanup;
        }
        if (fchmod(fd, 0600) < 0)
            ferry_log_warn("chmod('%s', 0600) failed: %s", path, strerror(errno));
        close(fd);
    }
    if (sqlite3_open_v2(path, &db->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        ferry_log_error("server store '%s' cannot be opened: %s", path,
                        db->db ? sqlite3_errmsg(db->db) : "out of memory");
        r = -EIO;
        goto cleanup;
    }
    sqlite3_busy_timeout(db->db, 5000);
    if (sqlite3_exec(db->db, server_schema, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db->db, server_schema_uploads, NULL, NULL, &msg) != SQLITE_OK) {
        ferry_log_error("server store '%s' cannot be set up: %s", path, msg ? msg : "?");
        r = -EIO;
    }
    sqlite3_free(msg);
cleanup:
    free(path);
    return r;
}

/* Close the database (server_db.h). */
void
server_db_close(struct server_db *db)
{
    if (db->db)
        sqlite3_close(db->db);
    db->db = NULL;
}

/* Delete a group's row and its URLs' rows (server_db.h). */
void
server_db_delete_group(struct server_db *db, const char *prefix)
{
    server_db_run(db, "DELETE FROM urls WHERE prefix=?", "s", prefix);
    server_db_run(db, "DELETE FROM groups WHERE prefix=?", "s", prefix);
    server_db_run(db, "DELETE FROM group_uploads WHERE prefix=?", "s", prefix);
}

/* Delete one URL's row (server_db.h). */
void
server_db_delete_url(struct server_db *db, const char *prefix, const char *suffix)
{
    server_db_run(db, "DELETE FROM urls WHERE prefix=? AND suffix=?", "ss", prefix, suffix);
}

/* Insert or replace a port's certificate binding (server_db.h). */
void
server_db_save_cert(struct server_db *db, uint16_t port, const char *store, const char *sha1)
{
    server_db_run(db, "INSERT OR REPLACE INTO certs(port, store, sha1) VALUES(?,?,?)", "iss",
                  (int64_t)port, store, sha1);
}

/* Forget the certificate binding of a port (server_db.h). */
void
server_db_delete_cert(struct server_db *db, uint16_t port)
{
    server_db_run(db, "DELETE FROM certs WHERE port = ?", "i", (int64_t)port);
}

/* Every stored certificate binding with a valid port (server_db.h). */
void
server_db_each_cert(struct server_db *db, server_db_cert_fn fn, void *ud)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(db->db, "SELECT port, store, sha1 FROM certs", -1, &stmt, NULL) ==
        SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            int port = sqlite3_column_int(stmt, 0);
            const char *store = (const char *)sqlite3_column_text(stmt, 1);
            const char *sha1 = (const char *)sqlite3_column_text(stmt, 2);
            if (port < 1 || port > 65535 || !store || !sha1)
                continue;
            fn(ud, (uint16_t)port, store, sha1);
        }
    }
    sqlite3_finalize(stmt);
}

/* Every stored group (server_db.h). */
void
server_db_each_group(struct server_db *db, server_db_group_fn fn, void *ud)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(db->db,
                           "SELECT g.prefix, connection_limit, bandwidth_limit, "
                           "auth_negotiate, auth_ntlm, IFNULL(u.upload_enabled, 0), "
                           "IFNULL(u.max_upload_size, 0) FROM groups g "
                           "LEFT JOIN group_uploads u ON u.prefix = g.prefix",
                           -1, &stmt, NULL) == SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            struct server_db_group g = {
                .prefix = (const char *)sqlite3_column_text(stmt, 0),
                .connection_limit = (uint32_t)sqlite3_column_int64(stmt, 1),
                .bandwidth_limit = (uint32_t)sqlite3_column_int64(stmt, 2),
                .auth_negotiate = sqlite3_column_int(stmt, 3) != 0,
                .auth_ntlm = sqlite3_column_int(stmt, 4) != 0,
                .upload_enabled = (uint32_t)sqlite3_column_int64(stmt, 5),
                .max_upload_size = (uint32_t)sqlite3_column_int64(stmt, 6),
            };
            if (g.prefix)
                fn(ud, &g);
        }
    }
    sqlite3_finalize(stmt);
}

/* Every stored URL, its certificate list split at the commas (server_db.h). */
void
server_db_each_url(struct server_db *db, server_db_url_fn fn, void *ud)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(db->db, "SELECT prefix, suffix, source, rule, certs FROM urls", -1,
                           &stmt, NULL) == SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            const char *prefix = (const char *)sqlite3_column_text(stmt, 0);
            const char *suffix = (const char *)sqlite3_column_text(stmt, 1);
            const char *source = (const char *)sqlite3_column_text(stmt, 2);
            const char *rule = (const char *)sqlite3_column_text(stmt, 3);
            const char *certs = (const char *)sqlite3_column_text(stmt, 4);
            const char *cv[ACCESS_RULE_MAX_ITEMS];
            char *copy = certs ? strdup(certs) : NULL, *save = NULL, *tok;
            size_t nc = 0;

            for (tok = copy ? strtok_r(copy, ",", &save) : NULL;
                 tok && nc < ACCESS_RULE_MAX_ITEMS; tok = strtok_r(NULL, ",", &save))
                cv[nc++] = tok;
            fn(ud, prefix, suffix, source, rule, cv, nc);
            free(copy);
        }
    }
    sqlite3_finalize(stmt);
}
