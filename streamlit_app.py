"""Limestone's dashboard router: shows each signed-in user the pages their roles allow."""

import streamlit as st

from dashboard.access import PAGES, SIGN_IN, pages_for
from dashboard.auth import current_user

user = current_user()
# Signed out, every page is routed but hidden: a deep link (/viewer?study=...) reaches its page,
# which asks for sign-in in place, so the link lands where it pointed once signed in.
specs = pages_for(user.roles) if user else list(PAGES)
sections: dict[str, list] = {}
for spec in specs:
    sections.setdefault(spec.section, []).append(
        st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.name,
                default=bool(user) and spec.name == "home"))
sections.setdefault(SIGN_IN.section, []).append(
    st.Page(SIGN_IN.path, title="Account" if user else SIGN_IN.title, icon=SIGN_IN.icon,
            url_path=SIGN_IN.name, default=not user or not specs))
st.navigation(sections, position="sidebar" if user else "hidden").run()
