"""Who is acting: an account, the node itself (sync, federation, scheduler) or an anonymous visitor.

Authorisation questions are answered here, once, so API views and web pages ask the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "publisher", "reader")


@dataclass(frozen=True)
class Actor:
    kind: str  # anonymous | account | system
    name: str
    role: str  # anonymous | reader | publisher | admin | system
    account_id: int | None = None
    organisations: frozenset[str] = field(default_factory=frozenset)
    client: str | None = None  # remote address, for rate limits; never logged with content

    @classmethod
    def anonymous(cls, client: str | None = None) -> Actor:
        return cls("anonymous", "anonymous", "anonymous", client=client)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name, "system")

    @property
    def label(self) -> str:
        """How the actor appears in history and audit: a role and an account id, not a person's name."""
        if self.kind == "account":
            return f"account:{self.account_id}"
        return f"{self.kind}:{self.name}"

    @property
    def is_admin(self) -> bool:
        return self.role in {"admin", "system"}

    @property
    def can_read_restricted(self) -> bool:
        return self.role in {"reader", "publisher", "admin", "system"}

    def can_edit(self, entry_id: str) -> bool:
        return self.is_admin or (self.role == "publisher" and entry_id in self.organisations)
