"""The only code that builds queries. Repositories return rows; they never commit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Dialect,
    LargeBinary,
    Select,
    String,
    any_,
    bindparam,
    cast,
    func,
    inspect,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import NullType

from feature_gateway.db.appended import insert_appended, new_row
from feature_gateway.db.batches import Batch, Sent
from feature_gateway.db.compiled import CompiledStatement
from feature_gateway.db.compiled import all_rows as _all_rows
from feature_gateway.db.compiled import compiled_once, fetch_all, in_session, on_driver
from feature_gateway.db.definition_changes import CHANGERS_BY_NAME, distinct_changers
from feature_gateway.db.feature_pages import (
    FIELD_COLUMNS,
    feature_rows,
    read_page,
    read_page_json,
)
from feature_gateway.db.feature_writes import insert_feature, update_feature
from feature_gateway.db.models import (
    FEATURES_TABLE,
    STORED_JSON,
    STORED_JSON_REVISION,
    AuditEntry,
    Feature,
)
from feature_gateway.db.violations import first_writer_wins
from feature_gateway.domain.lifecycle import SERVED_STATES
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.domain.names import canonical_feature_name, is_valid_feature_name
from feature_gateway.domain.versions import family_name, version_key, version_number
from feature_gateway.errors import FeatureAlreadyExistsError

_SERVED = sorted(SERVED_STATES)
_BY_NAME = FEATURES_TABLE.c.feature_name == bindparam("n")
_BY_CANONICAL_NAME = FEATURES_TABLE.c.canonical_name == bindparam("n")
# Built once: a read by name is the most frequent query, and building the statement cost
# as much as running it.
_FIELDS = {canonical: select(*FIELD_COLUMNS).where(by) for canonical, by in
           ((False, _BY_NAME), (True, _BY_CANONICAL_NAME))}  # fmt: skip
_STORED_AS = {
    canonical: select(FEATURES_TABLE.c.feature_name, FEATURES_TABLE.c.status).where(by)
    for canonical, by in ((False, _BY_NAME), (True, _BY_CANONICAL_NAME))
}
# The row a write loads, built once (as _FIELDS): every write of a feature loads it.
_LOAD = {
    False: select(Feature).where(Feature.feature_name == bindparam("n")),
    True: select(Feature).where(Feature.canonical_name == bindparam("n")),
}
# The same row's columns as the ORM's load reads them (the deferred stored JSON left out),
# for ``FeatureRepository._loaded`` to read by the driver: (attribute names, statement).
_MAPPER = inspect(Feature)
_LOADED_COLUMNS = tuple(prop for prop in _MAPPER.column_attrs if not prop.deferred)
_LOADED_KEYS = tuple(prop.key for prop in _LOADED_COLUMNS)
_LOAD_ROW = {
    canonical: select(*(prop.columns[0] for prop in _LOADED_COLUMNS)).where(by)
    for canonical, by in ((False, _BY_NAME), (True, _BY_CANONICAL_NAME))
}
_STORED_AS_EITHER = select(FEATURES_TABLE.c.feature_name, FEATURES_TABLE.c.status).where(
    _BY_NAME | (FEATURES_TABLE.c.canonical_name == bindparam("c"))
)
# A feature's revision: whether a replica has the one a read must see (db.replicas).
_REVISION = {
    canonical: select(FEATURES_TABLE.c.revision).where(by)
    for canonical, by in ((False, _BY_NAME), (True, _BY_CANONICAL_NAME))
}

T = TypeVar("T")


def by_either_spelling(feature_name: str, find: Callable[[bool, str], T | None]) -> T | None:
    """What ``find(canonical, name)`` finds under the exact name or else, for a valid name,
    under its canonical spelling (``view:f:1`` finds ``view:f:v1``).

    The exact name first: that is nearly every call, and one index lookup. Rows written by
    code predating canonical names (a rolling upgrade) have none and are found so.
    """
    found = find(False, feature_name)
    if found is None and is_valid_feature_name(feature_name):
        found = find(True, canonical_feature_name(feature_name))
    return found


def _listed(column: Any, key: str, dialect_name: str) -> Any:
    """``column`` is one of the names in the list parameter ``key``: an array on PostgreSQL
    (its text, ``_array_literal``, cast by the server), a JSON array on SQLite (read by its
    table-valued json_each), so that a list of any length is one parameter and the
    statement is compiled once."""
    if dialect_name == "postgresql":
        # The parameter untyped (no ``::VARCHAR``): the server then reads the text as the
        # array once, where ``CAST(text AS VARCHAR[])`` is an I/O conversion it repeats for
        # every row a sequential scan reads (array_in is not immutable, so never folded):
        # 25.6 against 0.28 ms for 100 names over 3,100 rows (docs/performance.md,
        # "Round four").
        return column == any_(cast(bindparam(key, type_=NullType()), ARRAY(String)))
    return column.in_(select(func.json_each(bindparam(key)).table_valued("value").c.value))


def _list_parameters(dialect: Dialect, lists: dict[str, list[str]]) -> dict[str, Any]:
    if dialect.name == "sqlite":
        return {key: orjson.dumps(names).decode() for key, names in lists.items()}
    return {key: _array_literal(names) for key, names in lists.items()}


def _array_literal(names: list[str]) -> str:
    """The text of a PostgreSQL array holding ``names``: each one double-quoted with its
    backslashes and double quotes escaped, so that any text (``NULL``, commas, braces,
    spaces) stays that text. psycopg's list adapter writes the same text but searches each
    item with a regular expression first, to see whether it needs the quotes: a third of
    a values request's lookup on PostgreSQL (docs/performance.md, "i27-values")."""
    quoted = ('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' for name in names)
    return "{" + ",".join(quoted) + "}"


