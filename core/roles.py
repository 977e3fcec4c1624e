"""The roles a user can have: `user`, or `admin` (may change and delete any account)."""

ROLES = ("user", "admin")
DEFAULT_ROLE = "user"
ADMIN = "admin"
