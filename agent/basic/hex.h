/* Bytes as lower-case hex: hashes, random tokens and ids. */
#pragma once

#include <stddef.h>

/* Writes 2 * n hex digits and a NUL to ret (2 * n + 1 bytes). */
void hex_encode(const void *data, size_t n, char *ret);

/* n random bytes from the kernel as hex into ret (2 * n + 1 bytes), n <= 256.
 * -EIO when the kernel gives fewer. */
int random_hex(size_t n, char *ret);
