/*
 * log.c - the log facility (ferry/log.h): one line per call on stderr, written with a
 * single write(2) so lines from different threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ferry/log.h"

static _Atomic int log_level = FERRY_LOG_INFO;
static char log_ident[32] = "ferry";
static _Thread_local char log_thread[16] = "main";

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void
ferry_log_set_level(enum ferry_log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum ferry_log_level
ferry_log_get_level(void)
{
    return (enum ferry_log_level)atomic_load(&log_level);
}

int
ferry_log_parse_level(const char *s, enum ferry_log_level *ret_level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *ret_level = (enum ferry_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *ret_level = FERRY_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

void
ferry_log_set_thread_name(const char *name)
{
    snprintf(log_thread, sizeof(log_thread), "%s", name ? name : "");
}

void
ferry_log_set_ident(const char *ident)
{
    snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "ferry");
}

void
ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int saved_errno = errno;
    va_list ap;
    int r;

    if ((int)level > atomic_load(&log_level))
        return;
    if ((unsigned)level > FERRY_LOG_DEBUG)
        level = FERRY_LOG_DEBUG;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    r = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, log_ident, (int)getpid(), level_names[level],
                 log_thread);
    n = r < 0 ? 0 : (size_t)r;
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (r > 0)
        n += (size_t)r;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    /* Control characters from user values never reach the terminal raw. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 && c != '\t')
            line[i] = '?';
    }
    line[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    errno = saved_errno;
}

const char *
ferry_log_escape(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (len == 0)
        return buf;
    if (!s)
        s = "";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool esc = c < 0x20 || c >= 0x7f || c == '\'' || c == '\\';
        size_t need = esc ? 4 : 1;

        if (o + need + 4 > len) { /* room for this, "..." and the NUL */
            if (o + 4 <= len) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (esc) {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}
