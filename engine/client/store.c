/*
 * store.c - the client role's persistence: SQLite in STATE/jobs.db (WAL,
 * synchronous=NORMAL, explicit checkpoints where durability matters, busy_timeout).
 *
 * Schema versioned by PRAGMA user_version; store_migrate() brings an older file forward
 * and refuses a newer one. The file is created 0600 inside a 0700 directory; a lock file
 * (STATE/jobs.lock, flock) keeps a second process away. Credentials are written here and
 * read back only by store_cred_get (for the fetcher): no getter of the public API sees them.
 * Their passwords are sealed with the key in STATE/credentials.key (credbox.h); plain ones
 * an older ferryd wrote are sealed when the store opens.
 *
 * Durability order (see docs/internals/client.md): chunk rows are written only after the
 * fetcher fdatasync()ed the temp file, so a row never claims bytes that are not on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/credbox.h"
#include "client/job.h"
#include "client/store.h"

static int store_setting_set(struct store *s, const char *key, const char *value);
static int store_cred_seal_all(struct store *s, const char *state_dir);

#define STORE_VERSION 6
#define STORE_BUSY_TIMEOUT_MS 5000

/* Statements of the hot write path, prepared once (store_cached) and reset after use. */
enum store_stmt {
    STORE_STMT_BEGIN,
    STORE_STMT_COMMIT,
    STORE_STMT_JOB_PUT,
    STORE_STMT_FILE_PUT,
    STORE_STMT_NOTIFY_PUT,
    STORE_STMT_NOTIFY_DEL,
    STORE_STMT_POLICY_PUT,
    STORE_STMT_MAX,
};

struct store {
    sqlite3 *db;
    char *path;
    int lock_fd;
    sqlite3_stmt *cached[STORE_STMT_MAX];
    struct credbox *box;     /* credentials at rest (credbox.h) */
    uint64_t nsyncs; /* checkpoints done (tests observe the sync policy with it) */
};

static const char *const store_schema_v1[] = {
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE jobs(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, display_name TEXT,"
    " description TEXT, owner TEXT, type INTEGER, service_account INTEGER,"
    " priority INTEGER, state INTEGER, min_retry_delay INTEGER, no_progress_timeout INTEGER,"
    " ctime INTEGER, mtime INTEGER, completion_time INTEGER, transient_errors INTEGER,"
    " retries INTEGER, bytes_refetched INTEGER, connections INTEGER, bandwidth_limit INTEGER,"
    " proxy_usage INTEGER, proxy_list TEXT, proxy_bypass TEXT, cert_path TEXT,"
    " headers TEXT, err_set INTEGER, err_context INTEGER, err_code INTEGER, err_text TEXT,"
    " err_file TEXT)",
    "CREATE TABLE files(job_id TEXT NOT NULL, idx INTEGER NOT NULL, remote_url TEXT,"
    " local_file TEXT, mirrors TEXT, expected_digest TEXT, bytes_total INTEGER,"
    " bytes_transferred INTEGER, completed INTEGER, etag TEXT, last_modified TEXT,"
    " has_manifest INTEGER, chunk_size INTEGER, PRIMARY KEY(job_id, idx))",
    "CREATE TABLE chunks(job_id TEXT NOT NULL, file_idx INTEGER NOT NULL,"
    " chunk_idx INTEGER NOT NULL, fill INTEGER NOT NULL, verified INTEGER NOT NULL,"
    " digest BLOB, PRIMARY KEY(job_id, file_idx, chunk_idx)) WITHOUT ROWID",
    "CREATE TABLE credentials(job_id TEXT NOT NULL, target INTEGER NOT NULL,"
    " scheme INTEGER NOT NULL, user TEXT, password TEXT, seq INTEGER,"
    " PRIMARY KEY(job_id, target, scheme))",
    NULL,
};

static int
store_err(struct store *s, int rc, const char *what)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        ferry_log_error("job store '%s' is locked (%s): %s", s->path, what,
                        sqlite3_errmsg(s->db));
        return -EBUSY;
    }
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
        ferry_log_error("job store '%s' is corrupt (%s): %s", s->path, what,
                        sqlite3_errmsg(s->db));
        return -EBADMSG;
    }
    if (rc == SQLITE_FULL)
        return -ENOSPC;
    if (rc == SQLITE_NOMEM)
        return -ENOMEM;
    ferry_log_error("job store '%s': %s failed: %s", s->path, what, sqlite3_errmsg(s->db));
    return -EIO;
}

static int
store_exec(struct store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

    sqlite3_free(msg);
    if (rc != SQLITE_OK)
        return store_err(s, rc, sql);
    return 0;
}

static int
store_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

    if (rc != SQLITE_OK)
        return store_err(s, rc, "prepare");
    return 0;
}

static int
store_step_done(struct store *s, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);

    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_err(s, rc, what);
    return 0;
}

/* The cached statement `which` (prepared on first use with `sql`), reset and unbound. */
static int
store_cached(struct store *s, enum store_stmt which, const char *sql, sqlite3_stmt **ret)
{
    int rc;

    if (s->cached[which]) {
        *ret = s->cached[which];
        return 0;
    }
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->cached[which],
                            NULL);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "prepare");
    *ret = s->cached[which];
    return 0;
}

/* Step a cached statement to completion and reset it for the next use. */
static int
store_cached_step(struct store *s, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_err(s, rc, what);
    return 0;
}

/* BEGIN IMMEDIATE / COMMIT through the statement cache (no re-parse per transaction). */
static int
store_begin(struct store *s)
{
    sqlite3_stmt *stmt = NULL;
    int r = store_cached(s, STORE_STMT_BEGIN, "BEGIN IMMEDIATE", &stmt);

    return r < 0 ? r : store_cached_step(s, stmt, "BEGIN IMMEDIATE");
}

