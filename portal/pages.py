"""The share portal's HTML: plain pages a patient understands, every value escaped.

No page carries anything about the patient unless the link was opened with its passcode. The
script and style are served from the portal itself (``/static/...``) so the Content Security
Policy can forbid everything else.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from typing import Any

from archive.dicom.pixels import PRESETS
from archive.reports import release

REFUSAL = ("This link cannot be opened. It may have expired or been withdrawn, or the passcode was "
           "entered wrongly too many times. Please contact the hospital that sent it to you.")
TOO_MANY = "Too many attempts from your connection. Please wait a few minutes and try again."
NOT_FOUND = "This page does not exist."


def _page(title: str, body: str, status_note: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)} · Limestone</title>
<link rel="stylesheet" href="/static/portal.css">
</head><body>
<header><span class="brand">Limestone</span> <span class="tag">Secure image sharing</span>{status_note}</header>
<main>
{body}
</main>
<footer>Images shared by the hospital's imaging department. Every access is recorded.</footer>
</body></html>"""


def message(title: str, text: str) -> str:
    return _page(title, f'<section class="card"><h1>{escape(title)}</h1><p>{escape(text)}</p></section>')


def refusal() -> str:
    return message("Link not available", REFUSAL)


def home() -> str:
    return message("Limestone share portal",
                   "Open the link you were given by the hospital, then enter the passcode you received.")


def passcode_form(action: str, kind: str, error: str | None = None) -> str:
    if kind == "birth_date":
        label = "Patient's date of birth"
        field = '<input id="answer" name="answer" type="date" required autocomplete="bday">'
        hint = "Enter the date of birth of the patient whose images these are."
    else:
        label = "Passcode"
        field = ('<input id="answer" name="answer" type="text" required autocomplete="one-time-code" '
                 'autocapitalize="characters" spellcheck="false" placeholder="XXXXX-XXXXX">')
        hint = "Enter the passcode the hospital gave you with this link (letters and numbers)."
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page("Open shared images", f"""
<section class="card narrow">
<h1>Open shared images</h1>
<p>{escape(hint)}</p>
{problem}
<form method="post" action="{escape(action)}">
<label for="answer">{escape(label)}</label>
{field}
<button type="submit">Open</button>
</form>
</section>""")


def _name(name: Any) -> str:
    parts = [p for p in str(name or "").split("^")]
    family = parts[0].strip().upper()
    given = " ".join(p.strip().title() for p in parts[1:3] if p.strip())
    return (f"{family}, {given}" if given else family) or "(no name)"


def _date(value: Any) -> str:
    return value.strftime("%d %b %Y") if isinstance(value, date) else "unknown"


def banner(patient: dict) -> str:
    sex = {"F": "Female", "M": "Male", "O": "Other"}.get(str(patient.get("patient_sex") or "").upper(), "unknown")
    return f"""<section class="banner" id="patient-banner">
<strong>{escape(_name(patient.get("patient_name")))}</strong>
<span>Born {escape(_date(patient.get("patient_birth_date")))}</span>
<span>{escape(sex)}</span>
<span>ID {escape(str(patient.get("patient_id") or "(none)"))}</span>
</section>"""


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _reports(base: str, s_index: int, reports: list[dict], can_view: bool, can_download: bool) -> str:
    """A study's released reports: heading, and the text (view) and the PDF (download) as allowed."""
    parts = []
    for n, report in enumerate(reports, start=1):
        pdf = (f'<p><a class="report-pdf" href="{base}/report/{s_index}/{n}.pdf" download>'
               'Download the report (PDF)</a></p>'
               if can_download and release.has_document(report) else "")
        text = ""
        if can_view:
            text = (f'<pre class="report">{escape(report["text"])}</pre>' if report.get("text") else
                    '<p class="muted">This report is a document without readable text'
                    + ('; download the PDF to read it.</p>' if pdf else '.</p>'))
        if text or pdf:
            parts.append(f'<article class="report" id="report-{s_index}-{n}"><h3>Report</h3>'
                         f'<p class="muted">{escape(release.heading(report))}</p>{text}{pdf}</article>')
    return "".join(parts)


