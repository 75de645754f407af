"""What the parts of djbench agree on, defined once: file names and columns (`files`), default
settings (`defaults`) and the versioned result documents with their loaders (`documents`).

Imported by the locustfiles (which run inside Locust, natively and in the container, where
/app is on PYTHONPATH), by the harness and by the analysis. Plain constants only, no imports
beyond the standard library: the Locust container has neither pandas nor the harness's deps.
"""
