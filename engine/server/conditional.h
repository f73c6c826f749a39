/*
 * engine/server/conditional.h - the pure decisions of file serving: Range (RFC 7233) and
 * the conditionals If-None-Match, If-Modified-Since, If-Range (RFC 7232), and HTTP dates.
 * fileserve.c feeds them the request headers and the file's validators.
 */
#ifndef FERRY_SERVER_CONDITIONAL_H
#define FERRY_SERVER_CONDITIONAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum conditional_range_kind {
    CONDITIONAL_RANGE_NONE = 0,      /* no usable Range: whole file */
    CONDITIONAL_RANGE_SINGLE,        /* one satisfiable range */
    CONDITIONAL_RANGE_UNSATISFIABLE, /* 416 */
    CONDITIONAL_RANGE_MULTI,         /* several ranges: ferry answers 200 with the whole file */
};

/* Parse a Range value for a file of `size` bytes. Syntax errors (and units other than
 * bytes) give NONE: the header is ignored, as RFC 7233 §3.1 allows. */
enum conditional_range_kind conditional_range_parse(const char *value, uint64_t size,
                                                    uint64_t *ret_start, uint64_t *ret_len);

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (buf >= 30 bytes). */
void conditional_date_format(time_t t, char *buf, size_t len);
/* IMF-fixdate, RFC 850 or asctime; -EINVAL when none matches. */
int conditional_date_parse(const char *s, time_t *ret_t);

/* true when the If-None-Match list matches etag (weak comparison, "*" matches). */
bool conditional_etag_list_match(const char *list, const char *etag);

struct conditional_request {
    bool get;                      /* GET (Range applies); false for HEAD */
    const char *range;             /* header values or NULL */
    const char *if_range;
    const char *if_none_match;
    const char *if_modified_since;
};

struct conditional_file {
    const char *etag;   /* strong ETag, quotes included */
    time_t mtime;       /* Last-Modified, seconds */
    uint64_t size;
};

struct conditional_result {
    int status;         /* 200, 206, 304 or 416 */
    uint64_t start;     /* body range for 200/206 */
    uint64_t len;
};

/* Decide the response of a GET/HEAD of a file. */
void conditional_evaluate(const struct conditional_request *rq,
                          const struct conditional_file *f, struct conditional_result *ret);

#endif
