/*
 * upload_store.c - the persisted state of upload jobs (Type 1/2): table `uploads` of
 * STATE/jobs.db (schema v4, created by store.c's migration): ReplyFileName, the server's
 * BITS-Session-Id, the acknowledged offset (BITS-Received-Content-Range) and the identity
 * of LocalFile when the upload began. Caller holds the role's lock (client.h).
 *
 * The acknowledged offset is a hint, never a promise: a resumed session first asks the
 * server for its received range, so a row older than the server's state costs nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "ferry/log.h"
#include "client/job.h"
#include "client/store.h"
#include "client/upload.h"

static int
upload_store_rc(struct store *s, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    ferry_log_error("job store '%s': %s failed: %s", store_path(s), what,
                    sqlite3_errmsg(store_sqlite(s)));
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY : -EIO;
}

int
upload_store_put(struct store *s, const struct job *job)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO uploads(job_id, reply_file, session_id, acked, have_src,"
        " src_size, src_ino, src_dev, src_mtime_ns, reply_ready)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    const struct job_upload *u = &job->up;
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (job->type == 0)
        return 0;
    rc = sqlite3_prepare_v2(store_sqlite(s), sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return upload_store_rc(s, rc, "prepare upload row");
    sqlite3_bind_text(stmt, 1, job->id, -1, SQLITE_STATIC);
    if (u->reply_file)
        sqlite3_bind_text(stmt, 2, u->reply_file, -1, SQLITE_STATIC);
    if (u->session_id)
        sqlite3_bind_text(stmt, 3, u->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)u->acked);
    sqlite3_bind_int(stmt, 5, u->have_src);
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)u->src_size);
    sqlite3_bind_int64(stmt, 7, (sqlite3_int64)u->src_ino);
    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)u->src_dev);
    sqlite3_bind_int64(stmt, 9, (sqlite3_int64)u->src_mtime_ns);
    sqlite3_bind_int(stmt, 10, u->reply_ready);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return upload_store_rc(s, rc, "write upload row");
}

static int
upload_store_dup(char **slot, const unsigned char *text)
{
    free(*slot);
    *slot = NULL;
    if (!text)
        return 0;
    *slot = strdup((const char *)text);
    return *slot ? 0 : -ENOMEM;
}

int
upload_store_load(struct store *s, struct job **v, size_t n)
{
    static const char sql[] =
        "SELECT job_id, reply_file, session_id, acked, have_src, src_size, src_ino, src_dev,"
        " src_mtime_ns, reply_ready FROM uploads";
    sqlite3_stmt *stmt = NULL;
    int rc, r = 0;

    rc = sqlite3_prepare_v2(store_sqlite(s), sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return upload_store_rc(s, rc, "prepare upload rows");
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && r >= 0) {
        const char *id = (const char *)sqlite3_column_text(stmt, 0);
        struct job *job = NULL;
        struct job_upload *u;

        for (size_t i = 0; id && i < n && !job; i++)
            if (strcmp(v[i]->id, id) == 0)
                job = v[i];
        if (!job || job->type == 0)
            continue;
        u = &job->up;
        r = upload_store_dup(&u->reply_file, sqlite3_column_text(stmt, 1));
        if (r >= 0)
            r = upload_store_dup(&u->session_id, sqlite3_column_text(stmt, 2));
        u->acked = (uint64_t)sqlite3_column_int64(stmt, 3);
        u->have_src = sqlite3_column_int(stmt, 4) != 0;
        u->src_size = (uint64_t)sqlite3_column_int64(stmt, 5);
        u->src_ino = (uint64_t)sqlite3_column_int64(stmt, 6);
        u->src_dev = (uint64_t)sqlite3_column_int64(stmt, 7);
        u->src_mtime_ns = (int64_t)sqlite3_column_int64(stmt, 8);
        u->reply_ready = sqlite3_column_int(stmt, 9) != 0;
    }
    sqlite3_finalize(stmt);
    if (r < 0)
        return r;
    return upload_store_rc(s, rc, "read upload rows");
}
