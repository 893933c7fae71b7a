/* Route matching: see router.h. Patterns and paths are compared one
 * segment at a time; a path with empty segments ("//", a trailing "/")
 * matches nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "router.h"

/* Matches path against pattern; on success stores captures in r (when r). */
static bool pattern_match(const char *pattern, const char *path, Request *r) {
        const char *p = pattern, *s = path;
        size_t n = 0;

        if (streq(pattern, "/"))
                return streq(path, "/");

        while (*p && *s) {
                size_t pl, sl;

                if (*p != '/' || *s != '/')
                        goto fail;
                p++, s++;
                pl = strcspn(p, "/");
                sl = strcspn(s, "/");
                if (sl == 0)
                        goto fail; /* an empty segment: what was captured so far goes too */
                if (p[0] == '{' && p[pl - 1] == '}') {
                        if (r && n < MAX_PATH_PARAMS) {
                                r->param_values[n] = strndup(s, sl);
                                r->param_names[n] = strndup(p + 1, pl - 2);
                                n++;
                                if (!r->param_values[n - 1] || !r->param_names[n - 1])
                                        goto fail;
                        }
                } else if (pl != sl || strncmp(p, s, pl) != 0)
                        goto fail;
                p += pl, s += sl;
        }
        if (*p || *s)
                goto fail;
        if (r)
                r->n_params = n;
        return true;
fail:
        for (size_t i = 0; r && i < n; i++) {
                r->param_values[i] = (free(r->param_values[i]), NULL);
                r->param_names[i] = (free(r->param_names[i]), NULL);
        }
        return false;
}

RouteResult router_match(const Route *table, size_t n, const char *method, const char *path,
                         Request *r, const Route **ret, char **ret_allow) {
        const char *m = streq(method, "HEAD") ? "GET" : method;
        _cleanup_free_ char *allow = NULL;

        for (size_t i = 0; i < n; i++)
                if (streq(table[i].method, m) && pattern_match(table[i].pattern, path, r)) {
                        *ret = &table[i];
                        return ROUTE_FOUND;
                }

        for (size_t i = 0; i < n; i++) {
                char *a;

                if (!pattern_match(table[i].pattern, path, NULL))
                        continue;
                if (asprintf(&a, "%s%s%s%s", strempty(allow), allow ? ", " : "", table[i].method,
                             streq(table[i].method, "GET") ? ", HEAD" : "") < 0)
                        return ROUTE_NOT_FOUND;
                free(allow);
                allow = a;
        }
        if (!allow)
                return ROUTE_NOT_FOUND;
        *ret_allow = TAKE_PTR(allow);
        return ROUTE_WRONG_METHOD;
}

const char *request_param(const Request *r, const char *name) {
        for (size_t i = 0; i < r->n_params; i++)
                if (r->param_names[i] && streq(r->param_names[i], name))
                        return r->param_values[i];
        return NULL;
}

const char *request_query(const Request *r, const char *name) {
        return MHD_lookup_connection_value(r->connection, MHD_GET_ARGUMENT_KIND, name);
}
