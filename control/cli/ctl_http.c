/*
 * control/cli/ctl_http.c - HTTP POST of WS-Man envelopes with libcurl. libcurl's error
 * codes are translated here, once, into -errno and a message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "ctl_http.h"
#include "wsman_names.h"

struct ctl_http {
    CURL *curl;
    struct curl_slist *headers;
    char *url, *user, *password, *cacert, *client_cert, *client_key;
    unsigned timeout_s;
    char errbuf[CURL_ERROR_SIZE];
    char error[CURL_ERROR_SIZE + 128];
};

struct http_buf {
    char *data;
    size_t len, cap;
    bool too_big;
};

static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_buf *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n + 1 > CTL_HTTP_MAX_RESPONSE) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        char *d;

        while (cap < b->len + n + 1)
            cap *= 2;
        d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int
http_dup(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

int
ctl_http_new(const char *url, const struct ctl_http_options *opts, struct ctl_http **ret)
{
    static bool global_done;
    struct ctl_http *h;

    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return -EINVAL;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -ENOMEM;
        global_done = true;
    }
    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    if (http_dup(&h->url, url) < 0 || http_dup(&h->user, opts->user) < 0 ||
        http_dup(&h->password, opts->password ? opts->password : "") < 0 ||
        http_dup(&h->cacert, opts->cacert) < 0 ||
        http_dup(&h->client_cert, opts->client_cert) < 0 ||
        http_dup(&h->client_key, opts->client_key) < 0)
        goto error;
    h->timeout_s = opts->timeout_s;
    h->curl = curl_easy_init();
    if (!h->curl)
        goto error;
    h->headers = curl_slist_append(NULL, "Content-Type: " WSMAN_CONTENT_TYPE);
    if (!h->headers)
        goto error;
    /* no "Expect: 100-continue" round trip on bigger envelopes */
    h->headers = curl_slist_append(h->headers, "Expect:");
    if (!h->headers)
        goto error;

    curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "ferryctl/" FERRY_VERSION);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_write);
    if (h->timeout_s > 0) {
        curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, (long)h->timeout_s);
        curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT,
                         (long)(h->timeout_s < 10 ? h->timeout_s : 10));
    }
    if (h->user) {
        /* pre-emptive Basic, as wsl and pywinrm send it */
        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h->curl, CURLOPT_USERNAME, h->user);
        curl_easy_setopt(h->curl, CURLOPT_PASSWORD, h->password);
    }
    if (h->cacert)
        curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->cacert);
    if (h->client_cert) {
        curl_easy_setopt(h->curl, CURLOPT_SSLCERT, h->client_cert);
        curl_easy_setopt(h->curl, CURLOPT_SSLKEY, h->client_key ? h->client_key
                                                                : h->client_cert);
    }
    *ret = h;
    return 0;

error:
    ctl_http_free(h);
    return -ENOMEM;
}

struct ctl_http *
ctl_http_free(struct ctl_http *h)
{
    if (!h)
        return NULL;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    if (h->password)
        explicit_bzero(h->password, strlen(h->password));
    free(h->url);
    free(h->user);
    free(h->password);
    free(h->cacert);
    free(h->client_cert);
    free(h->client_key);
    free(h);
    return NULL;
}

static int
http_curl_errno(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return -EPROTO;
    }
}

int
ctl_http_post(struct ctl_http *h, const char *body, size_t len, long *ret_status,
              char **ret_body, size_t *ret_len)
{
    struct http_buf b = {0};
    CURLcode c;
    long status = 0;

    h->errbuf[0] = '\0';
    h->error[0] = '\0';
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
    c = curl_easy_perform(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
    if (c != CURLE_OK) {
        int r = b.too_big ? -EFBIG : http_curl_errno(c);

        if (b.too_big)
            snprintf(h->error, sizeof(h->error), "%s: response larger than %u bytes", h->url,
                     CTL_HTTP_MAX_RESPONSE);
        else
            snprintf(h->error, sizeof(h->error), "%s: %s", h->url,
                     h->errbuf[0] ? h->errbuf : curl_easy_strerror(c));
        free(b.data);
        return r;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401) {
        /* ferryd refuses Basic over plain http from other hosts unless configured to */
        bool plain_remote = strncasecmp(h->url, "http://", 7) == 0 &&
                            strncmp(h->url + 7, "127.", 4) != 0 &&
                            strncasecmp(h->url + 7, "localhost", 9) != 0 &&
                            strncmp(h->url + 7, "[::1]", 5) != 0;

        snprintf(h->error, sizeof(h->error),
                 "%s: authentication failed (HTTP 401): check --user and the password%s",
                 h->url, plain_remote ? " (Basic over plain http from another host needs "
                                        "ferryd --allow-basic-over-http, or use https)"
                                      : "");
        free(b.data);
        return -EACCES;
    }
    if (status == 429) {
        curl_off_t after = 0;

        curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &after);
        snprintf(h->error, sizeof(h->error),
                 "%s: refused after too many failed logins from this address (HTTP 429); "
                 "retry in %lld s",
                 h->url, (long long)after);
        free(b.data);
        return -EACCES;
    }
    if (!b.data) {
        b.data = strdup("");
        if (!b.data)
            return -ENOMEM;
    }
    *ret_status = status;
    *ret_body = b.data;
    *ret_len = b.len;
    return 0;
}

const char *
ctl_http_error(const struct ctl_http *h)
{
    return h->error;
}
