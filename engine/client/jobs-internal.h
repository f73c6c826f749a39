/*
 * engine/client/jobs-internal.h - the client role's internal objects, shared by its modules
 * (store, job, localpath, scheduler, fetcher, verify, metalink, jobs) and by the unit tests.
 *
 * Locking: one mutex (ferry_jobs.lock) guards every field below. The `jobs` thread holds it
 * except while it sleeps in curl_multi_poll(); API calls take it for their whole duration.
 * libcurl handles are touched by the `jobs` thread only.
 */
#ifndef FERRY_JOBS_INTERNAL_H
#define FERRY_JOBS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ferry/config.h"
#include "ferry/jobs.h"

struct store;
struct syncer;
struct xfer;

/* BITS defaults (research/bits.md §3.2). */
#define JOB_DEFAULT_RETRY_DELAY 600u
#define JOB_DEFAULT_NO_PROGRESS 1209600u
#define JOB_MAX_DISPLAY_NAME 256u
#define JOB_MAX_DESCRIPTION 1024u
#define JOB_MAX_URL 2048u
#define JOB_MAX_CONNECTIONS 16u
#define JOB_MAX_MIRRORS 8u
#define JOB_MAX_HEADERS 32u
#define JOB_MAX_HEADER_LEN 1024u
#define JOB_MAX_PROXY_LIST 4000u
/* BG_E_ERROR_INFORMATION_UNAVAILABLE: GetError on a job without an error object. */
#define JOB_BG_E_ERROR_INFO_UNAVAILABLE 0x8020000Fu

/* Chunk states. Persisted: MISSING (fill 0), PARTIAL (durable prefix `fill`), VERIFIED.
 * Runtime only: INFLIGHT (a request owns it), DONE (hashed and checked, not yet durable).
 * ZERO: the manifest says all-zero; never fetched, stays a hole. */
enum chunk_state {
    CHUNK_MISSING = 0,
    CHUNK_PARTIAL,
    CHUNK_INFLIGHT,
    CHUNK_DONE,
    CHUNK_VERIFIED,
    CHUNK_ZERO,
};

struct chunk {
    uint8_t state;
    bool dirty;            /* changed since the last checkpoint */
    bool have_digest;      /* `digest` holds the XXH3-128 of the whole chunk */
    bool have_expected;    /* the manifest gave `expected` */
    uint8_t failures;      /* digest mismatches in a row */
    uint32_t epoch;        /* bumped whenever the chunk starts over (fill back to 0) */
    uint64_t fill;         /* bytes at the start of the chunk written (durable if PARTIAL) */
    uint64_t fill_durable; /* fill value covered by the last fdatasync */
    uint8_t digest[16];    /* canonical (big-endian) XXH128 */
    uint8_t expected[16];
    /* XXH3-128 of the first `fill` bytes (PARTIAL/INFLIGHT), so that a partial chunk is
     * resumed only when its bytes on disk still hash to it; and of the first
     * `fill_durable` bytes, which the store records with the durable fill. */
    bool have_fill_digest;
    bool have_durable_digest;
    uint8_t fill_digest[16];
    uint8_t durable_digest[16];
};

struct jfile {
    char *remote_url;
    char *local_file;
    char **mirrors;          /* extra URLs ("Mirror" option) */
    size_t nmirrors;
    char *expected_digest;   /* "sha256:HEX" / "xxh128:HEX" or NULL */
    uint64_t bytes_total;    /* FERRY_SIZE_UNKNOWN until probed */
    uint64_t bytes_transferred;
    bool completed;
    char *etag;              /* validators of the version being fetched */
    char *last_modified;
    bool has_manifest;
    uint64_t chunk_size;     /* 0 until laid out */
    uint64_t nchunks;
    struct chunk *chunks;
    bool rehash_pending;     /* verified chunks loaded from the store, not re-hashed yet */
    uint32_t layout_gen;     /* bumped whenever `chunks` is replaced or dropped */
};

struct job_err {
    bool set;
    enum ferry_error_context context;
    uint32_t code;
    char *text;
    char *file;
};

