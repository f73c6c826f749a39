/*
 * engine/client/store.h - SQLite persistence of the client role in STATE/jobs.db
 * (store.c): jobs, files, chunk progress, errors, credentials. Caller holds the role's lock.
 */
#ifndef FERRY_CLIENT_STORE_H
#define FERRY_CLIENT_STORE_H

#include <stddef.h>
#include <stdint.h>

struct job;
struct store;

int store_open(const char *state_dir, struct store **ret_store);
struct store *store_free(struct store *s);
const char *store_path(const struct store *s);
/* The SQLite handle, for a module that owns a table of its own (upload_store.c: `uploads`);
 * the same rules apply: role's lock held, no transaction left open. */
struct sqlite3 *store_sqlite(struct store *s);
/* Load every job with its files, chunk progress and error. */
int store_load(struct store *s, struct job ***ret_v, size_t *ret_n);
/* Upsert the job row and its file rows. */
int store_job_put(struct store *s, const struct job *job);
/* Upsert the dirty chunks of file `idx`, in one transaction with the job row. */
int store_progress_put(struct store *s, struct job *job, size_t idx);
/* Forget a job entirely (pruning of old final-state jobs). */
int store_job_delete(struct store *s, const char *job_id);
/* Forget the chunk rows of one file (remote changed) or of the whole job (idx = SIZE_MAX). */
int store_chunks_clear(struct store *s, const char *job_id, size_t idx);
/* Credentials: write-only from the API; the fetcher reads them with store_cred_get. */
int store_cred_set(struct store *s, const char *job_id, unsigned target, unsigned scheme,
                   const char *user, const char *password);
int store_cred_remove(struct store *s, const char *job_id, unsigned target, unsigned scheme);
/* Every credential of the job, wiped from jobs.db and its WAL (ACKNOWLEDGED, CANCELLED). */
int store_cred_clear(struct store *s, const char *job_id);
int store_cred_count(struct store *s, const char *job_id);
/* The most recently set credential of `target`; strings malloc()ed, -ENOENT when none. */
int store_cred_get(struct store *s, const char *job_id, unsigned target, unsigned *ret_scheme,
                   char **ret_user, char **ret_password);
/* Make what is committed durable (WAL checkpoint, which syncs). */
int store_sync(struct store *s);
uint64_t store_sync_count(const struct store *s);

#endif
