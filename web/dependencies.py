"""Shared dependencies of the routers: the store and the one templates object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from tokentrail.store import Store

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def get_store(request: Request) -> Store:
    """The app's store (set by :func:`tokentrail.web.app.create_app`)."""
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]
