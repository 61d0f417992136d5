"""``page_setup()``: the first call of every page.

It sets the page title, checks who is signed in and whether their roles allow this page (a
refused page stops with a plain message), says "demo mode" when there is no identity provider,
and shows the user and a sign-out button in the sidebar. It also turns any unexpected error
inside a page into a plain message (details go to the log, never a stack trace to the page).
"""

from __future__ import annotations

import functools
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from archive.audit.trail import AuditEvent, record
from archive.errors import LimestoneError
from dashboard import auth, data, image_server
from dashboard.access import BY_NAME, allowed
from dashboard.components.session_cookie import keep_session_cookie

log = logging.getLogger("limestone.dashboard")
# The browser-tab icon, a file served by the app: a Material or emoji icon is fetched from a CDN.
ICON = Path(__file__).resolve().parents[1] / "static" / "limestone-icon.png"
PRELOAD_KEY = "preload_scripts"


@dataclass(frozen=True)
class PageContext:
    page: str
    user: auth.User
    home: str

    def may(self, page: str) -> bool:
        return allowed(page, self.user.roles)


def _set_config(title: str) -> None:
    try:
        st.set_page_config(page_title=f"{title} · Limestone", page_icon=str(ICON), layout="wide")
    except st.errors.StreamlitAPIException:
        pass  # already set by the router on this run


def demo_notice() -> None:
    st.info("**Demo mode**: no identity provider is configured; this app only serves this computer "
            "(127.0.0.1).", icon=":material/science:")


def page_setup(page: str, require_user: bool = True) -> PageContext | None:
    """Set up ``page`` (a name from dashboard.access) and return who is using it.

    Stops the script (after a plain message) when nobody is signed in or the page is not allowed.
    """
    spec = BY_NAME[page]
    _set_config(spec.title)
    data.warm(data.home_dir(), image_server.SERVER.start)
    demo = auth.demo_mode()
    if demo:
        if not auth.bound_to_loopback():
            st.error("Demo mode only serves this computer. Start the app with "
                     "--server.address 127.0.0.1, or configure an identity provider.")
            st.stop()
        if not auth.loopback_host(auth.request_host()):
            # The app is reached under a name that is not this computer's: a DNS-rebinding page
            # may be driving this browser. Show nothing, not even whether someone is signed in.
            log.warning("demo mode refused a request for another host name")
            st.error("Demo mode only answers at http://127.0.0.1 or http://localhost. "
                     "Open the app at that address.")
            st.stop()
        demo_notice()
    user = auth.current_user()
    keep_session_cookie()
    if user is None:
        if not require_user:
            return None
        st.warning("Please sign in to use Limestone.")
        sign_in_here(page)
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** · {user.role_label}" + (" · demo mode" if demo else ""))
        if st.button("Sign out", key=f"{page}.sign_out"):
            image_server.GRANTS.revoke_session(_session_id())   # images refused from now on
            auth.sign_out()
            st.rerun()
    if page != "sign_in" and not allowed(page, user.roles):  # the account page is for everyone
        st.error(f"Your role ({user.role_label}) does not give access to {spec.title}.")
        st.stop()
    return PageContext(page, user, data.home_dir())


def _session_id() -> str:
    run = get_script_run_ctx()
    return run.session_id if run is not None else "no-session"


def record_sign_in(user: auth.User) -> None:
    record(data.archive(data.home_dir()).home,
           AuditEvent("sign_in", user.user_id, user.role_label, source="dashboard", detail="demo"))


def sign_in_here(page: str) -> None:
    """The sign-in form in place: after it, the same address (and its query) shows the page."""
    if auth.demo_mode():
        with st.form(f"{page}.sign_in_form"):
            name = st.text_input("Your name", value="Demo user", key=f"{page}.sign_in_name")
            role = st.selectbox("Role", auth.ROLES, key=f"{page}.sign_in_role")
            if st.form_submit_button("Sign in", type="primary"):
                record_sign_in(auth.demo_sign_in(name, role))
                st.rerun()
    else:
        _link_sign_in()
    preload_scripts()


def preload_scripts() -> None:
    """Load, while the user signs in, the browser code of what the page behind the sign-in shows
    first: the image viewer's component (mounted with nothing to show) and Streamlit's table (an
    empty one, hidden). They cost ~0.3-0.6 s on the first image after sign-in otherwise: the
    table's scripts (1.5 MB) were measured delaying the comparison's first image by ~0.3 s."""
    from dashboard.components.viewer import preload

    preload()
    st.html(f"<style>.st-key-{PRELOAD_KEY} {{display: none}}</style>")
    with st.container(key=PRELOAD_KEY):
        st.dataframe(pd.DataFrame(), key=f"{PRELOAD_KEY}.table")


def _link_sign_in() -> None:
    try:
        st.page_link(str(BY_NAME["sign_in"].path), label="Go to sign-in", icon=":material/login:")
    except Exception:  # the page runs on its own (tests): there is no router to link through
        pass


def guarded(page: str) -> Callable:
    """Decorator for a page's body: NoArchive shows the empty state, a LimestoneError its message,
    any other error a plain apology (details to the log)."""
    def wrap(body: Callable[[PageContext], None]) -> Callable[[PageContext], None]:
        @functools.wraps(body)
        def run(ctx: PageContext) -> None:
            try:
                body(ctx)
            except data.NoArchive:
                empty_archive()
            except LimestoneError as exc:  # its message is written for the user and names no patient
                log.warning("page %s: %s", page, type(exc).__name__)
                st.error(exc.message)
            except Exception as exc:  # st.stop()/st.rerun() are BaseExceptions and pass through
                # The type and the code path only: an exception's message may quote patient data.
                log.error("page %s failed with %s\n%s", page, type(exc).__name__,
                          "".join(traceback.format_tb(exc.__traceback__)))
                st.error("Something went wrong on this page. The details were written to the "
                         "server log; please try again or tell the archive administrator.")
        return run
    return wrap


def empty_archive() -> None:
    st.info("The archive is empty. Import studies with `limestone import PATH` or build the demo "
            "archive with `limestone demo`, then reload this page.", icon=":material/inventory_2:")
