"""Liveness and readiness for process managers and tests."""

from __future__ import annotations

from fastapi import APIRouter

from tokentrail.web.dependencies import StoreDep

router = APIRouter()


@router.get("/healthz", name="healthz")
def healthz(store: StoreDep) -> dict:
    return {"status": "ok", "schema_version": store.schema_version()}
