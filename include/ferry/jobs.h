/*
 * ferry/jobs.h - the client role (docs/DESIGN.md §3): BITS download jobs as the control plane sees
 * them. Every call is thread-safe, persists before it returns, and wakes the scheduler.
 * Failures return -errno and describe themselves in *st (kind + BITS code + text).
 */
#ifndef FERRY_JOBS_H
#define FERRY_JOBS_H

#include "ferry/common.h"

struct ferry_jobs;

enum ferry_job_state {
    FERRY_JOB_QUEUED = 0,
    FERRY_JOB_CONNECTING = 1,
    FERRY_JOB_TRANSFERRING = 2,
    FERRY_JOB_SUSPENDED = 3,
    FERRY_JOB_ERROR = 4,
    FERRY_JOB_TRANSIENT_ERROR = 5,
    FERRY_JOB_TRANSFERRED = 6,
    FERRY_JOB_ACKNOWLEDGED = 7,
    FERRY_JOB_CANCELLED = 8,
};

enum ferry_job_priority {
    FERRY_PRIORITY_FOREGROUND = 0,
    FERRY_PRIORITY_HIGH = 1,
    FERRY_PRIORITY_NORMAL = 2,
    FERRY_PRIORITY_LOW = 3,
};

/* SetJobState's JobState argument. */
enum ferry_job_action {
    FERRY_JOB_ACTION_CANCEL = 0,
    FERRY_JOB_ACTION_COMPLETE = 1,
    FERRY_JOB_ACTION_RESUME = 2,
    FERRY_JOB_ACTION_SUSPEND = 3,
};

/* BG_ERROR_CONTEXT */
enum ferry_error_context {
    FERRY_ERRCTX_NONE = 0,
    FERRY_ERRCTX_UNKNOWN = 1,
    FERRY_ERRCTX_GENERAL_QUEUE_MANAGER = 2,
    FERRY_ERRCTX_QUEUE_MANAGER_NOTIFICATION = 3,
    FERRY_ERRCTX_LOCAL_FILE = 4,
    FERRY_ERRCTX_REMOTE_FILE = 5,
    FERRY_ERRCTX_GENERAL_TRANSPORT = 6,
    FERRY_ERRCTX_REMOTE_APPLICATION = 7,
};

#define FERRY_SIZE_UNKNOWN UINT64_MAX

/* NotifyFlags (BG_NOTIFY_*). FILE_RANGES_TRANSFERRED (0x20) is not supported. */
enum {
    FERRY_NOTIFY_JOB_TRANSFERRED = 0x1,
    FERRY_NOTIFY_JOB_ERROR = 0x2,
    FERRY_NOTIFY_DISABLE = 0x4,
    FERRY_NOTIFY_JOB_MODIFICATION = 0x8,
    FERRY_NOTIFY_FILE_TRANSFERRED = 0x10,
};
#define FERRY_NOTIFY_ALL_FLAGS 0x1Fu
#define FERRY_NOTIFY_DEFAULT_FLAGS 0x3u   /* BITS: transferred | error */
#define FERRY_NOTIFY_MAX_CMDLINE 4000u    /* BITS: parameters of SetNotifyCmdLine */
#define FERRY_NOTIFY_MAX_ARGS 64u
#define FERRY_NOTIFY_MAX_PROGRAM 4096u

struct ferry_job_create {
    const char *display_name;  /* required, <= 256 chars */
    const char *remote_url;    /* first file (required) */
    const char *local_file;    /* absolute, inside a download root (required) */
    const char *description;   /* may be NULL */
    unsigned type;             /* 0 download (only) */
    unsigned service_account;  /* 0..2, recorded only */
    bool suspend;              /* leave SUSPENDED instead of starting */
    const char *owner;         /* authenticated user who created it */
};

struct ferry_file_info {
    char *remote_url;
    char *local_file;
    uint64_t bytes_total;       /* FERRY_SIZE_UNKNOWN until known */
    uint64_t bytes_transferred;
    bool completed;
};

