"""The budgets' forms: add, delete (after a ticked confirmation) and "send a test", in
Settings (``/settings/budgets…``, your own budgets) and on a team's page
(``/teams/{slug}/budgets…``, its owner and admins). Each answers with the page again: the
form's error by its field (4xx, nothing stored), or what was done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from sqlalchemy.orm import Session

from promptpulse_server import api, budgets_api, queries, team_pages, web
from promptpulse_server.api import DB, Now, RowId
from promptpulse_server.budget_forms import BudgetForm, DeleteBudgetForm, FormError, add
from promptpulse_server.models import Budget, User
from promptpulse_server.web import Viewer

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
CONFIRM = "Tick the box to confirm the deletion."


def _own(db: Session, budget_id: int, viewer: User) -> Budget:
    budget = queries.alerts.budget_by_id(db, budget_id)
    if budget is None or budget.user_id != viewer.id:
        raise NotFoundException(f"no budget {budget_id}")
    return budget


def _of_team(db: Session, budget_id: int, team_id: int) -> Budget:
    budget = queries.alerts.budget_by_id(db, budget_id)
    if budget is None or budget.team_id != team_id:
        raise NotFoundException(f"no budget {budget_id} in this team")
    return budget


def _tested(db: Session, budget: Budget, viewer: User, now: Any, state: State) -> str:
    sent = budgets_api.send_test(db, budget, viewer, now, state)
    if sent.status == "ok":
        return "Test sent."
    return f"The test failed: {sent.error}"


def again(
    request: Request[Any, Any, Any], db: Session, viewer: User, slug: str | None, **context: Any
) -> Response[Any]:
    """The page the form was on, again: Settings (no ``slug``) or the team's page."""
    if slug is None:
        return web._settings(request, db, viewer, **context)
    now = api.clock_now(request.app.state)
    return team_pages._team(request, db, viewer, now, slug, **context)


def added(
    request: Request[Any, Any, Any],
    db: Session,
    viewer: User,
    slug: str | None,
    what: str,
    form: Any,
    add: Callable[[], object],
) -> Response[Any]:
    """The page after ``add`` (a budget or a digest, ``what``): saying so, or with the form's
    error by its field and the form as it was sent (400, nothing stored)."""
    try:
        add()
    except FormError as exc:
        error = {f"{what}_error": exc.message, f"{what}_field": exc.field, f"{what}_form": form}
        return again(request, db, viewer, slug, status=400, **error)
    return again(request, db, viewer, slug, message=f"{what.capitalize()} added.")


def deleted(
    request: Request[Any, Any, Any],
    db: Session,
    viewer: User,
    slug: str | None,
    what: str,
    form: DeleteBudgetForm,
    delete: Callable[[], object],
) -> Response[Any]:
    """The page after ``delete``, which runs only with the box ticked (else 400)."""
    if not form.confirm:
        return again(request, db, viewer, slug, status=400, **{f"{what}_error": CONFIRM})
    delete()
    return again(request, db, viewer, slug, message=f"{what.capitalize()} deleted.")


def _delete_budget(db: Session, budget: Budget) -> None:
    queries.alerts.delete_budget(db, budget)
    db.commit()


# --- Settings: your own budgets ------------------------------------------------------------------


@post("/settings/budgets", sync_to_thread=True, include_in_schema=False)
def add_budget(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    data: Annotated[BudgetForm, Form],
) -> Response[Any]:
    return added(
        request, db, viewer, None, "budget", data, lambda: add(db, viewer, data, None, state, now)
    )


@post("/settings/budgets/{budget_id:int}/delete", sync_to_thread=True, include_in_schema=False)
def delete_budget(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    budget_id: RowId,
    data: Annotated[DeleteBudgetForm, Form],
) -> Response[Any]:
    budget = _own(db, budget_id, viewer)
    return deleted(request, db, viewer, None, "budget", data, lambda: _delete_budget(db, budget))


@post("/settings/budgets/{budget_id:int}/test", sync_to_thread=True, include_in_schema=False)
def test_budget(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    budget_id: RowId,
) -> Response[Any]:
    message = _tested(db, _own(db, budget_id, viewer), viewer, now, state)
    return web._settings(request, db, viewer, message=message)


# --- a team's budgets ----------------------------------------------------------------------------


@post("/teams/{slug:str}/budgets", sync_to_thread=True, include_in_schema=False)
def add_team_budget(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    slug: FromPath[str],
    data: Annotated[BudgetForm, Form],
) -> Response[Any]:
    team, _ = team_pages._team_by_slug(db, slug, viewer, "manager")
    return added(
        request,
        db,
        viewer,
        slug,
        "budget",
        data,
        lambda: add(db, viewer, data, team.id, state, now),
    )


@post(
    "/teams/{slug:str}/budgets/{budget_id:int}/delete", sync_to_thread=True, include_in_schema=False
)
def delete_team_budget(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    slug: FromPath[str],
    budget_id: RowId,
    data: Annotated[DeleteBudgetForm, Form],
) -> Response[Any]:
    team, _ = team_pages._team_by_slug(db, slug, viewer, "manager")
    budget = _of_team(db, budget_id, team.id)
    return deleted(request, db, viewer, slug, "budget", data, lambda: _delete_budget(db, budget))


@post(
    "/teams/{slug:str}/budgets/{budget_id:int}/test", sync_to_thread=True, include_in_schema=False
)
def test_team_budget(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    slug: FromPath[str],
    budget_id: RowId,
) -> Response[Any]:
    team, _ = team_pages._team_by_slug(db, slug, viewer, "manager")
    message = _tested(db, _of_team(db, budget_id, team.id), viewer, now, state)
    return team_pages._team(request, db, viewer, now, slug, message=message)


router = Router(
    path="/",
    route_handlers=[
        add_budget,
        delete_budget,
        test_budget,
        add_team_budget,
        delete_team_budget,
        test_team_budget,
    ],
    dependencies=web.router.dependencies,
)
