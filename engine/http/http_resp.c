/*
 * http_resp.c - strict HTTP/1.1 response-head parser (http_resp_*), see http_resp.h.
 *
 * The head is located first (the first CRLF CRLF within the limit), then checked line by
 * line. Nothing is copied: values are (pointer, length) pairs into the caller's buffer.
 * Strictness is the point: the range fetcher writes body bytes at offsets it derives from
 * this head, so anything ambiguous (two lengths, a length beside chunked framing, a range
 * that does not parse) is refused rather than guessed.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_resp.h"

/* RFC 9110 tchar */
static bool
resp_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
resp_name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* All digits, no overflow of uint64_t, at least one digit. */
static int
resp_u64(const char *p, size_t len, uint64_t *ret)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return -EBADMSG;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9')
            return -EBADMSG;
        d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EBADMSG;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

/* "bytes A-B/T" or "bytes STAR/T". */
static int
resp_content_range(const char *p, size_t len, struct http_resp *r)
{
    const char *e = p + len, *dash, *slash;

    if (len < 6 || strncmp(p, "bytes ", 6) != 0)
        return -EBADMSG;
    p += 6;
    slash = memchr(p, '/', (size_t)(e - p));
    if (!slash || resp_u64(slash + 1, (size_t)(e - slash - 1), &r->range_total) < 0)
        return -EBADMSG;
    if (slash - p == 1 && *p == '*') {
        r->range_unsatisfied = true;
        return 0;
    }
    dash = memchr(p, '-', (size_t)(slash - p));
    if (!dash || resp_u64(p, (size_t)(dash - p), &r->range_first) < 0 ||
        resp_u64(dash + 1, (size_t)(slash - dash - 1), &r->range_last) < 0)
        return -EBADMSG;
    if (r->range_first > r->range_last || r->range_last >= r->range_total)
        return -EBADMSG;
    return 0;
}

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE ; etagc = 0x21 / 0x23-7E / obs-text */
static bool
resp_etag_ok(const char *p, size_t len)
{
    if (len >= 2 && p[0] == 'W' && p[1] == '/') {
        p += 2;
        len -= 2;
    }
    if (len < 2 || p[0] != '"' || p[len - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c < 0x21 || c == 0x7f)
            return false;
    }
    return true;
}

/* Connection: a comma list of tokens; "close" and "keep-alive" matter. */
static int
resp_connection(const char *p, size_t len, bool *close, bool *keep)
{
    size_t i = 0;

    while (i < len) {
        size_t s, t;
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        s = i;
        while (i < len && resp_tchar((unsigned char)p[i]))
            i++;
        t = i;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i < len && p[i] != ',')
            return -EBADMSG;
        if (resp_name_is(p + s, t - s, "close"))
            *close = true;
        else if (resp_name_is(p + s, t - s, "keep-alive"))
            *keep = true;
    }
    return 0;
}

/* Transfer-Encoding: is the last coding "chunked"? Codings must be tokens. */
static int
resp_transfer_encoding(const char *p, size_t len, bool *chunked)
{
    size_t i = 0, last_s = 0, last_e = 0;
    bool any = false;

    while (i < len) {
        size_t s;
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        if (i >= len)
            break;
        s = i;
        while (i < len && resp_tchar((unsigned char)p[i]))
            i++;
        if (i == s)
            return -EBADMSG;
        last_s = s;
        last_e = i;
        any = true;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i < len && p[i] != ',')
            return -EBADMSG; /* parameters are not accepted */
    }
    if (!any)
        return -EBADMSG;
    *chunked = resp_name_is(p + last_s, last_e - last_s, "chunked");
    return 0;
}

static int
resp_set_once(struct http_resp_str *slot, const char *v, size_t vlen)
{
    if (slot->p)
        return -EBADMSG;
    slot->p = v;
    slot->len = vlen;
    return 0;
}

