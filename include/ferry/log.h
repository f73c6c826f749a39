/*
 * ferry/log.h - the log facility. Lines go to stderr as
 *   "2026-11-21T23:25:24.123Z ferryd[pid] LEVEL thread: message"
 * Messages are whole sentences and quote user values: open('%s') failed.
 * Thread-safe; each call writes one line with a single write(2).
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include "ferry/common.h"

enum ferry_log_level {
    FERRY_LOG_ERROR = 0,
    FERRY_LOG_WARN,
    FERRY_LOG_INFO,
    FERRY_LOG_DEBUG,
};

FERRY_API void ferry_log_set_level(enum ferry_log_level level);
FERRY_API enum ferry_log_level ferry_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -EINVAL otherwise. */
FERRY_API int ferry_log_parse_level(const char *s, enum ferry_log_level *ret_level);
/* Name shown for the calling thread (at most 15 chars), e.g. "wsman", "worker-1". */
FERRY_API void ferry_log_set_thread_name(const char *name);
/* Program name shown in each line (default "ferry"). */
FERRY_API void ferry_log_set_ident(const char *ident);
/* A peer-supplied string made safe to put inside quotes in a log line: '\'', '\\', control
 * bytes and bytes >= 0x7f become \xHH, so a user name cannot end its quotes or forge the
 * rest of the line. Truncated to len - 1 bytes (ending in "..." when cut); returns buf. */
FERRY_API const char *ferry_log_escape(const char *s, char *buf, size_t len);
FERRY_API void ferry_log(enum ferry_log_level level, const char *fmt, ...) FERRY_PRINTF(2, 3);

#define ferry_log_error(...) ferry_log(FERRY_LOG_ERROR, __VA_ARGS__)
#define ferry_log_warn(...) ferry_log(FERRY_LOG_WARN, __VA_ARGS__)
#define ferry_log_info(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_log_debug(...)                                                                  \
    do {                                                                                      \
        if (ferry_log_get_level() >= FERRY_LOG_DEBUG)                                         \
            ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__);                                          \
    } while (0)

#endif
