"""The XMO cockpit: a Streamlit dashboard over the published reporting database (issue 36).

It reads only the published marts (never the warehouse), read-only, with one short-lived
connection per query, so an atomic publish is seen at the next query and is never blocked.
"""