static int
store_commit(struct store *s)
{
    sqlite3_stmt *stmt = NULL;
    int r = store_cached(s, STORE_STMT_COMMIT, "COMMIT", &stmt);

    return r < 0 ? r : store_cached_step(s, stmt, "COMMIT");
}

static int
store_user_version(struct store *s, int *ret)
{
    sqlite3_stmt *stmt;
    int r, rc;

    r = store_prepare(s, "PRAGMA user_version", &stmt);
    if (r < 0)
        return r;
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return store_err(s, rc, "read user_version");
    }
    *ret = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return 0;
}


/* v2: chunks.fill_digest = XXH3-128 of the durable prefix of a partial chunk, checked
 * against the disk before the chunk is continued. Rows from v1 have none: their partial
 * chunks are continued only when a manifest checks them. */
static const char *const store_schema_v2[] = {
    "ALTER TABLE chunks ADD COLUMN fill_digest BLOB",
    NULL,
};

/* v3: per-job notification settings (NotifyFlags, SetNotifyCmdLine, NotifyUrl) in their own
 * table; a job without a row has the defaults (flags 3, nothing to run). */
static const char *const store_schema_v3[] = {
    "CREATE TABLE IF NOT EXISTS notify(job_id TEXT PRIMARY KEY,"
    " flags INTEGER NOT NULL, program TEXT, argv TEXT, url TEXT)",
    NULL,
};

/* v4: upload jobs (Type 1/2): their session, acknowledged offset, LocalFile identity and
 * ReplyFileName, read and written by upload_store.c. */
static const char *const store_schema_v4[] = {
    "CREATE TABLE IF NOT EXISTS uploads(job_id TEXT PRIMARY KEY, reply_file TEXT,"
    " session_id TEXT, acked INTEGER, have_src INTEGER, src_size INTEGER, src_ino INTEGER,"
    " src_dev INTEGER, src_mtime_ns INTEGER, reply_ready INTEGER)",
    NULL,
};

/* v5: files.tree_digest = the tree digest of a completed file (job.h, verify.h), checked
 * when recovery finds the file already at LocalFile. Files completed before v5 have none:
 * they are judged by size (and ExpectedDigest) as before. */
static const char *const store_schema_v5[] = {
    "ALTER TABLE files ADD COLUMN tree_digest BLOB",
    NULL,
};

/* v6: job_policies, one row per job: MaxDownloadTime, JobInactivityTimeout (s) and the
 * CONNECTING/TRANSFERRING time counted against the first (ms). A table of its own, written
 * with the job row (store_policy_row_put); jobs of an older store have none and get the
 * defaults (job_new, cfg->job_inactivity_timeout). */
static const char *const store_schema_v6[] = {
    "CREATE TABLE IF NOT EXISTS job_policies(job_id TEXT PRIMARY KEY,"
    " max_download_time INTEGER NOT NULL, inactivity_timeout INTEGER NOT NULL,"
    " download_ms INTEGER NOT NULL)",
    NULL,
};

/* One schema step: its statements, applied in one transaction with the new user_version.
 * A step that adds a column is skipped when the column is there already (a file whose
 * version number was set back, by hand or by a test), so every step is idempotent. */
struct store_step {
    int version;
    const char *const *sql;
    const char *table, *column; /* the column the step adds, NULL when it adds none */
};

static const struct store_step store_steps[] = {
    {1, store_schema_v1, NULL, NULL},
    {2, store_schema_v2, "chunks", "fill_digest"},
    {3, store_schema_v3, NULL, NULL},
    {4, store_schema_v4, NULL, NULL},
    {5, store_schema_v5, "files", "tree_digest"},
    {6, store_schema_v6, NULL, NULL},
};
_Static_assert(sizeof(store_steps) / sizeof(store_steps[0]) == STORE_VERSION,
               "one step per schema version");

