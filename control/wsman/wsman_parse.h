/*
 * control/wsman/wsman_parse.h - the value parsers shared by the envelope, the enumeration
 * and the resource classes: selector values, Put properties, method arguments and
 * header numbers all read unsigned decimals and booleans the same way.
 */
#ifndef FERRY_WSMAN_PARSE_H
#define FERRY_WSMAN_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Parse an unsigned decimal in [0, max] (surrounding XML whitespace allowed) into *ret;
 * -EINVAL on anything else (sign, empty, overflow, trailing text); *ret untouched then. */
int wsman_parse_uint(const char *s, uint64_t max, uint64_t *ret);
/* "true"/"false" (any case) or "1"/"0" into *ret; -EINVAL otherwise, *ret untouched. */
int wsman_parse_bool(const char *s, bool *ret);

#endif
