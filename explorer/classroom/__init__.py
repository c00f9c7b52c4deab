"""Who is who in a class: students' signed identities and the teacher's sign-in.

Plain Python (never imports streamlit): `explorer.ui.identity` reads cookies and secrets and
hands them to these modules, which decide.
"""