/* Whether table has a column called name (pragma_table_info); false on any error. */
static bool
store_has_column(struct store *s, const char *table, const char *name)
{
    sqlite3_stmt *stmt;
    bool has = false;

    if (store_prepare(s, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", &stmt) < 0)
        return false;
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    has = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return has;
}

static int
store_step_apply(struct store *s, const struct store_step *st)
{
    char pragma[48];
    int r = store_exec(s, "BEGIN IMMEDIATE");

    if (r < 0)
        return r;
    if (!st->column || !store_has_column(s, st->table, st->column)) {
        for (size_t i = 0; r >= 0 && st->sql[i]; i++)
            r = store_exec(s, st->sql[i]);
    }
    if (r >= 0) {
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", st->version);
        r = store_exec(s, pragma);
    }
    if (r < 0) {
        store_exec(s, "ROLLBACK");
        return r;
    }
    return store_exec(s, "COMMIT");
}

/* Bring the schema to STORE_VERSION; each step runs in its own transaction. */
static int
store_migrate(struct store *s)
{
    int version = 0, r;

    r = store_user_version(s, &version);
    if (r < 0)
        return r;
    if (version > STORE_VERSION) {
        ferry_log_error("job store '%s' has schema version %d, newer than this ferryd (%d)",
                        s->path, version, STORE_VERSION);
        return -EPROTO;
    }
    for (size_t i = 0; i < sizeof(store_steps) / sizeof(store_steps[0]); i++) {
        if (version >= store_steps[i].version)
            continue;
        r = store_step_apply(s, &store_steps[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int
store_integrity(struct store *s)
{
    sqlite3_stmt *stmt;
    int r, rc;

    r = store_prepare(s, "PRAGMA quick_check", &stmt);
    if (r < 0)
        return r;
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return store_err(s, rc, "integrity check");
    }
    if (strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") != 0) {
        ferry_log_error("job store '%s' is corrupt: %s; refusing to start (move it away to "
                        "start with an empty store)",
                        s->path, (const char *)sqlite3_column_text(stmt, 0));
        sqlite3_finalize(stmt);
        return -EBADMSG;
    }
    sqlite3_finalize(stmt);
    return 0;
}

/*
 * Open (creating if needed) STATE/jobs.db. The state directory is created 0700 when
 * missing. Fails with a logged message naming the file when it is locked by another
 * process (-EBUSY), corrupt (-EBADMSG) or from a newer version (-EPROTO).
 */
int
store_open(const char *state_dir, struct store **ret_store)
{
    struct store *s;
    char *lock_path = NULL;
    int fd, r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->lock_fd = -1;
    if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
        r = -errno;
        ferry_log_error("mkdir('%s') failed: %s", state_dir, strerror(errno));
        goto error;
    }
    if (asprintf(&s->path, "%s/jobs.db", state_dir) < 0 ||
        asprintf(&lock_path, "%s/jobs.lock", state_dir) < 0) {
        s->path = NULL;
        lock_path = NULL;
        r = -ENOMEM;
        goto error;
    }
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        r = -errno;
        ferry_log_error("open('%s') failed: %s", lock_path, strerror(errno));
        goto error;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        ferry_log_error("job store '%s' is in use by another process", s->path);
        goto error;
    }
    /* Create the file ourselves so its mode is 0600 whatever the umask. */
    fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = -errno;
        ferry_log_error("open('%s') failed: %s", s->path, strerror(errno));
        goto error;
    }
    fchmod(fd, 0600);
    close(fd);

    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        ferry_log_error("job store '%s' could not be opened: %s", s->path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
        r = -EIO;
        goto error;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    r = store_integrity(s);
    if (r < 0)
        goto error;
    r = store_exec(s, "PRAGMA journal_mode=WAL");
    if (r < 0)
        goto error;
    r = store_exec(s, "PRAGMA synchronous=NORMAL");
    if (r < 0)
        goto error;
    r = store_exec(s, "PRAGMA foreign_keys=OFF");
    if (r < 0)
        goto error;
    /* deleted rows (wiped or replaced credentials) are overwritten with zeros, not left in
     * free space of a page */
    r = store_exec(s, "PRAGMA secure_delete=ON");
    if (r < 0)
        goto error;
    r = store_migrate(s);
    if (r < 0)
        goto error;
    r = store_cred_seal_all(s, state_dir);
    if (r < 0)
        goto error;
    /* which ferry last opened the store: for diagnostics and future migrations */
    r = store_setting_set(s, "last_opened_by", "ferry " FERRY_VERSION);
    if (r < 0)
        goto error;
    free(lock_path);
    *ret_store = s;
    return 0;
error:
    free(lock_path);
    store_free(s);
    return r;
}

/* Close the database (checkpointing the WAL) and release the lock. NULL-safe. */
struct store *
store_free(struct store *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < STORE_STMT_MAX; i++)
        sqlite3_finalize(s->cached[i]);
    if (s->db) {
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    s->box = credbox_free(s->box);
    free(s->path);
    free(s);
    return NULL;
}

/* The database file's path, for messages. Owned by the store. */
const char *
store_path(const struct store *s)
{
    return s->path;
}

/* The database handle, for the tables of other modules (upload_store.c). */
sqlite3 *
store_sqlite(struct store *s)
{
    return s->db;
}

/* A WAL checkpoint syncs the WAL, making every committed transaction durable. */
int
store_sync(struct store *s)
{
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return store_err(s, rc, "checkpoint");
    s->nsyncs++;
    return 0;
}

/* How many checkpoints store_sync() has made (for tests). */
uint64_t
store_sync_count(const struct store *s)
{
    return s->nsyncs;
}

/* Strings lists are stored newline-separated (values never hold a newline: checked). */
static char *
store_join(char **v, size_t n)
{
    size_t len = 1;
    char *out, *p;

    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    out = malloc(len);
    if (!out)
        return NULL;
    p = out;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        memcpy(p, v[i], l);
        p += l;
        if (i + 1 < n)
            *p++ = '\n';
    }
    *p = '\0';
    return out;
}

static int
store_split(const char *s, char ***ret_v, size_t *ret_n)
{
    char **v = NULL;
    size_t n = 0;
    const char *p = s;

    if (!s || !*s) {
        *ret_v = NULL;
        *ret_n = 0;
        return 0;
    }
    while (p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char **nv = realloc(v, (n + 1) * sizeof(*v));
        if (!nv)
            goto oom;
        v = nv;
        v[n] = strndup(p, l);
        if (!v[n])
            goto oom;
        n++;
        p = nl ? nl + 1 : NULL;
    }
    *ret_v = v;
    *ret_n = n;
    return 0;
oom:
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return -ENOMEM;
}

static char *
store_col_strdup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);

    return t ? strdup((const char *)t) : NULL;
}

static void
store_bind_text(sqlite3_stmt *stmt, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, idx);
}

