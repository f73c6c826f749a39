/*
 * ctl_dist_unpublish.c - the last step of `ferryctl distribute`: delete the URL the run
 * published (unless --keep, or the run never got as far as publishing).
 */
#include <errno.h>
#include <stdio.h>

#include "ctl_dist.h"
#include "wsman_names.h"

/*
 * DeleteUrl of run->suffix in the group when run->unpublish. 0, or -EIO after naming the
 * failure on stderr.
 */
int
dist_unpublish(struct dist_run *run)
{
    struct ctl_pair sel = {"UrlGroup", run->o.group};
    struct ctl_pair params[1] = {{"UrlSuffix", run->suffix}};
    struct ctl_response *resp = NULL;
    int r;

    if (!run->unpublish)
        return 0;
    r = ctl_session_invoke(run->srv, WSMAN_URI_BITS_URL_GROUP, "DeleteUrl", &sel, 1, params, 1,
                           &resp);
    ctl_response_free(resp);
    if (r < 0) {
        fprintf(stderr, "ferryctl: could not unpublish %s: %s\n", run->published,
                run->srv->message);
        return -EIO;
    }
    run->unpublish = false;
    return 0;
}
