"""Figures export to PNG and PDF for a committee report: plotly's static export (kaleido), which
drives Debian's chromium offline."""

from __future__ import annotations

import plotly.graph_objects as go


def test_a_figure_exports_to_png_and_pdf(tmp_path):
    fig = go.Figure(go.Box(y=[1.0, 2.0, 3.0, 40.0], name="ST1"))
    fig.write_image(tmp_path / "f.png", width=600, height=400)
    fig.write_image(tmp_path / "f.pdf", width=600, height=400)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"
