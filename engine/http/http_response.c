/*
 * http_response.c - what handlers see: request accessors and the response builder
 * (ferry/http.h), and the assembly of a response into output chunks: status line, Server,
 * Date, the handler's headers, Content-Length, Connection, then the body chunk.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_chunk.h"
#include "http_response.h"

/* ---- requests ---- */

enum ferry_http_method
ferry_http_request_method(const struct ferry_http_request *r)
{
    return r->p->method;
}

const char *
ferry_http_request_method_str(const struct ferry_http_request *r)
{
    return r->p->method_str;
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
        *ret_len = r->peer_len;
    return (const struct sockaddr *)r->peer;
}

bool
ferry_http_request_peer_is_loopback(const struct ferry_http_request *r)
{
    const struct sockaddr_storage *ss = r->peer;

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
    return r->local_port;
}

const struct sockaddr *
ferry_http_request_local(const struct ferry_http_request *r, socklen_t *ret_len)
{
    *ret_len = r->local_len;
    return r->local ? (const struct sockaddr *)r->local : NULL;
}

bool
ferry_http_request_is_tls(const struct ferry_http_request *r)
{
    return r->tls;
}

const char *
ferry_http_request_client_cert_sha256(const struct ferry_http_request *r)
{
    return r->cert_sha256;
}

const char *
ferry_http_request_client_cert_sha1(const struct ferry_http_request *r)
{
    return r->cert_sha1;
}

/* ---- response builder ---- */

void
http_response_init(struct ferry_http_response *resp)
{
    memset(resp, 0, offsetof(struct ferry_http_response, hdrs_inline));
    resp->status = 500;
}

void
http_response_done(struct ferry_http_response *resp)
{
    if (resp->hdrs != resp->hdrs_inline)
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

/* RFC 9110 tchar: a 256-bit table built once from the spec's list. */
static bool
is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    for (const char *e = extra; *e; e++)
        if (c == (unsigned char)*e)
            return true;
    return false;
}

/* Names the core writes itself. The length and first letter settle most names before
 * any string comparison. */
static bool
header_reserved(const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
    } reserved[] = {{"Content-Length", 14}, {"Transfer-Encoding", 17}, {"Connection", 10},
                    {"Date", 4},            {"Server", 6},             {"Keep-Alive", 10}};

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (len == reserved[i].len && (name[0] | 0x20) == (reserved[i].name[0] | 0x20) &&
            strcasecmp(name, reserved[i].name) == 0)
            return true;
    return false;
}

