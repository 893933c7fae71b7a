/* The contract as a test oracle: checks a JSON value against a schema of
 * api/openapi.json (the copy built into the agent), for the keywords that
 * document uses (type, const, enum, properties, required,
 * additionalProperties, items, min/maxItems, min/maxLength, minimum,
 * maximum, maxProperties, pattern, $ref, allOf, anyOf, oneOf, if/then/else). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* The schema at a local reference ("#/components/schemas/Problem"), or
 * NULL; borrowed from the document, which is parsed once. */
json_object *schema_get(const char *ref);

/* Whether v (NULL is JSON null) is valid; when not, why (a short sentence
 * with the JSON pointer of the offending value) in why. */
bool schema_valid(json_object *schema, json_object *v, char *why, size_t why_size);
