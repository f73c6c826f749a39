/*
 * engine/client/fetcher-internal.h - what the files of the fetcher share: a transfer
 * (struct xfer, one per running job), its requests (struct req) and the calls between its
 * pieces. Included only by fetcher.c and fetch_*.c; the scheduler and jobs.c see fetcher.h.
 *
 * Jobs thread only, with the role's lock held (client.h).
 */
#ifndef FERRY_CLIENT_FETCHER_INTERNAL_H
#define FERRY_CLIENT_FETCHER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <sys/socket.h>

#include "ferry/jobs.h"

struct ferry_jobs;
struct jfile;
struct job;
struct metalink;
struct sync_req;
struct ufetch_source;

#define FETCH_BUFFER_SIZE (512 * 1024)
/*
 * libcurl hands the write callback at most 16 KiB at a time (CURL_MAX_WRITE_SIZE), whatever
 * CURLOPT_BUFFERSIZE: one pwrite() each meant 131k syscalls for 2 GiB. Range bodies are
 * staged per request and written in page-aligned blocks of this size instead. 64 KiB gave
 * the least system time (ext4 and tmpfs): the stage is still in L2 when the kernel copies
 * it; 256 KiB stages (beside curl's 512 KiB buffer) cost more than 16 KiB writes.
 */
#define FETCH_STAGE_SIZE (64 * 1024)
#define FETCH_MAX_HEADER_VALUE 2048
#define FETCH_MAX_CHUNK_FAILURES 3
#define FETCH_MAX_REMOTE_RESTARTS 3
#define FETCH_USER_AGENT "ferry/" FERRY_VERSION " (BITS-compatible)"

enum req_kind { REQ_PROBE, REQ_MANIFEST, REQ_RANGE, REQ_HAVE /* a peer's HEAD (fetch_source.c) */,
                REQ_UPLOAD /* upload_xfer.c */,
                REQ_UPLOAD_CANCEL /* upload_cancel.c: no xfer (x is NULL) */ };

/* Why a request ended besides libcurl's own result. */
enum fetch_reason {
    FETCH_OK = 0,
    FETCH_REMOTE_CHANGED,   /* 200 to a range, other Content-Range, other validators */
    FETCH_NO_RANGES,        /* the server ignores Range for a file that needs them */
    FETCH_LOCAL,            /* pwrite/fallocate/open failed: errno in fail_errno */
    FETCH_BAD_RESPONSE,     /* more bytes than asked, missing headers, short body */
    FETCH_MISSING_SIZE,     /* HEAD without a length */
    FETCH_CHECKSUM,         /* a chunk failed its manifest digest too often */
    FETCH_TOO_BIG,          /* manifest over its cap */
    FETCH_LOCAL_CHANGED,    /* an upload's LocalFile changed (size, mtime, inode) */
    FETCH_BITS_ERROR,       /* an upload's server answered BITS-Error-Code (bits_code) */
};

/* How a source's ranges are fetched (fetch_uring.c decides after the probe). */
enum fetch_path { FETCH_PATH_CURL = 0, FETCH_PATH_URING };

struct mirror {
    char *url;
    char *etag;
    char *last_modified;
    bool ok;                /* probed, same size as the primary */
    /* a peer (a "peer:" source, fetch_source.c): never probed with the others */
    bool peer;
    bool dropped;           /* dead, other validators or a bad chunk: not used again */
    bool polling;           /* its HEAD is in flight */
    uint8_t *have;          /* the chunks it said it has (f->nchunks bytes), NULL = none yet */
    uint64_t nhave;
    unsigned failures;      /* connection failures in a row */
    unsigned not_yet;       /* "not yet" answers since its last good chunk */
    /* its last progress: its chunk set grew, or bytes of a range from it arrived; the
     * transfer's start until it first progressed (then `progressed`) */
    int64_t progress_ms;
    bool progressed;
    uint64_t rx_seen;       /* body bytes of its ranges in flight at the last look */
    int64_t retry_ms;       /* after a "not yet", no range before this time */
    int64_t next_poll_ms;
    enum fetch_path path;   /* FETCH_PATH_URING: its ranges go to `uf` */
    struct ufetch_source *uf;   /* created with the first range, freed at abort */
    struct sockaddr_storage addr;   /* where the probe connected (FETCH_PATH_URING) */
    socklen_t addrlen;
    char *host, *target;    /* Host header and origin-form target (FETCH_PATH_URING) */
    int splice_said;        /* body receive logged: 0 not yet, 1 splice, 2 recv + pwrite */
    bool splice_refused;    /* the file refused splice: its next sources recv */
};

