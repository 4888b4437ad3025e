"""Listen's per-user preferences, kept on the user's item in UsersTable beside the library's.

One item per user (partition key `userId`) holds every product's preferences as separate
attributes; each product's store declares only its own and writes them with UpdateItem actions,
never a whole-item put, so neither product can wipe the other's (the library's is
soundcanvas.library.tracks.UserSettingsStore). Listen's attributes:

    guitarTuning        a tuning's name ("standard", "drop-d", ...), or absent
    guitarStrings       six note names, low to high, for a tuning given by its notes, or absent
    notationPreference  "tab" | "standard" | "both"
    difficultyLevel     "beginner" | "intermediate" | "advanced"

A tuning is stored either by name or by its notes (DynamoDB has no "string or list" attribute),
never both; an absent attribute reads as its default.

`PreferenceFields` is Listen's part of the `PUT /me/preferences` body (the route is core's "your account"
function, functions/core/me_api, which adds core's own fields); `check_tuning` is also what the Listen API
checks a transcription's tuning with.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pynamodb.attributes import ListAttribute, UnicodeAttribute
from pynamodb.models import Model

from soundcanvas.core.records import bind

DEFAULTS: dict[str, Any] = {"guitarTuning": "standard", "notationPreference": "both", "difficultyLevel": "intermediate"}
FIELDS = tuple(DEFAULTS)
TUNING_TEXT_MAX = 64  # a name, or six note names in one string ("Eb2 Ab2 Db3 Gb3 Bb3 Eb4")
TuningField = (Annotated[str, StringConstraints(min_length=1, max_length=64)]
               | Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=8)]],
                           Field(min_length=6, max_length=6)])
TUNING_DESCRIPTION = ("A tuning's name (standard, drop-d, half-step-down, open-g, dadgad) or six note names, "
                      "low string to high, e.g. [\"D2\", \"A2\", \"D3\", \"G3\", \"B3\", \"E4\"].")


def parse_tuning(value: Any) -> Any:
    """The tab module's Tuning for a tuning a caller gave (the module is imported on first use: it is
    pure Python, but a function that never reads a tuning need not load it)."""
    from soundcanvas.listen import tab

    return tab.parse_tuning(value)


def check_tuning(value: Any) -> Any:
    """A pydantic `before` check: a name or a list of note names the tab module accepts, as given."""
    if value is None:
        return value
    if isinstance(value, str):
        if not value.strip() or len(value) > TUNING_TEXT_MAX:
            raise ValueError(f"must be a tuning name or note names of 1-{TUNING_TEXT_MAX} characters")
    elif isinstance(value, list) and all(isinstance(note, str) for note in value):
        if any(not note.strip() or len(note) > 8 for note in value):
            raise ValueError("must be six note names such as E2 or Eb2, low string to high")
    else:
        raise ValueError("must be a tuning name or a list of note names, low string to high")
    try:
        parse_tuning(value)
    except ValueError as exc:  # the tab module's words; the field is named by pydantic's location
        raise ValueError(str(exc).removeprefix("tuning: ")) from exc
    return value


class PreferenceFields(BaseModel):
    """Listen's preferences in the body of PUT /me/preferences (null resets one to its default)."""

    model_config = ConfigDict(extra="forbid")
    guitarTuning: TuningField | None = Field(default=None, description=TUNING_DESCRIPTION)
    notationPreference: Literal["tab", "standard", "both"] | None = None
    difficultyLevel: Literal["beginner", "intermediate", "advanced"] | None = None

    _tuning = field_validator("guitarTuning", mode="before")(check_tuning)


@lru_cache(maxsize=8)
def _preferences_class(table_name: str, region: str, host: str | None) -> Any:
    class ListenPreferences(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        guitarTuning = UnicodeAttribute(null=True)
        guitarStrings = ListAttribute(of=UnicodeAttribute, null=True)
        notationPreference = UnicodeAttribute(null=True)
        difficultyLevel = UnicodeAttribute(null=True)

    return bind(ListenPreferences, table_name, region, host)


def _view(record: Any) -> dict[str, Any]:
    tuning: str | list[str] = list(record.guitarStrings) if record.guitarStrings else record.guitarTuning
    return {
        "guitarTuning": tuning or DEFAULTS["guitarTuning"],
        "notationPreference": record.notationPreference or DEFAULTS["notationPreference"],
        "difficultyLevel": record.difficultyLevel or DEFAULTS["difficultyLevel"],
    }


class PreferencesStore:
    """Reads and updates Listen's preferences on the user's UsersTable item."""

    def __init__(self, table_name: str, region: str, host: str | None = None) -> None:
        self.model: Any = _preferences_class(table_name, region, host)

    def get(self, user_id: str) -> dict[str, Any]:
        """The user's preferences, defaults filled in."""
        try:
            record = self.model.get(user_id, consistent_read=True)
        except self.model.DoesNotExist:
            return dict(DEFAULTS)
        return _view(record)

    def update(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Set the given preferences (None resets one to its default); returns them all.

        Only Listen's attributes are touched: an UpdateItem, which also creates the item when the
        user has none yet, and leaves every other product's attributes on it as they are."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown preferences: {', '.join(sorted(unknown))}")
        m = self.model
        actions: list[Any] = []
        if "guitarTuning" in changes:
            tuning = changes["guitarTuning"]
            if tuning is None:
                actions += [m.guitarTuning.remove(), m.guitarStrings.remove()]
            elif isinstance(tuning, str):
                actions += [m.guitarTuning.set(tuning), m.guitarStrings.remove()]
            else:
                actions += [m.guitarStrings.set([str(note) for note in tuning]), m.guitarTuning.remove()]
        for name in ("notationPreference", "difficultyLevel"):
            if name in changes:
                attribute = getattr(m, name)
                actions.append(attribute.remove() if changes[name] is None else attribute.set(changes[name]))
        if not actions:
            return self.get(user_id)
        record = m(user_id)
        record.update(actions=actions)  # ALL_NEW: the record now holds the whole item's Listen attributes
        return _view(record)
