"""The engines name the service's tables without importing its models: their copy must match them."""

from __future__ import annotations

import pytest
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, TypeDecorator
from sqlmodel import SQLModel

import service.models  # noqa: F401  (the tables, on SQLModel.metadata)
from importer.pipeline import ImportTables
from segments import tables

KINDS = (Integer, String, Boolean, DateTime, JSON)


def _kind(column_type: object) -> type:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    return next(kind for kind in KINDS if isinstance(column_type, kind))


@pytest.mark.parametrize("copy", [tables.contacts, tables.external_ids, tables.links, tables.dedup_merges,
                                  tables.dedup_survivors], ids=lambda t: t.name)
def test_each_column_the_segment_engine_names_is_in_the_models_with_its_type(copy):
    model = SQLModel.metadata.tables[copy.name]
    for column in copy.columns:
        assert column.name in model.columns, f"{copy.name}.{column.name} is not in the models"
        assert _kind(column.type) is _kind(model.columns[column.name].type), f"{copy.name}.{column.name}"


def test_the_tables_the_importer_writes_are_the_models_tables():
    names = ImportTables()
    for name in (names.accounts, names.contacts, names.external_ids, names.rejections):
        assert name in SQLModel.metadata.tables
