"""The role model: who may record what, and the setting that turns the role header off."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.catalogue import CATALOGUE
from service.commands.roles import Role, may_record, parse_role
from service.runtime.settings import Settings, SettingsError


def test_admins_may_record_every_command_and_readers_none() -> None:
    types = [cls.TYPE for cls in CATALOGUE.types()]
    assert all(may_record(Role.ADMIN, t) for t in types)
    assert not any(may_record(Role.READER, t) for t in types)


def test_clerks_and_inspectors_keep_apart() -> None:
    assert may_record(Role.CLERK, "DisclosurePublished")
    assert not may_record(Role.INSPECTOR, "DisclosurePublished")
    assert may_record(Role.INSPECTOR, "SpotCheckRecorded")
    assert not may_record(Role.CLERK, "SpotCheckRecorded")
    assert not may_record(Role.CLERK, "StandardRevised")


@pytest.mark.parametrize(
    ("header", "role"),
    [(None, Role.READER), ("", Role.READER), ("Clerk", Role.CLERK), (" admin ", Role.ADMIN), ("king", None)],
)
def test_the_role_header_is_read_case_insensitively(header: str | None, role: Role | None) -> None:
    assert role == parse_role(header)


def test_the_role_header_setting_is_on_unless_switched_off(tmp_path: Path) -> None:
    folder = {"QINGLIAN_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(folder).role_header is True
    assert Settings.from_env({**folder, "QINGLIAN_ROLE_HEADER": "off"}).role_header is False
    with pytest.raises(SettingsError, match="QINGLIAN_ROLE_HEADER"):
        Settings.from_env({**folder, "QINGLIAN_ROLE_HEADER": "maybe"})