static int
store_job_row_put(struct store *s, const struct job *job)
{
    sqlite3_stmt *stmt = NULL;
    char *headers;
    int r;

    r = store_cached(s, STORE_STMT_JOB_PUT,
                     "INSERT OR REPLACE INTO jobs(id, seq, display_name, description, owner,"
                      " type, service_account, priority, state, min_retry_delay,"
                      " no_progress_timeout, ctime, mtime, completion_time, transient_errors,"
                      " retries, bytes_refetched, connections, bandwidth_limit, proxy_usage,"
                      " proxy_list, proxy_bypass, cert_path, headers, err_set, err_context,"
                      " err_code, err_text, err_file) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                      " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,"
                      " ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
                      &stmt);
    if (r < 0)
        return r;
    headers = store_join(job->headers, job->nheaders);
    if (!headers)
        return -ENOMEM;
    store_bind_text(stmt, 1, job->id);
    sqlite3_bind_int64(stmt, 2, job->seq);
    store_bind_text(stmt, 3, job->display_name);
    store_bind_text(stmt, 4, job->description);
    store_bind_text(stmt, 5, job->owner);
    sqlite3_bind_int(stmt, 6, (int)job->type);
    sqlite3_bind_int(stmt, 7, (int)job->service_account);
    sqlite3_bind_int(stmt, 8, (int)job->priority);
    sqlite3_bind_int(stmt, 9, (int)job->state);
    sqlite3_bind_int64(stmt, 10, job->min_retry_delay);
    sqlite3_bind_int64(stmt, 11, job->no_progress_timeout);
    sqlite3_bind_int64(stmt, 12, (sqlite3_int64)job->ctime);
    sqlite3_bind_int64(stmt, 13, (sqlite3_int64)job->mtime);
    sqlite3_bind_int64(stmt, 14, (sqlite3_int64)job->completion_time);
    sqlite3_bind_int64(stmt, 15, job->transient_errors);
    sqlite3_bind_int64(stmt, 16, job->retries);
    sqlite3_bind_int64(stmt, 17, (sqlite3_int64)job->bytes_refetched);
    sqlite3_bind_int64(stmt, 18, job->connections);
    sqlite3_bind_int64(stmt, 19, (sqlite3_int64)job->bandwidth_limit);
    sqlite3_bind_int(stmt, 20, (int)job->proxy_usage);
    store_bind_text(stmt, 21, job->proxy_list);
    store_bind_text(stmt, 22, job->proxy_bypass);
    store_bind_text(stmt, 23, job->cert_path);
    store_bind_text(stmt, 24, headers);
    sqlite3_bind_int(stmt, 25, job->err.set);
    sqlite3_bind_int(stmt, 26, (int)job->err.context);
    sqlite3_bind_int64(stmt, 27, job->err.code);
    store_bind_text(stmt, 28, job->err.text);
    store_bind_text(stmt, 29, job->err.file);
    r = store_cached_step(s, stmt, "write job");
    free(headers);
    return r;
}

static int
store_file_row_put(struct store *s, const char *job_id, size_t idx, const struct jfile *f)
{
    sqlite3_stmt *stmt = NULL;
    char *mirrors;
    int r;

    r = store_cached(s, STORE_STMT_FILE_PUT,
                     "INSERT OR REPLACE INTO files(job_id, idx, remote_url, local_file,"
                      " mirrors, expected_digest, bytes_total, bytes_transferred, completed,"
                      " etag, last_modified, has_manifest, chunk_size, tree_digest)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                      &stmt);
    if (r < 0)
        return r;
    mirrors = store_join(f->mirrors, f->nmirrors);
    if (!mirrors)
        return -ENOMEM;
    store_bind_text(stmt, 1, job_id);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)idx);
    store_bind_text(stmt, 3, f->remote_url);
    store_bind_text(stmt, 4, f->local_file);
    store_bind_text(stmt, 5, mirrors);
    store_bind_text(stmt, 6, f->expected_digest);
    sqlite3_bind_int64(stmt, 7, (sqlite3_int64)f->bytes_total);
    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)f->bytes_transferred);
    sqlite3_bind_int(stmt, 9, f->completed);
    store_bind_text(stmt, 10, f->etag);
    store_bind_text(stmt, 11, f->last_modified);
    sqlite3_bind_int(stmt, 12, f->has_manifest);
    sqlite3_bind_int64(stmt, 13, (sqlite3_int64)f->chunk_size);
    if (f->completed && f->have_tree)
        sqlite3_bind_blob(stmt, 14, f->tree_digest, 16, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, 14);
    r = store_cached_step(s, stmt, "write file");
    free(mirrors);
    return r;
}

/* The job's notify row: written when it differs from the defaults, deleted otherwise. */
static int
store_notify_row_put(struct store *s, const struct job *job)
{
    sqlite3_stmt *stmt = NULL;
    char *argv;
    int r;

    if (job->notify_flags == FERRY_NOTIFY_DEFAULT_FLAGS && !job->notify_program &&
        !job->notify_url) {
        r = store_cached(s, STORE_STMT_NOTIFY_DEL, "DELETE FROM notify WHERE job_id = ?1",
                         &stmt);
        if (r < 0)
            return r;
        store_bind_text(stmt, 1, job->id);
        return store_cached_step(s, stmt, "delete notify");
    }
    r = store_cached(s, STORE_STMT_NOTIFY_PUT,
                     "INSERT OR REPLACE INTO notify(job_id, flags, program, argv, url)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
                     &stmt);
    if (r < 0)
        return r;
    argv = store_join(job->notify_argv, job->notify_argc);
    if (!argv)
        return -ENOMEM;
    store_bind_text(stmt, 1, job->id);
    sqlite3_bind_int64(stmt, 2, job->notify_flags);
    store_bind_text(stmt, 3, job->notify_program);
    store_bind_text(stmt, 4, job->notify_program ? argv : NULL);
    store_bind_text(stmt, 5, job->notify_url);
    r = store_cached_step(s, stmt, "write notify");
    free(argv);
    return r;
}

