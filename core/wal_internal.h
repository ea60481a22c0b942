/* wal_internal.h — shared by wal.c, wal_replay.c and wal_checkpoint.c only. */
#ifndef SCRY_CORE_WAL_INTERNAL_H
#define SCRY_CORE_WAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/wal.h"

#define SCRY__WAL_VERSION 1
#define SCRY__WAL_NAME_MAX 4096

/* The 8-byte segment header: "SWAL", version, three zero bytes. */
void scry__wal_segment_header(uint8_t out[SCRY_WAL_SEGMENT_HEADER_BYTES]);
/* Fills the 9-byte record header, CRC included. */
void scry__wal_record_header(uint8_t out[SCRY_WAL_RECORD_HEADER_BYTES], uint8_t type,
                             const void *payload, uint32_t len);
/* "<dir>/%08u" into out (SCRY__WAL_NAME_MAX bytes); SCRY_EINVAL if too long. */
int scry__wal_segment_path(char *out, const char *dir, uint32_t no, struct scry_err *err);
/* Parses an 8-digit segment name; false for anything else. */
bool scry__wal_parse_segment_name(const char *name, uint32_t *no);
/* Parses "checkpoint.%08u" (no suffix); false for anything else. */
bool scry__wal_parse_checkpoint_name(const char *name, uint32_t *no);
/* Segment numbers (checkpoints: their N) in dir, sorted, malloc'd. A
 * missing dir is an empty list. */
int scry__wal_list(const char *dir, bool checkpoints, uint32_t **out, size_t *n,
                   struct scry_err *err);
/* The highest complete checkpoint's N in dir, 0 if none. */
int scry__wal_last_checkpoint(const char *dir, uint32_t *no, struct scry_err *err);
int scry__wal_fsync_dir(const char *dir, struct scry_err *err);
/* Removes a directory holding only plain files (a checkpoint). */
int scry__wal_remove_dir(const char *dir, struct scry_err *err);
/* Cuts a torn tail off segment `path` (the last one); *torn_bytes gets what
 * was cut. Corruption is left alone (replay reports it): returns 0. */
int scry__wal_repair_tail(const char *path, uint64_t *torn_bytes, struct scry_err *err);

#endif
