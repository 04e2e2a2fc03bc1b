"""HTTP and the command line: Litestar (the only package that imports it), one package per capability
(``http.py`` controllers, ``wire.py`` request and answer types), the app factory, settings and CLI."""
