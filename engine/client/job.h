/*
 * engine/client/job.h - the job model (struct job, its files and chunks) and the BITS
 * transition rules of job.c. Used by every client module that reads or changes a job.
 *
 * Locking: the fields are guarded by the client role's lock (client.h).
 */
#ifndef FERRY_CLIENT_JOB_H
#define FERRY_CLIENT_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/config.h"
#include "ferry/jobs.h"

struct ferry_rate;
struct relay;
struct xfer;

/* BITS defaults and limits. */
#define JOB_DEFAULT_RETRY_DELAY 600u
#define JOB_DEFAULT_NO_PROGRESS 1209600u
#define JOB_DEFAULT_MAX_DOWNLOAD 7776000u  /* BITS MaximumDownloadTime: 90 days */
/* inactivity_timeout of a new job or of one from a store without policies: the role
 * replaces it with cfg->job_inactivity_timeout (jobs.c) */
#define JOB_INACTIVITY_UNSET UINT32_MAX
#define JOB_MAX_DISPLAY_NAME 256u
#define JOB_MAX_DESCRIPTION 1024u
#define JOB_MAX_URL 2048u
#define JOB_MAX_CONNECTIONS 16u
#define JOB_MAX_MIRRORS 8u
/* A "Peer" source is kept among the mirrors as "peer:URL" (fetch_source.c). */
#define JOB_PEER_PREFIX "peer:"
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
    bool uring_refused;      /* runtime: the io_uring path refused an answer for this file;
                                libcurl fetches it from then on (fetch_uring.c) */
    uint32_t layout_gen;     /* bumped whenever `chunks` is replaced or dropped */
    struct relay *relay;     /* runtime: a URL of this host publishes the file while it is
                                fetched (fetch_source.c), NULL = none */
    bool have_tree;          /* completed: tree_digest holds the file's tree digest */
    uint8_t tree_digest[16]; /* XXH3-128 over the chunk digests in order (verify.h), with
                                chunk_size; checked when recovery finds LocalFile placed */
};

/* An upload job's (Type 1/2) own state, persisted in jobs.db table `uploads`
 * (upload_store.c): the server's session and what it acknowledged, the identity of
 * LocalFile when the upload began (a change is BG_E_LOCAL_FILE_CHANGED), ReplyFileName. */
struct job_upload {
    char *reply_file;        /* Type 2: where the reply goes at Complete (NULL: LocalFile
                                + ".reply") */
    char *session_id;        /* BITS-Session-Id, NULL before Create-Session */
    uint64_t acked;          /* the server's BITS-Received-Content-Range */
    bool have_src;           /* src_* recorded */
    uint64_t src_size, src_ino, src_dev;
    int64_t src_mtime_ns;
    bool reply_ready;        /* Type 2: the reply's temp file is whole and synced */
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
    uint32_t max_download_time;  /* s of CONNECTING/TRANSFERRING, 0 = none */
    uint32_t inactivity_timeout; /* s since mtime before a job at rest is cancelled, 0 never */
    uint64_t download_ms;        /* CONNECTING/TRANSFERRING time since creation or Resume;
                                    the three persisted in job_policies (store.c) */
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
    uint32_t notify_flags;       /* FERRY_NOTIFY_* (default 3); persisted with the below */
    char *notify_program;        /* SetNotifyCmdLine: absolute path, NULL = none */
    char **notify_argv;          /* its argv (argv[0] included) */
    size_t notify_argc;
    char *notify_url;            /* ferry: POST the job's JSON here, NULL = none */
    struct job_err err;
    struct jfile *files;
    size_t nfiles;
    struct job_upload up;        /* Type 1/2 only */

    /* runtime, not persisted */
    int64_t retry_at_ms;         /* monotonic ms; TRANSIENT_ERROR -> QUEUED at this time */
    int64_t no_progress_since;   /* monotonic ms of the first error since progress, 0 = none */
    int64_t run_since_ms;        /* when its current slice started, 0 = not running */
    int64_t download_at_ms;      /* download_ms counted up to here, 0 = not running */
    bool net_wait;               /* TRANSIENT_ERROR because the network is down: no retry
                                    timer, no retry counted; QUEUED when it is back */
    uint64_t rr_seq;             /* round-robin position among equal priorities */
    uint64_t tp_bytes;           /* throughput sampling */
    int64_t tp_at_ms;
    uint64_t throughput;
    uint64_t bytes_fetched;      /* this process */
    uint64_t bytes_from_origin;  /* verified chunk bytes by source, this process */
    uint64_t bytes_from_peers;
    int64_t transfer_ms;         /* time spent CONNECTING/TRANSFERRING */
    uint32_t remote_restarts;    /* remote-changed restarts of the current file in a row */
    struct ferry_rate *rate;     /* pacing bucket of bandwidth_limit (the fetcher creates it;
                                    job_free drops it), NULL = none yet */
    uint64_t rate_bps;           /* the rate `rate` was last set to */
    struct xfer *xfer;           /* the fetcher's transfer while it runs */
    const char *fetch_path;      /* "io_uring" / "libcurl": how the current file's primary
                                    source is fetched (fetch_uring.c), NULL before a probe */
    struct job *hnext;           /* next job in the same jobs->hash bucket */
    /* what the notifier saw last (notify.c diffs against it on the jobs thread) */
    bool notify_seen;
    enum ferry_job_state notify_state;
    uint64_t notify_mtime;
    uint32_t notify_files;
};

/* ---- job.c: the model and BITS transition rules ---- */
struct job *job_new(void);
struct job *job_free(struct job *job);
int job_set_error(struct job *job, enum ferry_error_context ctx, uint32_t code,
                  const char *file, const char *fmt, ...) FERRY_PRINTF(5, 6);
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
/* Replace the notification command (program NULL = none; argv copied). 0 or -ENOMEM
 * (nothing changed). */
int job_set_notify_cmd(struct job *job, const char *program, char *const *argv, size_t argc);
int job_add_file(struct job *job, const char *remote_url, const char *local_file);
/* Seconds before the next retry: max(MinimumRetryDelay, cfg floor). */
uint32_t job_retry_delay(const struct ferry_config *cfg, const struct job *job);
/* Transient error: TRANSIENT_ERROR with a retry time, or ERROR when NoProgressTimeout says
 * so. */
void job_transient(const struct ferry_config *cfg, struct job *job, int64_t now_ms);
/* connections: requests in flight now (the fetcher's count, passed in by the caller). */
int job_info(const struct job *job, const struct ferry_config *cfg, uint32_t connections,
             struct ferry_job_info **ret_info);
/* A file's chunks are all in: record its tree digest from their digests (no read of the
 * file). 0, -ENODATA when a chunk has no digest (nothing recorded), -ENOMEM. */
int job_file_seal(struct jfile *f);
/* Reset a file's progress (remote changed / checksum failure): chunks forgotten. */
void job_file_reset(struct job *job, size_t idx);
int job_url_check(const char *url, struct ferry_status *st, const char *param);
/* Index of the first file not completed, nfiles when all are. */
size_t job_current_file(const struct job *job);

#endif
