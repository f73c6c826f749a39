/*
 * http_response.c - what handlers see: request accessors and the response builder
 * (ferry/http.h), and the assembly of a response into output chunks: status line, Server,
 * Date, the handler's headers, Content-Length, Connection, then the body chunk.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http-internal.h"

/* ---- requests ---- */

enum ferry_http_method
ferry_http_request_method(const struct ferry_http_request *r)
{
    return r->p->method;
}

const char *
ferry_http_request_path(const struct ferry_http_request *r)
{
    return r->p->path;
}

const char *
ferry_http_request_query(const struct ferry_http_request *r)
{
    return r->p->query;
}

const char *
ferry_http_request_header(const struct ferry_http_request *r, const char *name)
{
    return http_parser_header(r->p, name);
}

bool
ferry_http_request_header_at(const struct ferry_http_request *r, size_t i,
                             const char **ret_name, const char **ret_value)
{
    if (i >= r->p->nheaders)
        return false;
    *ret_name = r->p->headers[i].name;
    *ret_value = r->p->headers[i].value;
    return true;
}

const void *
ferry_http_request_body(const struct ferry_http_request *r, size_t *ret_len)
{
    if (ret_len)
        *ret_len = r->p->body_len;
    return r->p->body_len ? r->p->body : NULL;
}

const struct sockaddr *
ferry_http_request_peer(const struct ferry_http_request *r, socklen_t *ret_len)
{
    if (ret_len)
        *ret_len = r->c->peer_len;
    return (const struct sockaddr *)&r->c->peer;
}

