/*
 * control/cli/ctl_http.h - ferryctl's HTTP transport (libcurl): one easy handle per
 * endpoint, reused across calls so the connection is kept alive; Basic authentication,
 * a CA file for https, a client certificate, a timeout.
 */
#ifndef FERRY_CTL_HTTP_H
#define FERRY_CTL_HTTP_H

#include <stddef.h>

/* Largest response body accepted (a WS-Man response is bounded by MaxEnvelopeSize; this
 * is the hard stop against a misbehaving peer). */
#define CTL_HTTP_MAX_RESPONSE (64u << 20)

struct ctl_http_options {
    const char *user;        /* NULL: no Authorization header */
    const char *password;
    const char *cacert;      /* PEM CA file for https, NULL = system store */
    const char *client_cert; /* PEM certificate, NULL = none */
    const char *client_key;  /* PEM key, NULL = in the certificate file */
    unsigned timeout_s;      /* whole request, 0 = none */
};

struct ctl_http;

/* A transport for one endpoint URL; the options are copied (the caller may free them).
 * -ENOMEM, or -EINVAL for a URL that is not http(s). */
int ctl_http_new(const char *url, const struct ctl_http_options *opts,
                 struct ctl_http **ret);
/* Close the connection, wipe the password copy, free. NULL-safe; returns NULL. */
struct ctl_http *ctl_http_free(struct ctl_http *http);

/* POST a SOAP envelope. 0 with the HTTP status and the body (malloc'ed, NUL-terminated,
 * possibly empty) on any HTTP answer; -EACCES on 401 (authentication failed) and 429
 * (too many failed logins),
 * -ECONNREFUSED / -EHOSTUNREACH / -ETIMEDOUT / -EPROTO on transport failures, -EFBIG when
 * the body exceeds CTL_HTTP_MAX_RESPONSE; the reason is in ctl_http_error(). */
int ctl_http_post(struct ctl_http *http, const char *body, size_t len, long *ret_status,
                  char **ret_body, size_t *ret_len);
/* The last transport error as one line. */
const char *ctl_http_error(const struct ctl_http *http);

#endif
