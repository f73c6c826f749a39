/*
 * engine/http/http_parser.h - strict, incremental HTTP/1.1 request parser (internal API).
 *
 * Feed bytes with http_parser_execute(). The parser never keeps a pointer into the
 * caller's buffer: once the head is complete it is copied into a parser-owned block, and
 * body bytes are copied into a parser-owned body buffer (capped by max_body_bytes).
 *
 * Contract of http_parser_execute(p, buf, len, &consumed):
 *   - buf[0..consumed) is used up; the caller drops it. buf[consumed..len) must be presented
 *     again, at the start of the next call, followed by any newer bytes.
 *   - While the head is incomplete nothing is consumed (the head must stay contiguous in
 *     the caller's buffer, which therefore needs room for max_header_bytes + 1 bytes); the
 *     parser remembers how far it has validated, so re-presenting costs nothing extra.
 *   - Returns 0 when one whole request (head and body) is parsed: bytes after `consumed`
 *     belong to the next, pipelined request (call http_parser_reset() first). Returns
 *     -EAGAIN when more bytes are needed, -EBADMSG when the request is refused: p->status
 *     then holds the HTTP status to answer with, and the connection must be closed after
 *     that answer (the byte stream cannot be trusted any more).
 *
 * Rejections and their status:
 *   400  malformed request line, method not a token, target not origin-form ('/' first),
 *        '#' or a byte outside 0x21-0x7E in the target, bad or decoded-NUL/'%2F'/control
 *        percent escapes, a "." or ".." path segment (refused, not resolved: no legitimate
 *        client sends them and refusing keeps path mapping trivially safe), header name not a
 *        token or whitespace before ':', obs-fold, bare CR or bare LF, NUL, a control byte
 *        in a value, Content-Length not all digits / overflowing / two differing values,
 *        Content-Length together with Transfer-Encoding, Transfer-Encoding on HTTP/1.0,
 *        missing or repeated Host on HTTP/1.1, malformed chunk framing, chunk extensions
 *        beyond max_header_bytes in total
 *   413  Content-Length or de-chunked body above max_body_bytes (with hold_body: checked
 *        when the body is released, against the cap the head hook may have raised)
 *   414  request target longer than max_target_bytes
 *   417  an Expect other than 100-continue
 *   431  head longer than max_header_bytes, more than max_headers header fields, trailers
 *        beyond max_header_bytes or max_headers
 *   501  a Transfer-Encoding other than exactly "chunked"
 *   505  an HTTP version other than 1.0 or 1.1
 */
#ifndef FERRY_HTTP_PARSER_H
#define FERRY_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/http.h"

struct http_parser_limits {
    size_t max_header_bytes;  /* request line + header fields + blank line (431) */
    unsigned max_headers;     /* header fields (431) */
    size_t max_target_bytes;  /* request target (414) */
    size_t max_body_bytes;    /* de-chunked body (413); 0 = requests may not carry a body */
    bool hold_body;           /* stop after each head (HTTP_PARSE_HELD) until
                                 http_parser_release_body(): the listener's head hook
                                 decides before a body byte is read or reserved */
};

struct http_header {
    const char *name;  /* NUL-terminated, as sent */
    const char *value; /* NUL-terminated, surrounding whitespace removed */
};

enum http_parser_state {
    HTTP_PARSE_HEAD = 0,
    HTTP_PARSE_BODY,        /* Content-Length body */
    HTTP_PARSE_CHUNK_SIZE,
    HTTP_PARSE_CHUNK_EXT,
    HTTP_PARSE_CHUNK_SIZE_LF,
    HTTP_PARSE_CHUNK_DATA,
    HTTP_PARSE_CHUNK_DATA_CR,
    HTTP_PARSE_CHUNK_DATA_LF,
    HTTP_PARSE_TRAILER,     /* at the start of a trailer line */
    HTTP_PARSE_TRAILER_LINE,
    HTTP_PARSE_TRAILER_LF,
    HTTP_PARSE_FINAL_LF,
    HTTP_PARSE_DONE,
    HTTP_PARSE_ERROR,
    HTTP_PARSE_HELD,        /* head parsed, body not started (lim.hold_body) */
};

struct http_parser {
    struct http_parser_limits lim;
    enum http_parser_state state;
    int status; /* HTTP status of a refusal (valid after -EBADMSG) */

    /* head scanning (offsets into the caller's buffer, which starts at the head) */
    size_t scan;
    size_t line_start;
    bool first_line_done;

    /* the parsed head; strings point into head_mem */
    char *head_mem;
    size_t head_len; /* bytes of the head on the wire */
    enum ferry_http_method method;
    const char *method_str;
    const char *target; /* raw, as sent */
    char *path;         /* percent-decoded */
    const char *query;  /* raw, without '?', "" when absent */
    int version_minor;  /* 0 or 1 */
    struct http_header *headers;
    size_t nheaders;
    bool keep_alive;
    bool chunked;
    bool expect_continue;
    bool has_content_length;
    uint64_t content_length;

    /* body */
    char *body;
    size_t body_len, body_cap;
    uint64_t left;        /* bytes left in the Content-Length body or the current chunk */
    unsigned size_digits; /* hex digits of the current chunk size */
    size_t meta_bytes;    /* chunk-extension and trailer bytes so far */
    unsigned ntrailers;
    bool body_released;   /* http_parser_release_body() was called for this request */
    size_t body_max;      /* this request's body cap: lim.max_body_bytes unless the head
                             hook raised it (http_parser_allow_body) */
    ferry_http_body_fn sink; /* told of every body byte as it arrives (set while held) */
    void *sink_ud;
};

/* Initialise with limits (copied). No allocation; cannot fail. */
void http_parser_init(struct http_parser *p, const struct http_parser_limits *lim);
/* Forget the current request (frees its head and body) and get ready for the next one. */
void http_parser_reset(struct http_parser *p);
/* Free what the parser holds; it can be re-initialised afterwards. */
void http_parser_done(struct http_parser *p);
/* See the contract above. */
int http_parser_execute(struct http_parser *p, const char *buf, size_t len,
                        size_t *ret_consumed);
/* With lim.hold_body: let the next execute start reading this request's body. */
void http_parser_release_body(struct http_parser *p);
/* With lim.hold_body, while the head is held: this request (only) may carry a body of up
 * to max bytes (never lowers the listener's cap). Ignored in any other state. */
void http_parser_allow_body(struct http_parser *p, size_t max);
/* With lim.hold_body, while the head is held: fn(ud, bytes, len, offset) for every body
 * byte of this request as it is buffered (ferry_http_request_body_sink). */
void http_parser_set_sink(struct http_parser *p, ferry_http_body_fn fn, void *ud);
/* A Content-Length body being read: where its next bytes go and how many are still due
 * (the rest of the buffer the parser reserved for it), so that a caller may receive into it
 * directly and then report with http_parser_body_received(). false in any other state. */
bool http_parser_body_window(struct http_parser *p, char **ret_dst, size_t *ret_len);
/* n bytes were written at the window's start (n <= its length; anything else is ignored). */
void http_parser_body_received(struct http_parser *p, size_t n);
/* true once the head has been parsed (also while the body is still being read). */
bool http_parser_head_complete(const struct http_parser *p);
/* First header of that name (case-insensitive) or NULL. */
const char *http_parser_header(const struct http_parser *p, const char *name);
/* "Bad Request" etc. for a status code ("" when unknown). */
const char *http_status_reason(int status);

#endif
