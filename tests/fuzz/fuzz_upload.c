/*
 * tests/fuzz/fuzz_upload.c - the BITS upload request parsers (engine/server/upload.c) on
 * arbitrary bytes. Traps when a parsed fragment range is inconsistent, a session id maps to
 * anything but 32 hex digits, an accepted name could leave the upload directory, or a reply
 * name is anything but a hidden name with 32 hex digits (never an upload target).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct upload_range r;
    char hex[33];
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (upload_range_parse(s, &r) == 0 && !r.empty && (r.end < r.start || r.end >= r.total))
        __builtin_trap();
    if (upload_session_hex(s, hex) == 0 && strspn(hex, "0123456789abcdef") != 32)
        __builtin_trap();
    if (upload_name_ok(s) && (strchr(s, '/') || strcmp(s, "..") == 0 || strcmp(s, ".") == 0))
        __builtin_trap();
    if (upload_reply_name(s, hex) &&
        (strspn(hex, "0123456789abcdef") != 32 || strchr(s, '/') || upload_name_ok(s)))
        __builtin_trap();
    upload_packet_parse(s);
    upload_protocols_ok(s);
    free(s);
    return 0;
}
