/* Checked number parsing: the whole string must be a number in range. */
#pragma once

#include <stdint.h>

int safe_atoi(const char *s, int *ret);
int safe_atou64(const char *s, int base, uint64_t *ret);
/* Parses a sysfs hex attribute such as "0x8086" or "0x030000". */
int parse_hex_u32(const char *s, uint32_t *ret);
