"""The share portal's HTML: plain pages a patient understands, every value escaped.

No page carries anything about the patient unless the link was opened with its passcode. The
script and style are served from the portal itself (``/static/...``) so the Content Security
Policy can forbid everything else.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from html import escape
from typing import Any

from archive import i18n
from archive.dicom.pixels import PRESETS
from archive.i18n import N_, _, ngettext
from archive.reports import release

# Marked for the catalogue here, translated where they are shown (``_(REFUSAL)``).
REFUSAL = N_("This link cannot be opened. It may have expired or been withdrawn, or the passcode was "
             "entered wrongly too many times. Please contact the hospital that sent it to you.")
TOO_MANY = N_("Too many attempts from your connection. Please wait a few minutes and try again.")
NOT_FOUND = N_("This page does not exist.")
DATE = "d MMM y"                # 15 Mar 1970 / 15 mars 1970
DATE_TIME = "d MMM y HH:mm"


def language_switch() -> str:
    """Links to the page in the other languages (``?lang=``: the portal remembers the choice)."""
    links = "".join(f'<a href="?lang={code}" hreflang="{code}" lang="{code}">{escape(i18n.language_name(code))}</a>'
                    for code in i18n.LANGUAGES if code != i18n.current())
    return f'<nav class="lang" aria-label="{escape(_("Language"))}">{links}</nav>'


def _page(title: str, body: str, status_note: str = "") -> str:
    return f"""<!doctype html>
<html lang="{i18n.current()}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)} · Limestone</title>
<link rel="stylesheet" href="/static/portal.css">
</head><body>
<a class="skip" href="#main">{escape(_("Skip to content"))}</a>
<header><span class="brand">Limestone</span> <span class="tag">{escape(_("Secure image sharing"))}</span>{status_note}
{language_switch()}</header>
<main id="main" tabindex="-1">
{body}
</main>
<footer>{escape(_("Images shared by the hospital's imaging department. Every access is recorded."))}</footer>
</body></html>"""


def message(title: str, text: str) -> str:
    return _page(title, f'<section class="card"><h1>{escape(title)}</h1><p>{escape(text)}</p></section>')


def refusal() -> str:
    return message(_("Link not available"), _(REFUSAL))


def home() -> str:
    return message(_("Limestone share portal"),
                   _("Open the link you were given by the hospital, then enter the passcode you received."))


def passcode_form(action: str, kind: str, error: str | None = None) -> str:
    if kind == "birth_date":
        label = _("Patient's date of birth")
        field = '<input id="answer" name="answer" type="date" required autocomplete="bday">'
        hint = _("Enter the date of birth of the patient whose images these are.")
    else:
        label = _("Passcode")
        field = ('<input id="answer" name="answer" type="text" required autocomplete="one-time-code" '
                 'autocapitalize="characters" spellcheck="false" placeholder="XXXXX-XXXXX">')
        hint = _("Enter the passcode the hospital gave you with this link (letters and numbers).")
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    title = _("Open shared images")
    return _page(title, f"""
<section class="card narrow">
<h1>{escape(title)}</h1>
<p>{escape(hint)}</p>
{problem}
<form method="post" action="{escape(action)}">
<label for="answer">{escape(label)}</label>
{field}
<button type="submit">{escape(_("Open"))}</button>
</form>
</section>""")


def _name(name: Any) -> str:
    parts = [p for p in str(name or "").split("^")]
    family = parts[0].strip().upper()
    given = " ".join(p.strip().title() for p in parts[1:3] if p.strip())
    return (f"{family}, {given}" if given else family) or _("(no name)")


def _date(value: Any) -> str:
    return i18n.format_date(value, DATE) if isinstance(value, date) else _("unknown")


def date_time(value: datetime) -> str:
    """A date and time in the page's language (the link's expiry)."""
    return i18n.format_datetime(value, DATE_TIME)


def banner(patient: dict) -> str:
    sexes = {"F": _("Female"), "M": _("Male"), "O": _("Other")}
    sex = sexes.get(str(patient.get("patient_sex") or "").upper(), _("unknown"))
    birth = patient.get("patient_birth_date")
    born = (_("Born {date}").format(date=_date(birth)) if isinstance(birth, date)
            else _("Date of birth unknown"))
    ident = _("ID {id}").format(id=str(patient.get("patient_id") or _("(none)")))
    return f"""<section class="banner" id="patient-banner" aria-label="{escape(_("Patient"))}">
