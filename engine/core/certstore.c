/*
 * certstore.c - the certificate store of both roles (certstore.h): store name rules, the
 * store directory, lookup of a PEM file by SHA-1 thumbprint.
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certstore.h"

/* Store name rule (certstore.h). */
bool
certstore_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CERTSTORE_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* The store's directory (certstore.h). */
int
certstore_dir(const struct ferry_config *cfg, const char *name, char **ret_dir)
{
    int r;

    if (!certstore_name_ok(name))
        return -EINVAL;
    if (cfg->cert_store_dir)
        r = asprintf(ret_dir, "%s/%s", cfg->cert_store_dir, name);
    else
        r = asprintf(ret_dir, "%s/certs/%s", cfg->state_dir, name);
    return r < 0 ? -ENOMEM : 0;
}

/* Whether the PEM file at path holds a certificate whose SHA-1 is sha1. */
static bool
certstore_match(const char *path, const uint8_t *sha1)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    bool match;
    X509 *x;
    FILE *f = fopen(path, "re");

    if (!f)
        return false;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        return false;
    match = X509_digest(x, EVP_sha1(), md, &mdlen) == 1 && mdlen == CERTSTORE_SHA1_LEN &&
            memcmp(md, sha1, CERTSTORE_SHA1_LEN) == 0;
    X509_free(x);
    return match;
}

/* Find a certificate by thumbprint (certstore.h). */
int
certstore_find(const struct ferry_config *cfg, const char *name,
               const uint8_t sha1[CERTSTORE_SHA1_LEN], char **ret_path)
{
    char *dir = NULL;
    struct dirent *e;
    DIR *d;
    int r = certstore_dir(cfg, name, &dir);

    if (r < 0)
        return r;
    d = opendir(dir);
    if (!d) {
        r = -errno;
        free(dir);
        return r;
    }
    r = -ENOENT;
    while (r == -ENOENT && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char *path = NULL;

        if (n < 5 || e->d_name[0] == '.' || strcmp(e->d_name + n - 4, ".pem") != 0)
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            r = -ENOMEM;
            break;
        }
        if (certstore_match(path, sha1)) {
            *ret_path = path;
            r = 0;
        } else {
            free(path);
        }
    }
    closedir(d);
    free(dir);
    return r;
}
