/* json-c conveniences: see json-util.h. */
#include <stdio.h>
#include <time.h>

#include "json-util.h"

json_object *json_strv(char *const *l) {
        json_object *a = json_object_new_array();

        for (; a && l && *l; l++)
                json_object_array_add(a, json_object_new_string(*l));
        return a;
}

json_object *json_hex(uint32_t v, int width) {
        char buf[16];

        snprintf(buf, sizeof buf, "%0*x", width, v);
        return json_object_new_string(buf);
}

json_object *json_timestamp(uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        char when[64];

        if (usec == 0 || !gmtime_r(&t, &tm))
                return NULL;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_object_new_string(when);
}
