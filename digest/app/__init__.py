"""The use cases, one module each: ingest, edition, preview, send, subscription, due.

They orchestrate the layers below (sources, store, match, render, deliver) and never a shell:
the CLI, the web app and the scheduler call them and only parse input and format output.
"""
