"""Maps: Chromaprint fingerprints that identify and de-duplicate audio, and drum maps made from audio.

Fingerprints (fingerprints, fpindex) are pure functions over Chromaprint's items plus an index in
DynamoDB that is only ever read by key. Drum maps are small pure modules over arrays (drums, grid,
levels, document); map records and the workflow's steps follow the other products.
"""