struct job {
    char id[FERRY_GUID_STRLEN];
    int64_t seq;                 /* creation order */
    char *display_name;
    char *description;
    char *owner;
    unsigned type;
    unsigned service_account;
    enum ferry_job_priority priority;
    enum ferry_job_state state;
    uint32_t min_retry_delay;
    uint32_t no_progress_timeout;
    uint64_t ctime, mtime, completion_time;     /* FILETIME */
    uint32_t transient_errors;
    uint32_t retries;
    uint64_t bytes_refetched;
    uint32_t connections;        /* 0 = cfg->connections_per_file */
    uint64_t bandwidth_limit;    /* bytes/s, 0 = none */
    unsigned proxy_usage;
    char *proxy_list;
    char *proxy_bypass;
    char *cert_path;             /* PEM holding certificate and key */
    char **headers;
    size_t nheaders;
    bool has_credentials;
    struct job_err err;
    struct jfile *files;
    size_t nfiles;

    /* runtime, not persisted */
    int64_t retry_at_ms;         /* monotonic ms; TRANSIENT_ERROR -> QUEUED at this time */
    int64_t no_progress_since;   /* monotonic ms of the first error since progress, 0 = none */
    int64_t run_since_ms;        /* when its current slice started, 0 = not running */
    uint64_t rr_seq;             /* round-robin position among equal priorities */
    uint64_t tp_bytes;           /* throughput sampling */
    int64_t tp_at_ms;
    uint64_t throughput;
    uint64_t bytes_fetched;      /* this process */
    int64_t transfer_ms;         /* time spent CONNECTING/TRANSFERRING */
    uint32_t remote_restarts;    /* remote-changed restarts of the current file in a row */
    int64_t bw_tokens;           /* pacing: bytes that may still be received now */
    int64_t bw_at_ms;
    struct xfer *xfer;           /* the fetcher's transfer while it runs */
    struct job *hnext;           /* next job in the same jobs->hash bucket */
};

/* API writes are made durable (a store checkpoint) at least this often. */
#define JOBS_SYNC_INTERVAL_MS 1000

struct ferry_jobs {
    const struct ferry_config *cfg;
    pthread_mutex_t lock;
    struct store *store;
    struct job **v;
    size_t n;
    size_t cap;                  /* allocated slots of v */
    struct job **hash;           /* id -> job index (chained on job->hnext), hsize buckets */
    size_t hsize;                /* a power of two, 0 while no index exists */
    int64_t synced_ms;           /* when an API write last made the store durable */
    bool sync_due;               /* API writes committed but not yet synced: the jobs thread
                                    syncs them within JOBS_SYNC_INTERVAL_MS */
    int64_t next_seq;
    uint64_t rr_counter;

    pthread_t thread;
    bool thread_started;
    bool stopping;
    void *multi;                 /* CURLM *, owned by the jobs thread */
    pthread_mutex_t wake_lock;   /* guards `multi` for curl_multi_wakeup from other threads */
    bool conns_used;             /* the multi handle may hold idle connections */
    int64_t idle_since_ms;       /* no transfer running since, 0 = running */

    uint64_t bytes_fetched;
    uint64_t verify_failures;
    uint32_t active_connections;
    uint32_t paused_reqs;        /* requests held back by bandwidth pacing */
    struct syncer *syncer;       /* the jobs-sync thread (checkpoint fdatasync) */
    int64_t bw_tokens;           /* global pacing (cfg->bandwidth_limit) */
    int64_t bw_at_ms;
};

/* ---- clock ---- */
int64_t jobs_now_ms(void);

/* ---- store.c: SQLite persistence in STATE/jobs.db ---- */
int store_open(const char *state_dir, struct store **ret_store);
struct store *store_free(struct store *s);
const char *store_path(const struct store *s);
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
int store_cred_count(struct store *s, const char *job_id);
/* The most recently set credential of `target`; strings malloc()ed, -ENOENT when none. */
int store_cred_get(struct store *s, const char *job_id, unsigned target, unsigned *ret_scheme,
                   char **ret_user, char **ret_password);
int store_setting_set(struct store *s, const char *key, const char *value);
int store_setting_get(struct store *s, const char *key, char **ret_value);
/* Make what is committed durable (WAL checkpoint, which syncs). */
int store_sync(struct store *s);
uint64_t store_sync_count(const struct store *s);

/* ---- job.c: the model and BITS transition rules ---- */
struct job *job_new(void);
struct job *job_free(struct job *job);
void jfile_done(struct jfile *f);
int job_set_error(struct job *job, enum ferry_error_context ctx, uint32_t code,
                  const char *file, const char *fmt, ...) FERRY_PRINTF(5, 6);
void job_clear_error(struct job *job);
/* Change state with the side effects BITS attaches (error cleared when moving on,
 * timestamps). Does not persist. */