/* The job's policy row (v6), inside the caller's transaction. */
static int
store_policy_row_put(struct store *s, const struct job *job)
{
    sqlite3_stmt *stmt = NULL;
    int r = store_cached(s, STORE_STMT_POLICY_PUT,
                         "INSERT OR REPLACE INTO job_policies(job_id, max_download_time,"
                         " inactivity_timeout, download_ms) VALUES(?1, ?2, ?3, ?4)",
                         &stmt);

    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job->id);
    sqlite3_bind_int64(stmt, 2, job->max_download_time);
    sqlite3_bind_int64(stmt, 3, job->inactivity_timeout);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)job->download_ms);
    return store_cached_step(s, stmt, "write job policies");
}

/* Read the job's policy row, when it has one (jobs of a store older than v6 have none). */
static int
store_load_policy(struct store *s, struct job *job)
{
    sqlite3_stmt *stmt;
    int r, rc;

    r = store_prepare(s, "SELECT max_download_time, inactivity_timeout, download_ms"
                         " FROM job_policies WHERE job_id = ?1", &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job->id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        job->max_download_time = (uint32_t)sqlite3_column_int64(stmt, 0);
        job->inactivity_timeout = (uint32_t)sqlite3_column_int64(stmt, 1);
        job->download_ms = (uint64_t)sqlite3_column_int64(stmt, 2);
    } else if (rc != SQLITE_DONE) {
        r = store_err(s, rc, "read job policies");
    }
    sqlite3_finalize(stmt);
    return r;
}

static int
store_job_put_locked(struct store *s, const struct job *job)
{
    int r = store_job_row_put(s, job);

    if (r >= 0)
        r = store_notify_row_put(s, job);
    if (r >= 0)
        r = store_policy_row_put(s, job);
    for (size_t i = 0; r >= 0 && i < job->nfiles; i++)
        r = store_file_row_put(s, job->id, i, &job->files[i]);
    return r;
}

/* Upsert the job row and its file rows in one transaction. */
int
store_job_put(struct store *s, const struct job *job)
{
    int r = store_begin(s);

    if (r < 0)
        return r;
    r = store_job_put_locked(s, job);
    if (r < 0) {
        store_exec(s, "ROLLBACK");
        return r;
    }
    return store_commit(s);
}

/*
 * Write the dirty chunks of file idx (their durable fill, verified flag, digest) with the
 * job and file rows, in one transaction. Clears the dirty flags on success. The caller has
 * fdatasync()ed the temp file first.
 */
int
store_progress_put(struct store *s, struct job *job, size_t idx)
{
    struct jfile *f = &job->files[idx];
    sqlite3_stmt *stmt = NULL;
    int r;

    r = store_exec(s, "BEGIN IMMEDIATE");
    if (r < 0)
        return r;
    r = store_job_put_locked(s, job);
    if (r < 0)
        goto error;
    r = store_prepare(s,
                      "INSERT OR REPLACE INTO chunks(job_id, file_idx, chunk_idx, fill,"
                      " verified, digest, fill_digest) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &stmt);
    if (r < 0)
        goto error;
    for (uint64_t i = 0; i < f->nchunks; i++) {
        const struct chunk *c = &f->chunks[i];
        bool verified = c->state == CHUNK_VERIFIED;
        int rc;

        if (!c->dirty)
            continue;
        sqlite3_reset(stmt);
        store_bind_text(stmt, 1, job->id);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)idx);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)i);
        sqlite3_bind_int64(stmt, 4, (sqlite3_int64)(verified ? 0 : c->fill_durable));
        sqlite3_bind_int(stmt, 5, verified);
        if (verified && c->have_digest)
            sqlite3_bind_blob(stmt, 6, c->digest, 16, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(stmt, 6);
        if (!verified && c->fill_durable > 0 && c->have_durable_digest)
            sqlite3_bind_blob(stmt, 7, c->durable_digest, 16, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(stmt, 7);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) {
            r = store_err(s, rc, "write chunk");
            goto error;
        }
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    r = store_exec(s, "COMMIT");
    if (r < 0)
        goto error;
    for (uint64_t i = 0; i < f->nchunks; i++)
        f->chunks[i].dirty = false;
    return 0;
error:
    sqlite3_finalize(stmt);
    store_exec(s, "ROLLBACK");
    return r;
}

/* Forget a job entirely: its row, files, chunks and credentials, in one transaction. */
int
store_job_delete(struct store *s, const char *job_id)
{
    static const char *const sql[] = {
        "DELETE FROM chunks WHERE job_id = ?1",
        "DELETE FROM credentials WHERE job_id = ?1",
        "DELETE FROM notify WHERE job_id = ?1",
        "DELETE FROM uploads WHERE job_id = ?1",
        "DELETE FROM job_policies WHERE job_id = ?1",
        "DELETE FROM files WHERE job_id = ?1",
        "DELETE FROM jobs WHERE id = ?1",
    };
    int r = store_exec(s, "BEGIN IMMEDIATE");

    if (r < 0)
        return r;
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        sqlite3_stmt *stmt;
        r = store_prepare(s, sql[i], &stmt);
        if (r < 0)
            break;
        store_bind_text(stmt, 1, job_id);
        r = store_step_done(s, stmt, "delete job");
        if (r < 0)
            break;
    }
    if (r < 0) {
        store_exec(s, "ROLLBACK");
        return r;
    }
    return store_exec(s, "COMMIT");
}

/* Delete chunk rows of one file, or of every file of the job when idx == SIZE_MAX. */
int
store_chunks_clear(struct store *s, const char *job_id, size_t idx)
{
    sqlite3_stmt *stmt;
    int r;

    if (idx == SIZE_MAX)
        r = store_prepare(s, "DELETE FROM chunks WHERE job_id = ?1", &stmt);
    else
        r = store_prepare(s, "DELETE FROM chunks WHERE job_id = ?1 AND file_idx = ?2", &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job_id);
    if (idx != SIZE_MAX)
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)idx);
    return store_step_done(s, stmt, "delete chunks");
}

