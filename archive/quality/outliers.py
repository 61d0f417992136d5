"""Image-quality outliers that compare like with like, for notebooks and pages.

Peers are series of the same **modality, station, protocol, series description, sequence and
image type** (``PEER_KEYS``): a knee protocol's "AX PD FS" is compared with other "AX PD FS"
series, not with its sagittal T1, and a localizer never with a diagnostic image. Images that show
no anatomy (``has_anatomy`` false: an empty edge slice or blank frame, see
``archive.quality.metrics.MIN_CONTENT``) are left out before anything is compared, and counted.

Two kinds of flag, each needing a robust score **and** a minimum effect size, so that 0.003 vs
0.003 is never flagged however tight the peers are:

- ``series``: one series' median metric against its peers (at least ``MIN_PEERS`` series):
  robust z = (x - median) / (1.4826 MAD), the MAD floored at 1 % of the median; flagged when
  |z| > ``Z_LIMIT`` and the relative difference from the peers' median is at least
  ``MIN_EFFECT[metric]``;
- ``station``: one station's median for a kind of series (same keys but the station) against the
  series of the other stations (at least ``MIN_PEERS`` on each side), with the same two tests:
  "station CT2 is 60 % noisier than the others on this protocol".

Plus absolute rules per image (``instance``): more than 2 % of pixels saturated, more than 2 %
clipped at zero signal (CR/DX/MG), a deviation index beyond +-3.

Every flag carries the study date, site, station, series description, the flagged image and a
typical peer's image (content hashes for ``archive.quality.report.thumbnails``) and the opaque
study key with the dashboard viewer's address (``/viewer?study=<key>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from archive import study_keys
from archive.home import Home

PEER_KEYS = ("modality", "station", "protocol", "series_description", "sequence", "image_type")
METRICS = ("noise_sigma", "snr", "cnr", "sharpness", "ct_noise_hu")
# Smallest relative difference from the peers' median worth a quality team's time.
MIN_EFFECT = {"noise_sigma": 0.25, "snr": 0.25, "cnr": 0.25, "sharpness": 0.5, "ct_noise_hu": 0.25}
Z_LIMIT = 3.5
MIN_PEERS = 3
SATURATION_LIMIT = 0.02
DI_LIMIT = 3.0
# Where a saturated pixel is a fault; in US, SC or a segmentation full white is normal.
SATURATION_MODALITIES = ("CR", "DX", "MG", "CT", "MR")
FLAG_COLUMNS = ["level", "metric", "value", "peer_median", "peers", "robust_z", "effect", "reason",
                "study_date", "site", "modality", "station", "protocol", "series_description", "sequence",
                "image_type", "series_instance_uid", "study_instance_uid", "content_hash", "peer_content_hash",
                "study_key", "viewer_url"]


@dataclass
class QualityAnalysis:
    """What ``analyse`` found."""

    instances: pd.DataFrame        # every measured image (with has_anatomy)
    no_anatomy: int                # images left out because they show no anatomy
    series: pd.DataFrame           # one row per series, anatomy images only
    flags: pd.DataFrame            # FLAG_COLUMNS, worst first
    stations: pd.DataFrame         # station-level comparisons (flagged or not)

    def sentence(self) -> str:
        flagged = self.flags["series_instance_uid"].nunique() if not self.flags.empty else 0
        series = self.series["series_instance_uid"].nunique() if not self.series.empty else 0
        return (f"{len(self.instances)} measured instances in {series} "
                f"series; {self.no_anatomy} images without anatomy left out; {flagged} series flagged, "
                f"{int(self.stations['flagged'].sum()) if not self.stations.empty else 0} station differences")


def robust_z(values: pd.Series, centre: float, mad: float) -> pd.Series:
    """(x - centre) / (1.4826 MAD) with the MAD floored at 1 % of the centre (and 1e-12)."""
    scale = 1.4826 * max(mad, 0.01 * abs(centre), 1e-12)
    return (values - centre) / scale


def _effect(value: float, centre: float) -> float:
    return abs(value - centre) / abs(centre) if centre else float("inf") if value else 0.0


def series_metrics(instances: pd.DataFrame) -> pd.DataFrame:
    """One row per series from its anatomy images: the median of each metric and its middle image."""
    keep = instances[instances["has_anatomy"].fillna(True).astype(bool)] if not instances.empty else instances
    if keep.empty:
        return pd.DataFrame(columns=["series_instance_uid", "study_instance_uid", "study_date", "site", *PEER_KEYS,
                                     "images", "content_hash", *METRICS])
    keep = keep.sort_values(["series_instance_uid", "instance_number", "sop_instance_uid"], na_position="last")
    grouped = keep.groupby("series_instance_uid", sort=False)
    first = grouped[["study_instance_uid", "study_date", "site", *PEER_KEYS]].first()
    middle = grouped["content_hash"].agg(lambda h: h.iloc[(len(h) - 1) // 2]).rename("content_hash")
    medians = grouped[list(METRICS)].median()
    out = pd.concat([first, grouped.size().rename("images"), middle, medians], axis=1).reset_index()
    return out


def _typical(group: pd.DataFrame, metric: str, centre: float, exclude: set[str]) -> str | None:
    others = group[~group["series_instance_uid"].isin(exclude)].dropna(subset=[metric])
    if others.empty:
        return None
    return str(others.loc[(others[metric] - centre).abs().idxmin(), "content_hash"])


def series_outliers(series: pd.DataFrame) -> pd.DataFrame:
    """Series far from their like-with-like peers (module docstring), one row per series and metric."""
    rows = []
    for _, group in series.groupby(list(PEER_KEYS), dropna=False, sort=True):
        if len(group) < MIN_PEERS:
            continue
        for metric in METRICS:
            values = group[metric].dropna()
            if len(values) < MIN_PEERS:
                continue
            centre = float(values.median())
            mad = float((values - centre).abs().median())
            z = robust_z(values, centre, mad)
            for index in values.index:
                effect = _effect(float(values[index]), centre)
                if abs(z[index]) > Z_LIMIT and effect >= MIN_EFFECT[metric]:
                    row = group.loc[index]
                    direction = "higher" if values[index] > centre else "lower"
                    rows.append(dict(row[["series_instance_uid", "study_instance_uid", "study_date", "site",
                                          *PEER_KEYS, "content_hash"]].to_dict(),
                                     level="series", metric=metric, value=float(values[index]), peer_median=centre,
                                     peers=len(values), robust_z=float(z[index]), effect=effect,
                                     reason=f"{metric} {effect:.0%} {direction} than {len(values)} like series",
                                     peer_content_hash=_typical(group, metric, centre, {row["series_instance_uid"]})))
    return pd.DataFrame(rows)


def station_comparison(series: pd.DataFrame) -> pd.DataFrame:
    """Each station against the other stations for the same kind of series (module docstring)."""
    kind = [k for k in PEER_KEYS if k != "station"]
    rows = []
    for key, group in series.groupby(kind, dropna=False, sort=True):
        stations = group["station"].unique()
        if len(stations) < 2:
            continue
        for station in sorted(stations):
            mine, others = group[group["station"] == station], group[group["station"] != station]
            for metric in METRICS:
                a, b = mine[metric].dropna(), others[metric].dropna()
                if len(a) < MIN_PEERS or len(b) < MIN_PEERS:
                    continue
                centre = float(b.median())
                mad = float((b - centre).abs().median())
                value = float(a.median())
                z = float(robust_z(pd.Series([value]), centre, mad).iloc[0])
                effect = _effect(value, centre)
                rows.append(dict(zip(kind, key, strict=True), station=station, metric=metric, series=len(a),
                                 value=value,
                                 others_series=len(b), others_median=centre, robust_z=z, effect=effect,
                                 flagged=bool(abs(z) > Z_LIMIT and effect >= MIN_EFFECT[metric]),
                                 content_hash=_typical(mine, metric, value, set()),
                                 peer_content_hash=_typical(others, metric, centre, set()),
                                 study_instance_uid=str(mine.iloc[0]["study_instance_uid"])))
    columns = [*kind, "station", "metric", "series", "value", "others_series", "others_median", "robust_z",
               "effect", "flagged", "content_hash", "peer_content_hash", "study_instance_uid"]
    out = pd.DataFrame(rows, columns=columns)
    out["flagged"] = out["flagged"].astype(bool)
    return out


def absolute_flags(instances: pd.DataFrame) -> pd.DataFrame:
    """Images breaking an absolute rule (saturation, clipping at zero signal, deviation index)."""
    if instances.empty:
        return pd.DataFrame()
    rules = [
        ("saturation_fraction", (instances["saturation_fraction"].fillna(0) > SATURATION_LIMIT)
         & instances["modality"].isin(SATURATION_MODALITIES), "more than 2 % of pixels saturated"),
        ("clipping_fraction", (instances["clipping_fraction"].fillna(0) > SATURATION_LIMIT)
         & instances["modality"].isin(["CR", "DX", "MG"]), "more than 2 % of pixels clipped at zero signal"),
        ("deviation_index", instances["deviation_index"].abs() > DI_LIMIT, "deviation index beyond +-3"),
    ]
    frames = []
    for metric, mask, reason in rules:
        hit = instances[mask.fillna(False).astype(bool)]
        if hit.empty:
            continue
        frames.append(hit.assign(level="instance", metric=metric, value=hit[metric], peer_median=np.nan,
                                 peers=np.nan, robust_z=np.nan, effect=np.nan, reason=reason,
                                 peer_content_hash=None))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def clipping_by_station(instances: pd.DataFrame) -> pd.DataFrame:
    """Per modality and station: images, share with saturation / clipping beyond 2 %, worst fractions."""
    columns = ["modality", "station", "images", "saturated_images", "saturated_share", "clipped_images",
               "clipped_share", "max_saturation_fraction", "max_clipping_fraction"]
    if instances.empty:
        return pd.DataFrame(columns=columns)
    frame = instances.assign(saturated=instances["saturation_fraction"].fillna(0) > SATURATION_LIMIT,
                             clipped=instances["clipping_fraction"].fillna(0) > SATURATION_LIMIT)
    out = frame.groupby(["modality", "station"]).agg(
        images=("sop_instance_uid", "count"), saturated_images=("saturated", "sum"),
        clipped_images=("clipped", "sum"), max_saturation_fraction=("saturation_fraction", "max"),
        max_clipping_fraction=("clipping_fraction", "max")).reset_index()
    out["saturated_share"] = out["saturated_images"] / out["images"]
    out["clipped_share"] = out["clipped_images"] / out["images"]
    return out[columns]


def robust_range(values: pd.Series | np.ndarray, low: float = 0.01, high: float = 0.99,
                 pad: float = 0.1) -> tuple[float, float] | None:
    """An axis range that shows the bulk of ``values`` (1st-99th percentile, padded) so one absurd
    value (an SNR of 3,000,000 in a synthetic file) does not flatten every real one."""
    data = pd.Series(values, dtype="float64").replace([np.inf, -np.inf], np.nan).dropna()
    if data.empty:
        return None
    lo, hi = float(data.quantile(low)), float(data.quantile(high))
    span = (hi - lo) or abs(hi) or 1.0
    return lo - pad * span, hi + pad * span


def viewer_url(home: Home, study_instance_uid: str, base_url: str = "") -> str:
    """The dashboard viewer's address for a study, by its opaque key (no UID in the URL)."""
    return f"{base_url.rstrip('/')}/viewer?study={study_keys.encode(home, study_instance_uid)}"


