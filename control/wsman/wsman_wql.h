/*
 * control/wsman/wsman_wql.h - the WQL subset of Enumerate filters (wsman_wql.c): what
 * PowerShell's `-Filter` and `Get-CimInstance -Query` send for the BITS classes.
 *
 *   SELECT * FROM Class [WHERE cond]
 *   cond := cond OR cond | cond AND cond | NOT cond | ( cond ) | Prop op literal
 *           | literal op Prop
 *   op := = | <> | != | < | > | <= | >=      literal := integer | 'text' | "text" | TRUE
 *           | FALSE
 *
 * Keywords and property names are case-insensitive; strings compare case-insensitively (as
 * WQL does), integers numerically; a property the instance lacks, or whose value is not a
 * number where an integer is compared, makes the comparison false. Limits: 4096 bytes of
 * text, 64 comparisons, nesting 16 deep.
 */
#ifndef FERRY_WSMAN_WQL_H
#define FERRY_WSMAN_WQL_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#define WSMAN_WQL_DIALECT "http://schemas.microsoft.com/wbem/wsman/1/WQL"
#define WSMAN_WQL_MAX_TEXT 4096
#define WSMAN_WQL_MAX_TERMS 64
#define WSMAN_WQL_MAX_DEPTH 16

struct wsman_wql;

/* Parse text. 0 and *ret (free with wsman_wql_free), or -EINVAL with a sentence in err
 * (the FROM class is returned through *ret's class name: see wsman_wql_class). -ENOMEM. */
int wsman_wql_parse(const char *text, struct wsman_wql **ret, char *err, size_t errlen);
struct wsman_wql *wsman_wql_free(struct wsman_wql *q);
/* The class named after FROM. */
const char *wsman_wql_class(const struct wsman_wql *q);
/* Does the instance element (its leaf child elements are the properties) match? A query
 * without WHERE matches everything. */
bool wsman_wql_match(const struct wsman_wql *q, xmlNodePtr instance);

#endif