void job_set_state(struct job *job, enum ferry_job_state state);
bool job_state_final(enum ferry_job_state state);
bool job_runnable(const struct job *job);
/* SetJobState's checks; 0 or -EINVAL/-ENOENT with *st filled. Does not act. */
int job_check_action(const struct job *job, enum ferry_job_action action,
                     struct ferry_status *st);
int job_check_props(const struct ferry_config *cfg, const struct job *job,
                    const struct ferry_job_props *props, struct ferry_status *st);
/* Apply validated props. */
int job_apply_props(const struct ferry_config *cfg, struct job *job,
                    const struct ferry_job_props *props);
int job_add_file(struct job *job, const char *remote_url, const char *local_file);
/* Seconds before the next retry: max(MinimumRetryDelay, cfg floor). */
uint32_t job_retry_delay(const struct ferry_config *cfg, const struct job *job);
/* Transient error: TRANSIENT_ERROR with a retry time, or ERROR when NoProgressTimeout says
 * so. */
void job_transient(const struct ferry_config *cfg, struct job *job, int64_t now_ms);
int job_info(const struct job *job, const struct ferry_config *cfg,
             struct ferry_job_info **ret_info);
/* Reset a file's progress (remote changed / checksum failure): chunks forgotten. */
void job_file_reset(struct job *job, size_t idx);
int job_url_check(const char *url, struct ferry_status *st, const char *param);
/* Index of the first file not completed, nfiles when all are. */
size_t job_current_file(const struct job *job);

/* ---- localpath.c: LocalFile resolution beneath a download root ---- */
/* Validate an absolute LocalFile inside a root (no ../, control chars, Windows forms) and
 * that its parent directory resolves beneath the root. */
int localpath_check(const struct ferry_config *cfg, const char *path, struct ferry_status *st);
/* Open the parent directory of `path` beneath its root (O_PATH-free, O_DIRECTORY), return
 * its fd and a pointer to the basename inside `path`. */
int localpath_open_dir(const struct ferry_config *cfg, const char *path, int *ret_dirfd,
                       const char **ret_name);
/* ".<name>.ferry-<jobid8>.part" into buf. */
int localpath_temp_name(const char *name, const char *job_id, char *buf, size_t len);
/* Remove the temp file of (job, path); 0 also when it did not exist. */
int localpath_remove_temp(const struct ferry_config *cfg, const char *job_id,
                          const char *path);
/* Complete: fsync the temp file, rename it onto LocalFile, fsync the directory. */
int localpath_commit(const struct ferry_config *cfg, const char *job_id, const char *path);
/* Complete cut short: 1 temp still there, 0 already renamed onto a LocalFile of `size` bytes
 * (matching expected_digest when given; directory fsync()ed), -ENOENT neither. */
int localpath_placed(const struct ferry_config *cfg, const char *job_id, const char *path,
                     uint64_t size, const char *expected_digest);

/* ---- verify.c: chunk digests ---- */
void verify_digest(const void *data, size_t len, uint8_t ret[16]);
/* Digest of bytes [off, off+len) of fd. */
int verify_file_range(int fd, uint64_t off, uint64_t len, uint8_t ret[16]);
/* Streaming state (opaque XXH3 state). */
void *verify_stream_new(void);
void *verify_stream_free(void *s);
void verify_stream_reset(void *s);
void verify_stream_update(void *s, const void *data, size_t len);
void verify_stream_digest(void *s, uint8_t ret[16]);
/* Seed a stream with bytes [off, off+len) of fd (resuming a partial chunk). */
int verify_stream_from_file(void *s, int fd, uint64_t off, uint64_t len);
/* Do bytes [off, off+len) of fd hash to digest? (false also on short or failed reads) */
bool verify_chunk_ok(int fd, uint64_t off, uint64_t len, const uint8_t digest[16]);
/* Whole-file check of "sha256:HEX" / "xxh128:HEX". 0 match, -EBADMSG mismatch, -EINVAL
 * malformed spec, -errno I/O. */
int verify_whole_file(int fd, uint64_t size, const char *spec);
int verify_digest_spec_check(const char *spec);
/* Is `d` the digest of `len` zero bytes? */
bool verify_is_zero_digest(const uint8_t d[16], uint64_t len);
int verify_hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* ---- metalink.c: the server's manifest ---- */
struct metalink {
    uint64_t size;             /* FERRY_SIZE_UNKNOWN when absent */
    uint64_t piece_length;     /* xxh3-128 pieces; 0 when absent */
    uint8_t (*pieces)[16];
    uint64_t npieces;
    uint8_t *zero;             /* npieces flags: chunk is all-zero */
    char **urls;
    size_t nurls;
    bool has_sha256;
    uint8_t sha256[32];
    char *etag;                /* ferry:etag: the version described, NULL when absent */
};
/* Parse a Metalink 4 document (hardened: no DTD, no network, size cap). -EBADMSG on
 * anything malformed, -E2BIG over the cap. */
