"""Subscriber profiles: the rules a profile must follow, TOML profile files, cadences."""

from digest.profiles.files import ProfileResult, load_profiles, profile_files, read_profiles
from digest.profiles.validate import (
    MAX_PAPERS,
    MAX_QUERY,
    MAX_TOPIC_NAME,
    ProfileFieldError,
    profile_from_mapping,
    topic_table,
)

__all__ = [
    "MAX_PAPERS",
    "MAX_QUERY",
    "MAX_TOPIC_NAME",
    "ProfileFieldError",
    "ProfileResult",
    "load_profiles",
    "profile_files",
    "profile_from_mapping",
    "read_profiles",
    "topic_table",
]
