/*
 * engine/client/client.h - the client role's state (struct ferry_jobs), shared by jobs.c
 * (the API), scheduler.c (the jobs thread) and the fetcher. A header without a .c of its
 * own: it declares no functions, only the object those three modules work on.
 *
 * Locking: one mutex (ferry_jobs.lock) guards every field below. The `jobs` thread holds it
 * except while it sleeps in curl_multi_poll(); API calls take it for their whole duration.
 * libcurl handles are touched by the `jobs` thread only.
 */
#ifndef FERRY_CLIENT_CLIENT_H
#define FERRY_CLIENT_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/config.h"
#include "ferry/jobs.h"

struct ferry_rate;
struct job;
struct notify;
struct store;
struct syncer;
struct ufetch;
struct netwatch;
struct upload_cancel;

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
    struct netwatch *netwatch;   /* network awareness (netwatch.h), NULL = always up */
    struct ferry_rate *rate;     /* global pacing (cfg->bandwidth_limit), NULL = none */
    struct notify *notify;       /* the notifier thread (notify.c), NULL = none */
    struct ufetch *ufetch;       /* io_uring fetch threads (fetch_uring.c), NULL = libcurl only */
    struct upload_cancel *up_cancels; /* Cancel-Sessions of cancelled uploads, queued or in
                                         flight (upload_cancel.c) */
};

#endif