int metalink_parse(const char *buf, size_t len, struct metalink **ret_ml);
struct metalink *metalink_free(struct metalink *ml);
#define METALINK_MAX_BYTES (64u << 20)

/* ---- fetcher.c: libcurl multi transfers (jobs thread only) ---- */
int fetcher_init(struct ferry_jobs *jobs);
void fetcher_done(struct ferry_jobs *jobs);
/* Start fetching the current file of a runnable job. */
int fetcher_start(struct ferry_jobs *jobs, struct job *job);
/* Stop a job's transfer: checkpoint (unless the job is cancelled), abort requests, close
 * files. */
void fetcher_stop(struct ferry_jobs *jobs, struct job *job);
/* Drive libcurl: perform, completions, checkpoints. */
void fetcher_run(struct ferry_jobs *jobs);
/* Wait for sockets or a wakeup, at most timeout_ms. Called without the lock. */
void fetcher_poll(struct ferry_jobs *jobs, int timeout_ms);
void fetcher_wakeup(struct ferry_jobs *jobs);
/* Requests (connections) the job has in flight now. */
uint32_t fetcher_connections(const struct job *job);
/* Does pacing hold requests back (the thread should wake again soon)? */
bool fetcher_throttled(struct ferry_jobs *jobs);
/* Idle for a while: drop the multi handle's cached connections (a fresh handle). */
void fetcher_idle(struct ferry_jobs *jobs, int64_t now_ms);
#define FETCHER_IDLE_CLOSE_MS 1000

/* ---- syncer.c: fdatasync off the jobs thread ---- */
struct sync_item {
    uint64_t idx;
    uint64_t fill;
    uint32_t epoch;
    bool done;
    /* SYNC_FDATASYNC, not done: have_digest = `digest` is the XXH3-128 of the first `fill`
     * bytes (the partial chunk's prefix made durable by this sync) */
    bool have_digest;
    /* SYNC_REHASH: the chunk's bytes [off, off+len) must hash to digest; bad = they don't */
    uint64_t off, len;
    uint8_t digest[16];
    bool bad;
};
enum sync_kind {
    SYNC_FDATASYNC,         /* checkpoint: fdatasync, items = the snapshot */
    SYNC_REHASH,            /* resume: re-hash verified chunks from disk */
    SYNC_DIGEST,            /* ExpectedDigest: whole-file digest, result 0 / -EBADMSG */
};
struct sync_req {
    struct sync_req *next;
    enum sync_kind kind;
    int fd;                 /* borrowed: open until the request finished */
    int result;             /* 0 or -errno from fdatasync */
    bool finished;
    uint32_t gen;           /* jfile.layout_gen of the snapshot */
    uint64_t size;          /* SYNC_DIGEST: bytes to hash */
    char *spec;             /* SYNC_DIGEST: "sha256:HEX" / "xxh128:HEX" (owned) */
    size_t n;
    struct sync_item *items;
};
int syncer_new(struct ferry_jobs *jobs, struct syncer **ret);
struct syncer *syncer_free(struct syncer *s);
void syncer_submit(struct syncer *s, struct sync_req *q);
bool syncer_done(struct syncer *s, struct sync_req *q);
void syncer_wait(struct syncer *s, struct sync_req *q);

/* ---- scheduler.c: the jobs thread ---- */
int scheduler_start(struct ferry_jobs *jobs);
void scheduler_stop(struct ferry_jobs *jobs);
/* One pass: retry timers, NoProgressTimeout, priorities; starts/stops transfers. */
void scheduler_tick(struct ferry_jobs *jobs, int64_t now_ms);
/* Slice length for round-robin among equal priorities. */
#define SCHEDULER_SLICE_MS 5000

/* ---- jobs.c ---- */
struct job *jobs_find(struct ferry_jobs *jobs, const char *id);
/* Keep at most cfg->max_jobs jobs in a final state (the oldest go first). */
void jobs_prune(struct ferry_jobs *jobs);
void jobs_wake(struct ferry_jobs *jobs);

#endif