static int
hdrs_append(struct ferry_http_response *resp, const char *s, size_t n)
{
    if (resp->hdrs_len + n > HTTP_RESPONSE_MAX_HEADERS_BYTES)
        return -E2BIG;
    if (!resp->hdrs) {
        resp->hdrs = resp->hdrs_inline;
        resp->hdrs_cap = sizeof(resp->hdrs_inline);
    }
    if (resp->hdrs_len + n > resp->hdrs_cap) {
        size_t cap = resp->hdrs_cap * 2;
        char *nb;
        while (cap < resp->hdrs_len + n)
            cap *= 2;
        if (resp->hdrs == resp->hdrs_inline) {
            nb = malloc(cap);
            if (nb)
                memcpy(nb, resp->hdrs, resp->hdrs_len);
        } else {
            nb = realloc(resp->hdrs, cap);
        }
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
/* Append "name: value\r\n" for a checked name; refuses CR, LF (and, through the length,
 * NUL) in the value. */
static int
header_add(struct ferry_http_response *resp, const char *name, size_t name_len,
           const char *value, size_t value_len)
{
    size_t start = resp->hdrs_len;
    int r = 0;

    if (memchr(value, '\r', value_len) || memchr(value, '\n', value_len) ||
        memchr(value, '\0', value_len))
        return -EINVAL;
    r = hdrs_append(resp, name, name_len);
    if (r == 0)
        r = hdrs_append(resp, ": ", 2);
    if (r == 0)
        r = hdrs_append(resp, value, value_len);
    if (r == 0)
        r = hdrs_append(resp, "\r\n", 2);
    if (r < 0)
        resp->hdrs_len = start; /* nothing of a refused header stays */
    return r;
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
    size_t name_len;
    va_list ap;
    int n, r;

    if (!name || !*name || !fmt)
        return -EINVAL;
    name_len = strlen(name);
    if (header_reserved(name, name_len))
        return -EINVAL;
    for (const char *c = name; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return -EINVAL;
    if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
        /* the common case: a ready string, no formatting pass */
        va_start(ap, fmt);
        value = va_arg(ap, char *);
        va_end(ap);
        return header_add(resp, name, name_len, value, strlen(value));
    }
    if (!strchr(fmt, '%'))
        return header_add(resp, name, name_len, fmt, strlen(fmt));
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
    /* strlen, not n: a NUL produced by the format (a %c of 0) is refused like CR/LF */
    r = strlen(value) == (size_t)n ? header_add(resp, name, name_len, value, (size_t)n)
                                   : -EINVAL;
    if (value != small)
        free(value);
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

/* A file body: the chunk closes fd, or hands it back through release when it is lent. */
static int
body_file(struct ferry_http_response *resp, int fd, off_t offset, off_t len,
          void (*release)(void *ud), void *ud)
{
    struct http_chunk *ch;

    if (fd < 0 || offset < 0 || len < 0) {
        if (release)
            release(ud);
        else if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    ch = http_chunk_file(fd, offset, (uint64_t)len, release, ud);
    if (!ch)
        return -ENOMEM;
    set_body(resp, ch);
    return 0;
}

int
ferry_http_response_body_file(struct ferry_http_response *resp, int fd, off_t offset,
                              off_t len)
{
    return body_file(resp, fd, offset, len, NULL, NULL);
}

int
ferry_http_response_body_file_lent(struct ferry_http_response *resp, int fd, off_t offset,
                                   off_t len, void (*release)(void *ud), void *ud)
{
    return release ? body_file(resp, fd, offset, len, release, ud) : -EINVAL;
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

static char *
put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *
put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/*
 * The head: status line, Server, Date, the handler's headers, Content-Length, Connection.
 * `extra` bytes of room are left after it (an inline body); the head's length is
 * returned in *ret_len and the buffer's size is at least that plus extra.
 */
static char *
head_build(const char *date, int status, const char *hdrs, size_t hdrs_len,
           bool with_length, uint64_t length, bool close, int version_minor, size_t extra,
           size_t *ret_len)
{
    static const char server[] = "Server: ferry\r\nDate: ";
    const char *reason = http_status_reason(status);
    size_t reason_len, cap;
    char *head, *p;

    if (!*reason)
        reason = "Status";
    reason_len = strlen(reason);
    cap = 128 + reason_len + strlen(date) + hdrs_len + extra;
    head = malloc(cap);
    if (!head)
        return NULL;
    p = put(head, "HTTP/1.1 ", 9);
    p = put_u64(p, (uint64_t)(status % 1000));
    *p++ = ' ';
    p = put(p, reason, reason_len);
    p = put(p, "\r\n", 2);
    p = put(p, server, sizeof(server) - 1);
    p = put(p, date, strlen(date));
    p = put(p, "\r\n", 2);
    p = put(p, hdrs, hdrs_len);
    if (with_length) {
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, length);
        p = put(p, "\r\n", 2);
    }
    if (close)
        p = put(p, "Connection: close\r\n", 19);
    else if (version_minor == 0)
        p = put(p, "Connection: keep-alive\r\n", 24);
    p = put(p, "\r\n", 2);
    *ret_len = (size_t)(p - head);
    return head;
}

/* Read a small file body into buf (the head's spare room): all of it or -EIO. */
static int
body_read_inline(const struct http_chunk *body, char *buf)
{
    size_t got = 0, want = (size_t)body->left;

    while (got < want) {
        ssize_t n = pread(body->fd, buf + got, want - got, body->off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -EIO; /* shrank under us, or a read error: the length cannot be kept */
        got += (size_t)n;
    }
    return 0;
}

/*
 * Turn the handler's response into chunks: the head, then the body unless the request was
 * HEAD or the status has none (1xx, 204, 304). Takes the body out of resp. A small file
 * body without a rate limit is read into the head's buffer: the response is one chunk.
 * -EINVAL when the handler's response cannot be sent as built (bad status, failed header,
 * head_only on a method other than HEAD), -EIO when a small body could not be read,
 * -ENOMEM.
 */
int
http_response_finish(struct ferry_http_response *resp, const struct http_parser *p,
                     const char *date, bool close, bool inline_ok,
                     struct http_chunk **ret_chunks)
{
    bool is_head = p->method == FERRY_HTTP_HEAD;
    bool no_body = resp->status < 200 || resp->status == 204 || resp->status == 304;
    struct http_chunk *head, *body = resp->body;
    uint64_t length = 0;
    size_t head_len, extra = 0;
    char *buf;

    if (resp->status < 200 || resp->status > 599 || resp->hdrs_failed)
        return -EINVAL;
    if (resp->head_only && !is_head)
        return -EINVAL;
    if (body)
        length = http_chunk_left(body);
    else if (resp->head_only)
        length = resp->head_only_len;
    resp->body = NULL;
    if (is_head || no_body || (body && length == 0))
        body = http_chunk_free(body);
    if (body && body->kind == HTTP_CHUNK_FILE && length <= HTTP_INLINE_BODY_MAX && inline_ok)
        extra = (size_t)length;
    buf = head_build(date, resp->status, resp->hdrs ? resp->hdrs : "", resp->hdrs_len,
                     !no_body, length, close, p->version_minor, extra, &head_len);
    if (!buf) {
        http_chunk_free(body);
        return -ENOMEM;
    }
    if (extra) {
        int r = body_read_inline(body, buf + head_len);
        body = http_chunk_free(body);
        if (r < 0) {
            free(buf);
            return r;
        }
        /* its bytes still count as body for on_done: conn_account credits the head
         * chunk's last inline_body bytes */
    }
    head = http_chunk_mem(buf, head_len + extra, true);
    if (!head) {
        http_chunk_free(body);
        return -ENOMEM;
    }
    head->inline_body = extra;
    head->next = body;
    *ret_chunks = head;
    return 0;
}

/* A core-generated refusal: "NNN Reason\n" as text/plain, then close. */
int
http_response_error(const char *date, int status, struct http_chunk **ret_chunks)
{
    static const char hdr[] = "Content-Type: text/plain; charset=utf-8\r\n";
    char text[96];
    struct http_chunk *head = NULL, *body;
    size_t head_len;
    char *buf;
    int n;

    n = snprintf(text, sizeof(text), "%d %s\n", status, http_status_reason(status));
    buf = head_build(date, status, hdr, sizeof(hdr) - 1, true, (uint64_t)n, true, 1, 0, &head_len);
    if (!buf)
        return -ENOMEM;
    head = http_chunk_mem(buf, head_len, true);
    if (!head)
        return -ENOMEM;
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
