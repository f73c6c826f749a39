/*
 * engine/client/ufetch.h - the io_uring range fetcher for plain http:// sources (internal).
 *
 * A `struct ufetch` is a set of fetch threads, each running one io_uring loop
 * (engine/core/loop.h). A `struct ufetch_source` is one origin of one file: an address, a
 * request target, the validators and total size the probe saw, the temp file's fd, and N
 * keep-alive connections spread over the threads. The caller (the fetcher, on the jobs
 * thread) feeds it byte ranges; each range is fetched on one connection with
 * `Range: bytes=a-b` (+ If-Range), received into a 1 MiB buffer (as the socket has it), hashed
 * there into the range's XXH3-128 stream (verify.c), and pwrite()n at its offset; or, with
 * params.splice, spliced socket -> pipe -> file and hashed by reading the just-written bytes
 * back from the page cache (the copy out of the socket becomes a read of cache-hot bytes).
 * The caller collects results with ufetch_poll() and may read a range's durable-candidate
 * progress (bytes written + the digest of exactly those bytes) with ufetch_progress() at any
 * time, for checkpoints.
 *
 * Rules:
 *   1. Every function here is called from one thread (the jobs thread), except that the
 *      `wake` callback runs on fetch threads (it must be thread-safe: curl_multi_wakeup).
 *   2. A range's `hs` stream belongs to ufetch from ufetch_feed() until its result was
 *      returned by ufetch_poll() or the source was stopped; then it covers exactly the bytes
 *      reported written.
 *   3. The fd is borrowed: it must stay open until ufetch_source_stop() returned. After that
 *      no fetch thread touches the fd, the ranges or the source; results not yet polled
 *      are dropped, and ufetch_progress() still answers for them.
 *   4. Connection failures (reset, a keep-alive connection the server closed, a short body)
 *      are retried inside: the rest of the range is asked for on a fresh connection, up to
 *      UFETCH_MAX_RETRIES times in a row without a byte of progress (never with no_retry,
 *      except a keep-alive connection found closed before any byte). Only then, or on an
 *      answer that cannot be retried (HTTP status, remote changed, no range support), does
 *      a range end with an error.
 */
#ifndef FERRY_CLIENT_UFETCH_H
#define FERRY_CLIENT_UFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ferry_rate;
struct ufetch;
struct ufetch_source;

/* Called on a fetch thread when a result is ready. Must be thread-safe. */
typedef void (*ufetch_wake_fn)(void *userdata);

/* Receive buffer per connection (the unit of hashing and pwrite). */
#define UFETCH_BUFFER_SIZE (1u << 20)
#define UFETCH_MAX_RETRIES 3
#define UFETCH_MAX_CONNS 64

enum ufetch_status {
    UFETCH_DONE = 0,        /* every byte of the range written and hashed */
    UFETCH_E_HTTP,          /* a status >= 300 (http_status) */
    UFETCH_E_CHANGED,       /* other validators or total size: the remote changed */
    UFETCH_E_NO_RANGES,     /* 200 to a range, same validators: the server ignores Range */
    UFETCH_E_BAD_RESPONSE,  /* unparsable head, another range, framing we do not take */
    UFETCH_E_NET,           /* err: -ECONNREFUSED, -ECONNRESET, -EPIPE, ... (after retries) */
    UFETCH_E_TIMEOUT,       /* connect-timeout or stall-timeout passed */
    UFETCH_E_LOCAL,         /* pwrite failed: err */
};

struct ufetch_result {
    void *tag;
    enum ufetch_status status;
    int http_status;
    int err;                /* -errno for E_NET / E_LOCAL */
    uint64_t written;       /* bytes from the range's start written (and hashed) */
    uint8_t digest[16];     /* XXH3-128 of the range's stream at `written` (the chunk prefix;
                               the stream itself may have hashed bytes a failed write lost) */
};