_TYPES = (FEATURES_TABLE.c.feature_type, FEATURES_TABLE.c.feature_data_type)


@functools.cache
def _stored_json_statement(canonical: bool, dialect_name: str) -> Select[Any]:
    """A read by name of the row's revision and its stored JSON with the revision it was
    stored at (``FeatureLookup.find_stored_json``); the text as UTF-8 bytes on SQLite (a
    BLOB, which the driver hands over without decoding)."""
    columns = FEATURES_TABLE.c
    stored: Any = columns[STORED_JSON]
    if dialect_name == "sqlite":
        stored = cast(stored, LargeBinary)
    by = _BY_CANONICAL_NAME if canonical else _BY_NAME
    return select(columns.revision, stored, columns[STORED_JSON_REVISION]).where(by)


def _each_listed(column: Any, key: str, dialect_name: str, *selected: Any) -> Select[Any]:
    """``selected`` of the rows whose ``column`` is one of the names in the list parameter
    ``key`` (as ``_listed``). On SQLite the list's table-valued ``json_each`` is joined to
    the table, so each name is one seek of ``column``'s index: ``IN (SELECT ...)`` built an
    ephemeral b-tree of the names first, about a fifth of the statement
    (docs/performance.md, "i28-values"). A name listed twice gives its rows twice."""
    if dialect_name != "sqlite":
        return select(*selected).where(_listed(column, key, dialect_name))
    each = func.json_each(bindparam(key)).table_valued("value")
    return select(*selected).select_from(each.join(FEATURES_TABLE, column == each.c.value))


