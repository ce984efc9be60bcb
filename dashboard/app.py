"""The XMO cockpit: `make dashboard` (or `xmo dashboard`) serves it on 127.0.0.1.

With an `[auth]` section in .streamlit/secrets.toml (Streamlit's OpenID Connect sign-in, see the
README), only a signed-in user sees any page; without one the cockpit is open to whoever reaches
it, which is why it listens on 127.0.0.1 unless put behind the organisation's sign-in.
"""

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

st.set_page_config(page_title="XMO cockpit", layout="wide")


def sign_in_required() -> bool:
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all
        return False


if sign_in_required() and not st.user.get("is_logged_in", False):
    st.title("XMO cockpit")
    st.write("Sign in with your organisation's account to see the experience marts.")
    st.button("Sign in", on_click=st.login)
    st.stop()

PAGES = [
    st.Page("pages/this_week.py", title="This week", default=True),
    st.Page("pages/service.py", title="Service"),
    st.Page("pages/scorecard.py", title="Scorecard"),
    st.Page("pages/hotspots.py", title="Hotspots"),
    st.Page("pages/devices.py", title="Devices"),
    st.Page("pages/data_health.py", title="Data health"),
]
if sign_in_required():
    st.sidebar.button("Sign out", on_click=st.logout)
st.navigation(PAGES).run()
