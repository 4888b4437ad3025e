"""Listen's ground-truth corpus and accuracy benchmark (mir_eval style: evaluation apart from estimation).

corpus.py writes the pieces with mido and renders them with FluidSynth; evaluate.py scores
soundcanvas.listen's estimates and bare baselines on them; `python -m bench.listen` writes the table.
"""
