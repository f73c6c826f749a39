/*
 * wsman_metrics.c - GET /metrics on the WS-Man listener: the engine's counters in the
 * Prometheus text exposition format (jobs by state, bytes fetched / served / re-fetched,
 * chunk verification failures, connections, refusals held by the tarpit of the data port
 * and of the WS-Man listeners, per-group bytes and requests).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/http.h"
#include "wsman.h"

static const char *const state_names[9] = {
    "QUEUED", "CONNECTING", "TRANSFERRING", "SUSPENDED", "ERROR", "TRANSIENT_ERROR",
    "TRANSFERRED", "ACKNOWLEDGED", "CANCELLED",
};

/* Escape a label value (backslash, quote, newline). */
static void
metrics_label(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', fp);
        if (*s == '\n') {
            fputs("\\n", fp);
            continue;
        }
        fputc(*s, fp);
    }
}

int
wsman_metrics_render(struct wsman_ctx *ctx, char **ret_buf, size_t *ret_len)
{
    struct ferry_jobs_stats js = {0};
    struct ferry_server_stats ss = {0};
    struct ferry_group_info **groups = NULL;
    size_t ngroups = 0, len = 0;
    char *buf = NULL;
    FILE *fp;

    ctx->ops->jobs_stats(ctx->jobs, &js);
    ctx->ops->server_stats(ctx->server, &ss);
    if (ctx->ops->group_list(ctx->server, &groups, &ngroups) < 0) {
        groups = NULL;
        ngroups = 0;
    }
    fp = open_memstream(&buf, &len);
    if (!fp) {
        ctx->ops->group_info_list_free(groups, ngroups);
        return -ENOMEM;
    }
    fputs("# HELP ferry_jobs Jobs by BITS state.\n# TYPE ferry_jobs gauge\n", fp);
    for (unsigned s = 0; s < 9; s++)
        fprintf(fp, "ferry_jobs{state=\"%s\"} %u\n",
                state_names[s], (unsigned)js.jobs_by_state[s]);
    fprintf(fp, "# HELP ferry_client_bytes_fetched_total Bytes fetched by jobs.\n"
                "# TYPE ferry_client_bytes_fetched_total counter\n"
                "ferry_client_bytes_fetched_total %llu\n",
            (unsigned long long)js.bytes_fetched);
    fprintf(fp, "# HELP ferry_client_bytes_refetched_total Bytes fetched again.\n"
                "# TYPE ferry_client_bytes_refetched_total counter\n"
                "ferry_client_bytes_refetched_total %llu\n",
            (unsigned long long)js.bytes_refetched);
    fprintf(fp, "# HELP ferry_client_chunk_verify_failures_total Chunks whose digest did "
                "not match.\n# TYPE ferry_client_chunk_verify_failures_total counter\n"
                "ferry_client_chunk_verify_failures_total %llu\n",
            (unsigned long long)js.chunk_verify_failures);
    fprintf(fp, "# HELP ferry_client_connections Fetch connections open now.\n"
                "# TYPE ferry_client_connections gauge\nferry_client_connections %u\n",
            (unsigned)js.active_connections);
    fprintf(fp, "# HELP ferry_server_bytes_served_total Bytes served by the server role.\n"
                "# TYPE ferry_server_bytes_served_total counter\n"
                "ferry_server_bytes_served_total %llu\n",
            (unsigned long long)ss.bytes_sent);
    fprintf(fp, "# HELP ferry_server_requests_total Requests served.\n"
                "# TYPE ferry_server_requests_total counter\nferry_server_requests_total %llu\n",
            (unsigned long long)ss.requests);
    fprintf(fp, "# HELP ferry_server_connections Server connections open now.\n"
                "# TYPE ferry_server_connections gauge\nferry_server_connections %u\n",
            (unsigned)ss.active_connections);
    fprintf(fp, "# HELP ferry_server_manifests_computed_total Chunk manifests computed.\n"
                "# TYPE ferry_server_manifests_computed_total counter\n"
                "ferry_server_manifests_computed_total %llu\n",
            (unsigned long long)ss.manifests_computed);
    {
        uint64_t held = 0;
        unsigned parked = 0;

        if (ctx->http)
            ferry_http_server_tarpit_stats(ctx->http, &held, &parked);
        fprintf(fp, "# HELP ferry_tarpit_refusals_held_total 401 answers the refusal tarpit "
                    "held back, by listener.\n"
                    "# TYPE ferry_tarpit_refusals_held_total counter\n"
                    "ferry_tarpit_refusals_held_total{listener=\"data\"} %llu\n"
                    "ferry_tarpit_refusals_held_total{listener=\"wsman\"} %llu\n",
                (unsigned long long)ss.tarpit_held, (unsigned long long)held);
        fprintf(fp, "# HELP ferry_tarpit_parked Connections whose 401 is held now, by "
                    "listener.\n# TYPE ferry_tarpit_parked gauge\n"
                    "ferry_tarpit_parked{listener=\"data\"} %u\n"
                    "ferry_tarpit_parked{listener=\"wsman\"} %u\n",
                (unsigned)ss.tarpit_parked, parked);
    }
    fputs("# HELP ferry_group_bytes_served_total Bytes served per URL group.\n"
          "# TYPE ferry_group_bytes_served_total counter\n", fp);
    for (size_t i = 0; i < ngroups; i++) {
        fputs("ferry_group_bytes_served_total{group=\"", fp);
        metrics_label(fp, groups[i]->prefix);
        fprintf(fp, "\"} %llu\n", (unsigned long long)groups[i]->bytes_sent);
    }
    fputs("# HELP ferry_group_requests_total Requests per URL group.\n"
          "# TYPE ferry_group_requests_total counter\n", fp);
    for (size_t i = 0; i < ngroups; i++) {
        fputs("ferry_group_requests_total{group=\"", fp);
        metrics_label(fp, groups[i]->prefix);
        fprintf(fp, "\"} %llu\n", (unsigned long long)groups[i]->requests);
    }
    ctx->ops->group_info_list_free(groups, ngroups);
    if (fclose(fp) != 0 || !buf) {
        free(buf);
        return -ENOMEM;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}
