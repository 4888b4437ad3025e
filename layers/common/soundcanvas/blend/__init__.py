"""Blend: a searchable song catalog, and two to four songs blended into a new piece.

The music is small pure modules over note lists (midi_files, prepare, model, compose, arrange,
gates); the catalog is songs (records), seed (the committed public-domain seed catalog) and
search (the typo-tolerant index). Job records and the workflow's steps follow the other products.
"""
