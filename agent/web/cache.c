/* Render cache: see cache.h. A handful of fixed keys (the list resources),
 * so a small array searched linearly; entries of older generations are
 * replaced in place. */
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "cache.h"

#define CACHE_SLOTS 8

typedef struct Entry {
        char *key;
        uint64_t generation;
        RenderedBody *body;
} Entry;

struct RenderCache {
        Entry slots[CACHE_SLOTS];
        size_t next; /* round-robin victim when full */
};

RenderCache *render_cache_new(void) {
        return calloc(1, sizeof(RenderCache));
}

RenderCache *render_cache_free(RenderCache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < CACHE_SLOTS; i++) {
                free(c->slots[i].key);
                rendered_body_unref(c->slots[i].body);
        }
        free(c);
        return NULL;
}

RenderedBody *render_cache_get(RenderCache *c, const char *key, uint64_t generation) {
        for (size_t i = 0; i < CACHE_SLOTS; i++)
                if (c->slots[i].key && streq(c->slots[i].key, key) && c->slots[i].generation == generation)
                        return c->slots[i].body;
        return NULL;
}

size_t render_cache_size_hint(RenderCache *c, const char *key) {
        for (size_t i = 0; i < CACHE_SLOTS; i++)
                if (c->slots[i].key && streq(c->slots[i].key, key))
                        return c->slots[i].body->rep[ENCODING_IDENTITY].size;
        return 0;
}

int render_cache_put(RenderCache *c, const char *key, uint64_t generation, RenderedBody *body) {
        Entry *e = NULL;
        char *k;

        for (size_t i = 0; i < CACHE_SLOTS && !e; i++)
                if (c->slots[i].key && streq(c->slots[i].key, key))
                        e = &c->slots[i];
        for (size_t i = 0; i < CACHE_SLOTS && !e; i++)
                if (!c->slots[i].key)
                        e = &c->slots[i];
        if (!e) {
                e = &c->slots[c->next];
                c->next = (c->next + 1) % CACHE_SLOTS;
        }
        k = strdup(key);
        if (!k)
                return -ENOMEM;
        free(e->key);
        rendered_body_unref(e->body);
        *e = (Entry) { .key = k, .generation = generation, .body = rendered_body_ref(body) };
        return 0;
}