struct req {
    struct xfer *x;
    CURL *easy;
    enum req_kind kind;
    size_t mirror;
    uint64_t chunk;
    uint64_t start, end;    /* inclusive */
    uint64_t pos;           /* next offset received */
    uint64_t wpos;          /* next offset to write: [wpos, pos) sits in stage */
    uint8_t *stage;         /* FETCH_STAGE_SIZE bytes, range requests only */
    void *hs;
    bool checked;
    bool uring;             /* fed to mirrors[mirror].uf, no easy handle (fetch_uring.c) */
    bool discard;           /* an error body: read and dropped */
    bool paused;            /* held back by pacing (CURL_WRITEFUNC_PAUSE) ... */
    int64_t resume_ms;      /* ... until this time (ferry_clock_ms) */
    uint64_t paid_job;      /* bytes granted by the job's / the role's bucket and not yet */
    uint64_t paid_glob;     /* received (xfer_pace_allow) */
    enum fetch_reason fail;
    int fail_errno;
    char *etag, *last_modified, *content_range, *link, *accept_ranges;
    char *have;             /* X-Ferry-Have (a peer's chunk set) */
    char *body;
    size_t body_len;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

enum xfer_phase { PH_PROBE, PH_MANIFEST, PH_RANGES };

struct xfer {
    struct ferry_jobs *jobs;
    struct job *job;
    size_t fidx;
    int fd;
    int dirfd;
    enum xfer_phase phase;
    struct mirror *mirrors;
    size_t nmirrors;
    size_t probes_left;
    size_t next_mirror;
    struct req **reqs;
    size_t nreqs;
    unsigned conns;
    uint64_t scan;
    bool source_wait;        /* a chunk waits for a peer (fetch_source.c polls it) */
    uint64_t unpersisted;
    uint64_t ckpt_bytes;
    int64_t last_ckpt_ms;
    struct metalink *ml;
    char *ml_body;           /* the origin's manifest document, as received (relays serve it) */
    size_t ml_body_len;
    char *manifest_url;
    struct sync_req *sync;   /* checkpoint in progress on the jobs-sync thread */
    struct sync_req *rehash; /* re-hash of the verified chunks of a resumed file */
    struct sync_req *digest; /* whole-file ExpectedDigest check before the file completes */
    bool digest_ok;          /* ... and it matched */
    /* credentials, loaded once per transfer; wiped on free */
    bool have_server_cred, have_proxy_cred;
    unsigned server_scheme, proxy_scheme;
    char *server_user, *server_pass, *proxy_user, *proxy_pass;
    struct upx *up;          /* an upload job's protocol state (upload_xfer.c), else NULL */
};

/* An outcome to translate (fetch_error_classify). */
struct fetch_outcome {
    CURLcode res;
    long status;
    enum fetch_reason reason;
    int err;                /* errno for FETCH_LOCAL */
    const char *curl_text;
    uint32_t bits_code;     /* FETCH_BITS_ERROR: the server's BITS-Error-Code ... */
    unsigned bits_context;  /* ... and BITS-Error-Context (0: remote file) */
};

struct fetch_error {
    bool transient;
    enum ferry_error_context context;
    uint32_t code;
    char text[256];
};

/* ---- fetch_error.c ---- */
void xfer_fail(struct xfer *x, const struct fetch_outcome *o);
void xfer_fail_local(struct xfer *x, int err);

/* ---- fetch_req.c ---- */
void fetch_set(char **slot, char *v);
struct req *req_free(struct ferry_jobs *jobs, struct req *q);
void xfer_remove_req(struct xfer *x, struct req *q);
struct req *req_new(struct xfer *x, enum req_kind kind, size_t mirror, const char *url);
int xfer_add_req(struct xfer *x, struct req *q);

/* ---- fetch_uring.c ---- */
int fetch_uring_init(struct ferry_jobs *jobs);
void fetch_uring_done(struct ferry_jobs *jobs);
void xfer_uring_choose(struct xfer *x, struct req *probe);
void xfer_uring_ready(struct xfer *x, size_t mirror);
unsigned xfer_uring_depth(const struct xfer *x);
int xfer_uring_feed(struct xfer *x, struct req *q);
void xfer_uring_poll(struct xfer *x);
void xfer_uring_stop(struct xfer *x);

/* ---- fetch_range.c ---- */
void xfer_range_count(struct xfer *x, uint64_t len);
size_t xfer_range_write(struct xfer *x, struct req *q, const char *buf, size_t len);
void xfer_range_done(struct xfer *x, struct req *q);
int xfer_start_range(struct xfer *x, uint64_t ci, size_t mi);
bool xfer_pace_allow(struct xfer *x, struct req *q, size_t len);

/* ---- fetch_source.c: which source fetches a chunk (origin, mirrors, peers) ---- */
#define XFER_SOURCE_WAIT ((size_t)-1)   /* xfer_source_choose: no source now */
#define XFER_SOURCE_ORIGIN ((size_t)-2) /* ... the origin (RemoteUrl, mirrors round robin) */
bool xfer_source_is_peer(const struct xfer *x, size_t mi);
size_t xfer_source_choose(const struct xfer *x, uint64_t ci, int64_t now, uint64_t *chunk);
int xfer_source_start(struct xfer *x, uint64_t ci);
void xfer_source_tick(struct xfer *x);
bool xfer_source_done(struct xfer *x, struct req *q, CURLcode res, long status);
bool xfer_source_bad_chunk(struct xfer *x, struct req *q);
void xfer_source_chunk_ok(struct xfer *x, struct req *q);
void xfer_source_relay_sync(struct xfer *x, bool rehashed);
void xfer_source_reset(struct xfer *x);
bool fetcher_peers_waiting(struct ferry_jobs *jobs);

/* ---- fetch_stage.c ---- */
uint64_t xfer_chunk_len(const struct jfile *f, uint64_t i);
int xfer_stage_open(struct xfer *x);
int req_flush(struct xfer *x, struct req *q);
int xfer_stage_write(struct xfer *x, struct req *q, const char *buf, size_t len);
int xfer_layout(struct xfer *x);

/* ---- fetch_checkpoint.c ---- */
struct sync_req *sync_req_free(struct sync_req *q);
int xfer_sync_poll(struct xfer *x, bool wait);
int xfer_checkpoint(struct xfer *x, bool wait);
int xfer_rehash_start(struct xfer *x);
void xfer_rehash_apply(struct xfer *x, struct sync_req *q);

/* ---- fetch_probe.c ---- */
int xfer_start_probes(struct xfer *x);
void xfer_probe_done(struct xfer *x, struct req *q);
void xfer_after_probes(struct xfer *x);

/* ---- fetch_manifest.c ---- */
int fetch_manifest_body(struct req *q, const char *buf, size_t len);
char *xfer_manifest_link(const char *base, const char *link);
void xfer_manifest_done(struct xfer *x, struct req *q);

/* ---- fetcher.c ---- */
void xfer_free(struct xfer *x, bool checkpoint);
void xfer_restart(struct xfer *x);
void xfer_load_creds(struct xfer *x);
void xfer_wipe_creds(struct xfer *x);

#endif
