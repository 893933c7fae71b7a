/* Rendered bodies of the unfiltered, most polled resources, kept until the
 * inventory's generation changes: a manager polling every host every few
 * seconds costs one hash lookup, not a JSON rendering. */
#pragma once

#include <stdint.h>

#include "reply.h"

typedef struct RenderCache RenderCache;

RenderCache *render_cache_new(void);
RenderCache *render_cache_free(RenderCache *c);

/* The cached body for key at this generation (borrowed), or NULL. */
RenderedBody *render_cache_get(RenderCache *c, const char *key, uint64_t generation);

/* The size of key's body of any generation (the next one is likely
 * close), 0 if none is kept. */
size_t render_cache_size_hint(RenderCache *c, const char *key);

/* Stores a reference to body; -ENOMEM leaves the cache as it was. */
int render_cache_put(RenderCache *c, const char *key, uint64_t generation, RenderedBody *body);