struct ferry_job_info {
    char job_id[FERRY_GUID_STRLEN];
    char *display_name;
    char *description;
    char *owner;
    unsigned type;
    enum ferry_job_priority priority;
    enum ferry_job_state state;
    uint32_t minimum_retry_delay;  /* s */
    uint32_t no_progress_timeout;  /* s */
    uint64_t creation_time;        /* FILETIME */
    uint64_t modification_time;    /* FILETIME */
    uint64_t completion_time;      /* FILETIME, 0 until TRANSFERRED */
    uint64_t bytes_total;          /* FERRY_SIZE_UNKNOWN until every size is known */
    uint64_t bytes_transferred;
    uint32_t files_total;
    uint32_t files_transferred;
    uint32_t transient_error_count;
    /* ferry's own */
    uint64_t throughput;           /* bytes/s, last few seconds */
    uint64_t throughput_avg;       /* bytes/s, over time spent transferring */
    uint64_t bytes_refetched;      /* bytes fetched again (bad chunks, restarts) */
    uint64_t bytes_from_origin;    /* verified bytes from RemoteUrl and mirrors (this run) */
    uint64_t bytes_from_peers;     /* verified bytes from Peer sources (this run) */
    uint32_t retries;
    uint32_t connections;          /* connections in use now */
    uint32_t connections_per_file; /* configured ranges in parallel */
    uint64_t bandwidth_limit;      /* bytes/s, 0 = none */
    /* policies (docs/internals/client.md) */
    uint32_t max_download_time;    /* MaxDownloadTime, s, 0 = none (default 90 days) */
    uint32_t inactivity_timeout;   /* JobInactivityTimeout, s, 0 = never */
    uint64_t download_time;        /* s spent CONNECTING/TRANSFERRING since the last Resume */
    bool has_credentials;          /* never the credentials themselves */
    uint32_t notify_flags;         /* FERRY_NOTIFY_* */
    char *notify_program;          /* absolute path, NULL = no command */
    char *notify_cmdline;          /* its argv, quoted canonically; NULL = no command */
    char *notify_url;              /* ferry: POST of the job's JSON, NULL = none */
    char fetch_path[16];           /* "io_uring", "libcurl", "" before the first probe */
    struct ferry_file_info *files;
    size_t nfiles;
};

struct ferry_job_error {
    enum ferry_error_context context;
    uint32_t code;          /* BITS-style HRESULT */
    char *context_text;
    char *text;
    char *file;             /* RemoteUrl of the failing file, may be NULL */
};

/* Writable properties (Put). Only the fields whose bit is in `mask` apply. */
enum {
    FERRY_JOBPROP_DISPLAY_NAME = 1u << 0,
    FERRY_JOBPROP_DESCRIPTION = 1u << 1,
    FERRY_JOBPROP_PRIORITY = 1u << 2,
    FERRY_JOBPROP_MIN_RETRY_DELAY = 1u << 3,
    FERRY_JOBPROP_NO_PROGRESS_TIMEOUT = 1u << 4,
    FERRY_JOBPROP_CONNECTIONS = 1u << 5,      /* ferry: ranges in parallel per file (1..16) */
    FERRY_JOBPROP_BANDWIDTH_LIMIT = 1u << 6,  /* ferry: bytes/s, 0 = none */
    FERRY_JOBPROP_NOTIFY_FLAGS = 1u << 7,     /* FERRY_NOTIFY_* (0..0x1F) */
    FERRY_JOBPROP_NOTIFY_URL = 1u << 8,       /* ferry: http(s) URL, "" or NULL = none */
    FERRY_JOBPROP_MAX_DOWNLOAD_TIME = 1u << 9,  /* s of CONNECTING/TRANSFERRING, 0 = none */
    FERRY_JOBPROP_INACTIVITY_TIMEOUT = 1u << 10, /* s without a modification, 0 = never */
};
struct ferry_job_props {
    unsigned mask;
    const char *display_name;
    const char *description;
    unsigned priority;
    uint32_t minimum_retry_delay;
    uint32_t no_progress_timeout;
    uint32_t connections;
    uint64_t bandwidth_limit;
    uint32_t notify_flags;
    const char *notify_url;
    uint32_t max_download_time;
    uint32_t inactivity_timeout;
};

FERRY_API int ferry_jobs_create(struct ferry_jobs *jobs, const struct ferry_job_create *req,
                                char ret_job_id[FERRY_GUID_STRLEN], struct ferry_status *st);
FERRY_API int ferry_jobs_add_file(struct ferry_jobs *jobs, const char *job_id,
                                  const char *remote_url, const char *local_file,
                                  struct ferry_status *st);
FERRY_API int ferry_jobs_set_state(struct ferry_jobs *jobs, const char *job_id,
                                   enum ferry_job_action action, struct ferry_status *st);
FERRY_API int ferry_jobs_set_props(struct ferry_jobs *jobs, const char *job_id,
                                   const struct ferry_job_props *props,
                                   struct ferry_status *st);
/* -ENOENT (kind NOT_FOUND) for unknown ids. Final-state jobs remain readable by id. */
FERRY_API int ferry_jobs_get(struct ferry_jobs *jobs, const char *job_id,
                             struct ferry_job_info **ret_info, struct ferry_status *st);
