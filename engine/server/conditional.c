/*
 * conditional.c - Range and conditional-request decisions (RFC 7232, RFC 7233) as pure
 * functions, so every branch is unit-tested without a socket.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conditional.h"

static const char *
skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Parse decimal digits (at least one, no sign); false on overflow or none. */
static bool
parse_u64(const char **s, uint64_t *ret)
{
    const char *p = *s;
    uint64_t v = 0;

    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    *s = p;
    *ret = v;
    return true;
}

enum conditional_range_kind
conditional_range_parse(const char *value, uint64_t size, uint64_t *ret_start,
                        uint64_t *ret_len)
{
    const char *p;
    uint64_t first = 0, last = 0, start = 0, len = 0;
    bool suffix, have_last;
    int nranges = 0;

    if (!value)
        return CONDITIONAL_RANGE_NONE;
    p = skip_ows(value);
    if (strncasecmp(p, "bytes", 5) != 0)
        return CONDITIONAL_RANGE_NONE;
    p = skip_ows(p + 5);
    if (*p != '=')
        return CONDITIONAL_RANGE_NONE;
    p++;
    for (;;) {
        p = skip_ows(p);
        if (*p == ',') { /* empty list elements are allowed (RFC 7230 §7) */
            p++;
            continue;
        }
        if (*p == '\0')
            break;
        suffix = *p == '-';
        have_last = false;
        if (suffix) {
            p++;
            if (!parse_u64(&p, &last))
                return CONDITIONAL_RANGE_NONE;
        } else {
            if (!parse_u64(&p, &first) || *p != '-')
                return CONDITIONAL_RANGE_NONE;
            p++;
            if (isdigit((unsigned char)*p)) {
                if (!parse_u64(&p, &last) || last < first)
                    return CONDITIONAL_RANGE_NONE;
                have_last = true;
            }
        }
        p = skip_ows(p);
        if (*p != ',' && *p != '\0')
            return CONDITIONAL_RANGE_NONE;
        nranges++;
        if (nranges == 1) {
            if (suffix) {
                if (last == 0 || size == 0) {
                    len = 0; /* unsatisfiable */
                } else {
                    len = last < size ? last : size;
                    start = size - len;
                }
            } else if (first >= size) {
                len = 0;
            } else {
                start = first;
                len = (have_last && last < size ? last + 1 : size) - first;
            }
        }
    }
    if (nranges == 0)
        return CONDITIONAL_RANGE_NONE;
    if (nranges > 1)
        return CONDITIONAL_RANGE_MULTI;
    if (len == 0)
        return CONDITIONAL_RANGE_UNSATISFIABLE;
    *ret_start = start;
    *ret_len = len;
    return CONDITIONAL_RANGE_SINGLE;
}

void
conditional_date_format(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int
conditional_date_parse(const char *s, time_t *ret_t)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    struct tm tm;
    const char *end;

    if (!s)
        return -EINVAL;
    s = skip_ows(s);
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, formats[i], &tm);
        if (end && *skip_ows(end) == '\0') {
            time_t t = timegm(&tm);
            if (t == (time_t)-1)
                return -EINVAL;
            *ret_t = t;
            return 0;
        }
    }
    return -EINVAL;
}

/* Opaque part of an entity tag (without W/), as pointer + length into s. */
static bool
etag_next(const char **s, const char **ret_tag, size_t *ret_len, bool *ret_weak)
{
    const char *p = skip_ows(*s), *q;

    while (*p == ',')
        p = skip_ows(p + 1);
    if (*p == '\0')
        return false;
    *ret_weak = false;
    if (p[0] == 'W' && p[1] == '/') {
        *ret_weak = true;
        p += 2;
    }
    if (*p != '"')
        return false;
    q = strchr(p + 1, '"');
    if (!q)
        return false;
    *ret_tag = p;
    *ret_len = (size_t)(q - p + 1);
    *s = q + 1;
    return true;
}

bool
conditional_etag_list_match(const char *list, const char *etag)
{
    const char *p = list, *tag;
    size_t len, elen = strlen(etag);
    bool weak;

    if (!list)
        return false;
    p = skip_ows(list);
    if (p[0] == '*' && *skip_ows(p + 1) == '\0')
        return true;
    while (etag_next(&p, &tag, &len, &weak)) {
        if (len == elen && memcmp(tag, etag, len) == 0)
            return true;
    }
    return false;
}

/* If-Range: an entity tag (strong comparison) or an HTTP date equal to Last-Modified. */
static bool
conditional_if_range_holds(const char *v, const struct conditional_file *f)
{
    const char *p = skip_ows(v), *tag;
    size_t len;
    bool weak;
    time_t t;

    if (p[0] == '"' || (p[0] == 'W' && p[1] == '/')) {
        if (!etag_next(&p, &tag, &len, &weak) || weak)
            return false;
        return len == strlen(f->etag) && memcmp(tag, f->etag, len) == 0 &&
               *skip_ows(p) == '\0';
    }
    if (conditional_date_parse(p, &t) < 0)
        return false;
    return t == f->mtime;
}

void
conditional_evaluate(const struct conditional_request *rq, const struct conditional_file *f,
                     struct conditional_result *ret)
{
    uint64_t start = 0, len = 0;
    time_t since;

    ret->status = 200;
    ret->start = 0;
    ret->len = f->size;
    /* RFC 7232 §6: If-None-Match first; If-Modified-Since only without it. */
    if (rq->if_none_match) {
        if (conditional_etag_list_match(rq->if_none_match, f->etag)) {
            ret->status = 304;
            ret->len = 0;
            return;
        }
    } else if (rq->if_modified_since &&
               conditional_date_parse(rq->if_modified_since, &since) == 0 &&
               f->mtime <= since) {
        ret->status = 304;
        ret->len = 0;
        return;
    }
    if (!rq->get || !rq->range)
        return;
    if (rq->if_range && !conditional_if_range_holds(rq->if_range, f))
        return; /* stale validator: the whole, current file */
    switch (conditional_range_parse(rq->range, f->size, &start, &len)) {
    case CONDITIONAL_RANGE_SINGLE:
        ret->status = 206;
        ret->start = start;
        ret->len = len;
        break;
    case CONDITIONAL_RANGE_UNSATISFIABLE:
        ret->status = 416;
        ret->len = 0;
        break;
    case CONDITIONAL_RANGE_NONE:
    case CONDITIONAL_RANGE_MULTI:
        break;
    }
}
