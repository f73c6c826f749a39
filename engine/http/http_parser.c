/*
 * http_parser.c - strict, incremental HTTP/1.1 request parser (http_parser.h).
 *
 * The head is validated byte by byte as it arrives (NUL, bare CR, bare LF and the size
 * limits are refused as early as possible), then parsed in one pass once the blank line is
 * seen. Bodies (Content-Length or chunked) are decoded by a byte-level state machine, so a
 * body may arrive split at any byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parser.h"

#define METHOD_MAX 32

static const struct {
    const char *name;
    enum ferry_http_method method;
} methods[] = {
    {"GET", FERRY_HTTP_GET},         {"HEAD", FERRY_HTTP_HEAD}, {"POST", FERRY_HTTP_POST},
    {"PUT", FERRY_HTTP_PUT},         {"DELETE", FERRY_HTTP_DELETE},
    {"OPTIONS", FERRY_HTTP_OPTIONS},
};

const char *
http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* RFC 9110 tchar */
static bool
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void
http_parser_init(struct http_parser *p, const struct http_parser_limits *lim)
{
    memset(p, 0, sizeof(*p));
    p->lim = *lim;
    p->body_max = lim->max_body_bytes;
}

void
http_parser_done(struct http_parser *p)
{
    free(p->head_mem);
    free(p->path);
    free(p->headers);
    free(p->body);
    p->head_mem = NULL;
    p->path = NULL;
    p->headers = NULL;
    p->body = NULL;
}

void
http_parser_reset(struct http_parser *p)
{
    struct http_parser_limits lim = p->lim;

    http_parser_done(p);
    http_parser_init(p, &lim);
}

void
http_parser_release_body(struct http_parser *p)
{
    p->body_released = true;
}

void
http_parser_set_sink(struct http_parser *p, ferry_http_body_fn fn, void *ud)
{
    if (p->state == HTTP_PARSE_HELD && !p->body_released) {
        p->sink = fn;
        p->sink_ud = ud;
    }
}

void
http_parser_allow_body(struct http_parser *p, size_t max)
{
    if (p->state == HTTP_PARSE_HELD && !p->body_released && max > p->body_max)
        p->body_max = max;
}

bool
http_parser_body_window(struct http_parser *p, char **ret_dst, size_t *ret_len)
{
    if (p->state != HTTP_PARSE_BODY || p->left == 0 || !p->body)
        return false;
    *ret_dst = p->body + p->body_len;
    *ret_len = p->left > SIZE_MAX ? SIZE_MAX : (size_t)p->left;
    return true;
}

void
http_parser_body_received(struct http_parser *p, size_t n)
{
    if (p->state != HTTP_PARSE_BODY || n > p->left)
        return;
    if (p->sink)
        p->sink(p->sink_ud, p->body + p->body_len, n, p->body_len);
    p->body_len += n;
    p->left -= n;
    if (p->left == 0) {
        p->state = HTTP_PARSE_DONE;
        p->body[p->body_len] = '\0';
    }
}

bool
http_parser_head_complete(const struct http_parser *p)
{
    return p->state != HTTP_PARSE_HEAD && p->head_mem != NULL;
}

const char *
http_parser_header(const struct http_parser *p, const char *name)
{
    for (size_t i = 0; i < p->nheaders; i++)
        if (strcasecmp(p->headers[i].name, name) == 0)
            return p->headers[i].value;
    return NULL;
}

static int
fail(struct http_parser *p, int status)
{
    p->state = HTTP_PARSE_ERROR;
    p->status = status;
    return -EBADMSG;
}

/* Percent-decode the path. Returns 0 or an HTTP status. */
static int
decode_path(struct http_parser *p, const char *raw, size_t len)
{
    char *out = malloc(len + 1);
    size_t o = 0;

    if (!out)
        return 500;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= len) {
                free(out);
                return 400;
            }
            h = hexval((unsigned char)raw[i + 1]);
            l = hexval((unsigned char)raw[i + 2]);
            if (h < 0 || l < 0) {
                free(out);
                return 400;
            }
            c = (unsigned char)(h * 16 + l);
            i += 2;
            /* %00 and %2F never reach a handler; neither do other control bytes. */
            if (c == '/' || c < 0x20 || c == 0x7f) {
                free(out);
                return 400;
            }
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    /* Refuse "." and ".." segments (also when spelled with %2E). */
    for (size_t i = 0; i < o; i++) {
        if (out[i] != '/')
            continue;
        size_t s = i + 1, e = s;
        while (e < o && out[e] != '/')
            e++;
        if ((e - s == 1 && out[s] == '.') || (e - s == 2 && out[s] == '.' && out[s + 1] == '.')) {
            free(out);
            return 400;
        }
    }
    p->path = out;
    return 0;
}