/* Jobs not in a final state (ACKNOWLEDGED, CANCELLED), oldest first. */
FERRY_API int ferry_jobs_list(struct ferry_jobs *jobs, struct ferry_job_info ***ret_v,
                              size_t *ret_n);
FERRY_API struct ferry_job_info *ferry_job_info_free(struct ferry_job_info *info);
FERRY_API void ferry_job_info_list_free(struct ferry_job_info **v, size_t n);
/* BG_E_* (kind RESULT) when the job is not in ERROR / TRANSIENT_ERROR (no error object). */
FERRY_API int ferry_jobs_get_error(struct ferry_jobs *jobs, const char *job_id,
                                   struct ferry_job_error *ret_err, struct ferry_status *st);
FERRY_API void ferry_job_error_done(struct ferry_job_error *err);

/* target: 0 server, 1 proxy; scheme: 0 Basic, 1 Digest, 2 NTLM, 3 Negotiate, 4 Passport. */
FERRY_API int ferry_jobs_set_credentials(struct ferry_jobs *jobs, const char *job_id,
                                         unsigned target, unsigned scheme,
                                         const char *user, const char *password,
                                         struct ferry_status *st);
FERRY_API int ferry_jobs_remove_credentials(struct ferry_jobs *jobs, const char *job_id,
                                            unsigned target, unsigned scheme,
                                            struct ferry_status *st);
/* usage: 0 PRECONFIG, 1 NO_PROXY, 2 OVERRIDE, 3 AUTODETECT; lists NULL unless OVERRIDE. */
FERRY_API int ferry_jobs_set_proxy(struct ferry_jobs *jobs, const char *job_id,
                                   unsigned usage, const char *proxy_list,
                                   const char *bypass_list, struct ferry_status *st);
/* Certificate (with its key, PEM) found in store `store_name` at `store_location` (BITS's
 * CertStoreLocation 0-7: 1 LOCAL_MACHINE is cert-store-dir/NAME, the others
 * cert-store-dir/@LOCATION/NAME, docs/internals/client.md) by its SHA-1 thumbprint, or by a
 * part of its subject (case-insensitive; the first file name in byte order when several
 * match). Not found: RESULT CRYPT_E_NOT_FOUND 0x80092004. */
FERRY_API int ferry_jobs_set_client_cert(struct ferry_jobs *jobs, const char *job_id,
                                         unsigned store_location, const char *store_name,
                                         const uint8_t *hash, size_t hash_len,
                                         struct ferry_status *st);
FERRY_API int ferry_jobs_set_client_cert_by_name(struct ferry_jobs *jobs, const char *job_id,
                                                 unsigned store_location,
                                                 const char *store_name, const char *subject,
                                                 struct ferry_status *st);
FERRY_API int ferry_jobs_remove_client_cert(struct ferry_jobs *jobs, const char *job_id,
                                            struct ferry_status *st);
/* ferry's own per-job options: name is one of "Mirror" (an extra URL for the last added
 * file), "Peer" (another ferry host relaying the last added file, docs/internals/relay.md),
 * "ExpectedDigest" ("sha256:HEX" or "xxh128:HEX" for the last added file),
 * "CustomHeader" ("Name: value"). */
FERRY_API int ferry_jobs_set_option(struct ferry_jobs *jobs, const char *job_id,
                                    const char *name, const char *value,
                                    struct ferry_status *st);

/* SetNotifyCmdLine: `program` an absolute path (NULL or "" clears the command); the argv is
 * ferry_cmdline_split(parameters), or just { program } when parameters is NULL or empty
 * (BITS: the first parameter repeats the program; ferry passes the words as given). */
FERRY_API int ferry_jobs_set_notify_cmdline(struct ferry_jobs *jobs, const char *job_id,
                                            const char *program, const char *parameters,
                                            struct ferry_status *st);

/* The notification command line's syntax (engine/client/cmdline.c: words, '...', "...",
 * backslash; never a shell). Split: 0, -EINVAL (refused line), -ENOMEM. */
FERRY_API int ferry_cmdline_split(const char *s, char ***ret_argv, size_t *ret_argc);
FERRY_API char *ferry_cmdline_join(char *const *argv, size_t argc);
FERRY_API void ferry_cmdline_free(char **argv, size_t argc);

/* Counters for metrics. */
struct ferry_jobs_stats {
    uint32_t jobs_by_state[9];
    uint64_t bytes_fetched;
    uint64_t bytes_refetched;
    uint64_t chunk_verify_failures;
    uint32_t active_connections;
};
FERRY_API void ferry_jobs_stats(struct ferry_jobs *jobs, struct ferry_jobs_stats *ret);

FERRY_API const char *ferry_job_state_name(enum ferry_job_state state);

#endif