def studies_page(base: str, patient: dict, studies: list[dict], can_view: bool, can_download: bool,
                 expires: str, total_bytes: int, dicomweb: tuple[str, str] | None = None) -> str:
    """The link's home: banner, studies with their series (thumbnails), reports, downloads."""
    parts = [banner(patient), '<section class="card"><h1>Your shared images</h1>',
             f'<p class="muted">This link works until {escape(expires)} (UTC).</p>']
    if can_download:
        parts.append(f'<p><a class="button" href="{base}/download" download>Download all images '
                     f'(ZIP, {escape(_size(total_bytes))})</a></p>'
                     '<p class="muted">The ZIP holds the original DICOM files in full diagnostic '
                     'quality and a DICOMDIR, ready to open in any DICOM viewer or to give to your doctor.</p>')
    parts.append("</section>")
    for s_index, study in enumerate(studies, start=1):
        head = study["study"]
        modalities = ", ".join(head.get("modalities") or []) or ""
        parts.append(f'<section class="card study" id="study-{s_index}">'
                     f'<h2>{escape(head.get("study_description") or "Study")}</h2>'
                     f'<p class="muted">{escape(_date(head.get("study_date")))} · {escape(modalities)} · '
                     f'{escape(head.get("site_name") or head.get("institution_name") or "")}</p>')
        if can_download:
            parts.append(f'<p><a href="{base}/download/{s_index}" download>Download this study (ZIP)</a></p>')
        parts.append(_reports(base, s_index, study.get("reports") or [], can_view, can_download))
        parts.append('<div class="series">')
        for r_index, series in enumerate(study["series"], start=1):
            count = len(series["instances"])
            label = (f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
                     or f"Series {r_index}")
            thumb = (f'<img src="{base}/thumb/{s_index}/{r_index}.png" alt="" loading="lazy" width="128" height="128">'
                     if can_view else "")
            link_open = f'<a class="tile" href="{base}/view/{s_index}/{r_index}">' if can_view else '<div class="tile">'
            link_close = "</a>" if can_view else "</div>"
            parts.append(f'{link_open}{thumb}<span>{escape(label)}</span>'
                         f'<span class="muted">{count} image{"s" if count != 1 else ""}</span>{link_close}')
        parts.append("</div></section>")
    if dicomweb and dicomweb[1]:
        parts.append(f"""<section class="card"><details><summary>For a doctor's DICOM viewer (DICOMweb)</summary>
<p class="muted">Viewers such as OHIF or Weasis can open these studies directly. Use this address and
access key: it can only read these studies, and stops working when the link expires or is revoked.</p>
<p>Address: <code id="dicomweb-url">{escape(dicomweb[0])}</code></p>
<p>Access key (HTTP header <code>Authorization: Bearer &lt;key&gt;</code>):
<code id="dicomweb-key">{escape(dicomweb[1])}</code></p>
</details></section>""")
    parts.append(f'<form method="post" action="{base}/signout">'
                 '<button class="quiet" type="submit">Close</button></form>')
    return _page("Your shared images", "\n".join(parts))


def client_viewer_page(base: str, patient: dict, study: dict, series: dict, s_index: int, r_index: int,
                       count: int) -> str:
    """One series in the client-side viewer (``archive.viewing``): swipe, keys, window, zoom, cine.

    The viewer's options travel as JSON in an attribute (escaped), never inside the script.
    """
    label = f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
    head = study["study"]
    config = json.dumps({
        "panes": [{"url": f"{base}/chunk", "body": {"study": s_index, "series": r_index}, "count": count,
                   "label": label}],
        "presets": {k: [w.center, w.width] for k, w in PRESETS.items()},
        "help": "Swipe up or down (or use the arrow keys) to move through the images; pick a window or "
                "press Invert; + and − zoom. These pictures are for viewing only; the download holds the "
                "original files for diagnosis."})
    return _page("Image viewer", f"""{banner(patient)}
<section class="card viewer">
<p><a class="button quiet" href="{base}">&larr; All studies</a></p>
<h1>{escape(head.get("study_description") or "Study")} <small>{escape(label)}</small></h1>
<div data-limestone-viewer data-config="{escape(config, quote=True)}"></div>
</section>
<link rel="stylesheet" href="/static/viewer.css">
<script src="/static/viewer.js"></script>""")


