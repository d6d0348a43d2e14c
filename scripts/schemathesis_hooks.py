"""schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

1. Authentication: every request carries a fresh administrator token. The token is fetched
   by logging in "from" another client address (X-Forwarded-For, the test server trusts
   127.0.0.1 as a proxy), so the lock-out that schemathesis' own random logins and wrong
   current passwords earn the test client (127.0.0.1) never refuses the administrator's
   login. A 401 (a generated `POST /auth/logout` ended the session) fetches a new token.

2. The administrator is not taken away from the run: generated requests that would delete
   the administrator or revoke their role are not sent.

3. Rules the OpenAPI document cannot state: they depend on stored state or on several
   fields together, and each is stated in its operation's description instead. A 400
   answer naming exactly one of these field/message pairs is not a "schema-valid request
   rejected" failure. Any other 400 to a schema-valid request still fails the run.
"""

import json
import os
import re
import urllib.request

import schemathesis

BASE_URL = os.environ["CYBERHUB_ST_URL"]
ADMIN_EMAIL = os.environ["CYBERHUB_ST_ADMIN_EMAIL"]
ADMIN_PASSWORD = os.environ["CYBERHUB_ST_ADMIN_PASSWORD"]
# TEST-NET-1: an address no generated request uses.
ADMIN_CLIENT = "192.0.2.10"


def _login():
    req = urllib.request.Request(
        BASE_URL + "/api/v1/auth/login",
        data=json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode(),
        headers={"content-type": "application/json", "x-forwarded-for": ADMIN_CLIENT},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.load(resp)
    return body["access_token"], body["user"]["id"]


_, ADMIN_ID = _login()


@schemathesis.auth()
class AdminToken:
    def get(self, case, context):
        return _login()[0]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def filter_case(context, case):
    op = context.operation
    if op is None or not op.path.startswith("/users/{id}"):
        return True
    if str((case.path_parameters or {}).get("id")) != ADMIN_ID:
        return True
    # DELETE /users/{id}, DELETE /users/{id}/roles/{role} (suspending oneself is refused).
    return op.method.upper() != "DELETE"


# (operationIds, field, message): 400 answers to rules the document cannot state. `field` is
# the one field error's name, or None for an answer without field errors (then `message` is
# matched against `detail`); `message` is a regular expression matched in full.
PASSWORD_CHECKS = ("change_password", "change_email", "delete_account")
PROGRESS_WRITES = ("create_progress", "update_progress")
ROLE_ROUTES = ("grant_role", "revoke_role")
UNSTATED_RULES = [
    # Only the account's owner knows the password; a generated one is always wrong.
    (PASSWORD_CHECKS, "current_password", r"The current password is not correct\."),
    # A list of well-known passwords, not a pattern.
    (("signup", "create_user"), "password", r"This password is too common\."),
    (("change_password",), "new_password", r"This password is too common\."),
    # A few words are not slugs (the document's pattern admits them).
    (("create_organization",), "slug", r"This slug is reserved\."),
    # Progress is for catalog items, of their own type: the catalog is data.
    (("create_progress",), "content_id", r"No catalog item has this content_id \(GET /api/v1/content lists them\)\."),
    (("create_progress",), "content_type", r"The catalog item \S+ is an? \w+\."),
    # Status and percentage together (and the row's stored percentage).
    (PROGRESS_WRITES, "completion_percentage", r"A completed item is at 100%\."),
    (PROGRESS_WRITES, "completion_percentage", r"An item that is not started is at 0%\."),
    (PROGRESS_WRITES, "completion_percentage", r"100% means completed: set status to completed, or give a percentage below 100\."),
    # `scope` and `scope_ref` together.
    (ROLE_ROUTES, "scope_ref", r"Only org-scoped grants take a scope_ref\."),
    (ROLE_ROUTES, "scope_ref", r"An org-scoped grant needs the organization's slug or id\."),
    # Free-form JSON (progress metadata; the fields a user PATCH refuses with 403): OpenAPI
    # 3.0 cannot keep NUL out of an object's keys (the descriptions say so; every other
    # string in a request has a pattern that does).
    (PROGRESS_WRITES + ("update_user",), None, r"Invalid input: NUL characters are not allowed in the request body\."),
    # Each question answered at most once (`uniqueItems` compares whole answers).
    (("analyze_personality",), None, r"question '\w+' is answered more than once"),
]


def _unstated(operation_id, response):
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return False
    if not isinstance(body, dict):
        return False
    errors = body.get("errors")
    if isinstance(errors, list) and len(errors) == 1 and isinstance(errors[0], dict):
        field, message = errors[0].get("field"), errors[0].get("message")
    elif errors is None:
        field, message = None, body.get("detail")
    else:
        return False
    return any(
        operation_id in ops and field == f and isinstance(message, str) and re.fullmatch(m, message)
        for ops, f, m in UNSTATED_RULES
    )


# (operationId, detail): a 404 for a resource the request's body or query names, not the one
# in its path. The stateful phase reads any 404 after a create as "the created resource is
# gone" (ST302); these say which other resource is missing.
OTHER_RESOURCE_404 = [
    ("add_member", "user not found"),
    ("grant_role", "organization not found"),
    ("revoke_role", "organization not found"),
]


def _detail(response):
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return None
    return body.get("detail") if isinstance(body, dict) else None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if context.operation is None:
        return True
    operation_id = context.operation.definition.raw.get("operationId")
    if failure.code == "ST302" and response.status_code == 404:
        return (operation_id, _detail(response)) not in OTHER_RESOURCE_404
    if failure.code != "ST202" or response.status_code != 400:
        return True
    return not _unstated(operation_id, response)