@functools.cache
def _served_types_statement(dialect_name: str) -> Select[Any] | CompoundSelect[Any]:
    """The features among a list of names (``names``) and canonical spellings
    (``canonical_names``), each list one parameter; the caller keeps the served ones.

    Only the names choose the rows, so that they choose the unique name indexes: with the
    status there too, SQLite without statistics (no ANALYZE) read every served feature
    through the status index instead, its cost growing with the catalog.

    On SQLite the canonical spellings come as two lists (``_sqlite_lists``): those not
    among the names, whose rows are all wanted, and those among them, whose rows stored
    under that very spelling the names' part has already read (``UNION ALL`` would give
    them twice): the same rows as the OR of the two lists. A row stored under a requested
    spelling that is not canonical still comes twice (by its name, and by its canonical
    spelling in the second list); the caller keeps the rows by name, so it counts once."""
    columns = FEATURES_TABLE.c
    selected = (columns.feature_name, columns.canonical_name, *_TYPES, columns.status)
    if dialect_name == "sqlite":
        named = func.json_each(bindparam("named_canonical_names")).table_valued("value")
        return union_all(
            _each_listed(columns.feature_name, "names", dialect_name, *selected),
            _each_listed(columns.canonical_name, "canonical_names", dialect_name, *selected),
            select(*selected).select_from(
                named.join(
                    FEATURES_TABLE,
                    (columns.canonical_name == named.c.value)
                    & (columns.feature_name != named.c.value),
                )
            ),
        )
    by_name = _listed(columns.feature_name, "names", dialect_name) | _listed(
        columns.canonical_name, "canonical_names", dialect_name
    )
    return select(*selected).where(by_name)


@functools.cache
def _family_types_statement(dialect_name: str) -> Select[Any]:
    """Every version of the families in the list parameter ``families`` (each listed once):
    one range of the family index each. The caller keeps the served ones (as
    ``_served_types_statement``)."""
    columns = FEATURES_TABLE.c
    return _each_listed(
        columns.family_name,
        "families",
        dialect_name,
        columns.family_name,
        columns.version_key,
        columns.feature_name,
        *_TYPES,
        columns.status,
    )


