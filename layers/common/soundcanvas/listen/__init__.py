"""Listen: audio -> notes (MIDI), key, tempo, meter, chords and guitar tabs.

Estimation lives in small pure modules over arrays (audio, transcribe, rhythm, harmony, tab);
evaluation lives in bench/listen, apart from them. Job records and the workflow's steps
(transcriptions, steps) follow the other products.
"""
