"""The web UI application (FastAPI + Jinja2): thin routers over the store."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import tokentrail
from tokentrail.store import Store
from tokentrail.web import errors, formatting
from tokentrail.web.dependencies import HERE, templates
from tokentrail.web.routers import call_page, fleet, health, insights, run_page, runs
from tokentrail.web.security import TokenMiddleware


def create_app(store: Store, *, token: str | None = None) -> FastAPI:
    app = FastAPI(title="tokentrail", version=tokentrail.__version__, docs_url="/api/docs",
                  redoc_url=None, openapi_url="/api/openapi.json")
    app.state.store = store
    formatting.register(templates.env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(runs.router)
    app.include_router(run_page.router)
    app.include_router(call_page.router)
    app.include_router(fleet.router)
    app.include_router(insights.router)
    app.include_router(health.router)
    errors.install(app)
    if token:
        app.add_middleware(TokenMiddleware, token=token)
    return app