def viewer_page(base: str, patient: dict, study: dict, series: dict, s_index: int, r_index: int,
                count: int) -> str:
    """The server-rendered viewer (one PNG per step): kept as ``?classic=1``, the benchmark's baseline."""
    options = "".join(f'<option value="{escape(k)}">{escape(k)}</option>' for k in PRESETS)
    label = f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
    head = study["study"]
    return _page("Image viewer", f"""{banner(patient)}
<section class="card viewer" id="viewer" data-base="{base}/image/{s_index}/{r_index}" data-count="{count}">
<p><a href="{base}">&larr; All studies</a></p>
<h1>{escape(head.get("study_description") or "Study")} <small>{escape(label)}</small></h1>
<div class="controls">
<label for="slice">Image <output id="position">1 of {count}</output></label>
<input id="slice" type="range" min="1" max="{count}" value="1" {"disabled" if count < 2 else ""}>
<label for="window">Window</label>
<select id="window"><option value="">File's own</option>{options}</select>
<label><input id="invert" type="checkbox"> Invert</label>
</div>
<img id="image" src="{base}/image/{s_index}/{r_index}/1.png" alt="Image 1 of {count}">
<p class="muted">Use the slider or the arrow keys to move through the images. These pictures are for
viewing only; the download holds the original files for diagnosis.</p>
</section>
<script src="/static/portal.js"></script>""")


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#16324f;color:#fff;padding:.8rem 1.5rem;display:flex;gap:1rem;align-items:baseline}
.brand{font-weight:700;font-size:1.2rem}.tag{opacity:.8}
main{max-width:1100px;margin:1.5rem auto;padding:0 1rem}
footer{text-align:center;color:#6b7785;font-size:.85rem;padding:2rem}
.card{background:#fff;border-radius:10px;padding:1.2rem 1.5rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.narrow{max-width:460px;margin:3rem auto}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1.2rem;margin:.2rem 0}
.muted{color:#6b7785}.error{color:#a40e26;font-weight:600}
label{display:block;margin:.6rem 0 .3rem;font-weight:600}
input[type=text],input[type=date]{font-size:1.2rem;padding:.5rem;width:100%;box-sizing:border-box;letter-spacing:.08em}
button,.button{display:inline-block;margin-top:.8rem;background:#1f6feb;color:#fff;border:0;border-radius:6px;
 padding:.6rem 1.2rem;font-size:1rem;text-decoration:none;cursor:pointer}
button.quiet{background:#e6e9ee;color:#1d2733}
.banner{display:flex;flex-wrap:wrap;gap:1.5rem;background:#fff7d6;border:1px solid #e8d48a;border-radius:10px;
 padding:.7rem 1.2rem;margin-bottom:1rem}
.series{display:flex;flex-wrap:wrap;gap:.8rem}
#dicomweb-url,#dicomweb-key{overflow-wrap:anywhere;word-break:break-all}
.tile{display:flex;flex-direction:column;align-items:center;gap:.2rem;width:150px;padding:.5rem;
 border:1px solid #dde2e8;
 border-radius:8px;color:inherit;text-decoration:none;background:#fafbfc}
.tile img{background:#000;border-radius:4px;object-fit:contain}
.viewer img{width:min(100%,640px);height:auto;background:#000;display:block;margin:1rem auto}
.controls{display:flex;flex-wrap:wrap;gap:.8rem;align-items:center}.controls label{display:inline;margin:0}
.controls input[type=range]{flex:1;min-width:200px}
pre.report{white-space:pre-wrap;background:#f4f6f8;padding:.8rem;border-radius:6px;font-family:inherit;line-height:1.45}
article.report{border-left:4px solid #1f6feb;padding:.1rem 0 .1rem 1rem;margin:1rem 0}
article.report h3{margin:.2rem 0}
"""

JS = """
(function(){
  var box=document.getElementById('viewer'); if(!box) return;
  var base=box.dataset.base, count=parseInt(box.dataset.count,10);
  var slider=document.getElementById('slice'), img=document.getElementById('image');
  var win=document.getElementById('window'), inv=document.getElementById('invert');
  var out=document.getElementById('position');
  function show(){
    var i=parseInt(slider.value,10), q=[];
    if(win.value) q.push('window='+encodeURIComponent(win.value));
    if(inv.checked) q.push('invert=1');
    img.src=base+'/'+i+'.png'+(q.length?'?'+q.join('&'):'');
    img.alt='Image '+i+' of '+count; out.textContent=i+' of '+count;
  }
  slider.addEventListener('input',show); win.addEventListener('change',show); inv.addEventListener('change',show);
  document.addEventListener('keydown',function(e){
    if(e.target.tagName==='SELECT') return;
    var step={ArrowRight:1,ArrowDown:1,ArrowLeft:-1,ArrowUp:-1,PageDown:10,PageUp:-10}[e.key];
    if(!step) return; e.preventDefault();
    slider.value=Math.min(count,Math.max(1,parseInt(slider.value,10)+step)); show();
  });
})();
"""
