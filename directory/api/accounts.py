"""/api/v1/accounts (administrators) and /api/v1/me."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from directory import accounts
from directory.api.auth import require_account, require_admin
from directory.api.common import Blueprint, json_response, per_page
from directory.api.schemas import AccountChanges, AccountIn, AccountOut, AccountPage, PageArgs

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and tokens")


@blp.route("/accounts")
class AccountList(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, AccountPage)
    def get(self, args: dict[str, Any]) -> Response:
        """Accounts in the order they were made, a page at a time (administrators)"""
        require_admin()
        return json_response(accounts.list_accounts(args["page"], per_page(args["per_page"])).as_dict())

    @blp.arguments(AccountIn)
    @blp.response(201, AccountOut)
    def post(self, body: dict[str, Any]) -> Response:
        """Create an account; its token is in the answer, once (administrators)"""
        new = accounts.create(body["name"], body["role"], body["organisations"], require_admin(),
                              email=body["email"])
        return json_response({"id": new.account_id, "name": new.name, "role": new.role,
                              "disabled": False, "email": new.email, "organisations": body["organisations"],
                              "token": new.token}, 201)


@blp.route("/accounts/<int:account_id>")
class AccountItem(MethodView):
    @blp.arguments(AccountChanges)
    @blp.response(200, AccountOut)
    def patch(self, body: dict[str, Any], account_id: int) -> Response:
        """Disable or enable an account (administrators): disabled, its tokens and sessions stop at once"""
        accounts.set_disabled(account_id, body["disabled"], require_admin())
        return json_response(accounts.describe(account_id))


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, AccountOut)
    def get(self) -> Response:
        """The calling account"""
        actor = require_account()
        return json_response({"id": actor.account_id, "name": actor.name, "role": actor.role,
                              "disabled": False, "organisations": sorted(actor.organisations)})
