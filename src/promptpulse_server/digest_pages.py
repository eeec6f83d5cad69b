"""The digests' forms: add and delete (after a ticked confirmation), in Settings
(``/settings/digests…``, your own digests) and on a team's page (``/teams/{slug}/digests…``,
its owner and admins). The form goes through the API's schema and rules (``digests``), so a
bad value gets the API's message, by its field (400, nothing stored); each answers with the
page again."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.params import FromPath

from promptpulse_server import digests, team_pages, web
from promptpulse_server.api import DB, Now, RowId
from promptpulse_server.budget_forms import DeleteBudgetForm, DigestForm, add_digest
from promptpulse_server.budget_pages import Form, added, deleted
from promptpulse_server.web import Viewer


@post("/settings/digests", sync_to_thread=True, include_in_schema=False)
def add(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    data: Annotated[DigestForm, Form],
) -> Response[Any]:
    return added(
        request,
        db,
        viewer,
        None,
        "digest",
        data,
        lambda: add_digest(db, viewer, data, None, state, now),
    )


@post("/settings/digests/{digest_id:int}/delete", sync_to_thread=True, include_in_schema=False)
def delete(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    digest_id: RowId,
    data: Annotated[DeleteBudgetForm, Form],
) -> Response[Any]:
    digest = digests.deletable(db, digest_id, viewer)
    if digest.user_id != viewer.id:  # a team's: on the team's page
        from litestar.exceptions import NotFoundException

        raise NotFoundException(f"no digest {digest_id}")
    return deleted(request, db, viewer, None, "digest", data, lambda: digests.remove(db, digest))


@post("/teams/{slug:str}/digests", sync_to_thread=True, include_in_schema=False)
def add_team(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    slug: FromPath[str],
    data: Annotated[DigestForm, Form],
) -> Response[Any]:
    team, _ = team_pages._team_by_slug(db, slug, viewer, "manager")
    return added(
        request,
        db,
        viewer,
        slug,
        "digest",
        data,
        lambda: add_digest(db, viewer, data, team.id, state, now),
    )


@post(
    "/teams/{slug:str}/digests/{digest_id:int}/delete", sync_to_thread=True, include_in_schema=False
)
def delete_team(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    slug: FromPath[str],
    digest_id: RowId,
    data: Annotated[DeleteBudgetForm, Form],
) -> Response[Any]:
    team, _ = team_pages._team_by_slug(db, slug, viewer, "manager")
    digest = digests.deletable(db, digest_id, viewer, team.id)
    return deleted(request, db, viewer, slug, "digest", data, lambda: digests.remove(db, digest))


router = Router(
    path="/",
    route_handlers=[add, delete, add_team, delete_team],
    dependencies=web.router.dependencies,
)
