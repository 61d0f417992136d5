"""Sign in: the hospital's identity provider (OIDC), or a local choice of role in demo mode."""

import streamlit as st

from dashboard import auth
from dashboard.access import BY_NAME, ROLES
from dashboard.components.setup import page_setup, record_sign_in

page_setup("sign_in", require_user=False)
st.title("Sign in to Limestone")
user = auth.current_user()
if user is not None:
    st.success(f"Signed in as {user.name} ({user.role_label}).")
    if not user.roles:
        st.warning("Your account has no Limestone role yet. Ask the archive administrator.")
elif auth.demo_mode():
    st.write("Pick a name and the role to try. Anyone at this computer can sign in this way, "
             "which is why demo mode only serves 127.0.0.1.")
    with st.form("sign_in.form"):
        name = st.text_input("Your name", value="Demo user", key="sign_in.name")
        role = st.selectbox("Role", ROLES, key="sign_in.role")
        if st.form_submit_button("Sign in", type="primary"):
            record_sign_in(auth.demo_sign_in(name, role))
            try:
                st.switch_page(BY_NAME["home"].path)   # sign-in lands on Home
            except st.errors.StreamlitAPIException:    # run on its own (tests): no router
                st.rerun()
else:
    st.write("Sign in with your hospital account.")
    if st.button("Sign in with the hospital account", type="primary", key="sign_in.oidc"):
        st.login()
