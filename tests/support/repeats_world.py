"""A small regional archive with known repeats, written as store rows (no DICOM files).

Every expected number of the repeat metrics is written down here, next to the rows that make it.
Names are obviously fake (TEST^...); identifiers start with TEST.

Sites: NORTH and SOUTH are covered by the regional archive since 2020 (a study is available as
soon as it is made); EAST is not (a study is available when it reaches the store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from archive.clock import now_utc
from archive.dicom.models import patient_key
from archive.repeats import facts, record_prior_use
from archive.repeats.classes import flag_clinically_required, set_archive_coverage
from archive.store.writer import Site, upsert_sites

ISSUERS = {"NORTH": "TEST-N", "SOUTH": "TEST-S", "EAST": "TEST-E"}

# (record name, true person, site, MRN, name, birth date, sex, OtherPatientIDs)
RECORDS = [
    ("alice_n", "alice", "NORTH", "N1", "TEST^ALICE", date(1961, 2, 3), "F", ["TESTHC-1111"]),
    ("alice_s", "alice", "SOUTH", "S1", "Test^Alice^M", date(1961, 2, 3), "F", ["TESTHC-1111"]),
    ("bob_n", "bob", "NORTH", "N2", "TEST^BOB", date(1970, 1, 1), "M", []),          # two MRNs, no card
    ("bob_s", "bob", "SOUTH", "S2", "TEST^BOB^J", date(1970, 1, 1), "M", []),
    ("carol_n", "carol_n", "NORTH", "N3", "TEST^CAROL", date(1970, 5, 5), "F", ["TESTHC-3333"]),
    ("carol_e", "carol_e", "EAST", "E3", "TEST^CAROL", date(1970, 5, 5), "F", ["TESTHC-4444"]),  # namesake
    ("dave_1", "dave", "NORTH", "N4", "TEST^DAVE", date(1955, 9, 9), "M", []),       # two MRNs, one site
    ("dave_2", "dave", "NORTH", "N4B", "TEST^DAVE", date(1955, 9, 9), "M", []),
    ("eve_e", "eve", "EAST", "E5", "TEST^EVE", date(1980, 12, 12), "F", ["TESTHC-5555"]),
    ("eve_s", "eve", "SOUTH", "S5", "TEST^EVE", date(1980, 12, 12), "F", ["TESTHC 5555"]),
    ("hans_n", "hans", "NORTH", "N6", "TEST-MÜLLER^HANS", date(1948, 4, 4), "F", []),  # accents, case
    ("hans_s", "hans", "SOUTH", "S6", "test-muller^Hans^P", date(1948, 4, 4), "F", []),
    ("frank_n", "frank_n", "NORTH", "N7", "TEST^FRANK", date(1950, 7, 7), "M", ["TESTHC-7777"]),
    ("frank_s", "frank_s", "SOUTH", "S7", "TEST^FRANK", date(1950, 7, 7), "M", []),  # a namesake
    ("gina_n", "gina", "NORTH", "N8", "TEST^GINA", date(1990, 8, 8), "F", ["TESTHC-8888"]),
    ("gina_s", "gina", "SOUTH", "S8", "TEST^GINA", date(1990, 8, 8), "F", []),      # card not recorded
    ("ida_s", "ida", "SOUTH", "S9", "TEST^IDA", date(1999, 9, 9), "F", ["TESTHC-9999"]),
    ("ida_x", "ida_x", "NORTH", "N9", "TEST^IDAX", date(1999, 9, 10), "F", ["TESTHC-9999"]),  # card clash
]

# (study name, record, site, datetime, modality, body part, description)
STUDIES = [
    ("alice_ct1", "alice_n", "NORTH", datetime(2024, 1, 10, 9), "CT", "CHEST", "CT Chest with contrast"),
    ("alice_ct2", "alice_s", "SOUTH", datetime(2024, 2, 9, 10), "CT", "CHEST", "CT THORAX"),  # day 30: avoidable repeat
    ("alice_ct3", "alice_s", "SOUTH", datetime(2024, 3, 11, 10), "CT", "", "CT chest low dose"),  # day 31: not a repeat
    ("bob_xr1", "bob_n", "NORTH", datetime(2024, 3, 1, 9), "CR", "CHEST", "XR Chest PA and Lateral"),
    ("bob_xr2", "bob_s", "SOUTH", datetime(2024, 3, 1, 15), "DX", "CHEST", "Chest 2 views"),  # same day: avoidable
    ("bob_xr3", "bob_n", "NORTH", datetime(2024, 3, 16, 9), "DX", "CHEST", "XR Chest PA"),     # day 15: not a repeat
    ("dave_xr1", "dave_1", "NORTH", datetime(2024, 4, 1, 8), "CR", "KNEE", "XR Knee 2 views"),
    ("dave_xr2", "dave_2", "NORTH", datetime(2024, 4, 5, 8), "CR", "KNEE", "XR Knee 2 views"),  # repeat, same site
    ("dave_xr3", "dave_2", "NORTH", datetime(2024, 5, 10, 8), "CR", "KNEE", "XR Knee"),         # 35 days: not a repeat
    ("carol_ct1", "carol_n", "NORTH", datetime(2024, 5, 1, 11), "CT", "HEAD", "CT Head"),
    ("carol_ct2", "carol_e", "EAST", datetime(2024, 5, 10, 11), "CT", "HEAD", "CT Head"),      # another person
    ("eve_mr1", "eve_e", "EAST", datetime(2024, 6, 1, 12), "MR", "BRAIN", "MR Brain"),
    ("eve_mr2", "eve_s", "SOUTH", datetime(2024, 6, 3, 12), "MR", "HEAD", "MRI brain w/o"),  # prior not archived
    ("eve_us1", "eve_s", "SOUTH", datetime(2024, 7, 1, 12), "US", "ABDOMEN", "US Abdomen"),
    ("eve_us2", "eve_e", "EAST", datetime(2024, 7, 15, 12), "US", "ABDOMEN", "US abdomen complete"),  # flagged required
    ("hans_mg1", "hans_n", "NORTH", datetime(2024, 1, 5, 9), "MG", "BREAST", "MG Screening Bilateral"),
    ("hans_mg2", "hans_s", "SOUTH", datetime(2024, 6, 1, 9), "MG", "BREAST", "Screening mammogram"),  # 148 d: avoidable
    ("frank_xr1", "frank_n", "NORTH", datetime(2024, 8, 1, 9), "DX", "HAND", "XR Hand 2 views"),
    ("frank_xr2", "frank_s", "SOUTH", datetime(2024, 8, 5, 9), "DX", "HAND", "XR Hand 2 views"),  # another person
    ("gina_us1", "gina_n", "NORTH", datetime(2024, 9, 1, 9), "US", "NECK", "US Thyroid"),
    ("ida_sr", "ida_s", "SOUTH", datetime(2024, 9, 2, 9), "SR", None, "Dose report"),          # not an exam
]
# EAST's studies reached the store four days after they were made; everyone else's the same evening.
INGEST_DELAY = {"EAST": timedelta(days=4)}

# Expected results --------------------------------------------------------------------------------
EXPECTED_CLASSES = {
    "alice_ct1": "CT_CHEST", "alice_ct2": "CT_CHEST", "alice_ct3": "CT_CHEST",
    "bob_xr1": "XR_CHEST", "bob_xr2": "XR_CHEST", "bob_xr3": "XR_CHEST",
    "dave_xr1": "XR_KNEE", "dave_xr2": "XR_KNEE", "dave_xr3": "XR_KNEE",
    "carol_ct1": "CT_HEAD", "carol_ct2": "CT_HEAD", "eve_mr1": "MR_BRAIN", "eve_mr2": "MR_BRAIN",
    "eve_us1": "US_ABD", "eve_us2": "US_ABD", "hans_mg1": "MG_SCREEN", "hans_mg2": "MG_SCREEN",
    "frank_xr1": "XR_HAND", "frank_xr2": "XR_HAND", "gina_us1": "US_THYROID",
}
EXPECTED_REPEATS = {"alice_ct2", "bob_xr2", "dave_xr2", "eve_mr2", "eve_us2", "hans_mg2"}
EXPECTED_AVOIDABLE = {"alice_ct2", "bob_xr2", "hans_mg2"}
EXPECTED_STUDIES_BY_SITE = {"NORTH": 10, "SOUTH": 7, "EAST": 3}
EXPECTED_REPEATS_BY_SITE = {"NORTH": 1, "SOUTH": 4, "EAST": 1}
EXPECTED_AVOIDABLE_BY_SITE = {"SOUTH": 3}
EXPECTED_AVOIDABLE_BY_CLASS = {"CT_CHEST": 1, "XR_CHEST": 1, "MG_SCREEN": 1}
# Prior uses: (prior study, kind, requesting site, when). Alice's three uses are one episode.
USES = [
    ("alice_ct3", "retrieved", "NORTH", datetime(2024, 4, 1, 8)),
    ("alice_ct3", "compared", "NORTH", datetime(2024, 4, 1, 9)),
    ("alice_ct3", "shared", "NORTH", datetime(2024, 4, 3, 9)),      # avoided
    ("bob_xr1", "retrieved", "SOUTH", datetime(2024, 3, 1, 16)),    # after bob_xr2 that day: repeated
    ("dave_xr2", "exported", "NORTH", datetime(2024, 5, 1, 9)),     # dave_xr3 within 14 days: repeated
    ("hans_mg2", "compared", "NORTH", datetime(2024, 9, 1, 9)),     # avoided
    ("frank_xr1", "retrieved", "SOUTH", datetime(2024, 8, 10, 9)),  # frank_xr2 is someone else: avoided
]
PENDING_USE = ("eve_mr2", "compared", "NORTH")                       # yesterday: window still open
EXPECTED_OUTCOMES = {"avoided": 3, "repeated": 2, "pending": 1}
EXPECTED_AVOIDED_BY_SITE = {"NORTH": 2, "SOUTH": 1}
EXPECTED_AVOIDED_BY_CLASS = {"CT_CHEST": 1, "MG_SCREEN": 1, "XR_HAND": 1}
EXPECTED_COST_AVOIDED = 220.0 + 80.0 + 35.0
EXPECTED_DLP_AVOIDED = 400.0        # alice_ct3's dose report
EXPECTED_CTDI_AVOIDED = 10.0
EXPECTED_KERMA_AVOIDED = 6.0        # frank_xr1: exposure index 250 + 350 -> 6.0 uGy
# Linker: the true pairs it must find, and the pairs it must not make.
EXPECTED_CONFLICT_KINDS = {"demographics_shared_id_differ", "ambiguous", "same_site_duplicate",
                           "shared_id_mismatch"}


@dataclass
class World:
    keys: dict[str, str] = field(default_factory=dict)      # record name -> patient_key
    uids: dict[str, str] = field(default_factory=dict)      # study name -> StudyInstanceUID
    truth: dict[str, str] = field(default_factory=dict)     # patient_key -> true person


def _insert(con, table: str, df: pd.DataFrame) -> None:
    con.register("new_rows", df)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM new_rows")
    finally:
        con.unregister("new_rows")


def build(con, link: bool = True) -> World:
    """Write the world into an empty, migrated store; link patients; record clinical flags and uses."""
    from archive.patients.linking import link_patients

    world = World()
    upsert_sites(con, [Site(s, f"Test {s.title()} Hospital", [f"{s}_PACS"], issuer, [])
                       for s, issuer in ISSUERS.items()])
    patients = []
    for name, person, site, mrn, pn, born, sex, others in RECORDS:
        key = patient_key(mrn, ISSUERS[site])
        world.keys[name], world.truth[key] = key, person
        patients.append(dict(patient_key=key, patient_id=f"TEST{mrn}", issuer_of_patient_id=ISSUERS[site],
                             site=site, patient_name=pn, patient_birth_date=born, patient_sex=sex,
                             other_patient_ids=others, updated_at=now_utc()))
    _insert(con, "patients", pd.DataFrame(patients))
    studies, instances = [], []
    for n, (name, record, site, when, modality, part, description) in enumerate(STUDIES):
        uid = f"1.2.826.0.1.3680043.10.999.{n + 1}"
        world.uids[name] = uid
        studies.append(dict(study_instance_uid=uid, patient_key=world.keys[record],
                            accession_number=f"TESTACC{n}", study_date=when.date(), study_datetime=when,
                            study_description=description, modalities=[modality], body_part_examined=part,
                            site=site, number_of_series=1, number_of_instances=1, bytes=1000,
                            first_ingested_at=when + INGEST_DELAY.get(site, timedelta(hours=8))))
        images = [dict(ctdi_vol=None, dlp=None, exposure_index=None, slice_location=None)]
        if name == "alice_ct3":
            images = [dict(ctdi_vol=10.0, dlp=None, exposure_index=None, slice_location=float(z))
                      for z in range(0, 300, 5)] + [dict(ctdi_vol=10.0, dlp=400.0, exposure_index=None,
                                                         slice_location=None)]
        if name == "frank_xr1":
            images = [dict(ctdi_vol=None, dlp=None, exposure_index=ei, slice_location=None) for ei in (250.0, 350.0)]
        for i, image in enumerate(images):
            instances.append(dict(sop_instance_uid=f"{uid}.{i}", series_instance_uid=f"{uid}.1",
                                  study_instance_uid=uid, instance_number=i + 1, slice_thickness=5.0,
                                  content_hash=f"{n:04d}{i:04d}", **image))
    _insert(con, "studies", pd.DataFrame(studies))
    _insert(con, "instances", pd.DataFrame(instances))
    for site in ("NORTH", "SOUTH"):
        set_archive_coverage(con, site, date(2020, 1, 1), "test")
    flag_clinically_required(con, world.uids["eve_us2"], "new symptoms since the first scan", "test")
    for n, (study, kind, site, when) in enumerate(USES):
        assert record_prior_use(con, world.uids[study], kind, site=site, used_at=when, event_id=f"test:{n}")
    study, kind, site = PENDING_USE
    assert record_prior_use(con, world.uids[study], kind, site=site, used_at=now_utc() - timedelta(days=1),
                            event_id="test:pending")
    if link:
        link_patients(con)
        facts.refresh(con)
    return world