static int
parse_request_line(struct http_parser *p, char *line, size_t len)
{
    char *sp1 = memchr(line, ' ', len), *sp2, *target, *version, *q;
    size_t mlen, tlen, vlen;
    int st;

    if (!sp1)
        return 400;
    mlen = (size_t)(sp1 - line);
    if (mlen == 0 || mlen > METHOD_MAX)
        return mlen ? 501 : 400;
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return 400;
    target = sp1 + 1;
    sp2 = memchr(target, ' ', len - mlen - 1);
    if (!sp2)
        return 400;
    tlen = (size_t)(sp2 - target);
    version = sp2 + 1;
    vlen = len - mlen - 1 - tlen - 1;
    if (tlen == 0)
        return 400;
    if (tlen > p->lim.max_target_bytes)
        return 414;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c < 0x21 || c > 0x7e || c == '#')
            return 400;
    }
    if (target[0] != '/')
        return 400;
    if (vlen == 8 && memcmp(version, "HTTP/1.1", 8) == 0)
        p->version_minor = 1;
    else if (vlen == 8 && memcmp(version, "HTTP/1.0", 8) == 0)
        p->version_minor = 0;
    else if (vlen == 8 && memcmp(version, "HTTP/", 5) == 0 && version[5] >= '0' &&
             version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9')
        return 505;
    else
        return 400;

    *sp1 = '\0';
    *sp2 = '\0';
    p->method_str = line;
    p->method = FERRY_HTTP_OTHER;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(line, methods[i].name) == 0)
            p->method = methods[i].method;
    p->target = target;
    q = memchr(target, '?', tlen);
    p->query = q ? q + 1 : "";
    st = decode_path(p, target, q ? (size_t)(q - target) : tlen);
    return st;
}

/* Comma-separated, case-insensitive token search in a header value. */
static bool
list_has(const char *v, const char *tok)
{
    size_t n = strlen(tok);

    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == n && strncasecmp(s, tok, n) == 0)
            return true;
    }
    return false;
}

static int
parse_content_length(struct http_parser *p, const char *v)
{
    uint64_t n = 0;

    if (!*v)
        return 400;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9')
            return 400;
        if (n > (UINT64_MAX - 9) / 10)
            return 400;
        n = n * 10 + (uint64_t)(*c - '0');
    }
    if (p->has_content_length && p->content_length != n)
        return 400;
    p->has_content_length = true;
    p->content_length = n;
    return 0;
}

/* Parse the complete head held in head_mem (CRLF line ends already validated). */
static int
parse_head(struct http_parser *p)
{
    char *cur = p->head_mem, *end = p->head_mem + p->head_len;
    char *eol = strstr(cur, "\r\n");
    unsigned hosts = 0, tes = 0;
    bool te_chunked = false, conn_close = false, conn_ka = false;
    const char *expect = NULL;
    int st;

    st = parse_request_line(p, cur, (size_t)(eol - cur));
    if (st)
        return st;
    cur = eol + 2;
    p->headers = calloc(p->lim.max_headers ? p->lim.max_headers : 1, sizeof(*p->headers));
    if (!p->headers)
        return 500;
    while (cur < end) {
        char *colon, *v, *ve;

        eol = strstr(cur, "\r\n");
        if (eol == cur)
            break; /* blank line: end of head */
        *eol = '\0';
        if (*cur == ' ' || *cur == '\t')
            return 400; /* obs-fold */
        colon = strchr(cur, ':');
        if (!colon || colon == cur)
            return 400;
        for (char *c = cur; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return 400; /* includes whitespace before ':' */
        *colon = '\0';
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *ve = '\0';
        for (const char *c = v; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if ((u < 0x20 && u != '\t') || u == 0x7f)
                return 400;
        }
        if (p->nheaders >= p->lim.max_headers)
            return 431;
        p->headers[p->nheaders].name = cur;
        p->headers[p->nheaders].value = v;
        p->nheaders++;

        if (strcasecmp(cur, "Content-Length") == 0) {
            st = parse_content_length(p, v);
            if (st)
                return st;
        } else if (strcasecmp(cur, "Transfer-Encoding") == 0) {
            tes++;
            te_chunked = strcasecmp(v, "chunked") == 0;
            if (!te_chunked)
                return 501;
        } else if (strcasecmp(cur, "Host") == 0) {
            hosts++;
            for (const char *c = v; *c; c++)
                if (*c == ' ' || *c == '\t' || *c == '/' || *c == '@')
                    return 400;
        } else if (strcasecmp(cur, "Connection") == 0) {
            if (list_has(v, "close"))
                conn_close = true;
            if (list_has(v, "keep-alive"))
                conn_ka = true;
        } else if (strcasecmp(cur, "Expect") == 0) {
            expect = v;
        }
        cur = eol + 2;
    }
    if (tes > 1)
        return 400; /* "chunked" applied twice */
    if (tes && p->has_content_length)
        return 400;
    if (tes && p->version_minor == 0)
        return 400;
    if (hosts > 1 || (p->version_minor == 1 && hosts == 0))
        return 400;
    p->chunked = te_chunked;
    p->keep_alive = p->version_minor == 1 ? !conn_close : (conn_ka && !conn_close);
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return 417;
        p->expect_continue = true;
    }
    /* held: the head hook may still raise this request's cap; start_body() checks */
    if (!p->lim.hold_body && p->has_content_length && p->content_length > p->body_max)
        return 413;
    return 0;
}

