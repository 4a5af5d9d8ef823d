"""Schemathesis hooks for .ci/schemathesis.sh.

Keeps the account the run signs in with usable: a generated PUT /v1/users/{user_id} aimed at
that very account (its id comes from the script's login, in ST_ADMIN_ID) that would change how
it signs in (password set or cleared, email changed) or whose body is not an object (serde maps a
JSON array onto the fields by position) is not sent. Without this one such request makes every
later re-login fail and the rest of the run answers 401. Every other case goes out unchanged.
"""

import os

import schemathesis

SELF_ID = os.environ.get("ST_ADMIN_ID", "")
SIGN_IN_FIELDS = {"password", "email"}


@schemathesis.hook
def filter_case(context, case):
    if not SELF_ID or case.operation.label != "PUT /v1/users/{user_id}":
        return True
    if str((case.path_parameters or {}).get("user_id")) != SELF_ID:
        return True
    body = case.body
    if not isinstance(body, dict):
        return False
    return not (SIGN_IN_FIELDS & body.keys())
