"""Writing to the analytic store in large batches, idempotent on SOP Instance UID.

Every pipeline (import, demo, pull, listen) hands ``Record``s to one ``StoreWriter``. A batch is
committed in one transaction: instances not yet in the store are inserted, and the series, studies
and patients they touch are merged (metadata already known is kept; counts and sizes are recounted
from the instances), and so are their rows of the browser's table (``browse_table``). A file lock
in the home serialises batch commits of all local processes, so two pipelines never insert the same
instance twice; lock and conflict errors are retried, never dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import duckdb
import pyarrow as pa

from archive.clock import now_utc
from archive.dicom.models import Record
from archive.home import Home
from archive.store import browse_table
from archive.store.connection import retrying, rollback, write_lock
from archive.vault import Vault

_ARROW_TYPES = {
    "VARCHAR": pa.string(), "DATE": pa.date32(), "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us"), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(),
    "DOUBLE[]": pa.list_(pa.float64()), "VARCHAR[]": pa.list_(pa.string()),
}


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> pa.Schema:
    """The Arrow schema of a store table, so batches are typed exactly like the table."""
    rows = con.execute(f"DESCRIBE {table}").fetchall()
    return pa.schema([(name, _ARROW_TYPES[kind]) for name, kind, *_ in rows])


def to_arrow(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (dicts; a missing key is NULL) as a table of ``schema``, built column by column."""
    return pa.table([pa.array([r.get(f.name) for r in rows], type=f.type) for f in schema], schema=schema)


@dataclass
class Site:
    """A hospital of the region and what identifies its studies: MRN issuers (``issuers``; the
    first is also ``issuer_of_patient_id``), InstitutionName values and AE titles."""

    site: str
    name: str | None = None
    ae_titles: list[str] = field(default_factory=list)
    issuer_of_patient_id: str | None = None
    institution_names: list[str] = field(default_factory=list)
    issuers: list[str] = field(default_factory=list)

    def all_issuers(self) -> list[str]:
        first = [self.issuer_of_patient_id] if self.issuer_of_patient_id else []
        return list(dict.fromkeys(first + list(self.issuers)))


def upsert_sites(con: duckdb.DuckDBPyConnection, sites: Iterable[Site]) -> None:
    """Add or replace sites (hospitals of the region) by their code."""
    rows = []
    for site in sites:
        issuers = site.all_issuers()
        rows.append(dict(site.__dict__, issuers=issuers, issuer_of_patient_id=issuers[0] if issuers else None,
                         created_at=now_utc()))
    if not rows:
        return
    batch = to_arrow(rows, table_schema(con, "sites"))

    def write() -> None:
        con.execute("BEGIN")
        try:
            con.register("new_sites", batch)
            con.execute("DELETE FROM sites WHERE site IN (SELECT site FROM new_sites)")
            con.execute("INSERT INTO sites BY NAME SELECT * FROM new_sites")
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
        finally:
            con.unregister("new_sites")
    retrying(write)


class SiteResolver:
    """Which site a study belongs to: the explicit one, else by issuer, institution or AE title."""

    def __init__(self, con: duckdb.DuckDBPyConnection, explicit: str | None = None):
        self.explicit = explicit
        self.by_issuer: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        self.by_ae: dict[str, str] = {}
        for site, issuer, issuers, names, aes in con.execute(
                "SELECT site, issuer_of_patient_id, issuers, institution_names, ae_titles FROM sites "
                "ORDER BY site").fetchall():
            for one in [issuer, *(issuers or [])]:
                if one:
                    self.by_issuer.setdefault(one.upper(), site)
            for name in names or []:
                self.by_name.setdefault(name.upper(), site)
            for ae in aes or []:
                self.by_ae.setdefault(ae.upper(), site)

    def resolve(self, record: Record, source_ae: str | None = None) -> str | None:
        if self.explicit:
            return self.explicit
        return self.resolve_values(record.patient.row.get("issuer_of_patient_id"),
                                   record.study.row.get("institution_name"), source_ae)

    def resolve_values(self, issuer: str | None, institution: str | None, source_ae: str | None) -> str | None:
        """The site of a study with these values: by issuer, else institution, else AE title."""
        return (self.by_issuer.get((issuer or "").strip().upper())
                or self.by_name.get((institution or "").strip().upper())
                or self.by_ae.get((source_ae or "").strip().upper()))


@dataclass
class BatchResult:
    inserted: int = 0
    already_present: int = 0
    bytes: int = 0
    orphans: list[str] = field(default_factory=list)  # vault files written now that no row names


# One queued file: (record, size, content hash, sender's AE title, written to the vault by this run).
Queued = tuple[Record, int, str, "str | None", bool]
# Run after each committed batch when the writer has a vault: features file what they derive from
# the files (reports: the text of SR and PDF instances). The store itself knows no feature.
AfterFlush = Callable[[duckdb.DuckDBPyConnection, Vault, Sequence[Queued]], object]


