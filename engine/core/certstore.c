/*
 * certstore.c - the certificate store of both roles (certstore.h): store name rules, the
 * store directory per store location, lookup of a PEM file by SHA-1 thumbprint or subject.
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

/* A location's name (certstore.h). */
const char *
certstore_location_name(unsigned location)
{
    static const char *const names[] = {
        "CurrentUser", "LocalMachine", "CurrentService", "Services", "Users",
        "CurrentUserGroupPolicy", "LocalMachineGroupPolicy", "LocalMachineEnterprise",
    };

    return location <= CERTSTORE_LOCATION_MAX ? names[location] : NULL;
}

/* A store's directory at a location (certstore.h). */
int
certstore_dir_at(const struct ferry_config *cfg, unsigned location, const char *name,
                 char **ret_dir)
{
    const char *base = cfg->cert_store_dir;
    const char *loc = certstore_location_name(location);
    char *dflt = NULL;
    int r;

    if (!certstore_name_ok(name) || !loc)
        return -EINVAL;
    if (!base) {
        if (asprintf(&dflt, "%s/certs", cfg->state_dir) < 0)
            return -ENOMEM;
        base = dflt;
    }
    if (location == CERTSTORE_LOCAL_MACHINE)
        r = asprintf(ret_dir, "%s/%s", base, name);
    else
        r = asprintf(ret_dir, "%s/@%s/%s", base, loc, name);
    free(dflt);
    return r < 0 ? -ENOMEM : 0;
}

/* The store's directory (certstore.h): the LOCAL_MACHINE location. */
int
certstore_dir(const struct ferry_config *cfg, const char *name, char **ret_dir)
{
    return certstore_dir_at(cfg, CERTSTORE_LOCAL_MACHINE, name, ret_dir);
}

/* The certificate of the PEM file at path, or NULL. */
static X509 *
certstore_read(const char *path)
{
    X509 *x;
    FILE *f = fopen(path, "re");

    if (!f)
        return NULL;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

/* Whether the PEM file at path holds a certificate whose SHA-1 is key (20 bytes). */
static bool
certstore_match_sha1(const char *path, const void *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    bool match;
    X509 *x = certstore_read(path);

    if (!x)
        return false;
    match = X509_digest(x, EVP_sha1(), md, &mdlen) == 1 && mdlen == CERTSTORE_SHA1_LEN &&
            memcmp(md, key, CERTSTORE_SHA1_LEN) == 0;
    X509_free(x);
    return match;
}

/* Whether the certificate's one-line subject ("CN=a, O=b") contains key, ignoring case. */
static bool
certstore_match_subject(const char *path, const void *key)
{
    X509 *x = certstore_read(path);
    BIO *b;
    char *line = NULL;
    long n;
    bool match = false;

    if (!x)
        return false;
    b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_ONELINE) >= 0) {
        n = BIO_get_mem_data(b, &line);
        if (n > 0) {
            char *s = strndup(line, (size_t)n);
            match = s && strcasestr(s, key) != NULL;
            free(s);
        }
    }
    BIO_free(b);
    X509_free(x);
    return match;
}

static int
certstore_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first *.pem (not hidden) of store (location, name), in byte order of the file names,
 * for which match(path, key) holds. */
static int
certstore_scan(const struct ferry_config *cfg, unsigned location, const char *name,
               bool (*match)(const char *path, const void *key), const void *key,
               char **ret_path)
{
    char *dir = NULL, **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d;
    int r = certstore_dir_at(cfg, location, name, &dir);

    if (r < 0)
        return r;
    d = opendir(dir);
    if (!d) {
        r = -errno;
        free(dir);
        return r;
    }
    r = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len < 5 || e->d_name[0] == '.' || strcmp(e->d_name + len - 4, ".pem") != 0)
            continue;
        if (n == cap) {
            char **nv = realloc(names, (cap ? cap * 2 : 16) * sizeof(*nv));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            names = nv;
            cap = cap ? cap * 2 : 16;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            r = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (r == 0 && n > 1)
        qsort(names, n, sizeof(*names), certstore_name_cmp);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
            r = -ENOMEM;
            break;
        }
        if (match(path, key)) {
            *ret_path = path;
            r = 1;
        } else {
            free(path);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(dir);
    if (r < 0)
        return r;
    return r == 1 ? 0 : -ENOENT;
}

/* Find a certificate by thumbprint at a location (certstore.h). */
int
certstore_find_at(const struct ferry_config *cfg, unsigned location, const char *name,
                  const uint8_t sha1[CERTSTORE_SHA1_LEN], char **ret_path)
{
    return certstore_scan(cfg, location, name, certstore_match_sha1, sha1, ret_path);
}

/* Find a certificate by thumbprint in the daemon's own store (certstore.h). */
int
certstore_find(const struct ferry_config *cfg, const char *name,
               const uint8_t sha1[CERTSTORE_SHA1_LEN], char **ret_path)
{
    return certstore_find_at(cfg, CERTSTORE_LOCAL_MACHINE, name, sha1, ret_path);
}

/* Find a certificate by subject (certstore.h). */
int
certstore_find_subject(const struct ferry_config *cfg, unsigned location, const char *name,
                       const char *subject, char **ret_path)
{
    if (!subject || !*subject)
        return -EINVAL;
    return certstore_scan(cfg, location, name, certstore_match_subject, subject, ret_path);
}
