"""The HTTP layer: routes, authentication, response formats and error mapping."""
