/* Number parsing: see parse-util.h. Trailing newlines (sysfs attributes end
 * with one) are accepted; anything else after the number is -EINVAL. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "parse-util.h"

static int check_end(const char *s, const char *end) {
        if (end == s)
                return -EINVAL;
        while (*end == '\n')
                end++;
        return *end ? -EINVAL : 0;
}

int safe_atoi(const char *s, int *ret) {
        char *end;
        long v;

        if (isspace((unsigned char) *s))
                return -EINVAL; /* strtol() would skip it: not a number as the whole string */
        errno = 0;
        v = strtol(s, &end, 10);
        if (check_end(s, end) < 0)
                return -EINVAL; /* not a number, however long its digits */
        if (errno > 0)
                return -errno;
        if (v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

int safe_atou64(const char *s, int base, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (*s == '-' || isspace((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (check_end(s, end) < 0)
                return -EINVAL; /* not a number, however long its digits */
        if (errno > 0)
                return -errno;
        *ret = v;
        return 0;
}

int parse_hex_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r;

        r = safe_atou64(s, 16, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}