struct ufetch_source_params {
    struct sockaddr_storage addr;   /* numeric address the probe connected to */
    socklen_t addrlen;
    const char *host;               /* Host header value (host[:port] of the URL) */
    const char *user_agent;
    const char *target;             /* origin-form request target: "/path?query" */
    const char *if_range;           /* strong ETag or Last-Modified; NULL: none sent */
    const char *etag;               /* expected validators; NULL: not checked */
    const char *last_modified;
    uint64_t total;                 /* the file's size (checked in every Content-Range) */
    const char *const *headers;     /* extra "Name: value" request header lines */
    size_t nheaders;
    int fd;                         /* the temp file (rule 3) */
    unsigned conns;                 /* 1..UFETCH_MAX_CONNS */
    unsigned connect_timeout_s;
    unsigned stall_timeout_s;
    bool no_retry;                  /* report the first broken connection (rule 4) */
    bool splice;                    /* bodies socket -> pipe -> file by splice(2) (see
                                       ufetch_splice_pays); a file system refusing it turns
                                       the source to recv + pwrite, no error */
    uint64_t rate_bps;              /* a bucket of the source's own, 0 = none (core/rate.c) */
    struct ferry_rate *rates[2];    /* shared buckets (the job's, the role's), NULL = none;
                                       referenced by the source. A body receive waits until
                                       every bucket granted its bytes. */
};

/*
 * Start `threads` fetch threads (1..16). wake(userdata) runs when results are ready.
 * 0 or -errno (io_uring setup, threads).
 */
int ufetch_new(unsigned threads, ufetch_wake_fn wake, void *userdata, struct ufetch **ret);
/* Stop the threads; every source must have been stopped and freed. NULL-safe, NULL. */
struct ufetch *ufetch_free(struct ufetch *u);
unsigned ufetch_threads(const struct ufetch *u);

/* A source; strings are copied. Connections open on demand. */
int ufetch_source_new(struct ufetch *u, const struct ufetch_source_params *p,
                      struct ufetch_source **ret);
/*
 * Queue the inclusive range [start, end] for `tag`, hashing into `hs` (a verify stream
 * already covering whatever precedes `start` in its chunk). 0 or -ENOMEM / -ESHUTDOWN.
 */
int ufetch_feed(struct ufetch_source *s, void *tag, uint64_t start, uint64_t end, void *hs);
/* Move up to max finished results into out; returns how many. */
size_t ufetch_poll(struct ufetch_source *s, struct ufetch_result *out, size_t max);
/* Bytes of tag's range written so far and the XXH3-128 of the stream at that point (the
 * chunk prefix). false when tag is unknown (never fed, or its result was polled). */
bool ufetch_progress(struct ufetch_source *s, void *tag, uint64_t *ret_written,
                     uint8_t ret_digest[16]);
/* Does splice pay for the file fd (the "auto" choice)? false on tmpfs / shmem / ramfs, where
 * the page-cache copy of recv + pwrite is as cheap, and when fstatfs fails. */
bool ufetch_splice_pays(int fd);
/* Is fd on tmpfs / shmem / ramfs / hugetlbfs? Their free bytes into *ret_avail when given
 * (left alone when fstatfs fails, which answers false). */
bool ufetch_file_in_memory(int fd, uint64_t *ret_avail);
/* Does the source still splice (params.splice, and no splice refused since)? */
bool ufetch_source_splicing(const struct ufetch_source *s);
/* Body bytes the source moved by splice so far (any thread; for tests and logs). */
uint64_t ufetch_source_spliced(const struct ufetch_source *s);
/* Change the job's bandwidth limit (the source's bucket; no-op without one). */
void ufetch_source_set_rate(struct ufetch_source *s, uint64_t bytes_per_sec);
/* Stop every connection and wait until no fetch thread uses the source (rule 3). */
void ufetch_source_stop(struct ufetch_source *s);
/* Stop (if not yet) and free. NULL-safe, returns NULL. */
struct ufetch_source *ufetch_source_free(struct ufetch_source *s);

#endif
