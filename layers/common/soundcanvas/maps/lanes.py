"""The drum map's vocabulary: its lanes and its difficulty levels (no numpy, so the API functions can
validate a map without the analysis image's libraries)."""

LANES: tuple[str, ...] = ("kick", "snare", "hihat_closed", "hihat_open", "tom_high", "tom_low", "crash", "ride")
HI_HATS: tuple[str, ...] = ("hihat_closed", "hihat_open")  # the lanes of one instrument, closed and open
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard", "expert")
