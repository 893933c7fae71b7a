# The API contract, served by the agent at /v1/openapi.json.
dist_noinst_DATA += api/openapi.json api/README.md
