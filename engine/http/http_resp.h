/*
 * engine/http/http_resp.h - strict HTTP/1.1 response-head parser (internal API), for the
 * client's io_uring range fetcher (engine/client/ufetch.c).
 *
 * http_resp_parse(lim, buf, len, &resp) looks at the bytes received so far and either
 * finds a whole head (status line, header fields, blank line) or says more are needed. It
 * keeps no state between calls: the caller re-presents the growing buffer. Field values
 * point into `buf` (not NUL-terminated: pointer + length), valid while buf is.
 *
 * Returns:
 *   > 0       the head is complete and valid; the value is its length in bytes (body bytes,
 *             if any, start at buf + that length)
 *   -EAGAIN   incomplete, and still within the limits
 *   -EBADMSG  malformed: status line not "HTTP/1.x SP 3DIGIT [SP reason] CRLF", a version
 *             other than 1.0/1.1, a status outside 100-599, bare CR or bare LF, NUL or
 *             another control byte (HTAB aside), a header name that is not a token or is
 *             followed by whitespace, obs-fold, Content-Length not all digits / overflowing
 *             / repeated with another value, Content-Length beside Transfer-Encoding,
 *             Content-Range not "bytes A-B/T" (A <= B < T) or "bytes STAR/T", a repeated
 *             ETag, Last-Modified, Content-Range, Location or Retry-After, an ETag that is
 *             not an entity-tag, Retry-After neither digits nor an HTTP-date-looking value
 *   -E2BIG    no blank line within lim->max_head_bytes, more than lim->max_headers fields,
 *             or a field value longer than lim->max_value_bytes
 */
#ifndef FERRY_HTTP_RESP_H
#define FERRY_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_resp_limits {
    size_t max_head_bytes;   /* status line + fields + blank line */
    unsigned max_headers;    /* header fields */
    size_t max_value_bytes;  /* one field value */
};

/* A field value inside the caller's buffer; len 0 and p NULL when absent. */
struct http_resp_str {
    const char *p;
    size_t len;
};

struct http_resp {
    unsigned minor;              /* HTTP/1.minor: 0 or 1 */
    int status;                  /* 100-599 */
    bool has_content_length;
    uint64_t content_length;
    bool chunked;                /* Transfer-Encoding whose last coding is "chunked" */
    bool has_transfer_encoding;  /* any Transfer-Encoding */
    bool has_content_range;
    bool range_unsatisfied;      /* "bytes STAR/T" (416) */
    uint64_t range_first, range_last, range_total;
    bool keep_alive;             /* the connection may carry another request */
    bool has_retry_after;
    uint64_t retry_after;        /* seconds; only when has_retry_after and it was digits */
    struct http_resp_str etag;           /* as sent, e.g. "\"abc\"" or "W/\"abc\"" */
    struct http_resp_str last_modified;
    struct http_resp_str location;
    struct http_resp_str retry_after_raw;
    unsigned nheaders;
};

/* Defaults for the fetcher: 16 KiB head, 64 fields, 4 KiB per value. */
#define HTTP_RESP_MAX_HEAD_BYTES (16u * 1024)
#define HTTP_RESP_MAX_HEADERS 64u
#define HTTP_RESP_MAX_VALUE_BYTES 4096u

/*
 * Parse the response head at the start of buf[0..len) into *ret (filled only when the
 * result is > 0). See the file comment for the results.
 */
int http_resp_parse(const struct http_resp_limits *lim, const char *buf, size_t len,
                    struct http_resp *ret);

/* Do two values hold the same bytes (both absent counts as equal)? */
bool http_resp_str_eq(struct http_resp_str s, const char *v);

#endif
