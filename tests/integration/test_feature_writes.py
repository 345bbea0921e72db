"""A feature's row written by Core statements (``db.feature_writes``), as the ORM's flush
wrote it: a new row at revision 1 with its tags indexed, a change as one UPDATE checked
against the revision loaded, and the object left clean in the session either way."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from feature_gateway.db.catalog_models import FeatureTag
from feature_gateway.db.models import FEATURES_TABLE, field_values
from feature_gateway.db.recording import Acting
from feature_gateway.domain.lifecycle import Write
from feature_gateway.errors import ConcurrentModificationError, FeatureAlreadyExistsError
from feature_gateway.services.rows import new_draft
from tests.conftest import SEED_FEATURE

ACTING = Acting("ann", "developer", 5)


def _add(uow, name: str, **fields):
    values = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"} | fields
    draft = new_draft({**values, "feature_name": name}, created_by="ann", now=5)
    return uow.record.add_feature(draft, Write.CREATE, ACTING)


def _stored(database, name: str, **fields) -> None:
    """A feature ``_add`` makes, committed in a unit of work of its own."""
    with database.writing() as uow:
        _add(uow, name, **fields)
        uow.commit()


def _tags(uow, feature_id: int) -> dict[str, str]:
    rows = uow.session.execute(
        select(FeatureTag.key, FeatureTag.value).where(FeatureTag.feature_id == feature_id)
    )
    return dict(rows.tuples().all())


def test_a_new_row_is_at_revision_one_with_its_tags_indexed_and_clean(database):
    with database.writing() as uow:
        feature = _add(uow, "view:written_a:1", tags={"team": "risk"})
        state = inspect(feature)
        assert state.persistent and not state.modified
        assert uow.features.get("view:written_a:1") is feature  # the identity map's
        uow.commit()
    with database.reading() as uow:
        row = uow.session.execute(
            select(FEATURES_TABLE).where(FEATURES_TABLE.c.id == feature.id)
        ).one()
        assert (row.revision, row.approved_by, row.canonical_name) == (1, None, "view:written_a:1")
        assert _tags(uow, feature.id) == {"team": "risk"}


def test_a_change_is_one_update_at_the_next_revision_with_its_tags_reindexed(database):
    with database.writing() as uow:
        feature = _add(uow, "view:written_b:1", tags={"team": "risk"})
        uow.commit()
    for revision, tags in ((2, {"team": "fraud"}), (3, {"team": "fraud", "tier": "1"})):
        with database.writing() as uow:
            feature = uow.features.get("view:written_b:1")
            uow.record.change(feature, Write.UPDATE, ACTING, {"tags": tags})
            uow.commit()
            assert (feature.revision, inspect(feature).modified) == (revision, False)
            assert _tags(uow, feature.id) == tags


def test_setting_the_values_it_has_writes_nothing(database):
    with database.writing() as uow:
        feature = _add(uow, "view:written_c:1")
        uow.commit()
    with database.writing() as uow:
        feature = uow.features.get("view:written_c:1")
        feature.description = str(feature.description)
        uow.commit()
        assert feature.revision == 1


def test_a_row_another_writer_changed_since_it_was_loaded_is_a_409(database):
    _stored(database, "view:written_d:1")
    with database.writing() as uow:
        feature = uow.features.get("view:written_d:1")
        uow.session.execute(  # another writer's UPDATE, as the loaded object never sees it
            text("UPDATE features SET revision = revision + 1 WHERE id = :id"), {"id": feature.id}
        )
        uow.record.change(feature, Write.UPDATE, ACTING, {"description": "mine"})
        with pytest.raises(ConcurrentModificationError, match="view:written_d:1"):
            uow.commit()


def test_a_name_taken_in_the_same_transaction_is_a_409(database):
    with database.writing() as uow:
        _add(uow, "view:written_e:1")
        with pytest.raises(FeatureAlreadyExistsError, match="view:written_e:1"):
            _add(uow, "view:written_e:1")


def test_a_row_added_not_kept_is_written_the_same_and_left_out_of_the_session(database):
    with database.writing() as uow:
        values = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
        draft = new_draft({**values, "feature_name": "view:written_f:1"}, created_by="ann", now=5)
        feature = uow.record.add_feature(draft, Write.CREATE, ACTING, kept=False)
        assert feature not in uow.session
        uow.commit()
    assert (feature.revision, feature.status, feature.id is not None) == (1, "DRAFT", True)
    with database.reading() as uow:
        loaded = uow.features.get("view:written_f:1")
        assert (loaded.id, loaded.revision, loaded.created_by) == (feature.id, 1, "ann")
        assert len(uow.audit.for_feature(loaded)) == 1  # its creation row


def test_a_last_commit_writes_the_change_and_refuses_another_commit(database):
    _stored(database, "view:written_g:1")
    with database.writing() as uow:
        feature = uow.features.get("view:written_g:1")
        uow.record.change(feature, Write.UPDATE, ACTING, {"description": "changed"})
        uow.commit(last=True)
        assert (feature.revision, feature.description) == (2, "changed")
        assert feature not in uow.session  # written, then left out: no flush writes it again
        feature.description = "lost?"
        with pytest.raises(TypeError, match="committed for the last time"):
            uow.commit()
    with database.reading() as uow:
        loaded = uow.features.get("view:written_g:1")
        assert (loaded.revision, loaded.description) == (2, "changed")


def test_a_loaded_row_is_the_orms_row_persistent_clean_and_held_once(database):
    _stored(database, "view:written_h:1", tags={"team": "risk"})
    with database.writing() as uow:
        feature = uow.features.get("view:written_h:1")
        state = inspect(feature)
        assert state.persistent and not state.modified and state.key[1] == (feature.id,)
        expected = (
            uow.session.execute(select(FEATURES_TABLE).where(FEATURES_TABLE.c.id == feature.id))
            .one()
            ._mapping
        )
        assert {key: getattr(feature, key) for key in expected} == dict(expected)
        assert feature.tags == {"team": "risk"}  # the JSON column's value, not its text
        # Read again by either spelling: the object the identity map holds (clean, then
        # changed: the change is kept, not overwritten by the row as stored).
        assert uow.features.get("view:written_h:v1") is feature
        feature.description = "changed, not yet written"
        assert uow.features.get("view:written_h:v1") is feature
        assert feature.description == "changed, not yet written"
        uow.commit()
    with database.reading() as uow:
        assert uow.features.get("view:written_h:1").description == "changed, not yet written"


def test_a_field_not_loaded_is_read_as_the_orm_reads_it(database):
    _stored(database, "view:written_i:1")
    with database.writing() as uow:
        feature = uow.features.get("view:written_i:1")
        uow.session.expire(feature, ["description"])
        uow.session.execute(
            text("UPDATE features SET description = 'behind' WHERE id = :id"), {"id": feature.id}
        )
        assert field_values(feature)["description"] == "behind"


def test_a_row_read_with_its_changers_is_the_row_get_loads_with_who_changed_it(database):
    _stored(database, "view:written_j:1")
    with database.writing() as uow:
        feature = uow.features.get("view:written_j:1")
        uow.record.change(
            feature, Write.UPDATE, Acting("bob", "developer", 6), {"query": "SELECT 2"}
        )
        uow.commit()
    with database.writing() as uow:
        feature, changers = uow.features.get_with_changers("view:written_j:1")
        assert inspect(feature).persistent and feature.query == "SELECT 2"
        assert changers == uow.definition_changes.changers(feature.id) == ("bob",)
        assert uow.features.get_with_changers("view:written_j:1") == (feature, changers)
        # Under its other spelling: the same row, its changers left to be read by its id.
        assert uow.features.get_with_changers("view:written_j:v1") == (feature, None)
        assert uow.features.get_with_changers("view:written_z:1") == (None, None)


def test_a_row_held_with_expired_fields_gets_them_from_the_row_read_again(database):
    _stored(database, "view:written_k:1")
    with database.writing() as uow:
        feature = uow.features.get("view:written_k:1")
        uow.session.execute(
            text("UPDATE features SET description = 'behind' WHERE id = :id"), {"id": feature.id}
        )
        uow.session.expire(feature, ["description"])
        assert uow.features.get("view:written_k:1") is feature
        assert "description" in feature.__dict__  # taken from the row, not read again later
        assert feature.description == "behind"
