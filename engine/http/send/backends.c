/*
 * backends.c - the table of send backends (send.h): which backend a name selects. It sits
 * above the backends so that none of them needs to know the others (splice falls back to
 * sendfile, one way).
 */
#include <stddef.h>
#include <string.h>

#include "send.h"

/* Backend by configured name ("" or NULL = sendfile); NULL when the name is unknown. */
const struct http_send_backend *
http_send_backend_find(const char *name)
{
    if (!name || !*name || strcmp(name, "sendfile") == 0)
        return &http_send_sendfile;
    if (strcmp(name, "splice") == 0)
        return &http_send_splice;
    return NULL;
}
