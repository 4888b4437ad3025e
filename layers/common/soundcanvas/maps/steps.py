"""What Maps' workflow steps and API functions share: settings, the S3 client, the map and song-audio
records, the fingerprint index, and the work files one stage hands the next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from soundcanvas.core.settings import Settings
from soundcanvas.core.steps import WorkFiles
from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.song_audio import SongAudioStore

STOPPED = "the map stopped running (another stage failed, or it was deleted)"


@dataclass(frozen=True)
class MapsRuntime:
    settings: Settings
    s3: Any
    dynamodb: Any
    maps: MapStore
    songs: SongAudioStore

    @classmethod
    def from_env(cls) -> MapsRuntime:
        settings = Settings.from_env(need=("MAPS_TABLE_NAME", "SONGS_TABLE_NAME", "FINGERPRINTS_TABLE_NAME"))
        return cls(
            settings=settings,
            s3=boto3.client("s3", region_name=settings.region),
            dynamodb=boto3.client("dynamodb", region_name=settings.region),
            maps=MapStore(settings.maps_table_name, settings.region, host=settings.dynamodb_endpoint),
            songs=SongAudioStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint),
        )

    @property
    def files(self) -> WorkFiles:
        return WorkFiles(self.s3, self.settings.bucket_name)

    def index(self) -> Any:
        """The fingerprint index (imported here: only the functions that fingerprint carry numpy)."""
        from soundcanvas.maps.fpindex import FingerprintIndex

        return FingerprintIndex(self.dynamodb, self.settings.fingerprints_table_name)