static int
store_load_files(struct store *s, struct job *job)
{
    sqlite3_stmt *stmt;
    int r, rc;

    r = store_prepare(s,
                      "SELECT idx, remote_url, local_file, mirrors, expected_digest,"
                      " bytes_total, bytes_transferred, completed, etag, last_modified,"
                      " has_manifest, chunk_size, tree_digest FROM files WHERE job_id = ?1"
                      " ORDER BY idx",
                      &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job->id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct jfile *nv = realloc(job->files, (job->nfiles + 1) * sizeof(*nv));
        struct jfile *f;

        if (!nv) {
            r = -ENOMEM;
            goto done;
        }
        job->files = nv;
        f = &job->files[job->nfiles++];
        memset(f, 0, sizeof(*f));
        f->remote_url = store_col_strdup(stmt, 1);
        f->local_file = store_col_strdup(stmt, 2);
        r = store_split((const char *)sqlite3_column_text(stmt, 3), &f->mirrors, &f->nmirrors);
        if (r < 0)
            goto done;
        f->expected_digest = store_col_strdup(stmt, 4);
        f->bytes_total = (uint64_t)sqlite3_column_int64(stmt, 5);
        f->bytes_transferred = (uint64_t)sqlite3_column_int64(stmt, 6);
        f->completed = sqlite3_column_int(stmt, 7) != 0;
        f->etag = store_col_strdup(stmt, 8);
        f->last_modified = store_col_strdup(stmt, 9);
        f->has_manifest = sqlite3_column_int(stmt, 10) != 0;
        f->chunk_size = (uint64_t)sqlite3_column_int64(stmt, 11);
        if (f->completed && sqlite3_column_bytes(stmt, 12) == 16) {
            memcpy(f->tree_digest, sqlite3_column_blob(stmt, 12), 16);
            f->have_tree = true;
        }
        if (!f->remote_url || !f->local_file) {
            r = -EBADMSG;
            goto done;
        }
    }
    if (rc != SQLITE_DONE)
        r = store_err(s, rc, "read files");
done:
    sqlite3_finalize(stmt);
    return r;
}

/* The job's notification settings (defaults when it has no row). */
static int
store_load_notify(struct store *s, struct job *job)
{
    sqlite3_stmt *stmt;
    int r, rc;

    r = store_prepare(s, "SELECT flags, program, argv, url FROM notify WHERE job_id = ?1",
                      &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job->id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        job->notify_flags = (uint32_t)sqlite3_column_int64(stmt, 0) & FERRY_NOTIFY_ALL_FLAGS;
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) {
            job->notify_program = store_col_strdup(stmt, 1);
            r = store_split((const char *)sqlite3_column_text(stmt, 2), &job->notify_argv,
                            &job->notify_argc);
            if (r >= 0 && !job->notify_program)
                r = -ENOMEM;
        }
        if (r >= 0 && sqlite3_column_type(stmt, 3) != SQLITE_NULL) {
            job->notify_url = store_col_strdup(stmt, 3);
            if (!job->notify_url)
                r = -ENOMEM;
        }
    } else if (rc != SQLITE_DONE) {
        r = store_err(s, rc, "read notify");
    }
    sqlite3_finalize(stmt);
    return r;
}

/* Lay out a file's chunk array from its persisted chunk size and read its chunk rows. */
static int
store_load_chunks(struct store *s, struct job *job)
{
    sqlite3_stmt *stmt;
    int r, rc;

    for (size_t i = 0; i < job->nfiles; i++) {
        struct jfile *f = &job->files[i];

        if (f->chunk_size == 0 || f->bytes_total == FERRY_SIZE_UNKNOWN || f->completed)
            continue;
        f->nchunks = (f->bytes_total + f->chunk_size - 1) / f->chunk_size;
        if (f->nchunks == 0)
            continue;
        f->chunks = calloc(f->nchunks, sizeof(*f->chunks));
        if (!f->chunks)
            return -ENOMEM;
    }
    r = store_prepare(s,
                      "SELECT file_idx, chunk_idx, fill, verified, digest, fill_digest"
                      " FROM chunks"
                      " WHERE job_id = ?1",
                      &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job->id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint64_t fi = (uint64_t)sqlite3_column_int64(stmt, 0);
        uint64_t ci = (uint64_t)sqlite3_column_int64(stmt, 1);
        struct jfile *f;
        struct chunk *c;

        if (fi >= job->nfiles)
            continue;
        f = &job->files[fi];
        if (!f->chunks || ci >= f->nchunks)
            continue;
        c = &f->chunks[ci];
        if (sqlite3_column_int(stmt, 3) &&
            sqlite3_column_bytes(stmt, 4) == 16) {
            c->state = CHUNK_VERIFIED;
            c->have_digest = true;
            memcpy(c->digest, sqlite3_column_blob(stmt, 4), 16);
            f->rehash_pending = true;
        } else if (sqlite3_column_int64(stmt, 2) > 0) {
            c->state = CHUNK_PARTIAL;
            c->fill = (uint64_t)sqlite3_column_int64(stmt, 2);
            c->fill_durable = c->fill;
            if (sqlite3_column_bytes(stmt, 5) == 16) {
                memcpy(c->fill_digest, sqlite3_column_blob(stmt, 5), 16);
                memcpy(c->durable_digest, c->fill_digest, 16);
                c->have_fill_digest = true;
                c->have_durable_digest = true;
            }
        }
    }
    if (rc != SQLITE_DONE)
        r = store_err(s, rc, "read chunks");
    sqlite3_finalize(stmt);
    return r;
}

/*
 * Load every job (oldest first) with its files, chunk progress, error object and whether it
 * has credentials. *ret_v is a malloc()ed array of job_new() objects owned by the caller.
 */