/* One header field line [p, p+len) without its CRLF. */
static int
resp_field(const struct http_resp_limits *lim, struct http_resp *r, const char *p, size_t len,
           bool *conn_close, bool *conn_keep)
{
    const char *colon = memchr(p, ':', len), *v, *ve;
    size_t nlen;
    int rr;

    if (!colon || colon == p)
        return -EBADMSG;
    nlen = (size_t)(colon - p);
    for (size_t i = 0; i < nlen; i++)
        if (!resp_tchar((unsigned char)p[i]))
            return -EBADMSG; /* also whitespace before ':' and obs-fold lines */
    v = colon + 1;
    ve = p + len;
    for (const char *c = v; c < ve; c++) {
        unsigned char ch = (unsigned char)*c;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return -EBADMSG;
    }
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if ((size_t)(ve - v) > lim->max_value_bytes)
        return -E2BIG;
    if (resp_name_is(p, nlen, "Content-Length")) {
        uint64_t n;
        if (resp_u64(v, (size_t)(ve - v), &n) < 0)
            return -EBADMSG;
        if (r->has_content_length && r->content_length != n)
            return -EBADMSG;
        r->has_content_length = true;
        r->content_length = n;
    } else if (resp_name_is(p, nlen, "Content-Range")) {
        if (r->has_content_range)
            return -EBADMSG;
        r->has_content_range = true;
        return resp_content_range(v, (size_t)(ve - v), r);
    } else if (resp_name_is(p, nlen, "ETag")) {
        if (!resp_etag_ok(v, (size_t)(ve - v)))
            return -EBADMSG;
        return resp_set_once(&r->etag, v, (size_t)(ve - v));
    } else if (resp_name_is(p, nlen, "Last-Modified")) {
        if (ve == v)
            return -EBADMSG;
        return resp_set_once(&r->last_modified, v, (size_t)(ve - v));
    } else if (resp_name_is(p, nlen, "Location")) {
        if (ve == v)
            return -EBADMSG;
        return resp_set_once(&r->location, v, (size_t)(ve - v));
    } else if (resp_name_is(p, nlen, "Retry-After")) {
        rr = resp_set_once(&r->retry_after_raw, v, (size_t)(ve - v));
        if (rr < 0 || ve == v)
            return -EBADMSG;
        r->has_retry_after = true;
        if (*v >= '0' && *v <= '9')
            return resp_u64(v, (size_t)(ve - v), &r->retry_after);
        /* an HTTP-date: "Sun, 06 Nov 1994 08:49:37 GMT" and kin; kept raw */
        if (ve - v < 20 || ve - v > 40)
            return -EBADMSG;
        r->retry_after = 0;
    } else if (resp_name_is(p, nlen, "Connection")) {
        return resp_connection(v, (size_t)(ve - v), conn_close, conn_keep);
    } else if (resp_name_is(p, nlen, "Transfer-Encoding")) {
        bool ch = false;
        rr = resp_transfer_encoding(v, (size_t)(ve - v), &ch);
        if (rr < 0)
            return rr;
        r->has_transfer_encoding = true;
        r->chunked = ch;
    }
    return 0;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static int
resp_status_line(const char *p, size_t len, struct http_resp *r)
{
    if (len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ')
        return -EBADMSG;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return -EBADMSG;
    if (len > 12 && p[12] != ' ')
        return -EBADMSG;
    for (size_t i = 13; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -EBADMSG;
    }
    r->minor = (unsigned)(p[7] - '0');
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (r->status < 100 || r->status > 599)
        return -EBADMSG;
    return 0;
}

int
http_resp_parse(const struct http_resp_limits *lim, const char *buf, size_t len,
                struct http_resp *ret)
{
    struct http_resp r;
    size_t scan = len < lim->max_head_bytes ? len : lim->max_head_bytes;
    size_t end = 0, pos, head_len;
    bool conn_close = false, conn_keep = false;
    int rr;

    /* locate the blank line; every LF must close a CRLF, no NUL and no bare CR */
    for (size_t i = 0; i < scan; i++) {
        char c = buf[i];
        if (c == '\0')
            return -EBADMSG;
        if (c == '\r' && i + 1 < scan && buf[i + 1] != '\n')
            return -EBADMSG;
        if (c != '\n')
            continue;
        if (i == 0 || buf[i - 1] != '\r')
            return -EBADMSG;
        if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = i + 1;
            break;
        }
    }
    if (end == 0)
        return len >= lim->max_head_bytes ? -E2BIG : -EAGAIN;
    head_len = end;
    memset(&r, 0, sizeof(r));
    pos = 0;
    {
        const char *eol = memchr(buf, '\r', head_len);
        rr = resp_status_line(buf, (size_t)(eol - buf), &r);
        if (rr < 0)
            return rr;
        pos = (size_t)(eol - buf) + 2;
    }
    while (pos < head_len - 2) {
        const char *line = buf + pos;
        const char *eol = memchr(line, '\r', head_len - pos);
        size_t llen = (size_t)(eol - line);

        if (++r.nheaders > lim->max_headers)
            return -E2BIG;
        rr = resp_field(lim, &r, line, llen, &conn_close, &conn_keep);
        if (rr < 0)
            return rr;
        pos += llen + 2;
    }
    if (r.has_content_length && r.has_transfer_encoding)
        return -EBADMSG;
    r.keep_alive = r.minor == 1 ? !conn_close : (conn_keep && !conn_close);
    *ret = r;
    return (int)head_len;
}

bool
http_resp_str_eq(struct http_resp_str s, const char *v)
{
    if (!v)
        return s.p == NULL;
    return s.p && strlen(v) == s.len && memcmp(s.p, v, s.len) == 0;
}