<strong>{escape(_name(patient.get("patient_name")))}</strong>
<span>{escape(born)}</span>
<span>{escape(sex)}</span>
<span>{escape(ident)}</span>
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
               f'{escape(_("Download the report (PDF)"))}</a></p>'
               if can_download and release.has_document(report) else "")
        text = ""
        if can_view:
            text = (f'<pre class="report">{escape(report["text"])}</pre>' if report.get("text") else
                    '<p class="muted">'
                    + escape(_("This report is a document without readable text; download the PDF to read it.")
                             if pdf else _("This report is a document without readable text."))
                    + "</p>")
        if text or pdf:
            parts.append(f'<article class="report" id="report-{s_index}-{n}"><h3>{escape(_("Report"))}</h3>'
                         f'<p class="muted">{escape(release.heading(report))}</p>{text}{pdf}</article>')
    return "".join(parts)


def series_label(series: dict, r_index: int) -> str:
    return (f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
            or _("Series {number}").format(number=r_index))


def images_count(count: int) -> str:
    return ngettext("{count} image", "{count} images", count).format(count=count)


def has_images(instances: list[dict]) -> bool:
    """Whether a series' instances hold pixel data to show: a structured report, an RT plan or a
    waveform has no rows (``rows`` stays empty in the store)."""
    return any(i.get("rows") for i in instances)


def series_tile(series: dict, label: str, view_href: str | None, thumb_href: str) -> str:
    """A series' tile: its thumbnail, linking to the viewer when ``view_href`` is given. A series
    without images (a report, a plan, a waveform) gets a plain tile saying so: no black square,
    no viewer to open; its files are in the download."""
    count = len(series["instances"])
    if not has_images(series["instances"]):
        files = ngettext("{count} file", "{count} files", count).format(count=count)
        return (f'<div class="tile no-images"><span class="no-images-box">{escape(_("No images to show"))}</span>'
                f'<span>{escape(label)}</span><span class="muted">{escape(files)}</span></div>')
    thumb = (f'<img src="{thumb_href}" alt="" loading="lazy" width="128" height="128">' if view_href else "")
    inner = f'{thumb}<span>{escape(label)}</span><span class="muted">{escape(images_count(count))}</span>'
    return f'<a class="tile" href="{view_href}">{inner}</a>' if view_href else f'<div class="tile">{inner}</div>'


def studies_page(base: str, patient: dict, studies: list[dict], can_view: bool, can_download: bool,
                 expires: str, total_bytes: int, dicomweb: tuple[str, str] | None = None) -> str:
    """The link's home: banner, studies with their series (thumbnails), reports, downloads."""
    title = _("Your shared images")
    parts = [banner(patient), f'<section class="card"><h1>{escape(title)}</h1>',
             f'<p class="muted">{escape(_("This link works until {time} (UTC).").format(time=expires))}</p>']
    if can_download:
        everything = _("Download all images (ZIP, {size})").format(size=_size(total_bytes))
        parts.append(f'<p><a class="button" href="{base}/download" download>{escape(everything)}</a></p>'
                     '<p class="muted">' + escape(_(
                         "The ZIP holds the original DICOM files in full diagnostic quality and a DICOMDIR, "
                         "ready to open in any DICOM viewer or to give to your doctor.")) + "</p>")
    parts.append("</section>")
    for s_index, study in enumerate(studies, start=1):
        head = study["study"]
        modalities = ", ".join(head.get("modalities") or []) or ""
        parts.append(f'<section class="card study" id="study-{s_index}">'
                     f'<h2>{escape(head.get("study_description") or _("Study"))}</h2>'
                     f'<p class="muted">{escape(_date(head.get("study_date")))} · {escape(modalities)} · '
                     f'{escape(head.get("site_name") or head.get("institution_name") or "")}</p>')
        if can_download:
            parts.append(f'<p><a href="{base}/download/{s_index}" download>'
                         f'{escape(_("Download this study (ZIP)"))}</a></p>')
        parts.append(_reports(base, s_index, study.get("reports") or [], can_view, can_download))
        parts.append('<div class="series">')
        for r_index, series in enumerate(study["series"], start=1):
            parts.append(series_tile(series, series_label(series, r_index),
                                     f"{base}/view/{s_index}/{r_index}" if can_view else None,
                                     f"{base}/thumb/{s_index}/{r_index}.png"))
        parts.append("</div></section>")
    if dicomweb and dicomweb[1]:
        summary = _("For a doctor's DICOM viewer (DICOMweb)")
        parts.append(f"""<section class="card"><details><summary>{escape(summary)}</summary>
<p class="muted">{escape(_("Viewers such as OHIF or Weasis can open these studies directly. Use this address and "
                           "access key: it can only read these studies, and stops working when the link expires "
                           "or is revoked."))}</p>
<p>{escape(_("Address:"))} <code id="dicomweb-url">{escape(dicomweb[0])}</code></p>
<p>{escape(_("Access key (HTTP header {header}):").format(header="Authorization: Bearer <key>"))}
<code id="dicomweb-key">{escape(dicomweb[1])}</code></p>
</details></section>""")
    parts.append(f'<form method="post" action="{base}/signout">'
                 f'<button class="quiet" type="submit">{escape(_("Close"))}</button></form>')
    return _page(title, "\n".join(parts))


