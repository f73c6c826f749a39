/*
 * wsman_class.c - what every resource class (wsman_res_*.c) and the operations on them
 * (wsman_dispatch.c, wsman_enum.c) share: the key count of a class and the writers of
 * instance properties and method out-parameters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "wsman.h"

/*
 * Number of selector keys of a class (its NULL-terminated keys, at most WSMAN_MAX_KEYS).
 */
size_t
wsman_class_nkeys(const struct wsman_class *cls)
{
    size_t n = 0;

    while (n < WSMAN_MAX_KEYS && cls->keys[n])
        n++;
    return n;
}

/*
 * Add <p:name>text</p:name> under parent, text formatted (any length). Returns the node, or
 * NULL on allocation or format failure (the document keeps what it had).
 */
xmlNodePtr
wsman_prop(struct wsman_response *resp, xmlNodePtr parent, const char *name, const char *fmt,
           ...)
{
    char buf[1024];
    char *dyn = NULL;
    const char *text = buf;
    va_list ap;
    int n;
    xmlNodePtr node;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n >= sizeof(buf)) {
        va_start(ap, fmt);
        n = vasprintf(&dyn, fmt, ap);
        va_end(ap);
        if (n < 0)
            return NULL;
        text = dyn;
    }
    node = xmlNewTextChild(parent, resp->ns_p, (const xmlChar *)name, (const xmlChar *)text);
    free(dyn);
    return node;
}

/*
 * Add the out-parameter <p:name>value</p:name> to call->out. -EINVAL when the formatted
 * value exceeds 1023 bytes, -ENOMEM when the node cannot be added.
 */
int
wsman_call_out(struct wsman_call *call, const char *name, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -EINVAL;
    if (!xmlNewTextChild(call->out, call->resp->ns_p, (const xmlChar *)name,
                         (const xmlChar *)buf))
        return -ENOMEM;
    return 0;
}
