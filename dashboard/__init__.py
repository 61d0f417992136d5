"""Limestone's staff dashboard: thin Streamlit pages over ``archive`` (never over ``pipelines``).

Layout: ``streamlit_app.py`` only routes (st.navigation, the pages a user's roles allow);
``dashboard/access.py`` is the one table of pages and roles; every page under ``pages/`` starts
with ``components.setup.page_setup(<page>)`` and runs on its own (AppTest); reusable pieces
(patient banner, image viewer, chart with CSV) live in ``components/``; ``data.py`` is the only
door to the store (one read-only DuckDB connection per home, cursors per query, results cached
for ``data.TTL`` seconds keyed on the home and the query inputs).

Choices worth knowing:

- Sign-in: with an ``[auth]`` section in ``.streamlit/secrets.toml`` staff sign in through the
  hospital's OpenID provider (``st.login``; needs Authlib and httpx, i.e. ``streamlit[auth]``);
  roles come from the token claim ``[limestone] role_claim`` or the ``[limestone.user_roles]``
  e-mail table. Without it the app is in demo mode: a local choice of name and role, kept for the
  browser session only (a reload or a typed-in URL asks again), every page says "demo mode", and
  the pages refuse to serve unless Streamlit is bound to 127.0.0.1.
- Pages a role may not use are left out of the navigation and refuse direct use (page_setup).
  The viewer (and the study page's thumbnails) are for technologist, quality and admin; metrics
  for manager, quality and admin; everyone signed in with a role may browse.
- URLs carry no PHI: a study is opened by an opaque key (``archive.study_keys``: the Study
  Instance UID encrypted with AES-SIV under a key in the home); search filters stay in the session.
- The patient timeline spans sites: the same MRN at its issuer, plus records at other issuers with
  the same name, birth date and sex (shown with their site and MRN so the reader can judge).
- Turnaround is what the store can measure: exam date/time to first arrival in the archive.
- Viewing a study in the viewer writes one ``view`` audit event per study and browser session.
- Errors never reach the page as a stack trace: ``guarded`` shows a plain message and logs the
  details; ``client.showErrorDetails = "none"`` covers anything else.
"""
