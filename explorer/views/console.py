"""The admin console: GRANT / REVOKE / SHOW GRANTS / ALTER … OWNER TO statements typed in the browser and run
through the same executor (and services, and audit) as `POST /api/2.1/unity-catalog/statements`."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.views.common import ui_view
from registry.errors import RegistryError
from registry.permissions import is_admin
from registry.statements.executor import statement_execute

MAX_STATEMENT_LENGTH = 10_000
EXAMPLES = (
    "GRANT USE CATALOG ON CATALOG prod TO `ml-team`",
    "GRANT USE SCHEMA, CREATE MODEL ON SCHEMA prod.ml_team TO `ml-team`",
    "GRANT EXECUTE ON FUNCTION prod.ml_team.iris_model TO 'alice'",
    "SHOW GRANTS ON SCHEMA prod.ml_team",
    "ALTER REGISTERED MODEL prod.ml_team.iris_model OWNER TO `ml-team`",
)


@ui_view
def console(request: HttpRequest) -> HttpResponse:
    if not is_admin(request.user):
        raise Http404("No such page.")
    text, result, error = "", None, ""
    if request.method == "POST":
        text = request.POST.get("statement", "")
        if not text.strip():
            error = "Type a statement."
        elif len(text) > MAX_STATEMENT_LENGTH:
            error = f"A statement must be at most {MAX_STATEMENT_LENGTH} characters."
        else:
            try:
                result = statement_execute(actor=request.user, text=text)
                if "rows" in result:  # templates cannot index a dict by a variable: hand them lists
                    result["table"] = [[row.get(c, "") for c in result["columns"]] for row in result["rows"]]
            except RegistryError as exc:
                error = exc.message
    return render(request, "explorer/console.html", {
        "statement": text, "result": result, "error": error, "examples": EXAMPLES,
        "breadcrumbs": [("Admin console", reverse("explorer:console"))],
    }, status=400 if error else 200)
