/*
 * engine/client/notify.h - job notifications (notify.c): NotifyFlags, the command of
 * SetNotifyCmdLine and ferry's NotifyUrl, run by the notifier thread.
 *
 * The jobs thread calls notify_scan() once a pass, holding the role's lock; it only
 * compares and queues. Everything slow (processes, HTTP) happens on the `notify` thread,
 * which never takes the role's lock.
 */
#ifndef FERRY_CLIENT_NOTIFY_H
#define FERRY_CLIENT_NOTIFY_H

struct ferry_jobs;
struct notify;

/* Start the notifier thread for the role (cfg: notify-user, -timeout, -queue,
 * -max-running). The jobs loaded from the store are marked as seen, so a restart notifies
 * nothing by itself. Caller holds no lock; the jobs thread is not running yet. 0 or -errno. */
int notify_new(struct ferry_jobs *jobs, struct notify **ret);
/* Stop the thread: running commands are killed, POSTs abandoned, queued notifications
 * dropped (logged). NULL-safe; returns NULL. */
struct notify *notify_free(struct notify *n);
/* Compare every job with what the notifier saw last and queue the notifications its flags
 * ask for (TRANSFERRED, ERROR, FILE_TRANSFERRED, MODIFICATION: one per change, the most
 * specific). Jobs thread, role's lock held; never blocks (a full queue drops, logged). */
void notify_scan(struct ferry_jobs *jobs);

#endif
