"""Limestone's dashboard router: shows each signed-in user the pages their roles allow."""

import streamlit as st

from dashboard.access import SIGN_IN, pages_for
from dashboard.auth import current_user

user = current_user()
specs = pages_for(user.roles) if user else []
sections: dict[str, list] = {}
for spec in specs:
    sections.setdefault(spec.section, []).append(
        st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.name, default=spec.name == "home"))
sections.setdefault(SIGN_IN.section, []).append(
    st.Page(SIGN_IN.path, title="Account" if user else SIGN_IN.title, icon=SIGN_IN.icon,
            url_path=SIGN_IN.name, default=not specs))
st.navigation(sections).run()
