/*
 * fileserve_relay.c - serving a URL whose source a job of this host is still fetching
 * (docs/internals/relay.md): only chunks verified against the origin's manifest, with the
 * origin's ETag and Last-Modified (so a downstream If-Range holds), the origin's manifest
 * as the URL's .meta4, X-Ferry-Have on every answer, 503 + Retry-After for what is not
 * verified yet. Worker threads; the relay's lock is held only while the answer is built.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conditional.h"
#include "fileserve_relay.h"
#include "metalink.h"
#include "core/relay.h"

static void
fileserve_relay_text(struct ferry_http_response *resp, int status, const char *msg)
{
    ferry_http_response_status(resp, status);
    ferry_http_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    ferry_http_response_body_copy(resp, msg, strlen(msg));
}

/* Release callback of a lent body: the response's own descriptor. */
static void
fileserve_relay_fd_release(void *p)
{
    close((int)(intptr_t)p);
}

static void
fileserve_relay_not_yet(struct ferry_http_response *resp, const char *msg)
{
    fileserve_relay_text(resp, 503, msg);
    ferry_http_response_header(resp, "Retry-After", "%d", RELAY_RETRY_AFTER);
    ferry_http_response_header(resp, "Cache-Control", "no-store");
}

/* The answer from a ready relay; r->lock is held. */
static void
fileserve_relay_locked(struct urlgroup_url *url, struct relay *r, struct ferry_rate *rate,
                       bool meta4, bool head, const struct ferry_http_request *req,
                       struct ferry_http_response *resp)
{
    struct conditional_request rq;
    struct conditional_file f;
    struct conditional_result res;
    char have[RELAY_HAVE_MAX], enc[URLGROUP_SUFFIX_MAX * 3 + 1];
    time_t mtime = 0;
    int fd;

    if (meta4) {
        ferry_http_response_status(resp, 200);
        ferry_http_response_header(resp, "Content-Type", METALINK_CONTENT_TYPE);
        ferry_http_response_header(resp, "Cache-Control", "no-cache");
        if (head)
            ferry_http_response_head_only(resp, (off_t)r->meta4_len);
        else
            ferry_http_response_body_copy(resp, r->meta4, r->meta4_len);
        return;
    }
    relay_have_format(r->have, r->nchunks, r->chunk_size, have, sizeof(have));
    if (r->last_modified)
        (void)conditional_date_parse(r->last_modified, &mtime);
    rq = (struct conditional_request){
        .get = !head,
        .range = ferry_http_request_header(req, "Range"),
        .if_range = ferry_http_request_header(req, "If-Range"),
        .if_none_match = ferry_http_request_header(req, "If-None-Match"),
        .if_modified_since = ferry_http_request_header(req, "If-Modified-Since"),
    };
    /* without an origin ETag, If-Range can only match the date */
    f = (struct conditional_file){.etag = r->etag ? r->etag : "\"\"", .mtime = mtime,
                                  .size = r->size};
    conditional_evaluate(&rq, &f, &res);
    if (!head && (res.status == 200 || res.status == 206) &&
        !relay_covers_locked(r, res.start, res.len)) {
        fileserve_relay_not_yet(resp, "this host has not verified that range yet\n");
        ferry_http_response_header(resp, "X-Ferry-Have", "%s", have);
        return;
    }
    ferry_http_response_status(resp, res.status);
    ferry_http_response_header(resp, "Accept-Ranges", "bytes");
    if (r->etag)
        ferry_http_response_header(resp, "ETag", "%s", r->etag);
    if (r->last_modified)
        ferry_http_response_header(resp, "Last-Modified", "%s", r->last_modified);
    ferry_http_response_header(resp, "X-Ferry-Have", "%s", have);
    ferry_http_response_header(resp, "Cache-Control", "no-cache");
    if (urlgroup_path_encode(url->suffix, enc, sizeof(enc)) == 0)
        ferry_http_response_header(resp, "Link", "</%s/%s.meta4>; rel=describedby; type=\"%s\"",
                                   url->group->p.name, enc, METALINK_CONTENT_TYPE);
    if (res.status == 304)
        return;
    if (res.status == 416) {
        ferry_http_response_header(resp, "Content-Range", "bytes */%" PRIu64, r->size);
        return;
    }
    if (res.status == 206)
        ferry_http_response_header(resp, "Content-Range",
                                   "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, res.start,
                                   res.start + res.len - 1, r->size);
    ferry_http_response_header(resp, "Content-Type", "application/octet-stream");
    if (head) {
        ferry_http_response_head_only(resp, (off_t)res.len);
        return;
    }
    if (rate)
        ferry_http_response_rate(resp, rate);
    /* the response gets a descriptor of its own: the relay may be set up again (another
     * version) and close its one while this body is still being sent */
    fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        fileserve_relay_text(resp, 503, "too many open files; try again\n");
        ferry_http_response_header(resp, "Retry-After", "%d", RELAY_RETRY_AFTER);
        return;
    }
    /* the core closes it through the release callback, also on failure */
    if (ferry_http_response_body_file_lent(resp, fd, (off_t)res.start, (off_t)res.len,
                                           fileserve_relay_fd_release,
                                           (void *)(intptr_t)fd) < 0)
        fileserve_relay_text(resp, 500, "the file could not be sent\n");
}

/*
 * See fileserve_relay.h.
 */
void
fileserve_relay(struct urlgroup_url *url, struct relay *r, struct ferry_rate *rate,
                bool meta4, bool head, const struct ferry_http_request *req,
                struct ferry_http_response *resp)
{
    pthread_mutex_lock(&r->lock);
    if (r->gone)
        fileserve_relay_text(resp, 404, "the job fetching this file was cancelled\n");
    else if (!r->ready)
        fileserve_relay_not_yet(resp, "this host has not received the origin's manifest yet\n");
    else
        fileserve_relay_locked(url, r, rate, meta4, head, req, resp);
    pthread_mutex_unlock(&r->lock);
    relay_unref(r);
}