/* Grow the body buffer for `more` bytes within the request's cap (body_max). 0 or an HTTP
 * status. */
static int
body_reserve(struct http_parser *p, uint64_t more)
{
    size_t cap;
    char *nb;

    if (more > p->body_max || p->body_len + more > p->body_max)
        return 413;
    if (p->body_len + more <= p->body_cap)
        return 0;
    cap = p->body_cap ? p->body_cap : 4096;
    while (cap < p->body_len + more)
        cap *= 2;
    if (cap > p->body_max)
        cap = p->body_max;
    nb = realloc(p->body, cap + 1);
    if (!nb)
        return 500;
    p->body = nb;
    p->body_cap = cap;
    return 0;
}

/* Scan head bytes from p->scan; returns 1 when the head is complete (p->head_len set),
 * 0 when more is needed, or an HTTP status. */
static int
scan_head(struct http_parser *p, const char *buf, size_t len)
{
    size_t i;

    for (i = p->scan; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\0')
            return 400;
        if (c == '\r') {
            if (i + 1 == len)
                break; /* decide when the next byte arrives */
            if (buf[i + 1] != '\n')
                return 400;
            continue;
        }
        if (c == '\n') {
            if (i == 0 || buf[i - 1] != '\r')
                return 400;
            if (!p->first_line_done) {
                p->first_line_done = true;
            } else if (i - p->line_start == 1) {
                p->head_len = i + 1;
                if (p->head_len > p->lim.max_header_bytes)
                    return 431;
                return 1;
            }
            p->line_start = i + 1;
            continue;
        }
        if (!p->first_line_done && i + 1 > p->lim.max_target_bytes + METHOD_MAX + 10)
            return p->lim.max_target_bytes + METHOD_MAX + 10 < p->lim.max_header_bytes ? 414
                                                                                        : 431;
        if (i + 1 > p->lim.max_header_bytes)
            return 431;
    }
    p->scan = i;
    return 0;
}

static int
start_body(struct http_parser *p)
{
    int st;

    if (p->chunked) {
        p->state = HTTP_PARSE_CHUNK_SIZE;
        return 0;
    }
    if (p->has_content_length && p->content_length > p->body_max)
        return 413;
    if (p->has_content_length && p->content_length > 0) {
        st = body_reserve(p, p->content_length);
        if (st)
            return st;
        p->left = p->content_length;
        p->state = HTTP_PARSE_BODY;
        return 0;
    }
    p->state = HTTP_PARSE_DONE;
    return 0;
}

/* Run the body state machine over buf[0..len). Returns 0 (all consumed or done; *used set)
 * or an HTTP status. */
