/*
 * engine/server/fileserve.h - the request handler of published URLs on the data-plane
 * ferry_http_server: routing, access rules, GET/HEAD with ranges and conditionals, the
 * Metalink Link header and URL.meta4, per-group ConnectionLimit/BandwidthLimit, counters.
 */
#ifndef FERRY_SERVER_FILESERVE_H
#define FERRY_SERVER_FILESERVE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "ferry/http.h"
#include "ferry/users.h"
#include "urlgroup.h"

struct upload_replies;

/* Seconds announced in Retry-After with a 503 for ConnectionLimit. */
#define FILESERVE_RETRY_AFTER 5

/* Embedded in the server; its address is every data-plane listener's userdata. */
struct fileserve {
    struct urlgroup_registry *reg;  /* borrowed */
    struct ferry_users *users;      /* borrowed, may be NULL: nobody authenticates */
    bool allow_basic_over_http;
    /* The URL's manifest is missing or stale and no job is pending: queue one. Called on a
     * worker thread with url->manifest_pending already set; must not block. */
    void (*manifest_wanted)(void *ud, struct urlgroup_url *url);
    void *ud;
    /* The group's token bucket (BandwidthLimit), or NULL when unlimited; a borrowed
     * pointer valid while the group is referenced. */
    struct ferry_rate *(*group_rate)(void *ud, struct urlgroup *g);
    int upload_root_fd;             /* --upload-root (O_DIRECTORY), -1: no uploads */
    size_t upload_fragment_max;     /* --upload-fragment-max: the body cap of an allowed
                                       BITS_POST (every other request: none) */
    struct upload_replies *replies; /* --upload-notify-url (upload_reply.c), NULL: none */
    atomic_uint_fast64_t requests, bytes_sent;
    atomic_uint active;
};

/* ferry_http_head_fn for data-plane listeners: Basic credentials for a URL whose rule
 * names users are checked on the engine's verifier pool (ferry/auth.h) while the request
 * waits, never on the worker; 429 / 503 with Retry-After when the limiter or the queue
 * says so. Requests without Authorization pass at once. A BITS_POST is authorized here, on
 * its head: only one that may upload may carry a body (up to upload_fragment_max); the
 * others are answered (401/403/404) before a body byte is read. */
int fileserve_head(void *userdata, const struct ferry_http_request *req,
                   struct ferry_http_response *resp);
/* ferry_http_handler_fn for data-plane listeners; userdata is the struct fileserve. */
void fileserve_handle(void *userdata, const struct ferry_http_request *req,
                      struct ferry_http_response *resp);

#endif
