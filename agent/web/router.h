/* The route table: method, path pattern, handler, the query parameters the
 * route accepts. "{name}" in a pattern captures one decoded path segment.
 * A known path with another method is 405 with Allow; an unknown one 404. */
#pragma once

#include <stddef.h>

#include "request.h"

typedef enum MHD_Result (*RouteHandler)(Request *r);

typedef struct Route Route;
struct Route {
        const char *method;
        const char *pattern;
        RouteHandler handler;
        const char *const *query; /* accepted query parameters, NULL-terminated; NULL: none */
        Role role;                /* the least role allowed; ROLE_NONE (not declared) means admin */
        bool event_stream;        /* serves text/event-stream, not JSON */
        bool text_plain;          /* serves text/plain (the metrics), not JSON */
};

typedef enum RouteResult {
        ROUTE_FOUND,
        ROUTE_WRONG_METHOD,
        ROUTE_NOT_FOUND,
} RouteResult;

/* Matches method and path. On ROUTE_FOUND, *ret is the route and the path
 * parameters are stored in r; on ROUTE_WRONG_METHOD, *ret_allow lists the
 * methods the path accepts ("GET, HEAD"). HEAD matches GET routes. */
RouteResult router_match(const Route *routes, size_t n_routes, const char *method, const char *path,
                         Request *r, const Route **ret, char **ret_allow);

extern const Route routes[];
extern const size_t n_routes;