int
store_load(struct store *s, struct job ***ret_v, size_t *ret_n)
{
    sqlite3_stmt *stmt;
    struct job **v = NULL;
    size_t n = 0;
    int r, rc;

    r = store_prepare(s,
                      "SELECT id, seq, display_name, description, owner, type, service_account,"
                      " priority, state, min_retry_delay, no_progress_timeout, ctime, mtime,"
                      " completion_time, transient_errors, retries, bytes_refetched,"
                      " connections, bandwidth_limit, proxy_usage, proxy_list, proxy_bypass,"
                      " cert_path, headers, err_set, err_context, err_code, err_text, err_file"
                      " FROM jobs ORDER BY seq",
                      &stmt);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct job **nv = realloc(v, (n + 1) * sizeof(*v));
        struct job *job;
        const char *id = (const char *)sqlite3_column_text(stmt, 0);

        if (!nv) {
            r = -ENOMEM;
            goto error;
        }
        v = nv;
        job = job_new();
        if (!job) {
            r = -ENOMEM;
            goto error;
        }
        v[n++] = job;
        if (!id || ferry_guid_check(id) < 0) {
            ferry_log_error("job store '%s' is corrupt: bad job id", s->path);
            r = -EBADMSG;
            goto error;
        }
        snprintf(job->id, sizeof(job->id), "%s", id);
        job->seq = sqlite3_column_int64(stmt, 1);
        job->display_name = store_col_strdup(stmt, 2);
        job->description = store_col_strdup(stmt, 3);
        job->owner = store_col_strdup(stmt, 4);
        job->type = (unsigned)sqlite3_column_int(stmt, 5);
        job->service_account = (unsigned)sqlite3_column_int(stmt, 6);
        job->priority = (enum ferry_job_priority)(sqlite3_column_int(stmt, 7) & 3);
        job->state = (enum ferry_job_state)sqlite3_column_int(stmt, 8);
        if ((unsigned)job->state > FERRY_JOB_CANCELLED)
            job->state = FERRY_JOB_ERROR;
        job->min_retry_delay = (uint32_t)sqlite3_column_int64(stmt, 9);
        job->no_progress_timeout = (uint32_t)sqlite3_column_int64(stmt, 10);
        job->ctime = (uint64_t)sqlite3_column_int64(stmt, 11);
        job->mtime = (uint64_t)sqlite3_column_int64(stmt, 12);
        job->completion_time = (uint64_t)sqlite3_column_int64(stmt, 13);
        job->transient_errors = (uint32_t)sqlite3_column_int64(stmt, 14);
        job->retries = (uint32_t)sqlite3_column_int64(stmt, 15);
        job->bytes_refetched = (uint64_t)sqlite3_column_int64(stmt, 16);
        job->connections = (uint32_t)sqlite3_column_int64(stmt, 17);
        job->bandwidth_limit = (uint64_t)sqlite3_column_int64(stmt, 18);
        job->proxy_usage = (unsigned)sqlite3_column_int(stmt, 19);
        job->proxy_list = store_col_strdup(stmt, 20);
        job->proxy_bypass = store_col_strdup(stmt, 21);
        job->cert_path = store_col_strdup(stmt, 22);
        r = store_split((const char *)sqlite3_column_text(stmt, 23), &job->headers,
                        &job->nheaders);
        if (r < 0)
            goto error;
        job->err.set = sqlite3_column_int(stmt, 24) != 0;
        job->err.context = (enum ferry_error_context)sqlite3_column_int(stmt, 25);
        job->err.code = (uint32_t)sqlite3_column_int64(stmt, 26);
        job->err.text = store_col_strdup(stmt, 27);
        job->err.file = store_col_strdup(stmt, 28);
        if (!job->display_name) {
            r = -ENOMEM;
            goto error;
        }
    }
    if (rc != SQLITE_DONE) {
        r = store_err(s, rc, "read jobs");
        goto error;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    for (size_t i = 0; i < n; i++) {
        r = store_load_files(s, v[i]);
        if (r < 0)
            goto error;
        r = store_load_chunks(s, v[i]);
        if (r < 0)
            goto error;
        r = store_load_notify(s, v[i]);
        if (r >= 0)
            r = store_load_policy(s, v[i]);
        if (r < 0)
            goto error;
        r = store_cred_count(s, v[i]->id);
        if (r < 0)
            goto error;
        v[i]->has_credentials = r > 0;
    }
    *ret_v = v;
    *ret_n = n;
    return 0;
error:
    sqlite3_finalize(stmt);
    for (size_t i = 0; i < n; i++)
        job_free(v[i]);
    free(v);
    return r;
}

/*
 * Credentials at rest (credbox.h): open the key (made at first use) and seal every
 * password an older ferryd stored in plain text, in one transaction.
 */
static int
store_cred_seal_all(struct store *s, const char *state_dir)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int r, rc = SQLITE_DONE, n = 0;

    r = credbox_open(state_dir, &s->box);
    if (r < 0)
        return r;
    /* the plain text must not survive in a free page either */
    r = store_exec(s, "PRAGMA secure_delete = ON");
    if (r >= 0)
        r = store_exec(s, "BEGIN IMMEDIATE");
    if (r < 0)
        return r;
    r = store_prepare(s, "SELECT rowid, job_id, password FROM credentials"
                         " WHERE password IS NOT NULL AND password NOT LIKE '" CREDBOX_PREFIX
                         "%'", &sel);
    if (r >= 0)
        r = store_prepare(s, "UPDATE credentials SET password = ?2 WHERE rowid = ?1", &upd);
    while (r >= 0 && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *job = (const char *)sqlite3_column_text(sel, 1);
        const char *pw = (const char *)sqlite3_column_text(sel, 2);
        char *sealed = NULL;

        r = credbox_seal(s->box, job ? job : "", pw ? pw : "", &sealed);
        if (r < 0)
            break;
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_text(upd, 2, sealed, -1, free);
        if (sqlite3_step(upd) != SQLITE_DONE)
            r = store_err(s, sqlite3_errcode(s->db), "seal credentials");
        n++;
    }
    if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = store_err(s, rc, "read credentials");
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    if (r < 0) {
        store_exec(s, "ROLLBACK");
        return r;
    }
    r = store_exec(s, "COMMIT");
    if (r >= 0 && n > 0) {
        /* nor in the WAL: checkpoint it into the (overwritten) pages and truncate it */
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        ferry_log_info("job store '%s': %d stored password(s) encrypted at rest", s->path, n);
    }
    if (r >= 0)
        r = store_exec(s, "PRAGMA secure_delete = OFF");
    return r;
}

