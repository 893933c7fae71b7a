/* One HTTP request as the handlers see it: method, path, decoded path
 * parameters, the body, and the reply being built. Allocated on the first
 * access-handler call, freed in the completion callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "auth.h"
#include "context.h"
#include "host/host-state.h"

typedef struct RenderCache RenderCache;
typedef struct EventStreams EventStreams;

struct Request;

/* Runs once the reply has been sent (or the connection is gone). */
typedef void (*RequestAfter)(struct Request *r, void *userdata);

#define MAX_PATH_PARAMS 4

typedef struct Request {
        struct MHD_Connection *connection;
        AgentContext *ctx;
        HostState *state;    /* ctx->host */
        RenderCache *cache;
        EventStreams *streams; /* GET /v1/events */
        const char *method;  /* as received; HEAD is routed as GET */
        char *url;           /* the decoded path */
        bool is_head;
        bool pretty;         /* ?pretty=true: indented JSON, for people */
        char *allow;         /* for a 405: the methods the path accepts */
        char *location;      /* for a 201/202: the Location of what was made */

        char *body;          /* request body, NUL-terminated, capped */
        size_t body_size;
        bool body_too_large;

        char *param_names[MAX_PATH_PARAMS];  /* from the route pattern */
        char *param_values[MAX_PATH_PARAMS]; /* decoded path segments */
        size_t n_params;

        unsigned status;     /* of the reply queued, 0 before */
        const struct Route *route; /* once matched */
        uint64_t start_usec; /* CLOCK_MONOTONIC of its arrival */
        Role role;           /* the caller's, once authenticated */
        char *who;           /* the token's name or the certificate's subject */

        RequestAfter after;
        void *after_userdata;
} Request;

/* What authenticated the request, as auth_credential_valid() checks it
 * again later: "token:<sha256 hex>" for a bearer token, else
 * "subject:<DN>" for a client certificate alone. -ENOMEM. */
int request_credential(const Request *r, char **ret);

/* Parses the body as a JSON object, allowing only the given fields
 * (NULL-terminated); an empty body is {}. On error queues the 400 and
 * returns false with *ret_mhd set. */
bool request_json_body(Request *r, const char *const *fields, json_object **ret, enum MHD_Result *ret_mhd);

/* The decoded value of path parameter name ("address" in /v1/devices/{address}). */
const char *request_param(const Request *r, const char *name);

/* A query argument, or NULL. */
const char *request_query(const Request *r, const char *name);
