"""The hospitals of the demo region: codes, names, MRN issuers, AE titles, stations and devices."""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.store.writer import Site


@dataclass(frozen=True)
class Device:
    """One imaging device of a site: what the files say about where they were made."""

    modality: str
    station_name: str
    ae_title: str
    manufacturer: str
    model: str


@dataclass(frozen=True)
class DemoSite:
    """A hospital of the region with its own MRN issuer and devices."""

    code: str
    letter: str                  # used in the site's MRNs: DEMO-<letter>-000123
    name: str
    issuer: str                  # IssuerOfPatientID of the site's MRNs
    pacs_ae: str
    devices: tuple[Device, ...] = field(default_factory=tuple)

    @property
    def modalities(self) -> set[str]:
        return {d.modality for d in self.devices}

    def device(self, modality: str) -> Device:
        """The site's device for a modality (CR and DX fall back on each other)."""
        for wanted in (modality, {"CR": "DX", "DX": "CR"}.get(modality)):
            for d in self.devices:
                if d.modality == wanted:
                    return d
        raise ValueError(f"site {self.code} has no {modality} device")

    def to_site(self) -> Site:
        """The row the store keeps for this site."""
        return Site(site=self.code, name=self.name,
                    ae_titles=[self.pacs_ae] + [d.ae_title for d in self.devices],
                    issuer_of_patient_id=self.issuer, institution_names=[self.name])


def _devices(prefix: str, specs: list[tuple[str, str, str]]) -> tuple[Device, ...]:
    # Vendors are invented: the demo describes no real product.
    return tuple(Device(modality, f"{prefix}{modality}{n}", f"{prefix}_{modality}{n}", vendor, model)
                 for n, (modality, vendor, model) in enumerate(specs, start=1))


REGION_SITES: tuple[DemoSite, ...] = (
    DemoSite("CITY", "C", "DEMO City University Hospital", "DEMO-CUH", "CUH_PACS", _devices("CUH", [
        ("CT", "Basalt Imaging", "Helix 128"), ("CT", "Quarry Medical", "Stratum 64"),
        ("MR", "Quarry Medical", "Magna 3T"), ("DX", "Basalt Imaging", "Radius DR"),
        ("US", "Tufa Healthcare", "Sono 9"), ("MG", "Tufa Healthcare", "Mammo DR"),
    ])),
    DemoSite("NORTH", "N", "DEMO North General Hospital", "DEMO-NGH", "NGH_PACS", _devices("NGH", [
        ("CT", "Quarry Medical", "Stratum 64"), ("MR", "Basalt Imaging", "Field 1.5T"),
        ("CR", "Tufa Healthcare", "Plate CR"), ("US", "Basalt Imaging", "Echo 5"),
    ])),
    DemoSite("VALLEY", "V", "DEMO Valley District Hospital", "DEMO-VDH", "VDH_PACS", _devices("VDH", [
        ("CT", "Basalt Imaging", "Helix 16"), ("DX", "Quarry Medical", "Flat DR"),
        ("US", "Tufa Healthcare", "Sono 5"),
    ])),
    DemoSite("COAST", "K", "DEMO Coast Community Hospital", "DEMO-CCH", "CCH_PACS", _devices("CCH", [
        ("CT", "Tufa Healthcare", "Spiral 32"), ("CR", "Basalt Imaging", "Plate CR"),
        ("US", "Quarry Medical", "Wave 3"), ("MG", "Quarry Medical", "Mammo Tomo"),
    ])),
)

# pydicom's bundled real test files are imported under this site (they carry their own patients).
EXTERNAL_SITE = Site(site="EXT", name="External test files (pydicom)", ae_titles=[],
                     issuer_of_patient_id=None, institution_names=[])

DAMAGED_SAMPLE_NOTE = ("demo sample of damaged files (pydicom's test files), quarantined on purpose: "
                       "nothing went wrong")


def is_damaged_sample_run(kind: str | None, site: str | None) -> bool:
    """True for the demo's import of pydicom's test files: some are damaged on purpose, so its
    quarantined files and "failed" status show the archive refusing bad files, not a failed ingest."""
    return kind == "demo" and site == EXTERNAL_SITE.site


def site_by_code(code: str) -> DemoSite:
    for site in REGION_SITES:
        if site.code == code:
            return site
    raise KeyError(code)


def store_sites() -> list[Site]:
    """Every demo site as the store keeps it, the external test-file site included."""
    return [s.to_site() for s in REGION_SITES] + [EXTERNAL_SITE]
