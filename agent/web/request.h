/* One HTTP request as the handlers see it: method, path, decoded path
 * parameters, the body, and the reply being built. Allocated on the first
 * access-handler call, freed in the completion callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "host/host-state.h"

typedef struct RenderCache RenderCache;

#define MAX_PATH_PARAMS 4

typedef struct Request {
        struct MHD_Connection *connection;
        HostState *state;
        RenderCache *cache;
        const char *method;  /* as received; HEAD is routed as GET */
        char *url;           /* the decoded path */
        bool is_head;
        char *allow;         /* for a 405: the methods the path accepts */

        char *body;          /* request body, NUL-terminated, capped */
        size_t body_size;
        bool body_too_large;

        char *param_names[MAX_PATH_PARAMS];  /* from the route pattern */
        char *param_values[MAX_PATH_PARAMS]; /* decoded path segments */
        size_t n_params;
} Request;

/* The decoded value of path parameter name ("address" in /v1/devices/{address}). */
const char *request_param(const Request *r, const char *name);

/* A query argument, or NULL. */
const char *request_query(const Request *r, const char *name);
