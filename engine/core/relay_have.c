/*
 * relay_have.c - the X-Ferry-Have header (docs/internals/relay.md): which chunks of a
 * file a relay has verified, as "chunks=N; chunk-size=S; have=LIST".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

void
relay_have_format(const uint8_t *have, uint64_t n, uint64_t chunk_size, char *buf, size_t len)
{
    size_t o, head;
    uint64_t count = 0;
    int w;

    w = snprintf(buf, len, "chunks=%" PRIu64 "; chunk-size=%" PRIu64 "; have=", n,
                 chunk_size);
    if (w < 0 || (size_t)w >= len) {
        if (len)
            buf[0] = '\0';
        return;
    }
    o = (size_t)w;
    head = o;
    for (uint64_t i = 0; i < n; i++)
        count += have[i] != 0;
    if (n > 0 && count == n) {
        snprintf(buf + o, len - o, "*");
        return;
    }
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i;
        char tok[48];

        if (!have[i]) {
            i++;
            continue;
        }
        while (j + 1 < n && have[j + 1])
            j++;
        if (j == i)
            w = snprintf(tok, sizeof(tok), "%s%" PRIu64, o > head ? "," : "", i);
        else
            w = snprintf(tok, sizeof(tok), "%s%" PRIu64 "-%" PRIu64, o > head ? "," : "", i,
                         j);
        if (w < 0 || (size_t)w >= len - o)
            break; /* what fits is still true */
        memcpy(buf + o, tok, (size_t)w + 1);
        o += (size_t)w;
        i = j + 1;
    }
}

/* A decimal number at *p (no sign, no overflow); advances *p. */
static int
relay_have_num(const char **p, uint64_t *ret)
{
    uint64_t v = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9')
        return -EBADMSG;
    while (*s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return -EBADMSG;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    *ret = v;
    return 0;
}

static const char *
relay_have_skip(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int64_t
relay_have_parse(const char *value, uint64_t n, uint64_t chunk_size, uint8_t *have)
{
    const char *p = value;
    uint64_t vn, vs, count = 0;

    if (!p)
        return -EBADMSG;
    p = relay_have_skip(p);
    if (strncmp(p, "chunks=", 7) != 0)
        return -EBADMSG;
    p += 7;
    if (relay_have_num(&p, &vn) < 0 || vn != n)
        return -EBADMSG;
    p = relay_have_skip(p);
    if (*p++ != ';')
        return -EBADMSG;
    p = relay_have_skip(p);
    if (strncmp(p, "chunk-size=", 11) != 0)
        return -EBADMSG;
    p += 11;
    if (relay_have_num(&p, &vs) < 0 || vs != chunk_size)
        return -EBADMSG;
    p = relay_have_skip(p);
    if (*p++ != ';')
        return -EBADMSG;
    p = relay_have_skip(p);
    if (strncmp(p, "have=", 5) != 0)
        return -EBADMSG;
    p += 5;
    if (*p == '*') {
        p = relay_have_skip(p + 1);
        if (*p)
            return -EBADMSG;
        memset(have, 1, n);
        return (int64_t)n;
    }
    while (*p && *p != ' ' && *p != '\t') {
        uint64_t a, b;

        if (relay_have_num(&p, &a) < 0)
            return -EBADMSG;
        b = a;
        if (*p == '-') {
            p++;
            if (relay_have_num(&p, &b) < 0)
                return -EBADMSG;
        }
        if (a > b || b >= n)
            return -EBADMSG;
        for (uint64_t i = a; i <= b; i++) {
            count += !have[i];
            have[i] = 1;
        }
        if (*p == ',')
            p++;
        else if (*p && *p != ' ' && *p != '\t')
            return -EBADMSG;
    }
    p = relay_have_skip(p);
    if (*p)
        return -EBADMSG;
    return (int64_t)count;
}