bool
ferry_http_request_peer_is_loopback(const struct ferry_http_request *r)
{
    const struct sockaddr_storage *ss = &r->c->peer;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            return s6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

int
ferry_http_request_local_port(const struct ferry_http_request *r)
{
    return r->c->local_port;
}

bool
ferry_http_request_is_tls(const struct ferry_http_request *r)
{
    return r->c->ssl != NULL;
}

const char *
ferry_http_request_client_cert_sha256(const struct ferry_http_request *r)
{
    return r->c->has_cert ? r->c->cert_sha256 : NULL;
}

const char *
ferry_http_request_client_cert_sha1(const struct ferry_http_request *r)
{
    return r->c->has_cert ? r->c->cert_sha1 : NULL;
}

/* ---- response builder ---- */

void
http_response_init(struct ferry_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 500;
}

void
http_response_done(struct ferry_http_response *resp)
{
    free(resp->hdrs);
    resp->hdrs = NULL;
    resp->body = http_chunk_free(resp->body);
    if (resp->rate)
        resp->rate = ferry_rate_unref(resp->rate);
}

void
ferry_http_response_status(struct ferry_http_response *resp, int status)
{
    resp->status = status;
}

static bool
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Names the core writes itself. */
static bool
header_reserved(const char *name)
{
    static const char *const reserved[] = {"Content-Length", "Transfer-Encoding",
                                           "Connection", "Date", "Server", "Keep-Alive"};

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return false;
}

static int
hdrs_append(struct ferry_http_response *resp, const char *s, size_t n)
{
    if (resp->hdrs_len + n > HTTP_RESPONSE_MAX_HEADERS_BYTES)
        return -E2BIG;
    if (resp->hdrs_len + n > resp->hdrs_cap) {
        size_t cap = resp->hdrs_cap ? resp->hdrs_cap : 512;
        char *nb;
        while (cap < resp->hdrs_len + n)
            cap *= 2;
        nb = realloc(resp->hdrs, cap);
        if (!nb)
            return -ENOMEM;
        resp->hdrs = nb;
        resp->hdrs_cap = cap;
    }
    memcpy(resp->hdrs + resp->hdrs_len, s, n);
    resp->hdrs_len += n;
    return 0;
}

/*
 * Add "name: value". The name must be a token and not one the core writes (Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, Date, Server); the value must not contain CR,
 * LF or NUL. -EINVAL for those, -E2BIG beyond 64 KiB of headers, -ENOMEM.
 */
int
ferry_http_response_header(struct ferry_http_response *resp, const char *name,
                           const char *fmt, ...)
{
    char small[512], *value = small;
    size_t start;
    va_list ap;
    int n, r;

    if (!name || !*name || header_reserved(name))
        return -EINVAL;
    for (const char *c = name; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return -EINVAL;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(small)) {
        if ((size_t)n > HTTP_RESPONSE_MAX_HEADERS_BYTES)
            return -E2BIG;
        value = malloc((size_t)n + 1);
        if (!value)
            return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf(value, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    r = 0;
    start = resp->hdrs_len;
    if (strpbrk(value, "\r\n") != NULL)
        r = -EINVAL;
    if (r == 0)
        r = hdrs_append(resp, name, strlen(name));
    if (r == 0)
        r = hdrs_append(resp, ": ", 2);
    if (r == 0)
        r = hdrs_append(resp, value, (size_t)n);
    if (r == 0)
        r = hdrs_append(resp, "\r\n", 2);
    if (value != small)
        free(value);
    if (r < 0)
        resp->hdrs_len = start; /* nothing of a refused header stays */
    return r;
}

static void
set_body(struct ferry_http_response *resp, struct http_chunk *ch)
{
    http_chunk_free(resp->body);
    resp->body = ch;
    if (ch)
        ch->body = true;
    resp->head_only = false;
}

int
ferry_http_response_body_copy(struct ferry_http_response *resp, const void *data, size_t len)
{
    struct http_chunk *ch = http_chunk_mem((void *)data, len, false);

    if (!ch)
        return -ENOMEM;
    set_body(resp, ch);
    return 0;
}

int
ferry_http_response_body_take(struct ferry_http_response *resp, void *data, size_t len)
{
    struct http_chunk *ch = http_chunk_mem(data, len, true);

    if (!ch)
        return -ENOMEM;
    set_body(resp, ch);
    return 0;
}

int
ferry_http_response_body_file(struct ferry_http_response *resp, int fd, off_t offset,
                              off_t len)
{
    struct http_chunk *ch;

    if (fd < 0 || offset < 0 || len < 0) {
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    ch = http_chunk_file(fd, offset, (uint64_t)len);
    if (!ch)
        return -ENOMEM;
    set_body(resp, ch);
    return 0;
}

void
ferry_http_response_head_only(struct ferry_http_response *resp, off_t len)
{
    resp->body = http_chunk_free(resp->body);
    resp->head_only = true;
    resp->head_only_len = len > 0 ? (uint64_t)len : 0;
}

void
ferry_http_response_close(struct ferry_http_response *resp)
{
    resp->close = true;
}

void
ferry_http_response_rate(struct ferry_http_response *resp, struct ferry_rate *rate)
{
    if (resp->rate)
        ferry_rate_unref(resp->rate);
    resp->rate = rate ? ferry_rate_ref(rate) : NULL;
}

void
ferry_http_response_on_done(struct ferry_http_response *resp, ferry_http_done_fn fn,
                            void *userdata)
{
    resp->done_fn = fn;
    resp->done_ud = userdata;
}

/* ---- assembly ---- */

static int
head_build(struct http_conn *c, int status, const char *hdrs, size_t hdrs_len,
           bool with_length, uint64_t length, bool close, int version_minor,
           struct http_chunk **ret)
{
    size_t cap = 256 + hdrs_len;
    char *head = malloc(cap);
    const char *reason = http_status_reason(status);
    size_t n;
    int w;

    if (!head)
        return -ENOMEM;
    w = snprintf(head, cap, "HTTP/1.1 %d %s\r\nServer: ferry\r\nDate: %s\r\n", status,
                 *reason ? reason : "Status", http_worker_date(c->w));
    n = (size_t)w;
    memcpy(head + n, hdrs, hdrs_len);
    n += hdrs_len;
    if (with_length)
        n += (size_t)snprintf(head + n, cap - n, "Content-Length: %llu\r\n",
                              (unsigned long long)length);
    if (close)
        n += (size_t)snprintf(head + n, cap - n, "Connection: close\r\n");
    else if (version_minor == 0)
        n += (size_t)snprintf(head + n, cap - n, "Connection: keep-alive\r\n");
    n += (size_t)snprintf(head + n, cap - n, "\r\n");
    *ret = http_chunk_mem(head, n, true);
    return *ret ? 0 : -ENOMEM;
}

/*
 * Turn the handler's response into chunks: the head, then the body unless the request was
 * HEAD or the status has none (1xx, 204, 304). Takes the body out of resp. -EINVAL when the
 * handler's response cannot be sent as built (bad status, failed header, head_only on a
 * method other than HEAD), -ENOMEM.
 */
int
http_response_finish(struct http_conn *c, struct ferry_http_response *resp,
                     const struct http_parser *p, struct http_chunk **ret_chunks)
{
    bool is_head = p->method == FERRY_HTTP_HEAD;
    bool no_body = resp->status < 200 || resp->status == 204 || resp->status == 304;
    struct http_chunk *head = NULL, *body = resp->body;
    uint64_t length = 0;
    int r;

    if (resp->status < 200 || resp->status > 599 || resp->hdrs_failed)
        return -EINVAL;
    if (resp->head_only && !is_head)
        return -EINVAL;
    if (body)
        length = http_chunk_left(body);
    else if (resp->head_only)
        length = resp->head_only_len;
    r = head_build(c, resp->status, resp->hdrs ? resp->hdrs : "", resp->hdrs_len, !no_body,
                   length, c->close_after, p->version_minor, &head);
    if (r < 0)
        return r;
    resp->body = NULL;
    if (is_head || no_body || (body && length == 0))
        body = http_chunk_free(body);
    head->next = body;
    *ret_chunks = head;
    return 0;
}

/* A core-generated refusal: "NNN Reason\n" as text/plain, then close. */
int
http_response_error(struct http_conn *c, int status, struct http_chunk **ret_chunks)
{
    static const char hdr[] = "Content-Type: text/plain; charset=utf-8\r\n";
    char text[96];
    struct http_chunk *head = NULL, *body;
    int n, r;

    n = snprintf(text, sizeof(text), "%d %s\n", status, http_status_reason(status));
    r = head_build(c, status, hdr, sizeof(hdr) - 1, true, (uint64_t)n, true, 1, &head);
    if (r < 0)
        return r;
    body = http_chunk_mem(text, (size_t)n, false);
    if (!body) {
        http_chunk_free(head);
        return -ENOMEM;
    }
    body->body = true;
    head->next = body;
    *ret_chunks = head;
    return 0;
}
