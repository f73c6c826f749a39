/*
 * engine/server/upload_reply.h - replies of upload-reply sessions through a notification URL
 * (upload_reply.c; docs/internals/server.md "Uploads"): the whole upload is POSTed to
 * --upload-notify-url and the response body is what the client GETs at BITS-Reply-URL.
 */
#ifndef FERRY_SERVER_UPLOAD_REPLY_H
#define FERRY_SERVER_UPLOAD_REPLY_H

#include "ferry/http.h"

struct upload_replies;

/* The notifier for notify_url; NULL when notify_url is NULL or empty (no replies) or on
 * out of memory. */
struct upload_replies *upload_replies_new(const char *notify_url);
/* Drop the server's reference; running notifications keep theirs and end on their own.
 * NULL-safe, returns NULL. */
struct upload_replies *upload_replies_free(struct upload_replies *rp);
/*
 * Head hook of a GET of session `hex`'s reply in the group directory dirfd (borrowed):
 * FERRY_HTTP_HEAD_GO when the reply is there (upload_reply_send answers), _WAIT while the
 * notification runs (started here for a whole upload; the request is resumed when it ends),
 * _ANSWER with resp filled for an unknown or incomplete session (404), a failed
 * notification (502, BITS-Error-Context 7) or no memory (503). original_url is sent to the
 * application as BITS-Original-Request-URL. Worker thread.
 */
int upload_reply_head(struct upload_replies *rp, int dirfd, const char *hex,
                      const char *original_url, const struct ferry_http_request *req,
                      struct ferry_http_response *resp);
/* Handler: send session hex's reply file (200), or 404. */
void upload_reply_send(int dirfd, const char *hex, struct ferry_http_response *resp);

#endif
