/*
 * common.c - the small shared pieces of include/ferry/common.h: status records, error
 * buffers, FILETIME, GUIDs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "ferry/common.h"

int
ferry_status_set(struct ferry_status *st, int ret, enum ferry_status_kind kind, uint32_t code,
                 const char *param, const char *fmt, ...)
{
    va_list ap;

    if (!st)
        return ret;
    st->kind = kind;
    st->code = code;
    snprintf(st->param, sizeof(st->param), "%s", param ? param : "");
    va_start(ap, fmt);
    vsnprintf(st->text, sizeof(st->text), fmt, ap);
    va_end(ap);
    return ret;
}

int
ferry_status_oom(struct ferry_status *st, int ret)
{
    return ferry_status_set(st, ret, FERRY_STATUS_INTERNAL, FERRY_E_OUTOFMEMORY, NULL, "%s",
                            "out of memory");
}

int
ferry_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ret;
}

void
ferry_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void
ferry_status_clear(struct ferry_status *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
}

/* Seconds between 1601-01-01 and 1970-01-01. */
#define FILETIME_UNIX_EPOCH_S 11644473600ULL

uint64_t
ferry_filetime_from_unix_ns(int64_t ns)
{
    if (ns < 0)
        return 0;
    return (uint64_t)ns / 100u + FILETIME_UNIX_EPOCH_S * 10000000ULL;
}

uint64_t
ferry_filetime_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ferry_filetime_from_unix_ns((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

void
ferry_guid_new(char ret[FERRY_GUID_STRLEN])
{
    uint8_t b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on Linux >= 3.17 once the pool is ready; fall back to
             * the clock so a GUID is still produced. */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            memcpy(b, &ts, sizeof(b) < sizeof(ts) ? sizeof(b) : sizeof(ts));
            break;
        }
        got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(ret, FERRY_GUID_STRLEN,
             "{%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X}", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int
ferry_guid_check(const char *s)
{
    static const char shape[] = "{........-....-....-....-............}";

    if (!s || strlen(s) != sizeof(shape) - 1)
        return -EINVAL;
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        if (shape[i] == '.') {
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return -EINVAL;
        } else if (c != shape[i]) {
            return -EINVAL;
        }
    }
    return 0;
}