class FeatureLookup:
    """Reads of features that change nothing, run by the driver on a pooled connection.

    The statements are SQLAlchemy's, compiled once per dialect (a list page's once per
    shape, ``db.feature_pages``). Executing them through a ``Connection`` (a cache-key walk
    and a result wrapper per execution) cost five times what the driver takes for the same
    indexed SELECT, and a read is little else (docs/performance.md).
    """

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._connection = dbapi_connection
        self._dialect = dialect

    def find(self, feature_name: str) -> dict[str, Any] | None:
        """The feature as field name → value, found as ``FeatureRepository.get`` finds it."""
        return by_either_spelling(feature_name, self._fields)

    def find_stored_json(self, feature_name: str) -> tuple[int, bytes | str | None] | None:
        """The feature ``find`` would find as its revision and the JSON object stored with it
        at that revision (``db.feature_json``: the bytes orjson writes for ``find``'s dict),
        None for the object when none was stored at it; None when there is no feature."""

        def found(canonical: bool, name: str) -> tuple[int, bytes | str | None] | None:
            statement = _stored_json_statement(canonical, self._dialect.name)
            rows = fetch_all(self._connection.cursor, compiled_once(statement, self._dialect),
                             {"n": name})  # fmt: skip
            if not rows:
                return None
            revision, stored, stored_at = rows[0]
            return revision, (stored if stored_at == revision else None)

        return by_either_spelling(feature_name, found)

    def revision_of(self, feature_name: str) -> int | None:
        """The revision of the feature ``find`` would find; None when there is none."""

        def revision(canonical: bool, name: str) -> int | None:
            compiled = compiled_once(_REVISION[canonical], self._dialect)
            rows = fetch_all(self._connection.cursor, compiled, {"n": name})
            return int(rows[0][0]) if rows else None

        return by_either_spelling(feature_name, revision)

    def served_types(self, names: Collection[str]) -> dict[str, tuple[str, str, str]]:
        """Requested name → (stored name, feature_type, feature_data_type) of those of
        ``names`` that are served, whichever way their versions are spelled.

        One indexed query for a whole batch request, whatever its size: the names are one
        parameter, an array (a JSON array on SQLite), so the statement is compiled once."""
        wanted = {name: canonical_feature_name(name) for name in names}
        compiled = compiled_once(_served_types_statement(self._dialect.name), self._dialect)
        canonical_names = set(wanted.values())
        if self._dialect.name == "sqlite":
            lists = {
                "names": list(wanted),
                "canonical_names": [name for name in canonical_names if name not in wanted],
                "named_canonical_names": [name for name in canonical_names if name in wanted],
            }
        else:
            lists = {"names": list(wanted), "canonical_names": list(canonical_names)}
        values = _list_parameters(self._dialect, lists)
        by_name: dict[str, tuple[str, str, str]] = {}
        for stored, canonical, feature_type, data_type, status in fetch_all(
            self._connection.cursor, compiled, values
        ):
            if status in SERVED_STATES:
                by_name[stored] = (stored, feature_type, data_type)
                by_name.setdefault(canonical or stored, by_name[stored])
        return {
            name: by_name.get(name) or by_name[canonical]
            for name, canonical in wanted.items()
            if name in by_name or canonical in by_name
        }

    def latest_served_types(self, families: Collection[str]) -> dict[str, tuple[str, str, str]]:
        """Family (``view:feature``) → (stored name, feature_type, feature_data_type) of its
        served version with the highest number, for those of ``families`` that have one."""
        compiled = compiled_once(_family_types_statement(self._dialect.name), self._dialect)
        values = _list_parameters(self._dialect, {"families": sorted(set(families))})
        latest: dict[str, tuple[str, tuple[str, str, str]]] = {}
        for family, key, stored, feature_type, data_type, status in fetch_all(
            self._connection.cursor, compiled, values
        ):
            if status in SERVED_STATES and (family not in latest or key > latest[family][0]):
                latest[family] = (key, (stored, feature_type, data_type))
        return {family: found for family, (_, found) in latest.items()}

    def page(self, query: FeatureQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features as field name → value, and the count of all matches, read
        by one statement (so they agree)."""
        return read_page(self._connection.cursor, self._dialect, query)

    def page_json(self, query: FeatureQuery) -> tuple[bytes, int]:
        """The same page as one JSON array, each feature's object written by the database
        (``db.feature_json``)."""
        return read_page_json(self._connection.cursor, self._dialect, query)

    def _fields(self, canonical: bool, name: str) -> dict[str, Any] | None:
        compiled = compiled_once(_FIELDS[canonical], self._dialect)
        rows = fetch_all(self._connection.cursor, compiled, {"n": name})
        return feature_rows(rows, compiled.processors)[0] if rows else None


def _stored_as_statement(feature_name: str) -> tuple[Select[Any], dict[str, str]]:
    """The read of (stored name, status) of the features under ``feature_name``: under
    either spelling of a valid name in one statement, the exact name otherwise."""
    if not is_valid_feature_name(feature_name):
        return _STORED_AS[False], {"n": feature_name}
    return _STORED_AS_EITHER, {"n": feature_name, "c": canonical_feature_name(feature_name)}


def _first_stored(rows: list[Any], feature_name: str) -> tuple[str, str] | None:
    """The row under the exact name first, as ``by_either_spelling`` finds it."""
    rows = sorted(rows, key=lambda row: row[0] != feature_name)
    return (rows[0][0], rows[0][1]) if rows else None


def has_unflushed(session: Session) -> bool:
    """Whether ``session`` holds rows its next flush would write (the ORM's query flushes
    them before it reads)."""
    return bool(session.new or session.dirty or session.deleted)


def _persistent(session: Session, row: Sequence[Any], statement: CompiledStatement) -> Feature:
    """A feature's ``row`` as ``statement`` (one of ``_LOAD_ROW``) read it, in the session
    as the ORM's load leaves it: the object the identity map holds for its id if there is
    one (its changes kept, what it had expired taken from the row, as the ORM's load gives
    it back), else a new one, persistent and clean, its deferred columns loaded when first
    read. Read so, a trigger counts 0.23 M fewer
    instructions (of 3.55 M; docs/performance.md, "i32-trigger")."""
    values = dict(zip(_LOADED_KEYS, row, strict=True))
    for name, process in zip(_LOADED_KEYS, statement.processors, strict=True):
        if process is not None:
            values[name] = process(values[name])
    held = session.identity_map.get(_MAPPER.identity_key_from_primary_key((values["id"],)))
    if held is not None:  # what it has not loaded (expired) taken from the row, as the ORM does
        for name in inspect(held).unloaded & values.keys():
            set_committed_value(held, name, values[name])
        return held
    feature = new_row(Feature, values)
    make_transient_to_detached(feature)
    session.add(feature)
    return feature


class FeatureRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._added: list[str] = []  # the names of the features added (inserted at once)

    def get(self, feature_name: str) -> Feature | None:
        """The feature stored for this version, whichever way its version is spelled."""
        return by_either_spelling(feature_name, self._loaded)

    def stored_as(self, feature_name: str) -> tuple[str, str] | None:
        """(stored name, status) of the feature ``get`` would find, without loading it."""
        statement, values = _stored_as_statement(feature_name)
        return _first_stored(in_session(self.session, statement, values), feature_name)

    def revision_of(self, feature_name: str) -> int | None:
        """The revision of the feature ``get`` would find, without loading it."""

        def revision(canonical: bool, name: str) -> int | None:
            rows = in_session(self.session, _REVISION[canonical], {"n": name})
            return int(rows[0][0]) if rows else None

        return by_either_spelling(feature_name, revision)

    def get_with_changers(
        self, feature_name: str
    ) -> tuple[Feature | None, tuple[str, ...] | None]:
        """The feature ``get`` finds and everyone who changed its definition (as
        ``DefinitionChangeRepository.changers``), read together: one round trip on
        PostgreSQL (``db.batches``) where a review's were two. None for the changers when
        the row was found only under its other spelling (read them by its id), or when the
        session has changes that the ORM's query flushes first."""
        if has_unflushed(self.session):
            return self.get(feature_name), None

        def find(canonical: bool, name: str) -> tuple[Feature, tuple[str, ...] | None] | None:
            if canonical:
                found = self._loaded(True, name)
                return None if found is None else (found, None)
            with Batch(self.session.connection) as batch:
                load = compiled_once(_LOAD_ROW[False], batch.dialect)
                changers = compiled_once(CHANGERS_BY_NAME, batch.dialect)
                row = batch.run(load.sql, load.parameters({"n": name}), _all_rows)
                changed = batch.run(changers.sql, changers.parameters({"n": name}), _all_rows)
            if not row.value:
                return None
            return _persistent(self.session, row.value[0], load), distinct_changers(changed.value)

        return by_either_spelling(feature_name, find) or (None, None)

    def _loaded(self, canonical: bool, name: str) -> Feature | None:
        session = self.session
        if has_unflushed(session):  # the ORM's query flushes them first
            return session.scalars(_LOAD[canonical], {"n": name}).one_or_none()
        connection = session.connection()
        compiled = compiled_once(_LOAD_ROW[canonical], connection.dialect)
        rows = on_driver(connection, compiled.sql, compiled.parameters({"n": name}), _all_rows)
        return _persistent(session, rows[0], compiled) if rows else None

    def lock(self, feature: Feature) -> None:
        """Read the row again, locked until commit (``SELECT ... FOR UPDATE``): a write that
        records the feature as it is without changing it (a comment) then sees the last
        committed state, and a racing write of the row waits for it, so their change-log
        entries agree with each other. SQLite's writers hold the database's write lock from
        BEGIN IMMEDIATE, so what they read is the last committed state already: nothing to
        do (a second read there cost a comment about a third of its time)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.refresh(feature, with_for_update=True)

    def add(self, feature: Feature, *, kept: bool = True, unless_taken: bool = False) -> None:
        """Insert a new feature now, in the transaction (``db.feature_writes``): a name taken
        meanwhile by a concurrent create is ``FeatureAlreadyExistsError``. ``kept``: the
        unit of work may use the row again (query it, refer to it, change it), so it is
        made persistent in the session; False for a use case that only returns it.
        ``unless_taken``: a feature ``stored_as`` finds under its name (either spelling) is
        ``FeatureAlreadyExistsError`` naming it and its status (``_insert_unless_taken``)."""
        feature.canonical_name = canonical_feature_name(feature.feature_name)
        feature.family_name = family_name(feature.feature_name)
        feature.version_key = version_key(version_number(feature.feature_name))
        self._added.append(feature.feature_name)
        with first_writer_wins(self.pending_names):
            if unless_taken:
                self._insert_unless_taken(feature, kept)
            else:
                insert_feature(self.session, feature, kept=kept)

    def _insert_unless_taken(self, feature: Feature, kept: bool) -> None:
        """``stored_as``'s read and the INSERT sent together (one round trip on PostgreSQL,
        ``db.batches``; a create was two), the read answered first: a feature found is
        ``FeatureAlreadyExistsError`` with its stored name and status, whether the INSERT
        was refused by a unique name (then an ``IntegrityError``) or went in (a look-alike
        of a row stored before canonical names, which has none), since the unit of work
        rolls back what a refused use case wrote. Found nothing and refused: a create of
        the name committed in between, the ``IntegrityError`` ``first_writer_wins`` makes
        a 409, as before. SQLite answers the read at once: no INSERT when it found one."""
        name = feature.feature_name
        statement, values = _stored_as_statement(name)
        batch = Batch(self.session.connection)
        taken: Sent[list[Any]] | None = None
        try:
            with batch:
                compiled = compiled_once(statement, batch.dialect)
                taken = batch.run(compiled.sql, compiled.parameters(values), _all_rows)
                if not (taken.ready and taken.value):
                    insert_feature(self.session, feature, kept=kept, batch=batch)
        except IntegrityError:
            if taken is None or not (taken.ready and taken.value):
                raise
        stored = _first_stored(taken.value, name)
        if stored is not None:
            raise FeatureAlreadyExistsError(name, stored[1], stored_as=stored[0])

    def write_changed(self, batch: Batch, *, kept: bool = True) -> None:
        """Write the changed features of this unit of work in ``batch``, each by one UPDATE
        checked against the revision it was loaded at (``db.feature_writes``):
        StaleDataError when another writer changed one meanwhile, once the batch's results
        are read. Not ``kept``: each is left out of the session once written (the unit of
        work's last commit), unless a pending row (a definition change) refers to it, whose
        flush needs it there."""
        kept = kept or bool(self.session.new)
        for row in list(self.session.dirty):
            if isinstance(row, Feature):
                update_feature(self.session, row, kept=kept, batch=batch)

    def pending_names(self) -> list[str]:
        """The names of the features this unit of work added or changed, unflushed."""
        changed = [row.feature_name for row in self.session.dirty if isinstance(row, Feature)]
        return [*changed, *self._added]

    def served_names(self) -> list[tuple[str, str]]:
        """(name, status) of every served feature, in name order."""
        statement = (
            select(Feature.feature_name, Feature.status)
            .where(Feature.status.in_(_SERVED))
            .order_by(Feature.feature_name)
        )
        return [(name, status) for name, status in self.session.execute(statement)]

    def all_in_name_order(self) -> list[dict[str, Any]]:
        statement = select(*FIELD_COLUMNS).order_by(Feature.feature_name)
        return [dict(row._mapping) for row in self.session.execute(statement)]


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.appended: list[AuditEntry] = []  # this unit of work's entries, in order
        self._unwritten: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        """Add an entry, inserted at commit (``write_appended``), not by the session."""
        self._unwritten.append(entry)
        self.appended.append(entry)

    def write_appended(self, batch: Batch) -> None:
        """Insert the entries appended since the last call, in ``batch`` (their ids set when
        its results are read); their features are flushed."""
        entries, self._unwritten = self._unwritten, []
        if entries:
            insert_appended(batch, entries)

    def for_feature(self, feature: Feature) -> Sequence[AuditEntry]:
        return self.session.scalars(
            select(AuditEntry).where(AuditEntry.feature_id == feature.id).order_by(AuditEntry.id)
        ).all()
