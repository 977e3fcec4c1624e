"""marshmallow schemas: the single source of input validation, output shape and OpenAPI docs."""
