"""Generation: picture -> music (analysis, mapping, composition, render, job records, genres)."""
