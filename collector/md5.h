/* md5.h — MD5 (RFC 1321), for hashmod relabelling only.
 *
 * Prometheus shards targets with md5(value) and scry agents must pick the
 * same shard as a Prometheus fleet, so the hash is fixed by compatibility,
 * not chosen for security. ~120 lines here beat a libcrypto dependency. */
#ifndef SCRY_COLLECTOR_MD5_H
#define SCRY_COLLECTOR_MD5_H

#include <stddef.h>
#include <stdint.h>

/* The 16-byte MD5 digest of p[0, len). */
void col_md5(const void *p, size_t len, uint8_t out[16]);

#endif
