"""The digests' forms: add and delete (after a ticked confirmation), in Settings
(``/settings/digests…``, your own digests) and on a team's page (``/teams/{slug}/digests…``,
its owner and admins). The form goes through the API's schema and rules (``digests``), so a
bad value gets the API's message, by its field (400, nothing stored); each answers with the
page again."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from promptpulse_server import digests, team_pages, web
from promptpulse_server.api import DB, Now, RowId
from promptpulse_server.budget_forms import DeleteBudgetForm, DigestForm, FormError, add_digest
from promptpulse_server.web import Viewer

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
CONFIRM = "Tick the box to confirm the deletion."


@post("/settings/digests", sync_to_thread=True, include_in_schema=False)
def add(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    state: State,
    data: Annotated[DigestForm, Form],
) -> Response[Any]:
    try:
        add_digest(db, viewer, data, None, state, now)
    except FormError as exc:
        return web._settings(
            request,
            db,
            viewer,
            status=400,
            digest_error=exc.message,
            digest_field=exc.field,
            digest_form=data,
        )
    return web._settings(request, db, viewer, message="Digest added.")


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
    if not data.confirm:
        return web._settings(request, db, viewer, status=400, digest_error=CONFIRM)
    digests.remove(db, digest)
    return web._settings(request, db, viewer, message="Digest deleted.")


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
    try:
        add_digest(db, viewer, data, team.id, state, now)
    except FormError as exc:
        return team_pages._team(
            request,
            db,
            viewer,
            now,
            slug,
            status=400,
            digest_error=exc.message,
            digest_field=exc.field,
            digest_form=data,
        )
    return team_pages._team(request, db, viewer, now, slug, message="Digest added.")


@post(
    "/teams/{slug:str}/digests/{digest_id:int}/delete", sync_to_thread=True, include_in_schema=False
)
def delete_team(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    slug: FromPath[str],
    digest_id: RowId,
    data: Annotated[DeleteBudgetForm, Form],
) -> Response[Any]:
    team, _ = team_pages._team_by_slug(db, slug, viewer, "manager")
    digest = digests.deletable(db, digest_id, viewer, team.id)
    if not data.confirm:
        return team_pages._team(request, db, viewer, now, slug, status=400, digest_error=CONFIRM)
    digests.remove(db, digest)
    return team_pages._team(request, db, viewer, now, slug, message="Digest deleted.")


router = Router(
    path="/",
    route_handlers=[add, delete, add_team, delete_team],
    dependencies=web.router.dependencies,
)
