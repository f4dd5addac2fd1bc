"""Base model bound to the process-wide database proxy."""

from __future__ import annotations

import peewee

from directory.db import database


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False
