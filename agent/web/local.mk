# The HTTP layer: server, routes, problem+json, JSON views of the host model.
noinst_LIBRARIES += libweb.a
libweb_a_SOURCES =
