"""The demo session's cookie in the browser (see ``dashboard.auth``): set while a demo user is
signed in, cleared otherwise. Streamlit sets no cookie of its own for a page, so a component
without anything to show writes ``document.cookie``; the server reads it back from the request
of the next browser session (``st.context.cookies``)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth

_JS = """
export default function (component) {
  const { data } = component;
  if (!data) return;
  const name = data.name, has = document.cookie.split("; ").some((c) => c.startsWith(name + "="));
  if (data.token) {
    if (!document.cookie.split("; ").includes(name + "=" + data.token))
      document.cookie = `${name}=${data.token}; path=/; max-age=${data.seconds}; samesite=strict`;
  } else if (has) {
    document.cookie = `${name}=; path=/; max-age=0; samesite=strict`;
  }
}
"""
_COMPONENT = st.components.v2.component("limestone_session_cookie", js=_JS)


def keep_session_cookie() -> None:
    """Give the browser the signed-in demo user's session cookie, or clear a stale one."""
    if not auth.demo_mode():
        return      # with OIDC, Streamlit's own cookie keeps the session
    token = auth.demo_session_cookie()
    _COMPONENT(key="auth.session_cookie", data={"name": auth.COOKIE, "token": token,
                                                "seconds": auth.SESSION_SECONDS})
