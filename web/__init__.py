"""HTTP plumbing shared by the resources: request parsing, conditional requests, URL converters,
the web side of pagination, and the OpenAPI document."""