def viewer_help() -> str:
    return _("Swipe up or down (or use the arrow keys) to move through the images; pick a window or press "
             "Invert; + and − zoom. These pictures are for viewing only; the download holds the original "
             "files for diagnosis.")


def client_viewer_page(base: str, patient: dict, study: dict, series: dict, s_index: int, r_index: int,
                       count: int) -> str:
    """One series in the client-side viewer (``archive.viewing``): swipe, keys, window, zoom, cine.

    The viewer's options travel as JSON in an attribute (escaped), never inside the script; its own
    labels come translated in ``text`` (``viewer_text``).
    """
    label = f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
    head = study["study"]
    config = json.dumps({
        "panes": [{"url": f"{base}/chunk", "body": {"study": s_index, "series": r_index}, "count": count,
                   "label": label}],
        "presets": {k: [w.center, w.width] for k, w in PRESETS.items()},
        "help": viewer_help(), "text": viewer_text()})
    return _page(_("Image viewer"), f"""{banner(patient)}
<section class="card viewer">
<p><a class="button quiet" href="{base}">&larr; {escape(_("All studies"))}</a></p>
<h1>{escape(head.get("study_description") or _("Study"))} <small>{escape(label)}</small></h1>
<div data-limestone-viewer data-config="{escape(config, quote=True)}"></div>
</section>
<link rel="stylesheet" href="/static/viewer.css">
<script src="/static/viewer.js"></script>""")


# The client viewer's own labels (archive/viewing/viewer.js), in the catalogue for the portal.
VIEWER_TEXT = (
    N_("Image tools"), N_("Window preset"), N_("File's own window"), N_("Invert"),
    N_("Invert the grey scale (I)"), N_("Zoom out"), N_("Zoom in"), N_("Fit"),
    N_("Fit the image and reset the window"), N_("▶ Cine"), N_("■ Stop"),
    N_("Cine: play the series as a film (Space)"), N_("Stop the film (Space)"),
    N_("Scroll"), N_("Pan"), N_("Distance"), N_("Ellipse"), N_("Drag to scroll through the images"),
    N_("Pan: drag to move the image"), N_("Measure: drag to draw a distance"), N_("Measure: drag to draw an ellipse"),
    N_("Image"), N_("use the arrow keys to scroll"), N_("Loading…"), N_("Image {n} of {count}"),
    N_(" (frame {n} of {count})"), N_(": cannot be shown"),
    N_("Scroll: wheel, arrow keys, Page Up/Down, Home/End, drag or swipe. Window: presets or right-drag. "
       "Zoom: +/− or Ctrl+wheel."),
)


def viewer_text() -> dict[str, str]:
    """The viewer's labels in the page's language ({} in English: the script's own text is used)."""
    if i18n.current() == i18n.DEFAULT:
        return {}
    return {text: _(text) for text in VIEWER_TEXT}


def viewer_page(base: str, patient: dict, study: dict, series: dict, s_index: int, r_index: int,
                count: int) -> str:
    """The server-rendered viewer (one PNG per step): kept as ``?classic=1``, the benchmark's baseline."""
    options = "".join(f'<option value="{escape(k)}">{escape(k)}</option>' for k in PRESETS)
    label = f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
    head = study["study"]
    position, alt = _("{n} of {count}"), _("Image {n} of {count}")
    return _page(_("Image viewer"), f"""{banner(patient)}
<section class="card viewer" id="viewer" data-base="{base}/image/{s_index}/{r_index}" data-count="{count}"
 data-position="{escape(position, quote=True)}" data-alt="{escape(alt, quote=True)}">
<p><a href="{base}">&larr; {escape(_("All studies"))}</a></p>
<h1>{escape(head.get("study_description") or _("Study"))} <small>{escape(label)}</small></h1>
<div class="controls">
<label for="slice">{escape(_("Image"))}</label>
<output id="position" for="slice">{escape(position.format(n=1, count=count))}</output>
<input id="slice" type="range" min="1" max="{count}" value="1" {"disabled" if count < 2 else ""}>
<label for="window">{escape(_("Window"))}</label>
<select id="window"><option value="">{escape(_("File's own window"))}</option>{options}</select>
<label><input id="invert" type="checkbox"> {escape(_("Invert"))}</label>
</div>
<img id="image" src="{base}/image/{s_index}/{r_index}/1.png" alt="{escape(alt.format(n=1, count=count))}">
<p class="muted">{escape(_("Use the slider or the arrow keys to move through the images. These pictures are for "
                           "viewing only; the download holds the original files for diagnosis."))}</p>
</section>
<script src="/static/portal.js"></script>""")


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1d2733;
 line-height:1.45;-webkit-text-size-adjust:100%}
