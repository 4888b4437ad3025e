"""Library: the user's tracks, transcoding, audio metadata, schedulers and Guess the Track."""