static int
run_body(struct http_parser *p, const char *buf, size_t len, size_t *used)
{
    size_t i = 0;
    int st;

    while (i < len && p->state != HTTP_PARSE_DONE) {
        unsigned char c = (unsigned char)buf[i];
        int h;

        switch (p->state) {
        case HTTP_PARSE_BODY:
        case HTTP_PARSE_CHUNK_DATA: {
            size_t n = len - i;
            if (n > p->left)
                n = (size_t)p->left;
            memcpy(p->body + p->body_len, buf + i, n);
            if (p->sink)
                p->sink(p->sink_ud, p->body + p->body_len, n, p->body_len);
            p->body_len += n;
            p->left -= n;
            i += n;
            if (p->left == 0)
                p->state = p->state == HTTP_PARSE_BODY ? HTTP_PARSE_DONE
                                                       : HTTP_PARSE_CHUNK_DATA_CR;
            continue;
        }
        case HTTP_PARSE_CHUNK_SIZE:
            h = hexval(c);
            if (h >= 0) {
                if (p->size_digits >= 16)
                    return 400;
                p->left = p->left * 16 + (uint64_t)h;
                p->size_digits++;
                if (p->left > p->body_max)
                    return 413;
            } else if (c == ';' && p->size_digits) {
                p->state = HTTP_PARSE_CHUNK_EXT;
            } else if (c == '\r' && p->size_digits) {
                p->state = HTTP_PARSE_CHUNK_SIZE_LF;
            } else {
                return 400;
            }
            break;
        case HTTP_PARSE_CHUNK_EXT:
            if (c == '\r') {
                p->state = HTTP_PARSE_CHUNK_SIZE_LF;
                break;
            }
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return 400;
            if (++p->meta_bytes > p->lim.max_header_bytes)
                return 400;
            break;
        case HTTP_PARSE_CHUNK_SIZE_LF:
            if (c != '\n')
                return 400;
            p->size_digits = 0;
            if (p->left == 0) {
                p->state = HTTP_PARSE_TRAILER;
            } else {
                st = body_reserve(p, p->left);
                if (st)
                    return st;
                p->state = HTTP_PARSE_CHUNK_DATA;
            }
            break;
        case HTTP_PARSE_CHUNK_DATA_CR:
            if (c != '\r')
                return 400;
            p->state = HTTP_PARSE_CHUNK_DATA_LF;
            break;
        case HTTP_PARSE_CHUNK_DATA_LF:
            if (c != '\n')
                return 400;
            p->state = HTTP_PARSE_CHUNK_SIZE;
            break;
        case HTTP_PARSE_TRAILER:
            if (c == '\r') {
                p->state = HTTP_PARSE_FINAL_LF;
                break;
            }
            if (c == ' ' || c == '\t' || c == ':' || !is_tchar(c))
                return 400; /* a field name must start the line */
            if (++p->ntrailers > p->lim.max_headers)
                return 431;
            p->state = HTTP_PARSE_TRAILER_LINE;
            if (++p->meta_bytes > p->lim.max_header_bytes)
                return 431;
            break;
        case HTTP_PARSE_TRAILER_LINE:
            if (c == '\r') {
                p->state = HTTP_PARSE_TRAILER_LF;
                break;
            }
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return 400;
            if (++p->meta_bytes > p->lim.max_header_bytes)
                return 431;
            break;
        case HTTP_PARSE_TRAILER_LF:
            if (c != '\n')
                return 400;
            p->state = HTTP_PARSE_TRAILER;
            break;
        case HTTP_PARSE_FINAL_LF:
            if (c != '\n')
                return 400;
            p->state = HTTP_PARSE_DONE;
            break;
        default:
            return 500;
        }
        i++;
    }
    *used = i;
    return 0;
}

int
http_parser_execute(struct http_parser *p, const char *buf, size_t len, size_t *ret_consumed)
{
    size_t off = 0, used = 0;
    int st;

    if (p->state == HTTP_PARSE_ERROR)
        return -EBADMSG;
    if (p->state == HTTP_PARSE_DONE) {
        *ret_consumed = 0;
        return 0;
    }
    if (p->state == HTTP_PARSE_HELD) {
        if (!p->body_released) {
            *ret_consumed = 0;
            return -EAGAIN;
        }
        st = start_body(p);
        if (st)
            return fail(p, st);
    } else if (p->state == HTTP_PARSE_HEAD) {
        /* RFC 9112 2.2: ignore empty lines before the request line (bounded by len). */
        if (p->scan == 0) {
            while (len - off >= 2 && buf[off] == '\r' && buf[off + 1] == '\n')
                off += 2;
            if (len - off == 1 && buf[off] == '\r') {
                *ret_consumed = off;
                return -EAGAIN;
            }
        }
        st = scan_head(p, buf + off, len - off);
        if (st == 0) {
            *ret_consumed = off;
            return -EAGAIN;
        }
        if (st > 1)
            return fail(p, st);
        p->head_mem = malloc(p->head_len + 1);
        if (!p->head_mem)
            return fail(p, 500);
        memcpy(p->head_mem, buf + off, p->head_len);
        p->head_mem[p->head_len] = '\0';
        st = parse_head(p);
        if (st)
            return fail(p, st);
        off += p->head_len;
        if (p->lim.hold_body && !p->body_released) {
            p->state = HTTP_PARSE_HELD;
            *ret_consumed = off;
            return -EAGAIN;
        }
        st = start_body(p);
        if (st)
            return fail(p, st);
    }
    st = run_body(p, buf + off, len - off, &used);
    if (st)
        return fail(p, st);
    off += used;
    *ret_consumed = off;
    if (p->state == HTTP_PARSE_DONE) {
        if (p->body)
            p->body[p->body_len] = '\0';
        return 0;
    }
    return -EAGAIN;
}
