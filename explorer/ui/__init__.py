"""The Streamlit side: `widgets` (the only module that imports streamlit besides `app.py`),
`navigation` (the table of contents) and `url_params` (address-bar parsing, plain Python)."""