def _with_links(frame: pd.DataFrame, home: Home, base_url: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    keys = {uid: study_keys.encode(home, uid) for uid in frame["study_instance_uid"].dropna().unique()}
    frame = frame.copy()
    frame["study_key"] = frame["study_instance_uid"].map(keys)
    frame["viewer_url"] = frame["study_key"].map(lambda k: f"{base_url.rstrip('/')}/viewer?study={k}")
    return frame


def analyse(con: duckdb.DuckDBPyConnection, home: Home, since: date | None = None, modality: str | None = None,
            base_url: str = "") -> QualityAnalysis:
    """Read the measured images (view ``qa_instance_metrics``) and find what a team should look at."""
    instances = con.execute(
        "SELECT * FROM qa_instance_metrics WHERE (CAST(? AS DATE) IS NULL OR study_date >= CAST(? AS DATE)) "
        "AND (CAST(? AS VARCHAR) IS NULL OR modality = upper(CAST(? AS VARCHAR))) ORDER BY study_date",
        [since, since, modality, modality]).df()
    return analyse_frame(instances, home, base_url)


def analyse_frame(instances: pd.DataFrame, home: Home, base_url: str = "") -> QualityAnalysis:
    """``analyse`` on an already read frame of ``qa_instance_metrics`` rows."""
    if "has_anatomy" not in instances:
        instances = instances.assign(has_anatomy=True)
    no_anatomy = int((~instances["has_anatomy"].fillna(True).astype(bool)).sum())
    series = series_metrics(instances)
    relative = series_outliers(series)
    absolute = absolute_flags(instances)
    flags = pd.concat([f for f in (relative, absolute) if not f.empty], ignore_index=True) \
        if not (relative.empty and absolute.empty) else pd.DataFrame(columns=FLAG_COLUMNS)
    flags = _with_links(flags, home, base_url)
    if not flags.empty:
        flags["_order"] = flags["robust_z"].abs().fillna(99)
        flags = flags.sort_values(["level", "_order"], ascending=[False, False]).drop(columns="_order")
        flags = flags.reindex(columns=FLAG_COLUMNS).reset_index(drop=True)
    stations = station_comparison(series)
    stations = _with_links(stations, home, base_url) if not stations.empty else stations
    return QualityAnalysis(instances=instances, no_anatomy=no_anatomy, series=series, flags=flags,
                           stations=stations)
