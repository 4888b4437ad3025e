"""The local stack: the SoundCanvas API and workflow running in one process, without Docker."""
