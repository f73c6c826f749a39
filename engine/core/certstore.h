/*
 * engine/core/certstore.h - the certificate store both roles read: a directory of PEM
 * files per store name, under cert-store-dir (default STATE/certs). The server role binds
 * a store's certificate to an https port (SetSslCertificate), the client role gives one
 * to a job as its client certificate (SetClientCertificateById). A PEM file holds the
 * certificate (and, for server use, its key); it is found by its SHA-1 thumbprint.
 */
#ifndef FERRY_CERTSTORE_H
#define FERRY_CERTSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/config.h"

#define CERTSTORE_NAME_MAX 64
#define CERTSTORE_SHA1_LEN 20

/* Whether name is a store name: 1-64 characters of [A-Za-z0-9._-], not starting with '.'
 * (so never ".", ".." or a hidden directory, and never a path). */
bool certstore_name_ok(const char *name);

/* The store directory for name: cert-store-dir/NAME, else STATE/certs/NAME. 0 and a
 * malloc()ed path, -EINVAL for a bad name, -ENOMEM. */
int certstore_dir(const struct ferry_config *cfg, const char *name, char **ret_dir);

/* The PEM file (*.pem, not hidden) in store `name` whose certificate's SHA-1 is sha1.
 * 0 and a malloc()ed path, -ENOENT when none matches, -EINVAL for a bad name, -errno when
 * the store cannot be read. */
int certstore_find(const struct ferry_config *cfg, const char *name,
                   const uint8_t sha1[CERTSTORE_SHA1_LEN], char **ret_path);

#endif