/* One credential per (job, target, scheme); a new one replaces the old (BITS). The
 * password is stored sealed (credbox.h). */
int
store_cred_set(struct store *s, const char *job_id, unsigned target, unsigned scheme,
               const char *user, const char *password)
{
    sqlite3_stmt *stmt;
    char *sealed = NULL;
    int r;

    if (password) {
        r = credbox_seal(s->box, job_id, password, &sealed);
        if (r < 0)
            return r;
    }
    r = store_prepare(s,
                      "INSERT OR REPLACE INTO credentials(job_id, target, scheme, user,"
                      " password, seq) VALUES(?1, ?2, ?3, ?4, ?5,"
                      " (SELECT COALESCE(MAX(seq), 0) + 1 FROM credentials))",
                      &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job_id);
    sqlite3_bind_int(stmt, 2, (int)target);
    sqlite3_bind_int(stmt, 3, (int)scheme);
    store_bind_text(stmt, 4, user);
    if (sealed)
        sqlite3_bind_text(stmt, 5, sealed, -1, free);
    else
        sqlite3_bind_null(stmt, 5);
    return store_step_done(s, stmt, "write credentials");
}

/* Remove the (target, scheme) credential; 0 also when none existed. */
int
store_cred_remove(struct store *s, const char *job_id, unsigned target, unsigned scheme)
{
    sqlite3_stmt *stmt;
    int r;

    r = store_prepare(s,
                      "DELETE FROM credentials WHERE job_id = ?1 AND target = ?2"
                      " AND scheme = ?3",
                      &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job_id);
    sqlite3_bind_int(stmt, 2, (int)target);
    sqlite3_bind_int(stmt, 3, (int)scheme);
    return store_step_done(s, stmt, "delete credentials");
}

/*
 * Wipe every credential of a job (it reached ACKNOWLEDGED or CANCELLED). With secure_delete
 * on, the rows' bytes are zeroed in the new page images; the TRUNCATE checkpoint then writes
 * those over jobs.db and empties jobs.db-wal, where the frames of the SetCredentials that
 * wrote them were. 0 also when the job had none; -errno when the delete failed.
 */
int
store_cred_clear(struct store *s, const char *job_id)
{
    sqlite3_stmt *stmt;
    int r;

    r = store_prepare(s, "DELETE FROM credentials WHERE job_id = ?1", &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job_id);
    r = store_step_done(s, stmt, "wipe credentials");
    if (r < 0)
        return r;
    if (sqlite3_changes(s->db) > 0)
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return 0;
}

/* How many credentials the job holds (>= 0), or -errno. */
int
store_cred_count(struct store *s, const char *job_id)
{
    sqlite3_stmt *stmt;
    int r, rc;

    r = store_prepare(s, "SELECT COUNT(*) FROM credentials WHERE job_id = ?1", &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job_id);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return store_err(s, rc, "count credentials");
    }
    r = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return r;
}

/* The latest credential for `target`. Internal to the fetcher: strings are malloc()ed and
 * the caller wipes the password after use. -ENOENT when none. */
int
store_cred_get(struct store *s, const char *job_id, unsigned target, unsigned *ret_scheme,
               char **ret_user, char **ret_password)
{
    sqlite3_stmt *stmt;
    char *user, *password;
    int r, rc;

    r = store_prepare(s,
                      "SELECT scheme, user, password FROM credentials WHERE job_id = ?1"
                      " AND target = ?2 ORDER BY seq DESC LIMIT 1",
                      &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, job_id);
    sqlite3_bind_int(stmt, 2, (int)target);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(stmt);
        return -ENOENT;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return store_err(s, rc, "read credentials");
    }
    user = store_col_strdup(stmt, 1);
    password = NULL;
    r = credbox_unseal(s->box, job_id, (const char *)sqlite3_column_text(stmt, 2)
                                           ? (const char *)sqlite3_column_text(stmt, 2) : "",
                       &password);
    if (r == -EBADMSG)
        ferry_log_warn("job %s: a stored password does not open with '%s/credentials.key' "
                       "(replaced or lost?); it is not sent", job_id, "STATE");
    if (!user || r < 0) {
        free(user);
        free(password);
        sqlite3_finalize(stmt);
        return r < 0 ? r : -ENOMEM;
    }
    *ret_scheme = (unsigned)sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    *ret_user = user;
    *ret_password = password;
    return 0;
}

/* Global settings (key/value). */
static int
store_setting_set(struct store *s, const char *key, const char *value)
{
    sqlite3_stmt *stmt;
    int r;

    r = store_prepare(s, "INSERT OR REPLACE INTO settings(key, value) VALUES(?1, ?2)", &stmt);
    if (r < 0)
        return r;
    store_bind_text(stmt, 1, key);
    store_bind_text(stmt, 2, value);
    return store_step_done(s, stmt, "write setting");
}

