/* crc32c.h — CRC-32C (Castagnoli), the checksum of WAL records.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (about 20 GB/s on
 * 8-byte words), else slicing-by-8 tables (about 2 GB/s). Both give the same
 * values: reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF, so
 * scry_crc32c(0, "123456789", 9) == 0xE3069283. Thread-safe. */
#ifndef SCRY_CORE_CRC32C_H
#define SCRY_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start, or a previous result) by len bytes at p, so
 * crc32c(a || b) == scry_crc32c(scry_crc32c(0, a, la), b, lb). */
uint32_t scry_crc32c(uint32_t crc, const void *p, size_t len);

/* The portable table version, for tests and benchmarks. */
uint32_t scry_crc32c_sw(uint32_t crc, const void *p, size_t len);

#endif
