"""Schemas for accounts: registration, login, profile changes, account recovery, and the user
object clients see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from core.roles import ADMIN, ROLES
from schemas.base import ObjectIdString, StrictSchema, Timestamp

USERNAME_RULE = validate.Regexp(
    r"^[A-Za-z0-9_.-]{3,32}$",
    error="3 to 32 characters of letters, digits, '_', '.' and '-'.",
)
EMAIL_RULES = [validate.Email(), validate.Length(max=254)]
PASSWORD_RULE = validate.Length(min=8, max=128)
NAME_RULE = validate.Length(max=100)
# Recovery tokens are 43 characters (32 random bytes, base64url); anything far longer is no token.
TOKEN_RULE = validate.Length(min=1, max=128)


def email_field(**options: Any) -> fields.String:
    """An email address as input: EMAIL_RULES, and `format: email` in the document, which says
    what they check (a String, not fields.Email: one rule, one message)."""
    return fields.String(validate=EMAIL_RULES, metadata={"format": "email"}, **options)


def mailed_token_field() -> fields.String:
    """The token of a mailed recovery link."""
    return fields.String(
        required=True, validate=TOKEN_RULE, metadata={"description": "From the mailed link"}
    )


class RegisterSchema(StrictSchema):
    username = fields.String(required=True, validate=USERNAME_RULE)
    email = email_field(required=True)
    password = fields.String(required=True, load_only=True, validate=PASSWORD_RULE)
    name = fields.String(load_default="", validate=NAME_RULE)


class LoginSchema(StrictSchema):
    """Only shapes are checked here: a login never tells which rule a wrong password broke."""

    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata={"description": "Username or email"},
    )
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=128)
    )


class UserUpdateSchema(StrictSchema):
    name = fields.String(validate=NAME_RULE)
    email = email_field()
    password = fields.String(load_only=True, validate=PASSWORD_RULE)
    current_password = fields.String(load_only=True, validate=validate.Length(min=1, max=128))
    role = fields.String(validate=validate.OneOf(ROLES))


class ForgotPasswordSchema(StrictSchema):
    email = email_field(required=True)


class ResetPasswordSchema(StrictSchema):
    token = mailed_token_field()
    password = fields.String(required=True, load_only=True, validate=PASSWORD_RULE)


class VerifyEmailSchema(StrictSchema):
    token = mailed_token_field()


class AcceptedSchema(Schema):
    message = fields.String(required=True)


class UserSchema(Schema):
    id = ObjectIdString(attribute="_id", dump_only=True)
    username = fields.String()
    email = fields.String(metadata={"description": "Shown to admins and to the user themself"})
    email_verified = fields.Boolean(
        dump_default=True,
        metadata={
            "description": "Whether a mailed link proved the address (admins and the user "
            "themself); accounts made before verification existed count as verified"
        },
    )
    name = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    created = Timestamp()
    updated = Timestamp()


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Access token lifetime in seconds"})


user_schema = UserSchema()


def render_user(user: Mapping[str, Any], viewer: Mapping[str, Any]) -> dict[str, Any]:
    """The user object as `viewer` (the caller's token claims) may see it.

    Other users' email addresses (and whether they are verified) are shown only to admins.
    """
    body = user_schema.dump(user)
    if viewer.get("role") != ADMIN and viewer.get("sub") != body["id"]:
        body.pop("email", None)
        body.pop("email_verified", None)
    return body
