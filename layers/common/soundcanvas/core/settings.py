"""Configuration read from the environment once, at cold start, failing loudly when incomplete."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    region: str
    state_machine_arn: str = ""
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_expiry_seconds: int = 900
    url_ttl_seconds: int = 300
    job_retention_days: int = 30
    max_image_megapixels: int = 50
    dynamodb_endpoint: str | None = None  # set only off AWS (the local stack)
    tracks_table_name: str = ""
    users_table_name: str = ""
    track_state_machine_arn: str = ""
    track_upload_max_bytes: int = 200 * 1024 * 1024
    quotas_table_name: str = ""
    generation_quota: int = 10
    generation_quota_window_seconds: int = 900
    track_upload_quota: int = 200
    track_upload_quota_window_seconds: int = 86400
    transcriptions_table_name: str = ""
    listen_state_machine_arn: str = ""
    transcription_upload_max_bytes: int = 100 * 1024 * 1024
    transcription_max_seconds: int = 600
    transcription_quota: int = 10
    transcription_quota_window_seconds: int = 3600
    songs_table_name: str = ""
    blends_table_name: str = ""
    blend_state_machine_arn: str = ""
    song_state_machine_arn: str = ""
    song_upload_max_bytes: int = 2 * 1024 * 1024
    blend_quota: int = 10
    blend_quota_window_seconds: int = 900
    song_upload_quota: int = 50
    song_upload_quota_window_seconds: int = 86400
    fingerprints_table_name: str = ""
    maps_table_name: str = ""
    community_table_name: str = ""
    map_state_machine_arn: str = ""
    map_quota: int = 20
    map_quota_window_seconds: int = 3600
    map_max_seconds: int = 600
    identify_quota: int = 60
    identify_quota_window_seconds: int = 3600
    identify_upload_max_bytes: int = 50 * 1024 * 1024
    song_audio_max_bytes: int = 100 * 1024 * 1024
    billing_table_name: str = ""
    free_maps_per_month: int = 30  # the plans' monthly allowances (soundcanvas.core.entitlements)
    free_transcriptions_per_month: int = 30
    pro_maps_per_month: int = 500
    pro_transcriptions_per_month: int = 500
    stripe_webhook_secret_name: str = ""  # Secrets Manager names; empty: billing is not configured
    stripe_api_key_secret_name: str = ""
    stripe_price_id: str = ""
    billing_success_url: str = ""
    billing_cancel_url: str = ""
    notifications_table_name: str = ""
    notification_sender: str = ""  # SES's verified From address; empty: notifications are in-app only
    ses_configuration_set: str = ""
    notification_retention_days: int = 90
    connections_table_name: str = ""  # live progress: WebSocket connections and subscriptions (soundcanvas.core.live)
    websocket_endpoint: str = ""  # the WebSocket API's management endpoint (PostToConnection)

    _INTS: ClassVar[dict[str, str]] = {
        "upload_max_bytes": "UPLOAD_MAX_BYTES",
        "upload_expiry_seconds": "UPLOAD_EXPIRY_SECONDS",
        "url_ttl_seconds": "URL_TTL_SECONDS",
        "job_retention_days": "JOB_RETENTION_DAYS",
        "max_image_megapixels": "MAX_IMAGE_MEGAPIXELS",
        "track_upload_max_bytes": "TRACK_UPLOAD_MAX_BYTES",
        "generation_quota": "GENERATION_QUOTA",
        "generation_quota_window_seconds": "GENERATION_QUOTA_WINDOW_SECONDS",
        "track_upload_quota": "TRACK_UPLOAD_QUOTA",
        "track_upload_quota_window_seconds": "TRACK_UPLOAD_QUOTA_WINDOW_SECONDS",
        "transcription_upload_max_bytes": "TRANSCRIPTION_UPLOAD_MAX_BYTES",
        "transcription_max_seconds": "TRANSCRIPTION_MAX_SECONDS",
        "transcription_quota": "TRANSCRIPTION_QUOTA",
        "transcription_quota_window_seconds": "TRANSCRIPTION_QUOTA_WINDOW_SECONDS",
        "song_upload_max_bytes": "SONG_UPLOAD_MAX_BYTES",
        "blend_quota": "BLEND_QUOTA",
        "blend_quota_window_seconds": "BLEND_QUOTA_WINDOW_SECONDS",
        "song_upload_quota": "SONG_UPLOAD_QUOTA",
        "song_upload_quota_window_seconds": "SONG_UPLOAD_QUOTA_WINDOW_SECONDS",
        "map_quota": "MAP_QUOTA",
        "map_quota_window_seconds": "MAP_QUOTA_WINDOW_SECONDS",
        "map_max_seconds": "MAP_MAX_SECONDS",
        "identify_quota": "IDENTIFY_QUOTA",
        "identify_quota_window_seconds": "IDENTIFY_QUOTA_WINDOW_SECONDS",
        "identify_upload_max_bytes": "IDENTIFY_UPLOAD_MAX_BYTES",
        "song_audio_max_bytes": "SONG_AUDIO_MAX_BYTES",
        "free_maps_per_month": "FREE_MAPS_PER_MONTH",
        "free_transcriptions_per_month": "FREE_TRANSCRIPTIONS_PER_MONTH",
        "pro_maps_per_month": "PRO_MAPS_PER_MONTH",
        "pro_transcriptions_per_month": "PRO_TRANSCRIPTIONS_PER_MONTH",
        "notification_retention_days": "NOTIFICATION_RETENTION_DAYS",
    }

    @classmethod
    def from_env(cls, *, need_state_machine: bool = False, need: tuple[str, ...] = ()) -> Settings:
        """Read settings from the environment; raise ConfigError naming every missing variable.

        `need` names further variables this function cannot run without (e.g. TRACKS_TABLE_NAME).
        """
        env = os.environ
        required = ["TABLE_NAME", "BUCKET_NAME"] + (["STATE_MACHINE_ARN"] if need_state_machine else []) + list(need)
        missing = [name for name in required if not env.get(name)]
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            missing.append("AWS_REGION")
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        ints: dict[str, int] = {}
        for field_name, var in cls._INTS.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                ints[field_name] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{var} must be an integer, got {raw!r}") from exc
            if ints[field_name] <= 0:
                raise ConfigError(f"{var} must be positive, got {raw!r}")
        return cls(
            table_name=env["TABLE_NAME"],
            bucket_name=env["BUCKET_NAME"],
            region=str(region),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            tracks_table_name=env.get("TRACKS_TABLE_NAME", ""),
            users_table_name=env.get("USERS_TABLE_NAME", ""),
            track_state_machine_arn=env.get("TRACK_STATE_MACHINE_ARN", ""),
            quotas_table_name=env.get("QUOTAS_TABLE_NAME", ""),
            transcriptions_table_name=env.get("TRANSCRIPTIONS_TABLE_NAME", ""),
            listen_state_machine_arn=env.get("LISTEN_STATE_MACHINE_ARN", ""),
            songs_table_name=env.get("SONGS_TABLE_NAME", ""),
            blends_table_name=env.get("BLENDS_TABLE_NAME", ""),
            blend_state_machine_arn=env.get("BLEND_STATE_MACHINE_ARN", ""),
            song_state_machine_arn=env.get("SONG_STATE_MACHINE_ARN", ""),
            fingerprints_table_name=env.get("FINGERPRINTS_TABLE_NAME", ""),
            maps_table_name=env.get("MAPS_TABLE_NAME", ""),
            community_table_name=env.get("COMMUNITY_TABLE_NAME", ""),
            map_state_machine_arn=env.get("MAP_STATE_MACHINE_ARN", ""),
            billing_table_name=env.get("BILLING_TABLE_NAME", ""),
            stripe_webhook_secret_name=env.get("STRIPE_WEBHOOK_SECRET_NAME", ""),
            stripe_api_key_secret_name=env.get("STRIPE_API_KEY_SECRET_NAME", ""),
            stripe_price_id=env.get("STRIPE_PRICE_ID", ""),
            billing_success_url=env.get("BILLING_SUCCESS_URL", ""),
            billing_cancel_url=env.get("BILLING_CANCEL_URL", ""),
            notifications_table_name=env.get("NOTIFICATIONS_TABLE_NAME", ""),
            notification_sender=env.get("NOTIFICATION_SENDER", ""),
            ses_configuration_set=env.get("SES_CONFIGURATION_SET", ""),
            connections_table_name=env.get("CONNECTIONS_TABLE_NAME", ""),
            websocket_endpoint=env.get("WEBSOCKET_ENDPOINT", ""),
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None,
            **ints,
        )

