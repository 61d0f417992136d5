"""The share portal: the web page a patient or an outside doctor opens from a share link.

A small face of its own over ``archive`` (sharing, share_scope, vault, audit, dicom.pixels): it
never imports a staff page, and staff pages never serve it. ``portal.app.create_app(archive)``
builds the Starlette application; ``limestone portal`` serves it with uvicorn.
"""
