/* Hex encoding: see hex.h. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include "hex.h"

void hex_encode(const void *data, size_t n, char *ret) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *p = data;

        for (size_t i = 0; i < n; i++) {
                ret[2 * i] = digits[p[i] >> 4];
                ret[2 * i + 1] = digits[p[i] & 0xf];
        }
        ret[2 * n] = 0;
}

int random_hex(size_t n, char *ret) {
        uint8_t bytes[256];

        if (n > sizeof bytes)
                return -EINVAL;
        if (getrandom(bytes, n, 0) != (ssize_t) n)
                return -EIO;
        hex_encode(bytes, n, ret);
        return 0;
}
