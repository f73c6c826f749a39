/*
 * fetch_manifest.c - the server's manifest: the Link rel=describedby target, its body
 * (capped), and applying it (piece digests, zero chunks) or fetching without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/fetcher-internal.h"
#include "client/job.h"
#include "client/metalink.h"

/* Append manifest bytes to q->body (NUL-terminated), capped at METALINK_MAX_BYTES. 0, or
 * -E2BIG / -ENOMEM with q->fail set. */
int
fetch_manifest_body(struct req *q, const char *buf, size_t len)
{
    char *nb;

    if (q->body_len + len > METALINK_MAX_BYTES) {
        q->fail = FETCH_TOO_BIG;
        return -E2BIG;
    }
    nb = realloc(q->body, q->body_len + len + 1);
    if (!nb) {
        q->fail = FETCH_LOCAL;
        q->fail_errno = ENOMEM;
        return -ENOMEM;
    }
    q->body = nb;
    memcpy(q->body + q->body_len, buf, len);
    q->body_len += len;
    q->body[q->body_len] = '\0';
    return 0;
}

/* Link: <URL>; rel=describedby; type="application/metalink4+xml" -> absolute URL. */
char *
xfer_manifest_link(const char *base, const char *link)
{
    const char *p = link;
    char *out = NULL;

    while (p && *p) {
        const char *lt = strchr(p, '<'), *gt, *end;
        char *target, *params;
        bool describedby;

        if (!lt)
            break;
        gt = strchr(lt, '>');
        if (!gt)
            break;
        end = strchr(gt, ',');
        if (!end)
            end = gt + strlen(gt);
        params = strndup(gt + 1, (size_t)(end - gt - 1));
        target = strndup(lt + 1, (size_t)(gt - lt - 1));
        describedby = params && (strstr(params, "rel=describedby") ||
                                 strstr(params, "rel=\"describedby\""));
        if (describedby && params && strstr(params, "type=") &&
            !strstr(params, "metalink4"))
            describedby = false;
        if (describedby && target) {
            CURLU *u = curl_url();
            char *abs = NULL;
            if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
                curl_url_set(u, CURLUPART_URL, target, 0) == CURLUE_OK &&
                curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK) {
                out = strdup(abs);
            }
            curl_free(abs);
            curl_url_cleanup(u);
        }
        free(params);
        free(target);
        if (out)
            break;
        p = *end ? end + 1 : NULL;
    }
    return out;
}

/*
 * The manifest request ended (q->body NULL when it failed or was too large): keep the
 * manifest when it describes this file, restart when it names another version, then lay
 * the file out. May free x.
 */
void
xfer_manifest_done(struct xfer *x, struct req *q)
{
    struct jfile *f = &x->job->files[x->fidx];
    struct metalink *ml = NULL;
    int r;

    if (q->body && metalink_parse(q->body, q->body_len, &ml) >= 0) {
        if (ml->etag && f->etag && strcmp(ml->etag, f->etag) != 0) {
            /* the file changed between the probe and the manifest: start over */
            metalink_free(ml);
            xfer_restart(x);
            return;
        }
        if (f->bytes_total == 0 && ml->size == 0) {
            ml = metalink_free(ml); /* an empty file has no pieces */
        } else if (ml->size != f->bytes_total || ml->piece_length < (64u << 10)) {
            ferry_log_warn("job %s: manifest '%s' does not describe this file (size %llu, "
                           "file %llu); ignoring it",
                           x->job->id, x->manifest_url, (unsigned long long)ml->size,
                           (unsigned long long)f->bytes_total);
            ml = metalink_free(ml);
        }
    } else {
        ferry_log_warn("job %s: manifest '%s' could not be parsed; fetching without it",
                       x->job->id, x->manifest_url);
    }
    x->ml = ml;
    if (ml && q->body) {
        /* kept as received: a relay of this host serves the origin's own document */
        free(x->ml_body);
        x->ml_body = q->body;
        x->ml_body_len = q->body_len;
        q->body = NULL;
        q->body_len = 0;
    }
    r = xfer_layout(x);
    if (r < 0)
        xfer_fail_local(x, -r);
}
