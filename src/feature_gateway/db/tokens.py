"""The API token table and its repository. Only hashes are stored, never a token."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import JSON, BigInteger, Index, Row, String, Text, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from feature_gateway.db.base import Base
from feature_gateway.db.models import ACTOR

ROLE_SEPARATOR = ","


class ApiToken(Base):
    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))  # SHA-256, hex
    principal: Mapped[str] = mapped_column(ACTOR)
    # Role names joined by commas, in a fixed order: a token carries one to four of them.
    role_names: Mapped[str] = mapped_column("roles", String(255))
    # The teams the token's holder belongs to (SPEC §12): what ownership reads.
    groups: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    description: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(ACTOR)
    expires_time: Mapped[int | None] = mapped_column(BigInteger)
    last_used_time: Mapped[int | None] = mapped_column(BigInteger)
    revoked_time: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_api_tokens_created_time", "created_time"),)

    @property
    def roles(self) -> list[str]:
        return self.role_names.split(ROLE_SEPARATOR)

    @roles.setter
    def roles(self, names: Sequence[str]) -> None:
        self.role_names = ROLE_SEPARATOR.join(names)


_CREDENTIALS = select(
    ApiToken.token_hash,
    ApiToken.principal,
    ApiToken.role_names,
    ApiToken.groups,
    ApiToken.expires_time,
    ApiToken.last_used_time,
    ApiToken.revoked_time,
)


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, token_id: str) -> ApiToken | None:
        return self.session.get(ApiToken, token_id)

    def credentials(
        self, token_id: str
    ) -> Row[tuple[str, str, str, list[str], int | None, int | None, int | None]] | None:
        """What authenticating a request needs, as a plain row: the per-request lookup.

        One primary-key read without ORM identity tracking, which cost more than the query.
        """
        return self.session.execute(
            _CREDENTIALS.where(ApiToken.token_id == token_id)
        ).one_or_none()

    def add(self, token: ApiToken) -> None:
        self.session.add(token)

    def all_by_creation(self) -> Sequence[ApiToken]:
        return self.session.scalars(
            select(ApiToken).order_by(ApiToken.created_time, ApiToken.token_id)
        ).all()

    def mark_used(self, token_id: str, now: int, not_since: int) -> None:
        """Set last_used_time unless another request already did after ``not_since``.

        A conditional UPDATE: of several workers refreshing one token at once, one writes.
        """
        self.session.execute(
            update(ApiToken)
            .where(ApiToken.token_id == token_id)
            .where((ApiToken.last_used_time.is_(None)) | (ApiToken.last_used_time <= not_since))
            .values(last_used_time=now)
        )
