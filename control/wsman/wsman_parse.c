/*
 * wsman_parse.c - the value parsers of wsman_parse.h: unsigned decimals and booleans as
 * they appear in selectors, properties, method arguments and headers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsman_parse.h"

/*
 * Unsigned decimal in [0, max]; see wsman_parse.h. No allocation.
 */
int
wsman_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    if (!s)
        return -EINVAL;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -EINVAL;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/*
 * WS-Man boolean text; see wsman_parse.h.
 */
int
wsman_parse_bool(const char *s, bool *ret)
{
    if (!s)
        return -EINVAL;
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *ret = true;
        return 0;
    }
    if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *ret = false;
        return 0;
    }
    return -EINVAL;
}
