"""SoundCanvas domain code shared by every function (deployed as the Common layer)."""
