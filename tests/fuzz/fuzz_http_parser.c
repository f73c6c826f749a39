/*
 * tests/fuzz/fuzz_http_parser.c - libFuzzer target for engine/http/http_parser.c.
 *
 * The input is fed as a pipelined byte stream the way a connection feeds it: first in one
 * piece, then split at a point taken from the first byte, keeping unconsumed bytes. Both
 * runs must agree; consumed counts must stay within the input; a finished request's path
 * must never contain a "..", a NUL or a '/' produced by decoding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

static const struct http_parser_limits lim = {
    .max_header_bytes = 4096,
    .max_headers = 32,
    .max_target_bytes = 1024,
    .max_body_bytes = 65536,
};

/* Parse the stream in pieces of at most `step` new bytes; returns the number of complete
 * requests (or -status of the refusal, times 1000). */
static long
run(const uint8_t *data, size_t size, size_t step)
{
    struct http_parser p;
    char *buf = malloc(size + 1);
    size_t have = 0, fed = 0;
    long nreq = 0;

    if (!buf)
        return 0;
    http_parser_init(&p, &lim);
    while (fed < size || have > 0) {
        size_t n = size - fed < step ? size - fed : step, c = 0;
        int r;

        memcpy(buf + have, data + fed, n);
        have += n;
        fed += n;
        r = http_parser_execute(&p, buf, have, &c);
        if (c > have)
            abort();
        if (r == -EBADMSG) {
            if (p.status < 400 || p.status > 599)
                abort();
            nreq = -1000L * p.status;
            break;
        }
        if (r == 0) {
            const char *path = p.path;
            if (!path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
                abort();
            if (p.body_len > lim.max_body_bytes)
                abort();
            nreq++;
            http_parser_reset(&p);
        } else if (r != -EAGAIN) {
            abort();
        }
        memmove(buf, buf + c, have - c);
        have -= c;
        if (r == -EAGAIN && fed == size)
            break;
        if (r == 0 && c == 0 && fed == size)
            break;
    }
    http_parser_done(&p);
    free(buf);
    return nreq;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step;
    long a, b;

    if (size < 1)
        return 0;
    step = (size_t)data[0] + 1;
    data++;
    size--;
    a = run(data, size, size ? size : 1);
    b = run(data, size, step);
    if (a != b)
        abort();
    return 0;
}
