"""DICOMweb nodes: QIDO-RS searches, WADO-RS streamed retrieval and STOW-RS stores (httpx)."""

from archive.network.dicomweb.client import DicomWebClient, DicomWebError, WebSettings, web_settings

__all__ = ["DicomWebClient", "DicomWebError", "WebSettings", "web_settings"]
