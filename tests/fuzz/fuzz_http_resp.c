/*
 * tests/fuzz/fuzz_http_resp.c - libFuzzer target for engine/http/http_resp.c.
 *
 * The input is a response head as a server would send it. Whatever it holds: a complete
 * head is reported with a length inside the input and inside the limit, parsing exactly
 * that many bytes gives the same answer and one byte fewer says -EAGAIN (the range fetcher
 * re-presents its growing buffer and must see one answer); every value points inside the
 * head; a Content-Range is ordered (first <= last < total); Content-Length never stands
 * beside Transfer-Encoding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_resp.h"

static const struct http_resp_limits lim = {
    .max_head_bytes = 4096,
    .max_headers = 32,
    .max_value_bytes = 1024,
};

static void
check_str(struct http_resp_str s, const char *buf, size_t head)
{
    if (!s.p)
        return;
    if (s.p < buf || s.p + s.len > buf + head)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    struct http_resp r, r2;
    int n, n2;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    n = http_resp_parse(&lim, buf, size, &r);
    if (n != -EAGAIN && n != -EBADMSG && n != -E2BIG && n <= 0)
        abort();
    if (n > 0) {
        if ((size_t)n > size || (size_t)n > lim.max_head_bytes)
            abort();
        n2 = http_resp_parse(&lim, buf, (size_t)n, &r2);
        if (n2 != n || r2.status != r.status || r2.content_length != r.content_length ||
            r2.keep_alive != r.keep_alive)
            abort();
        if (http_resp_parse(&lim, buf, (size_t)n - 1, &r2) != -EAGAIN)
            abort();
        if (r.status < 100 || r.status > 599 || r.minor > 1)
            abort();
        if (r.has_content_range && !r.range_unsatisfied &&
            (r.range_first > r.range_last || r.range_last >= r.range_total))
            abort();
        if (r.has_content_length && r.has_transfer_encoding)
            abort();
        if (r.nheaders > lim.max_headers)
            abort();
        check_str(r.etag, buf, (size_t)n);
        check_str(r.last_modified, buf, (size_t)n);
        check_str(r.location, buf, (size_t)n);
        check_str(r.retry_after_raw, buf, (size_t)n);
    }
    free(buf);
    return 0;
}