header{background:#16324f;color:#fff;padding:.7rem 1rem;display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:baseline}
.brand{font-weight:700;font-size:1.2rem}.tag{opacity:.9}
.lang{margin-left:auto}.lang a{color:#fff;text-decoration:underline;display:inline-block;padding:.3rem .2rem}
body header nav.lang{background:none;border:0;padding:0;display:block}
body header nav.lang a{color:#fff;font-weight:400;text-decoration:underline;min-height:0}
#acting ~ .card #share-chosen{display:none}
.skip{position:absolute;left:-9999px;top:0;background:#fff;color:#16324f;padding:.6rem 1rem;z-index:10}
.skip:focus{left:.5rem;top:.5rem}
main{max-width:1100px;margin:1rem auto;padding:0 .6rem}
main:focus{outline:none}
footer{text-align:center;color:#525d6a;font-size:.85rem;padding:1.5rem 1rem}
.card{background:#fff;border-radius:10px;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.narrow{max-width:460px;margin:1.5rem auto}
h1{font-size:1.35rem;margin-top:0}h2{font-size:1.15rem;margin:.2rem 0}
.muted{color:#525d6a}.error{color:#a40e26;font-weight:600}
a{color:#0b57c2}
label{display:block;margin:.6rem 0 .3rem;font-weight:600}
input[type=text],input[type=date],input[type=email],input[type=tel]{font-size:1.2rem;padding:.6rem;width:100%;
 box-sizing:border-box;letter-spacing:.08em;border:1px solid #6b7785;border-radius:6px}
button,.button{display:inline-block;margin-top:.8rem;background:#1a5fd0;color:#fff;border:0;border-radius:6px;
 padding:.7rem 1.2rem;font-size:1rem;text-decoration:none;cursor:pointer;min-height:44px;box-sizing:border-box}
button.quiet,.button.quiet{background:#e6e9ee;color:#1d2733}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible,
canvas:focus-visible,.tile:focus-visible{outline:3px solid #f0a500;outline-offset:2px}
.banner{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;background:#fff7d6;border:1px solid #e8d48a;border-radius:10px;
 padding:.7rem 1rem;margin-bottom:1rem}
.series{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:.6rem;align-items:start}
#dicomweb-url,#dicomweb-key{overflow-wrap:anywhere;word-break:break-all}
summary{cursor:pointer;padding:.3rem 0;font-weight:600}
.tile{display:flex;flex-direction:column;align-items:center;gap:.2rem;padding:.5rem;
 border:1px solid #dde2e8;border-radius:8px;color:inherit;text-decoration:none;background:#fafbfc;text-align:center}
.tile img{background:#000;border-radius:4px;object-fit:contain;width:128px;height:128px;max-width:100%}
.no-images-box{display:flex;align-items:center;justify-content:center;width:128px;height:128px;max-width:100%;
 border:1px dashed #9aa5b1;border-radius:4px;color:#3d4852;font-size:.85rem;padding:.4rem;box-sizing:border-box}
.viewer img{width:min(100%,640px);height:auto;background:#000;display:block;margin:1rem auto}
.controls{display:flex;flex-wrap:wrap;gap:.8rem;align-items:center}.controls label{display:inline;margin:0}
.controls input[type=range]{flex:1;min-width:160px}
pre.report{white-space:pre-wrap;background:#f4f6f8;padding:.8rem;border-radius:6px;font-family:inherit;line-height:1.45}
article.report{border-left:4px solid #1a5fd0;padding:.1rem 0 .1rem .8rem;margin:1rem 0}
article.report h3{margin:.2rem 0}
@media (min-width:700px){header{padding:.8rem 1.5rem}main{margin:1.5rem auto;padding:0 1rem}
 .card{padding:1.2rem 1.5rem}.narrow{margin:3rem auto}h1{font-size:1.4rem}}
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
    function say(t){return t.replace('{n}',i).replace('{count}',count);}
    img.alt=say(box.dataset.alt); out.textContent=say(box.dataset.position);
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