class StoreWriter:
    """Accumulates records and quarantine entries and commits them in batches.

    ``after_flush`` hooks run after every committed batch, given the connection, the vault and the
    batch's queued files (only when ``vault`` is given); ``archive.ingest.filing.store_writer``
    makes a writer with the hooks every ingest needs. Before a batch commits, the vault files it
    wrote are flushed to disk (``Vault.flush``) unless ``vault_durable``: the caller made each one
    durable already (``listen`` files them with ``Vault.put_sealed``).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, home: Home, run_id: str,
                 site: str | None = None, batch_size: int = 2000, vault: Vault | None = None,
                 after_flush: Sequence[AfterFlush] = (), vault_durable: bool = False):
        self.con = con
        self.vault_durable = vault_durable
        self.after_flush = list(after_flush)
        self.home = home
        self.vault = vault
        self.run_id = run_id
        self.batch_size = batch_size
        self.sites = SiteResolver(con, site)
        self.schemas = {t: table_schema(con, t) for t in
                        ("patients", "studies", "series", "instances", "quarantine")}
        self._records: list[Queued] = []
        self._quarantine: list[dict[str, Any]] = []
        self.totals = BatchResult()

    def add(self, record: Record, size: int, digest: str, source_ae: str | None = None,
            written: bool = False) -> None:
        """Queue one stored file; ``written`` says its vault file was written by this run."""
        self._records.append((record, size, digest, source_ae, written))
        if len(self._records) >= self.batch_size:
            self.flush()

    def quarantined(self, digest: str, source_name: str, reason: str, size: int) -> None:
        self._quarantine.append({"content_hash": digest, "ingest_run_id": self.run_id,
                                 "source_name": source_name, "reason": reason, "bytes": size,
                                 "quarantined_at": now_utc()})

    def flush(self) -> BatchResult:
        """Commit what has accumulated; return what this batch changed."""
        records, self._records = self._records, []
        quarantine, self._quarantine = self._quarantine, []
        if not records and not quarantine:
            return BatchResult()
        if self.vault is not None and not self.vault_durable and any(item[4] for item in records):
            self.vault.flush()   # the files on disk before the rows naming them commit
        with write_lock(self.home):
            result = retrying(lambda: self._commit(records, quarantine))
        self.totals.inserted += result.inserted
        self.totals.already_present += result.already_present
        self.totals.bytes += result.bytes
        if self.vault is not None:
            # A second copy of a known instance with other bytes: keep the archived one only.
            for digest in result.orphans:
                self.vault.discard(digest)
            # The hooks (reports filed beside the images) never see the discarded second copies,
            # which are in no table and no longer in the vault.
            discarded = set(result.orphans)
            kept = [r for r in records if r[2] not in discarded]
            for hook in self.after_flush:
                hook(self.con, self.vault, kept)
        return result

    # ---- one transaction ------------------------------------------------------------------------
    def _commit(self, records: list[Queued], quarantine: list[dict[str, Any]]) -> BatchResult:
        con = self.con
        unique: dict[str, Queued] = {}
        for item in records:
            unique.setdefault(item[0].instance.row["sop_instance_uid"], item)
        con.execute("BEGIN")
        registered = []
        try:
            def register(name: str, rows: list[dict[str, Any]], table: str) -> None:
                con.register(name, to_arrow(rows, self.schemas[table]))
                registered.append(name)

            if quarantine:
                register("b_quarantine", quarantine, "quarantine")
                con.execute("INSERT INTO quarantine BY NAME SELECT * FROM b_quarantine "
                            "WHERE content_hash NOT IN (SELECT content_hash FROM quarantine)")
            if not unique:
                con.execute("COMMIT")
                return BatchResult()
            con.register("b_uids", pa.table({"uid": list(unique)}))
            registered.append("b_uids")
            present = {r[0] for r in con.execute(
                "SELECT sop_instance_uid FROM instances WHERE sop_instance_uid IN (SELECT uid FROM b_uids)"
            ).fetchall()}
            new = [item for uid, item in unique.items() if uid not in present]
            new_digests = {item[2] for item in new}
            result = BatchResult(len(new), len(records) - len(new), sum(i[1] for i in new))
            candidates = {i[2] for i in records if i[4] and i[2] not in new_digests}
            if candidates:
                con.register("b_candidates", pa.table({"digest": sorted(candidates)}))
                registered.append("b_candidates")
                referenced = {r[0] for r in con.execute(
                    "SELECT DISTINCT content_hash FROM instances "
                    "WHERE content_hash IN (SELECT digest FROM b_candidates)").fetchall()}
                result.orphans = sorted(candidates - referenced)
            if not new:
                con.execute("COMMIT")
                return result
            now = now_utc()
            instances: list[dict[str, Any]] = []
            series: dict[str, dict[str, Any]] = {}
            studies: dict[str, dict[str, Any]] = {}
            patients: dict[str, dict[str, Any]] = {}
            for record, size, digest, source_ae, _ in new:
                site = self.sites.resolve(record, source_ae)
                instances.append(dict(record.instance.row, bytes=size, content_hash=digest,
                                      ingest_run_id=self.run_id, ingested_at=now))
                series.setdefault(record.series.row["series_instance_uid"], dict(record.series.row, updated_at=now))
                studies.setdefault(record.study.row["study_instance_uid"],
                                   dict(record.study.row, site=site, source_ae_title=source_ae or None,
                                        first_ingested_at=now, updated_at=now))
                patients.setdefault(record.patient.row["patient_key"],
                                    dict(record.patient.row, site=site, updated_at=now))
            register("b_instances", instances, "instances")
            register("b_series", list(series.values()), "series")
            register("b_studies", list(studies.values()), "studies")
            register("b_patients", list(patients.values()), "patients")
            known = self._known(con)
            con.execute("INSERT INTO instances BY NAME SELECT * FROM b_instances")
            self._merge_series(con, known["series"])
            self._merge_studies(con, known["studies"], known["series"])
            self._merge_patients(con, known["patients"])
            for table in ("series", "studies", "patients"):
                con.execute(f"DROP TABLE temp.merged_{table}")
            browse_table.refresh(con, "b_studies", "b_patients", replace=known["studies"] or known["patients"])
            con.execute("COMMIT")
            return result
        except Exception:
            rollback(con)
            raise
        finally:
            for name in registered:
                con.unregister(name)

    @staticmethod
    def _known(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
        """Whether any of the batch's series, studies and patients is in the store already (one query)."""
        checks = {table: f"EXISTS (SELECT 1 FROM {table} WHERE {key} IN (SELECT {key} FROM {batch}))"
                  for table, key, batch in (("series", "series_instance_uid", "b_series"),
                                            ("studies", "study_instance_uid", "b_studies"),
                                            ("patients", "patient_key", "b_patients"))}
        row = con.execute(f"SELECT {', '.join(checks.values())}").fetchall()[0]
        return dict(zip(checks, row, strict=True))

    def _merge_keep_known(self, con: duckdb.DuckDBPyConnection, table: str, key: str, batch: str,
                          counted: dict[str, str], known: bool, counts: str = "") -> None:
        """Merge the batch's rows of ``table`` into ``temp.merged_<table>`` and write them: known
        values win, gaps are filled, and the ``counted`` columns come from ``counts`` (a join
        giving ``c``). The caller drops the temporary tables when the commit is done.

        When none of the batch's rows is in ``table`` yet (``known`` false: the usual case for new
        studies), the table is not read at all (each read of a lake table costs catalog queries)
        and the merged rows are inserted straight away: there is nothing to replace.
        """
        columns = [f.name for f in self.schemas[table]]
        select = []
        for column in columns:
            if column == key:
                select.append(f"b.{key}")
            elif column in counted:
                select.append(f"{counted[column]} AS {column}")
            elif column == "updated_at":
                select.append(f"b.{column}")
            else:
                select.append(f"coalesce(t.{column}, b.{column}) AS {column}")
        kept = table if known else f"(SELECT * FROM {batch} WHERE false)"
        con.execute(f"CREATE OR REPLACE TEMP TABLE merged_{table} AS "
                    f"SELECT {', '.join(select)} FROM {batch} b LEFT JOIN {kept} t USING ({key}){counts}")
        if known:
            con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {batch})")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM temp.merged_{table}")

    def _merge_series(self, con: duckdb.DuckDBPyConnection, known: bool) -> None:
        # New series have all their instances in this batch: count them there.
        source = ("instances WHERE series_instance_uid IN (SELECT series_instance_uid FROM b_series)"
                  if known else "b_instances")
        self._merge_keep_known(con, "series", "series_instance_uid", "b_series",
                               {"number_of_instances": "c.n", "bytes": "c.sz"}, known,
                               f" LEFT JOIN (SELECT series_instance_uid, count(*) n, sum(bytes) sz FROM {source}"
                               " GROUP BY ALL) c USING (series_instance_uid)")

    def _merge_studies(self, con: duckdb.DuckDBPyConnection, known: bool, series_known: bool) -> None:
        # New studies of new series have all their series in this batch's merged series.
        source = ("series WHERE study_instance_uid IN (SELECT study_instance_uid FROM b_studies)"
                  if known or series_known else "temp.merged_series")
        self._merge_keep_known(con, "studies", "study_instance_uid", "b_studies", {
            "number_of_series": "c.n_series", "number_of_instances": "c.n", "bytes": "c.sz",
            "modalities": "c.mods", "body_part_examined": "coalesce(t.body_part_examined, c.part)",
            "study_datetime": "coalesce(t.study_datetime, b.study_datetime)",
        }, known, " LEFT JOIN (SELECT study_instance_uid, count(*) n_series, sum(number_of_instances) n,"
                  " sum(bytes) sz, list_sort(list_distinct(list(modality))) mods, mode(body_part_examined) part"
                  f" FROM {source} GROUP BY ALL) c USING (study_instance_uid)")

    def _merge_patients(self, con: duckdb.DuckDBPyConnection, known: bool) -> None:
        self._merge_keep_known(con, "patients", "patient_key", "b_patients", {}, known)


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]
