"""What the authorization server's database-backed parts share: an engine the app's lifespan binds."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


class EngineBound:
    """Built at start-up without the database; the lifespan :meth:`bind` s the engine once it exists (and None
    at shutdown). ``what`` names the part in the error of a use outside the lifespan."""

    what = "this part"

    def __init__(self) -> None:
        self._engine: AsyncEngine | None = None

    def bind(self, engine: AsyncEngine | None) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError(f"{self.what} has no database engine (outside the application's lifespan)")
        return self._engine
