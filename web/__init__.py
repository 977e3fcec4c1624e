"""HTTP plumbing shared by the resources: request parsing, conditional requests, URL converters,
the web side of pagination, and the OpenAPI document."""

# Where the API's resources are mounted (resources/__init__.py) and documented (openapi.py).
API_PREFIX = "/api/v1"
