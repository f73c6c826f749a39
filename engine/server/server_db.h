/*
 * engine/server/server_db.h - the server role's persistence: STATE/server.db (SQLite,
 * WAL) with URL groups, URLs and port certificate bindings. Called under the server's
 * lock; while `paused` (restore and config phase) writes are skipped, so what is being
 * restored is not written back.
 */
#ifndef FERRY_SERVER_DB_H
#define FERRY_SERVER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct urlgroup;
struct urlgroup_url;

struct server_db {
    struct sqlite3 *db;
    bool paused;
};

/* A stored group row, valid during the callback. */
struct server_db_group {
    const char *prefix;
    uint32_t connection_limit, bandwidth_limit;
    bool auth_negotiate, auth_ntlm;
    uint32_t upload_enabled, max_upload_size; /* migration step "uploads" */
};

typedef void (*server_db_cert_fn)(void *ud, uint16_t port, const char *store,
                                  const char *sha1);
typedef void (*server_db_group_fn)(void *ud, const struct server_db_group *g);
/* prefix, suffix or source may be NULL in a damaged row. */
typedef void (*server_db_url_fn)(void *ud, const char *prefix, const char *suffix,
                                 const char *source, const char *rule,
                                 const char *const *certs, size_t ncerts);

/* Open (creating it 0600) STATE/server.db and set up its schema. 0, -errno or -EIO. */
int server_db_open(struct server_db *db, const char *state_dir);
void server_db_close(struct server_db *db);

void server_db_save_group(struct server_db *db, const struct urlgroup *g);
/* The group's row and its UploadEnabled/MaxUploadSize row (table group_uploads). */
void server_db_save_group_upload(struct server_db *db, const struct urlgroup *g);
/* The URL's row and its group's. */
void server_db_save_url(struct server_db *db, const struct urlgroup_url *u);
/* The group's row and the rows of all its URLs. */
void server_db_delete_group(struct server_db *db, const char *prefix);
void server_db_delete_url(struct server_db *db, const char *prefix, const char *suffix);
void server_db_save_cert(struct server_db *db, uint16_t port, const char *store,
                         const char *sha1);
void server_db_delete_cert(struct server_db *db, uint16_t port);

/* Clear the Negotiate/NTLM flags of every stored group (restore: an older ferryd stored
 * Enable=true, which nothing enforces). The one write done while paused. 0 or -EIO. */
int server_db_clear_group_auth(struct server_db *db);

/* Replay what is stored, row by row. */
void server_db_each_cert(struct server_db *db, server_db_cert_fn fn, void *ud);
void server_db_each_group(struct server_db *db, server_db_group_fn fn, void *ud);
void server_db_each_url(struct server_db *db, server_db_url_fn fn, void *ud);

#endif
